//! The one HTTP error type of this crate, and the single place domain errors become statuses.
//!
//! An [`ApiError`] has two renderings: the legacy `{"error": ...}` of the bank-webhook routes
//! ([`ResponseError`]) and the billing envelope `{"success": false, ...}` ([`Rejection`]),
//! which carries the request id and so is built where the request is known.

use std::borrow::Cow;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use payments_domain::payment::InvalidTransition;
use payments_domain::signature::SignatureError;
use payments_domain::usecases::{
    AuthenticationError, BillingError, ReadBalanceError, ReceiveError,
};
use payments_domain::{FieldErrors, PaymentId, StorageError};

use crate::observability::RequestId;
use crate::openapi::{ErrorBody, FailureBody, InvalidDataBody};

/// Paths under this prefix answer errors in the billing envelope.
pub const BILLING_PREFIX: &str = "/api/v1/billing";

/// Key of `details` for errors that belong to the body as a whole (Django REST framework's name,
/// kept because existing clients parse it).
pub const NON_FIELD_ERRORS: &str = "non_field_errors";

/// Everything a request can fail with: one variant per kind of answer. Each variant's
/// `Display` is the client-facing `error` message. Variants keep the internal cause where there
/// is one, so that it is logged where the answer is built ([`ApiError::response_head`]); the
/// conversions from domain errors below only map, they never log.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404 with its message: `Not found` for unknown paths, `Organization not found` on the
    /// balance route, `Payment not found.` and the like in billing.
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    /// A known path with a method it does not serve; `allow` lists the ones it does.
    #[error("Method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("Request body too large")]
    PayloadTooLarge,
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// The webhook's signature was refused; the reason is logged, never sent.
    #[error("Invalid signature")]
    InvalidSignature(SignatureError),
    /// Missing or invalid API token; the message is the domain's.
    #[error("{0}")]
    Unauthenticated(String),
    /// 400 with per-field reasons.
    #[error("Invalid data")]
    InvalidData(FieldErrors),
    /// 400 without field reasons (a client error actix raised on its own).
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// 403: the caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 409 from the payment state machine; the envelope names the states.
    #[error("{0}")]
    InvalidTransition(InvalidTransition),
    /// 409: the request conflicts with what is stored. `payment_id` names the stored payment
    /// when there is one (a webhook reusing an operation id), for the log.
    #[error("{reason}")]
    Conflict {
        reason: Cow<'static, str>,
        payment_id: Option<PaymentId>,
    },
    /// 422: well formed, but the ledger cannot take it.
    #[error("{0}")]
    Unprocessable(String),
    /// Storage is down or overloaded: not the client's fault, so 503 and a retry hint. The
    /// cause is logged, never sent.
    #[error("Service temporarily unavailable, retry later")]
    Unavailable(StorageError),
    /// A stored row that does not decode: a defect on our side, so 500 and no retry hint.
    /// The cause (the row's table and id) is logged, never sent.
    #[error("Internal server error")]
    CorruptRow(StorageError),
    /// The handler took longer than `HttpSettings::request_timeout`.
    #[error("Request timed out")]
    TimedOut,
    /// The token spent its quota; `retry_after` whole seconds until the next request passes.
    #[error("Too many requests; retry after {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    /// A bug on our side; never caused by input.
    #[error("Internal server error")]
    Internal,
}

/// Message of a 404 for a path nothing is served at.
pub const NOT_FOUND: &str = "Not found";

/// Message of the webhook's 409.
pub const OPERATION_CONFLICT: &str = "Operation already processed with different data";

impl ApiError {
    /// 400 with one body-level reason, e.g. malformed JSON.
    pub fn invalid_body(reason: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(NON_FIELD_ERRORS, reason);
        Self::InvalidData(errors)
    }

    /// 404 for a path nothing is served at.
    pub fn no_route() -> Self {
        Self::NotFound(Cow::Borrowed(NOT_FOUND))
    }

    /// 400 for a client error actix raised without a more specific reason.
    pub fn bad_request() -> Self {
        Self::BadRequest(Cow::Borrowed("Bad request"))
    }

    /// Logs what the client is not told: internal causes and refusals worth tracing. Called
    /// once per answer, where it is built.
    fn log(&self) {
        match self {
            Self::Unavailable(cause) => tracing::error!(%cause, "storage failed"),
            Self::CorruptRow(cause) => tracing::error!(%cause, "a stored row does not decode"),
            // The reason only: the header and the secrets stay out of logs.
            Self::InvalidSignature(reason) => {
                tracing::info!(%reason, "webhook signature refused")
            }
            Self::Conflict {
                payment_id: Some(payment_id),
                ..
            } => tracing::info!(%payment_id, "webhook reused an operation_id with other data"),
            Self::Unprocessable(refusal) => tracing::info!(%refusal, "ledger refused a change"),
            _ => {}
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidSignature(_) | Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidData(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict { .. } | Self::InvalidTransition(_) => StatusCode::CONFLICT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) | Self::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal | Self::CorruptRow(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.response_head();
        let error = self.to_string();
        match self {
            Self::InvalidData(errors) => response.json(InvalidDataBody {
                error,
                details: errors
                    .iter()
                    .map(|(field, reasons)| (field.to_string(), reasons.to_vec()))
                    .collect(),
            }),
            _ => response.json(ErrorBody { error }),
        }
    }
}

impl ApiError {
    /// Status and the headers that go with it (`Allow`, `WWW-Authenticate`, `Retry-After`).
    /// Every rendering starts here, so this is where the error is logged.
    fn response_head(&self) -> HttpResponseBuilder {
        self.log();
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
            }
            Self::Unauthenticated(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::Unavailable(_) | Self::TimedOut => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::TooManyRequests { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        response
    }

    /// The billing rendering: `{"success": false, "error", "errors"?, "current_status"?,
    /// "required_statuses"?, "request_id"}`.
    pub fn enveloped(&self, request_id: &str) -> HttpResponse {
        let errors = match self {
            Self::InvalidData(errors) => Some(
                errors
                    .iter()
                    .map(|(field, reasons)| (field.to_string(), reasons.to_vec()))
                    .collect(),
            ),
            _ => None,
        };
        let (current_status, required_statuses) = match self {
            Self::InvalidTransition(refusal) => (
                Some(refusal.current.as_str()),
                Some(refusal.required.iter().map(|s| s.as_str()).collect()),
            ),
            _ => (None, None),
        };
        self.response_head().json(FailureBody {
            success: false,
            error: self.to_string(),
            errors,
            current_status,
            required_statuses,
            request_id: request_id.to_owned(),
        })
    }

    /// The answer to `request`: the billing envelope under [`BILLING_PREFIX`], the legacy body
    /// elsewhere. For errors raised outside billing handlers (unknown paths, timeouts).
    pub(crate) fn respond_to(&self, request: &HttpRequest) -> HttpResponse {
        if is_billing_path(request.path()) {
            self.enveloped(&request_id_of(request))
        } else {
            self.error_response()
        }
    }
}

/// True for `/api/v1/billing` and everything under it.
pub(crate) fn is_billing_path(path: &str) -> bool {
    path.strip_prefix(BILLING_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The request's id, as the outermost middleware settled it.
pub(crate) fn request_id_of(request: &HttpRequest) -> String {
    request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default()
}

/// A billing error on its way to the client, with the request id its envelope carries.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Rejection {
    pub error: ApiError,
    pub request_id: String,
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        self.error.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.error.enveloped(&self.request_id)
    }
}

impl ApiError {
    /// A storage failure: 503 (retry) when passing, 500 when a stored row does not decode,
    /// which no retry cures.
    pub fn storage(cause: StorageError) -> Self {
        if cause.is_corrupt() {
            Self::CorruptRow(cause)
        } else {
            Self::Unavailable(cause)
        }
    }
}

impl From<BillingError> for ApiError {
    fn from(error: BillingError) -> Self {
        match error {
            BillingError::Invalid(errors) => Self::InvalidData(errors),
            BillingError::Forbidden(refusal) => Self::Forbidden(refusal.to_string()),
            BillingError::InvalidTransition(refusal) => Self::InvalidTransition(refusal),
            BillingError::Conflict(reason) => Self::Conflict {
                reason: reason.into(),
                payment_id: None,
            },
            BillingError::Unprocessable(reason) => Self::Unprocessable(reason),
            BillingError::Storage(cause) => Self::storage(cause),
            not_found @ BillingError::NotFound(_) => Self::NotFound(not_found.to_string().into()),
            // A kind added to the domain later: answered as a bug until it is mapped here.
            _ => Self::Internal,
        }
    }
}

impl From<ReceiveError> for ApiError {
    fn from(error: ReceiveError) -> Self {
        match error {
            ReceiveError::Invalid(errors) => Self::InvalidData(errors),
            ReceiveError::Conflict { payment_id } => Self::Conflict {
                reason: Cow::Borrowed(OPERATION_CONFLICT),
                payment_id: Some(payment_id),
            },
            ReceiveError::Refused(refusal) => Self::Unprocessable(refusal.to_string()),
            ReceiveError::Storage(cause) => Self::storage(cause),
            _ => Self::Internal,
        }
    }
}

impl From<ReadBalanceError> for ApiError {
    fn from(error: ReadBalanceError) -> Self {
        match error {
            ReadBalanceError::NotFound => Self::NotFound(error.to_string().into()),
            ReadBalanceError::Unauthenticated(refused) => refused.into(),
            ReadBalanceError::Storage(cause) => Self::storage(cause),
            _ => Self::Internal,
        }
    }
}

impl From<AuthenticationError> for ApiError {
    fn from(error: AuthenticationError) -> Self {
        match error {
            AuthenticationError::Storage(cause) => Self::storage(cause),
            refused => Self::Unauthenticated(refused.to_string()),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(error: SignatureError) -> Self {
        Self::InvalidSignature(error)
    }
}

impl From<actix_web::error::JsonPayloadError> for ApiError {
    fn from(error: actix_web::error::JsonPayloadError) -> Self {
        use actix_web::error::JsonPayloadError as E;
        match error {
            E::Overflow { .. } | E::OverflowKnownLength { .. } => Self::PayloadTooLarge,
            E::ContentType => Self::UnsupportedMediaType,
            E::Deserialize(_) | E::Serialize(_) => Self::invalid_body("Malformed JSON."),
            E::Payload(payload) => payload.into(),
            _ => Self::bad_request(),
        }
    }
}

impl From<actix_web::error::PayloadError> for ApiError {
    fn from(error: actix_web::error::PayloadError) -> Self {
        match error {
            actix_web::error::PayloadError::Overflow => Self::PayloadTooLarge,
            // The transport's reason is not the client's business, and not worth a log line.
            _ => Self::invalid_body("Could not read the request body."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;
    use actix_web::test::TestRequest;

    #[test]
    fn only_the_billing_prefix_and_below_are_billing_paths() {
        for path in [
            "/api/v1/billing",
            "/api/v1/billing/",
            "/api/v1/billing/payments/x",
        ] {
            assert!(is_billing_path(path), "{path}");
        }
        for path in ["/api/v1/billingx", "/api/v1/", "/api/webhook/bank/"] {
            assert!(!is_billing_path(path), "{path}");
        }
    }

    #[actix_web::test]
    async fn errors_raised_outside_handlers_follow_the_path_format() {
        let request = TestRequest::get()
            .uri("/api/v1/billing/payments/")
            .to_http_request();
        request
            .extensions_mut()
            .insert(RequestId::from_client(Some(&HeaderValue::from_static(
                "r-1",
            ))));
        let response = ApiError::TimedOut.respond_to(&request);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let body = to_bytes(response.into_body()).await.unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"success": false, "error": "Request timed out", "request_id": "r-1"})
        );

        let request = TestRequest::get()
            .uri("/api/webhook/bank/")
            .to_http_request();
        let response = ApiError::TimedOut.respond_to(&request);
        let body = to_bytes(response.into_body()).await.unwrap();
        assert_eq!(&body[..], br#"{"error":"Request timed out"}"#);
    }

    #[actix_web::test]
    async fn domain_errors_map_to_one_status_and_message_each() {
        use payments_domain::auth::AccessError;
        use payments_domain::usecases::Resource;
        use payments_domain::PaymentStatus;
        let transition = PaymentStatus::Failed
            .transition_to(PaymentStatus::Succeeded)
            .unwrap_err();
        let cases: Vec<(ApiError, StatusCode, String)> = vec![
            (
                BillingError::NotFound(Resource::Override).into(),
                StatusCode::NOT_FOUND,
                "Override not found.".into(),
            ),
            (
                BillingError::Forbidden(AccessError::StaffOnly).into(),
                StatusCode::FORBIDDEN,
                "Staff only.".into(),
            ),
            (
                BillingError::Conflict("taken".into()).into(),
                StatusCode::CONFLICT,
                "taken".into(),
            ),
            (
                BillingError::InvalidTransition(transition.clone()).into(),
                StatusCode::CONFLICT,
                transition.to_string(),
            ),
            (
                BillingError::Unprocessable("too big".into()).into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "too big".into(),
            ),
            (
                ReadBalanceError::NotFound.into(),
                StatusCode::NOT_FOUND,
                "Organization not found".into(),
            ),
            (
                ReceiveError::Conflict {
                    payment_id: PaymentId::generate(),
                }
                .into(),
                StatusCode::CONFLICT,
                OPERATION_CONFLICT.into(),
            ),
            (
                ApiError::no_route(),
                StatusCode::NOT_FOUND,
                NOT_FOUND.into(),
            ),
            (
                ApiError::bad_request(),
                StatusCode::BAD_REQUEST,
                "Bad request".into(),
            ),
        ];
        for (error, status, message) in cases {
            assert_eq!(error.status_code(), status, "{error:?}");
            assert_eq!(error.to_string(), message, "{error:?}");
        }
    }

    #[actix_web::test]
    async fn storage_failures_are_503_without_their_cause() {
        let cause = StorageError::new("connection to 10.0.0.7 refused");
        for error in [
            ApiError::from(BillingError::Storage(cause.clone())),
            ApiError::from(ReceiveError::Storage(cause.clone())),
            ApiError::from(ReadBalanceError::Storage(cause.clone())),
            ApiError::from(AuthenticationError::Storage(cause.clone())),
        ] {
            assert!(matches!(&error, ApiError::Unavailable(kept) if *kept == cause));
            let response = error.error_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            let body = to_bytes(response.into_body()).await.unwrap();
            assert_eq!(
                &body[..],
                br#"{"error":"Service temporarily unavailable, retry later"}"#
            );
        }
    }
}
