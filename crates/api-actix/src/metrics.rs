//! Prometheus metrics: HTTP traffic, webhook outcomes, credited amounts and the database pool.
//!
//! Built on the `prometheus` crate because it gives each [`Metrics`] its own `Registry`: every
//! `ApiState` (and so every test) counts on its own, with no process-wide recorder to share.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use prometheus::{
    Counter, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use crate::error::ApiError;
use crate::ApiState;

/// `route` label of requests that matched no route: raw paths would make the label unbounded.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Content type of the Prometheus text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A snapshot of the database connection pool.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PoolStats {
    /// Connections currently open, idle or in use.
    pub size: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// The most connections the pool will open.
    pub max_size: u32,
    /// Connections handed out since start (monotonic).
    pub checkouts: u64,
    /// Seconds spent waiting for a connection since start (monotonic).
    pub wait_seconds: f64,
    /// Checkouts that failed since start (monotonic).
    pub checkout_failures: u64,
    /// Stored rows that did not decode since start (monotonic); each is logged with its id.
    pub corrupt_rows: u64,
}

/// Where `/metrics` reads the pool's state at each scrape.
///
/// Any `Fn() -> PoolStats` is one, e.g. `Arc::new(move || stats_of(&pool))`.
pub trait PoolStatsSource: Send + Sync {
    fn pool_stats(&self) -> PoolStats;
}

impl<F> PoolStatsSource for F
where
    F: Fn() -> PoolStats + Send + Sync,
{
    fn pool_stats(&self) -> PoolStats {
        self()
    }
}

/// How one webhook ended, as counted in `webhook_outcomes_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Recorded and credited (200).
    Accepted,
    /// A retry of a payment already recorded (200).
    Duplicate,
    /// The operation_id was reused with other data (409).
    Conflict,
    /// The request itself was refused (400, 413, 415, 422).
    Rejected,
    /// Missing or bad signature (401).
    Unauthorized,
    /// Not processed on our side: storage down, timed out, a bug (503, 500).
    Unavailable,
}

impl WebhookOutcome {
    const ALL: [Self; 6] = [
        Self::Accepted,
        Self::Duplicate,
        Self::Conflict,
        Self::Rejected,
        Self::Unauthorized,
        Self::Unavailable,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Conflict => "conflict",
            Self::Rejected => "rejected",
            Self::Unauthorized => "unauthorized",
            Self::Unavailable => "unavailable",
        }
    }

    /// The outcome of a webhook that failed with `error`.
    pub(crate) fn of_error(error: &ApiError) -> Self {
        match error {
            ApiError::Conflict { .. } | ApiError::InvalidTransition(_) => Self::Conflict,
            ApiError::InvalidSignature(_) | ApiError::Unauthenticated(_) => Self::Unauthorized,
            ApiError::Unavailable(_)
            | ApiError::TimedOut
            | ApiError::Internal
            | ApiError::CorruptRow(_) => Self::Unavailable,
            ApiError::InvalidData(_)
            | ApiError::BadRequest(_)
            | ApiError::PayloadTooLarge
            | ApiError::UnsupportedMediaType
            | ApiError::NotFound(_)
            | ApiError::Forbidden(_)
            | ApiError::Unprocessable(_)
            | ApiError::MethodNotAllowed { .. }
            | ApiError::TooManyRequests { .. } => Self::Rejected,
        }
    }
}

/// The service's metrics and the registry they are exposed from. Cheap to clone (shared).
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    http_in_flight: IntGauge,
    webhook_outcomes: IntCounterVec,
    credits: IntCounter,
    credited_minor_units: IntCounter,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    pool_max_size: IntGauge,
    pool_checkouts: IntCounter,
    pool_wait_seconds: Counter,
    pool_checkout_failures: IntCounter,
    batch_size: Histogram,
    batch_wait: Histogram,
    corrupt_rows: IntCounter,
    /// The monotonic pool totals last exported, so each scrape adds only what is new
    /// (serialized, so that concurrent scrapes cannot add the same delta twice).
    pool_totals_seen: Mutex<PoolStats>,
}

impl Metrics {
    /// A fresh registry with every metric of the service registered and at zero.
    ///
    /// Fails only if a metric definition is invalid, i.e. on a bug in this crate.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered."),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from receiving a request to having its response ready.",
            )
            // Up to the default request timeout, so slow answers are not all in +Inf.
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["method", "route"],
        )?;
        let http_in_flight = IntGauge::new(
            "http_requests_in_flight",
            "Requests received and not answered yet (this one included when scraped).",
        )?;
        let webhook_outcomes = IntCounterVec::new(
            Opts::new("webhook_outcomes_total", "Bank webhooks by outcome."),
            &["outcome"],
        )?;
        let credits = IntCounter::new(
            "balance_credits_total",
            "Balances credited by accepted bank webhooks.",
        )?;
        let credited_minor_units = IntCounter::new(
            "balance_credited_minor_units_total",
            "Sum credited by accepted bank webhooks, in minor units of the bank currency (kopecks).",
        )?;
        let pool_size =
            IntGauge::new("db_pool_size", "Open database connections, idle or in use.")?;
        let pool_idle = IntGauge::new("db_pool_idle", "Idle database connections.")?;
        let pool_max_size = IntGauge::new(
            "db_pool_max_size",
            "The most database connections the pool will open.",
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(http_in_flight.clone()))?;
        registry.register(Box::new(webhook_outcomes.clone()))?;
        registry.register(Box::new(credits.clone()))?;
        registry.register(Box::new(credited_minor_units.clone()))?;
        registry.register(Box::new(pool_size.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        registry.register(Box::new(pool_max_size.clone()))?;
        let pool_checkouts = IntCounter::new(
            "db_pool_checkouts_total",
            "Database connections handed out to requests.",
        )?;
        let pool_wait_seconds = Counter::new(
            "db_pool_wait_seconds_total",
            "Time requests spent waiting for a database connection.",
        )?;
        let pool_checkout_failures = IntCounter::new(
            "db_pool_checkout_failures_total",
            "Requests that got no database connection (timeout or connect error).",
        )?;
        registry.register(Box::new(pool_checkouts.clone()))?;
        registry.register(Box::new(pool_wait_seconds.clone()))?;
        registry.register(Box::new(pool_checkout_failures.clone()))?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new(
                "webhook_batch_size",
                "Bank webhooks written per database transaction (group commit).",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        )?;
        let batch_wait = Histogram::with_opts(
            HistogramOpts::new(
                "webhook_batch_wait_seconds",
                "Time the oldest webhook of a batch waited before its transaction began.",
            )
            .buckets(vec![
                0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
            ]),
        )?;
        registry.register(Box::new(batch_size.clone()))?;
        registry.register(Box::new(batch_wait.clone()))?;
        let corrupt_rows = IntCounter::new(
            "db_corrupt_rows_total",
            "Stored rows that could not be decoded (a defect; each is logged with its id).",
        )?;
        registry.register(Box::new(corrupt_rows.clone()))?;
        // Every outcome is exposed from the start, so a rate over it never begins with a gap.
        for outcome in WebhookOutcome::ALL {
            webhook_outcomes.with_label_values(&[outcome.label()]);
        }
        Ok(Self(Arc::new(Inner {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            webhook_outcomes,
            credits,
            credited_minor_units,
            pool_size,
            pool_idle,
            pool_max_size,
            pool_checkouts,
            pool_wait_seconds,
            pool_checkout_failures,
            batch_size,
            batch_wait,
            corrupt_rows,
            pool_totals_seen: Mutex::new(PoolStats::default()),
        })))
    }

    /// Counts one webhook outcome.
    pub fn record_webhook(&self, outcome: WebhookOutcome) {
        self.0
            .webhook_outcomes
            .with_label_values(&[outcome.label()])
            .inc();
    }

    /// Records one batch of bank webhooks written in one transaction.
    pub fn observe_batch(&self, items: usize, waited_seconds: f64) {
        self.0.batch_size.observe(items as f64);
        self.0.batch_wait.observe(waited_seconds);
    }

    /// Counts one credit of `minor_units`.
    pub fn record_credit(&self, minor_units: i64) {
        self.0.credits.inc();
        // A credit is never negative; a negative value would be a bug, not worth a panic.
        self.0
            .credited_minor_units
            .inc_by(u64::try_from(minor_units).unwrap_or(0));
    }

    /// Counts a request as in flight until the returned guard is dropped: answered, failed
    /// or abandoned by its client alike.
    fn request_started(&self) -> InFlight {
        self.0.http_in_flight.inc();
        InFlight(self.0.http_in_flight.clone())
    }

    fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.0
            .http_requests
            .with_label_values(&[method, route, &status])
            .inc();
        self.0
            .http_duration
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    fn observe_pool(&self, stats: PoolStats) {
        self.0.pool_size.set(i64::from(stats.size));
        self.0.pool_idle.set(i64::from(stats.idle));
        self.0.pool_max_size.set(i64::from(stats.max_size));
        let mut seen = self
            .0
            .pool_totals_seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.0
            .pool_checkouts
            .inc_by(stats.checkouts.saturating_sub(seen.checkouts));
        self.0.pool_checkout_failures.inc_by(
            stats
                .checkout_failures
                .saturating_sub(seen.checkout_failures),
        );
        self.0
            .corrupt_rows
            .inc_by(stats.corrupt_rows.saturating_sub(seen.corrupt_rows));
        let new_wait = stats.wait_seconds - seen.wait_seconds;
        if new_wait > 0.0 {
            self.0.pool_wait_seconds.inc_by(new_wait);
        }
        *seen = stats;
    }

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.0.registry.gather())
    }
}

/// One request in `http_requests_in_flight`; dropping it takes the request out.
struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A bounded `method` label: anything unusual is "OTHER".
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Middleware counting and timing every request by method, matched route and status.
pub(crate) async fn track_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = request
        .app_data::<web::Data<ApiState>>()
        .map(|state| state.metrics.clone());
    let method = method_label(request.method());
    let started = Instant::now();
    let in_flight = metrics.as_ref().map(Metrics::request_started);
    let result = next.call(request).await;
    drop(in_flight);
    if let Some(metrics) = metrics {
        let seconds = started.elapsed().as_secs_f64();
        let (route, status) = match &result {
            // The pattern is known once routing has run, i.e. now.
            Ok(response) => (
                response.request().match_pattern(),
                response.status().as_u16(),
            ),
            Err(error) => (None, error.as_response_error().status_code().as_u16()),
        };
        let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
        metrics.record_request(method, route, status, seconds);
    }
    result
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    description = "HTTP traffic, webhook outcomes, credited amounts and database pool gauges, \
                   in the Prometheus text exposition format. Unauthenticated: expose it only to \
                   the monitoring network.",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format",
         content_type = "text/plain; version=0.0.4; charset=utf-8", body = String,
         example = "# TYPE webhook_outcomes_total counter\nwebhook_outcomes_total{outcome=\"accepted\"} 1\n"),
    )
)]
pub(crate) async fn scrape(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    state.metrics.observe_pool(state.pool_stats.pool_stats());
    let text = state.metrics.render().map_err(|error| {
        tracing::error!(%error, "could not encode the metrics");
        ApiError::Internal
    })?;
    Ok(HttpResponse::Ok()
        .content_type(PROMETHEUS_CONTENT_TYPE)
        .body(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_registry_exposes_every_outcome_at_zero() {
        let text = Metrics::new().unwrap().render().unwrap();
        for outcome in WebhookOutcome::ALL {
            let line = format!(
                "webhook_outcomes_total{{outcome=\"{}\"}} 0",
                outcome.label()
            );
            assert!(text.contains(&line), "{line} missing from:\n{text}");
        }
        assert!(text.contains("balance_credits_total 0"));
    }

    #[test]
    fn a_request_is_in_flight_until_its_guard_is_dropped() {
        let metrics = Metrics::new().unwrap();
        let shows = |n: i64| {
            let line = format!("http_requests_in_flight {n}");
            metrics.render().unwrap().lines().any(|l| l == line)
        };
        assert!(shows(0));
        let first = metrics.request_started();
        let second = metrics.request_started();
        assert!(shows(2));
        drop(first);
        assert!(shows(1));
        drop(second);
        assert!(shows(0));
    }

    #[test]
    fn registries_do_not_share_counts() {
        let one = Metrics::new().unwrap();
        let other = Metrics::new().unwrap();
        one.record_credit(150);
        assert!(one
            .render()
            .unwrap()
            .contains("balance_credited_minor_units_total 150"));
        assert!(other
            .render()
            .unwrap()
            .contains("balance_credited_minor_units_total 0"));
    }

    #[test]
    fn pool_totals_are_exported_once_however_often_they_are_scraped() {
        let metrics = Metrics::new().unwrap();
        let first = PoolStats {
            checkouts: 10,
            wait_seconds: 0.5,
            checkout_failures: 1,
            ..PoolStats::default()
        };
        metrics.observe_pool(first);
        metrics.observe_pool(first);
        metrics.observe_pool(PoolStats {
            checkouts: 15,
            wait_seconds: 0.75,
            ..first
        });
        let text = metrics.render().unwrap();
        assert!(text.contains("db_pool_checkouts_total 15"), "{text}");
        assert!(text.contains("db_pool_wait_seconds_total 0.75"), "{text}");
        assert!(text.contains("db_pool_checkout_failures_total 1"), "{text}");
    }
}
