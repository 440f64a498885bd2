//! HTTP interface of the payments service, on actix-web.
//!
//! [`app`] builds the whole application: the bank webhook (`POST /api/webhook/bank/`), the
//! balance read (`GET /api/organizations/{inn}/balance/`), each also without the trailing slash,
//! and JSON answers for every error a client can cause (unknown path, wrong method, bad content
//! type, oversized or malformed body), as `shared/docs/bank-webhook.md` specifies.
//!
//! Handlers only parse, call one use case of `payments-domain` and map its result; every
//! domain error becomes an HTTP status in one place, [`ApiError`].

mod balance;
mod error;
mod webhook;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpResponse};
use payments_domain::signature::WebhookSecret;
use payments_domain::usecases::{Authenticate, ReadBalance, ReceiveBankPayment};
use serde_json::json;
use tracing_actix_web::TracingLogger;

pub use error::{ApiError, NON_FIELD_ERRORS};

/// The use cases the handlers call, and how requests are authenticated.
#[derive(Clone)]
pub struct ApiState {
    pub receive_bank_payment: ReceiveBankPayment,
    pub read_balance: ReadBalance,
    pub authenticate: Authenticate,
    pub webhook_auth: WebhookAuth,
}

/// How webhooks (and, with them, balance reads) are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAuth {
    /// Webhooks must carry a valid `X-Signature` made with one of these secrets; balance reads
    /// need a bearer token.
    Signed(Vec<WebhookSecret>),
    /// The old service's behaviour, for a drop-in migration: no webhook signature and open
    /// balance reads.
    LegacyOpen,
}

/// Transport limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Largest request body accepted; more is answered with 413.
    pub body_limit_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
        }
    }
}

const WEBHOOK_PATHS: [&str; 2] = ["/api/webhook/bank/", "/api/webhook/bank"];
const BALANCE_PATHS: [&str; 2] = [
    "/api/organizations/{inn}/balance/",
    "/api/organizations/{inn}/balance",
];

/// The whole actix App (routes, JSON error handlers, tracing middleware).
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
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .app_data(web::QueryConfig::default().error_handler(|_, _| ApiError::BadRequest.into()))
        .service(
            web::resource(WEBHOOK_PATHS)
                .route(web::post().to(webhook::receive))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "POST" })
                })),
        )
        .service(
            web::resource(BALANCE_PATHS)
                .route(web::get().to(balance::read))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "GET" })
                })),
        )
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::NotFound)
        }))
        .wrap(ErrorHandlers::new().default_handler(json_error_body))
        // Outermost, so the span covers everything and records the final status. The default
        // root span records method, route, target and status, never bodies or headers.
        .wrap(TracingLogger::default())
}

/// Safety net: an error response that is not JSON (one actix produced on its own) is given a
/// JSON body `{"error": "<reason phrase>"}`, keeping its status and other headers.
fn json_error_body<B>(response: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
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
