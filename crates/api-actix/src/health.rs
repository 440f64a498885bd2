//! `GET /healthz` (liveness) and `GET /readyz` (readiness).

use std::time::Duration;

use actix_web::{web, HttpResponse};
use async_trait::async_trait;

use crate::openapi::{HealthBody, NotReadyBody};
use crate::ApiState;

/// Whether the service can serve traffic now (database reachable, migrations applied...).
///
/// The error is sent to the caller of `/readyz` as `reason`: keep it short and free of secrets
/// (no connection strings).
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    async fn check(&self) -> Result<(), String>;
}

/// How long `/readyz` waits for its check. Load balancers give health checks a few seconds;
/// a check stuck behind the pool's connection wait (5 s by default) must not outlast them.
pub const READINESS_DEADLINE: Duration = Duration::from_secs(1);

/// A check that always passes, for setups with nothing to wait for.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysReady;

#[async_trait]
impl ReadinessCheck for AlwaysReady {
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The process is up; no I/O, so a slow database never gets a live process restarted.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Liveness",
    description = "Answers as long as the process serves HTTP. Does no I/O.",
    responses(
        (status = 200, description = "The process is alive", body = HealthBody,
         example = json!({"status": "ok"})),
    )
)]
pub(crate) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthBody { status: "ok" })
}

/// The readiness hook of [`ApiState`] decides.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Readiness",
    description = "200 when the service can serve traffic (its readiness check passes), \
                   503 with the reason otherwise, within one second.",
    responses(
        (status = 200, description = "Ready to serve traffic", body = HealthBody,
         example = json!({"status": "ready"})),
        (status = 503, description = "Not ready; `reason` says why", body = NotReadyBody,
         example = json!({"status": "unavailable", "reason": "database unreachable"})),
    )
)]
pub(crate) async fn ready(state: web::Data<ApiState>) -> HttpResponse {
    let outcome = tokio::time::timeout(READINESS_DEADLINE, state.readiness.check())
        .await
        .unwrap_or_else(|_| Err("readiness check timed out".to_string()));
    match outcome {
        Ok(()) => HttpResponse::Ok().json(HealthBody { status: "ready" }),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            HttpResponse::ServiceUnavailable().json(NotReadyBody {
                status: "unavailable",
                reason,
            })
        }
    }
}
