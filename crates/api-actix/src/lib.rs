//! HTTP interface of the payments service, on actix-web.
//!
//! [`app`] builds the whole application:
//!
//! | route | what |
//! |---|---|
//! | `POST /api/webhook/bank/` | the bank webhook, signed with `X-Signature` |
//! | `GET /api/organizations/{inn}/balance/` | a balance, for a bearer token's holder |
//! | `/api/v1/billing/...` | the billing API ([`ApiState::billing`]): members' payments, manual payments, invoices, balance and log; staff's approvals, organizations, invoices, payment-method catalogue |
//! | `GET /healthz` | liveness: `{"status":"ok"}`, no I/O |
//! | `GET /readyz` | readiness from [`ApiState::readiness`]: 200, or 503 with a reason |
//! | `GET /metrics` | Prometheus text format, from [`ApiState::metrics`] |
//! | `GET /openapi.json` | the OpenAPI 3.1 description of all of the above |
//! | `GET /docs/` | Swagger UI, served from the binary (`/docs` redirects there) |
//! | `/console/...` | the operator console, HTML ([`console`]; registered with [`console::configure`]) |
//!
//! The API paths also answer without the trailing slash. Every error a client can cause
//! (unknown path, wrong method, bad content type, oversized or malformed body) is answered in
//! JSON: `{"error": ...}` on the bank-webhook and balance routes, as
//! `docs/api/bank-webhook.md` specifies, and the envelope `{"success": false, "error", ...,
//! "request_id"}` under `/api/v1/billing/` (`docs/api/billing.md`), where successes are
//! `{"success": true, "data", "message"?, "request_id"}` too. Only `/docs/` and the
//! console (`/console/`) serve HTML.
//! Billing always needs a bearer token, also in legacy open mode.
//!
//! Handlers only parse, call one use case of `payments-domain` and map its result; every
//! domain error becomes an HTTP status in one place, [`ApiError`] (rendered in the billing
//! envelope by [`Rejection`], which carries the request id).
//!
//! Around every request, outermost first:
//! 1. the request id: the client's `X-Request-Id` if sane, else a UUID v4; echoed on every
//!    response;
//! 2. a tracing span ([`RequestSpan`]) with `request_id`, `method`, `route` (the matched pattern),
//!    `status` and `latency_ms`, and one log line at its end. Bodies and headers are never logged
//!    (they carry tokens, signatures and payment data);
//! 3. HTTP metrics by method, matched route and status;
//! 4. JSON bodies for any error response actix produced on its own;
//! 5. on each API route, [`HttpSettings::request_timeout`]: the request's database work is
//!    bounded by a deadline just before it (rolled back, never committed, past it); at the
//!    timeout, with no database work in flight, 503 `{"error":"Request timed out"}` (in the
//!    envelope under `/api/v1/billing/`): nothing of the request was committed. With work in
//!    flight its real outcome is awaited and answered instead.
//!
//! Billing requests are authenticated before anything else about them is read, then counted
//! against the token's quota ([`RateLimit`]; 429 with `Retry-After` past it).
//!
//! The routes come from one table ([`Endpoint`]), which the OpenAPI description is checked
//! against, so an undocumented route fails the tests.

mod auth;
mod balance;
mod billing;
mod body;
pub mod console;
mod error;
mod health;
mod metrics;
mod observability;
mod openapi;
mod ratelimit;
mod routes;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{from_fn, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpRequest, HttpResponse};
use payments_domain::signature::WebhookSecret;
use payments_domain::usecases::{Authenticate, IdempotentReplays, ReadBalance, ReceiveBankPayment};
use serde_json::json;
use tracing_actix_web::TracingLogger;

pub use billing::use_cases::{BillingPorts, BillingUseCases};
pub use billing::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
pub use console::{ConsoleSettings, ConsoleState};
pub use error::{ApiError, Rejection, BILLING_PREFIX, NON_FIELD_ERRORS};
pub use health::{AlwaysReady, ReadinessCheck, READINESS_DEADLINE};
pub use metrics::{Metrics, PoolStats, PoolStatsSource, WebhookOutcome, PROMETHEUS_CONTENT_TYPE};
pub use observability::{RequestId, RequestSpan, REQUEST_ID_HEADER};
pub use openapi::{openapi, ErrorBody, FailureBody, InvalidDataBody};
pub use ratelimit::RateLimit;
pub use routes::{routes, Endpoint};

/// The use cases the handlers call, how requests are authenticated, and the operational hooks.
#[derive(Clone)]
pub struct ApiState {
    pub receive_bank_payment: ReceiveBankPayment,
    pub read_balance: ReadBalance,
    pub authenticate: Authenticate,
    /// The billing API's use cases (`/api/v1/billing/`).
    pub billing: BillingUseCases,
    /// First answers of idempotency keys, replayed byte for byte.
    pub idempotency: IdempotentReplays,
    pub webhook_auth: WebhookAuth,
    /// What `GET /readyz` asks.
    pub readiness: Arc<dyn ReadinessCheck>,
    /// Read at each scrape of `GET /metrics` for the `db_pool_*` gauges.
    pub pool_stats: Arc<dyn PoolStatsSource>,
    /// Where every metric is counted. One per server: the App is built once per worker
    /// thread, and all workers must count in the same registry.
    pub metrics: Metrics,
    /// The billing API's per-token quota (429 past it). One per server, like `metrics`.
    pub rate_limit: RateLimit,
}

/// How webhooks (and, with them, balance reads) are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAuth {
    /// Webhooks must carry a valid `X-Signature` made with one of these secrets; balance reads
    /// need a bearer token.
    Signed(Vec<WebhookSecret>),
    /// The old service's behaviour, for a drop-in migration: no webhook signature and open
    /// balance reads. The billing API is not opened: it always needs a bearer token.
    LegacyOpen,
}

/// Transport limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Largest request body accepted; more is answered with 413.
    pub body_limit_bytes: usize,
    /// Longest a handler may take (body reading included); then 503 `Request timed out`.
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The whole actix App (routes, JSON error handlers, request ids, tracing, metrics, timeouts).
pub fn app(
    state: ApiState,
    settings: HttpSettings,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = settings.body_limit_bytes;
    App::new()
        .app_data(web::Data::new(state))
        .app_data(web::Data::new(settings))
        // Our handlers read bodies themselves; these configure actix's own extractors so that
        // any future handler using them fails with the same JSON errors.
        .app_data(web::PayloadConfig::new(limit))
        .app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(|error, _| ApiError::from(error).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::no_route().into()))
        .app_data(web::QueryConfig::default().error_handler(|_, _| ApiError::bad_request().into()))
        .configure(|config| {
            for endpoint in Endpoint::ALL {
                endpoint.register(config);
            }
        })
        .default_service(web::to(|request: HttpRequest| async move {
            ApiError::no_route().respond_to(&request)
        }))
        .wrap(ErrorHandlers::new().default_handler(json_error_body))
        .wrap(from_fn(metrics::track_requests))
        // The span covers everything below and records the final status.
        .wrap(TracingLogger::<RequestSpan>::new())
        // Outermost, so the id exists when the span opens and is on every response.
        .wrap(from_fn(observability::assign_request_id))
}

/// Safety net: an error response that is not JSON (one actix produced on its own) is given a
/// JSON body `{"error": "<reason phrase>"}`, keeping its status and other headers.
fn json_error_body<B>(response: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    // The console answers its own errors in HTML.
    let is_console = response.request().path().starts_with("/console");
    if is_json || is_console {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let status = response.status();
    let reason = status.canonical_reason().unwrap_or("Error");
    let (request, old) = response.into_parts();
    let mut replacement = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement.append_header((name.clone(), value.clone()));
        }
    }
    replacement.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    ));
    let replacement = replacement.body(json!({ "error": reason }).to_string());
    let response: ServiceResponse<EitherBody<B>> =
        ServiceResponse::new(request, replacement).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::test;

    #[actix_web::test]
    async fn error_responses_actix_makes_on_its_own_become_json() {
        let service = test::init_service(
            App::new()
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .route(
                    "/",
                    web::get().to(|| async {
                        HttpResponse::BadRequest()
                            .insert_header((header::ALLOW, "GET"))
                            .body("<h1>Bad</h1>")
                    }),
                ),
        )
        .await;
        let response = test::call_service(&service, test::TestRequest::get().to_request()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let headers = response.headers().clone();
        assert_eq!(
            headers.get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        assert_eq!(headers.get(header::ALLOW).unwrap(), "GET");
        let body = test::read_body(response).await;
        assert_eq!(&body[..], br#"{"error":"Bad Request"}"#);
    }
}
