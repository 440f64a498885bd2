//! Request ids, the tracing span of each request, and the request timeout.

use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use payments_request_deadline::RequestBudget;
use tracing::field::Empty;
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

use crate::error::ApiError;
use crate::metrics::UNMATCHED_ROUTE;
use crate::HttpSettings;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied request id we adopt.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of the request being served; in the request's extensions and its tracing span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's own id when it is 1 to 128 visible ASCII characters, else a new UUID v4.
    ///
    /// Anything else is replaced, not trimmed, so logs never carry spaces, control characters
    /// or an attacker's megabyte.
    pub fn from_client(value: Option<&HeaderValue>) -> Self {
        match value {
            Some(value) if is_sane(value.as_bytes()) => Self(value.clone()),
            _ => Self::generate(),
        }
    }

    fn generate() -> Self {
        // A UUID's text is always a valid header value.
        Self(
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap_or_else(|_| {
                HeaderValue::from_static("00000000-0000-0000-0000-000000000000")
            }),
        )
    }

    pub fn as_str(&self) -> &str {
        // Only visible ASCII gets in (checked or generated), so this never falls back.
        self.0.to_str().unwrap_or_default()
    }
}

fn is_sane(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&value.len()) && value.iter().all(u8::is_ascii_graphic)
}

/// Outermost middleware: settles the request id before the span opens, echoes it on the way out.
pub(crate) async fn assign_request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = RequestId::from_client(request.headers().get(&REQUEST_ID_HEADER));
    request.extensions_mut().insert(id.clone());
    let mut result = next.call(request).await;
    // Handlers and every middleware below turn errors into responses, so `Err` does not reach
    // here in practice; there is no request left to build a response from if it did.
    if let Ok(response) = &mut result {
        response.headers_mut().insert(REQUEST_ID_HEADER, id.0);
    }
    result
}

/// When the request started, for the span's latency.
#[derive(Clone, Copy)]
struct Started(Instant);

/// The root span of every request: `request_id`, `method`, `route` (the matched pattern, never
/// the raw path), `status` and `latency_ms`. Headers, bodies and query strings are left out on
/// purpose: they carry tokens, signatures and payment data.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        request.extensions_mut().insert(Started(Instant::now()));
        tracing::info_span!(
            "http_request",
            request_id = %request_id,
            method = %request.method(),
            route = Empty,
            status = Empty,
            latency_ms = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(response) => {
                let request = response.request();
                let route = request.match_pattern();
                let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
                span.record("route", tracing::field::display(route));
                if let Some(Started(started)) = request.extensions().get::<Started>().copied() {
                    span.record("latency_ms", started.elapsed().as_secs_f64() * 1000.0);
                }
                response.status()
            }
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
        // One access-log line per request, carrying the span's fields.
        span.in_scope(|| {
            if status.is_server_error() {
                tracing::warn!("request answered");
            } else {
                tracing::info!("request answered");
            }
        });
    }
}

/// Resource middleware: the request timeout ([`HttpSettings::request_timeout`]).
///
/// The request runs under a [`RequestBudget`] whose deadline comes a little before the timeout;
/// the database adapters end every transaction of the request by then, committed or rolled
/// back, and never COMMIT after it. At the timeout:
/// - with no database work in flight, the answer is 503 `{"error": "Request timed out"}`, and no
///   work of the request may start afterwards: nothing of it was or will be committed;
/// - with work in flight (its deadline is ending it), the handler is awaited and its real
///   outcome answered, so a request whose outcome is unknown is never answered "not done".
///
/// It wraps resources, not the App, because only after routing may the request be cloned
/// (routing needs it unshared), and the timeout answer needs that clone.
pub(crate) async fn enforce_timeout(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(limit) = request
        .app_data::<web::Data<HttpSettings>>()
        .map(|settings| settings.request_timeout)
    else {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let http_request = request.request().clone();
    let started = Instant::now();
    let budget = RequestBudget::new(started + database_deadline(limit));
    let handler = payments_request_deadline::within(budget.clone(), next.call(request));
    tokio::pin!(handler);
    tokio::select! {
        result = &mut handler => return result.map(ServiceResponse::map_into_left_body),
        () = tokio::time::sleep(limit) => {}
    }
    if budget.close_if_idle() {
        tracing::warn!(limit_ms = limit.as_millis(), "request timed out");
        let response = ApiError::TimedOut.respond_to(&http_request);
        return Ok(ServiceResponse::new(http_request, response).map_into_right_body());
    }
    tracing::warn!(
        limit_ms = limit.as_millis(),
        "request timed out with database work in flight; answering its outcome"
    );
    handler.await.map(ServiceResponse::map_into_left_body)
}

/// The database work of a request must end this long after it started: a tenth of the
/// timeout (at most half a second) earlier, so a COMMIT that started just before fits.
fn database_deadline(limit: Duration) -> Duration {
    limit - (limit / 10).min(Duration::from_millis(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: &[u8]) -> RequestId {
        RequestId::from_client(Some(&HeaderValue::from_bytes(value).unwrap()))
    }

    fn is_uuid_v4(id: &RequestId) -> bool {
        uuid::Uuid::parse_str(id.as_str()).is_ok_and(|uuid| uuid.get_version_num() == 4)
    }

    #[test]
    fn a_sane_client_id_is_kept() {
        for value in [&b"abc-123"[..], b"~!#$%&'*+.^_`|", &[b'x'; 128]] {
            assert_eq!(id(value).as_str().as_bytes(), value);
        }
    }

    #[test]
    fn other_ids_are_replaced_by_a_uuid() {
        for value in [
            &b""[..],
            b"has space",
            b"tab\there",
            &[b'x'; 129],
            b"caf\xc3\xa9",
        ] {
            let id = id(value);
            assert!(is_uuid_v4(&id), "{value:?} gave {id:?}");
        }
        assert!(is_uuid_v4(&RequestId::from_client(None)));
    }
}
