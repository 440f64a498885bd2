//! The one HTTP error type of this crate, and the single place domain errors become statuses.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use payments_domain::ledger::LedgerError;
use payments_domain::signature::SignatureError;
use payments_domain::usecases::{AuthenticationError, ReadBalanceError, ReceiveError};
use payments_domain::FieldErrors;

use crate::openapi::{ErrorBody, InvalidDataBody};

/// Key of `details` for errors that belong to the body as a whole (Django REST framework's name,
/// kept because existing clients parse it).
pub const NON_FIELD_ERRORS: &str = "non_field_errors";

/// Everything a request can fail with. Each variant's `Display` is the client-facing `error`
/// message; internal causes are logged where they are converted, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Not found")]
    NotFound,
    /// A known path with a method it does not serve; `allow` lists the ones it does.
    #[error("Method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("Request body too large")]
    PayloadTooLarge,
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Invalid signature")]
    InvalidSignature,
    /// Missing or invalid API token; the message is the domain's.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("Invalid data")]
    InvalidData(FieldErrors),
    #[error("Operation already processed with different data")]
    Conflict,
    #[error("{0}")]
    Refused(LedgerError),
    #[error("Organization not found")]
    OrganizationNotFound,
    /// Storage is down or overloaded: not the client's fault, so 503 and a retry hint.
    #[error("Service temporarily unavailable, retry later")]
    Unavailable,
    /// The handler took longer than `HttpSettings::request_timeout`.
    #[error("Request timed out")]
    TimedOut,
    /// A client error raised by actix itself that has no more specific mapping.
    #[error("Bad request")]
    BadRequest,
    /// A bug on our side; never caused by input.
    #[error("Internal server error")]
    Internal,
}

impl ApiError {
    /// 400 with one body-level reason, e.g. malformed JSON.
    pub fn invalid_body(reason: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(NON_FIELD_ERRORS, reason);
        Self::InvalidData(errors)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::OrganizationNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidSignature | Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidData(_) | Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable | Self::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
            }
            Self::Unauthenticated(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::Unavailable | Self::TimedOut => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
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

impl From<ReceiveError> for ApiError {
    fn from(error: ReceiveError) -> Self {
        match error {
            ReceiveError::Invalid(errors) => Self::InvalidData(errors),
            ReceiveError::Conflict { payment_id } => {
                tracing::info!(%payment_id, "webhook reused an operation_id with other data");
                Self::Conflict
            }
            ReceiveError::Refused(refusal) => {
                tracing::info!(%refusal, "ledger refused a bank payment");
                Self::Refused(refusal)
            }
            ReceiveError::Storage(cause) => {
                tracing::error!(%cause, "storage failed while receiving a bank payment");
                Self::Unavailable
            }
        }
    }
}

impl From<ReadBalanceError> for ApiError {
    fn from(error: ReadBalanceError) -> Self {
        match error {
            ReadBalanceError::NotFound => Self::OrganizationNotFound,
            ReadBalanceError::Storage(cause) => {
                tracing::error!(%cause, "storage failed while reading a balance");
                Self::Unavailable
            }
        }
    }
}

impl From<AuthenticationError> for ApiError {
    fn from(error: AuthenticationError) -> Self {
        match error {
            AuthenticationError::Storage(cause) => {
                tracing::error!(%cause, "storage failed while authenticating");
                Self::Unavailable
            }
            refused => Self::Unauthenticated(refused.to_string()),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(error: SignatureError) -> Self {
        // The variant only: the header and the secrets stay out of logs.
        tracing::info!(reason = %error, "webhook signature refused");
        Self::InvalidSignature
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
            _ => Self::BadRequest,
        }
    }
}

impl From<actix_web::error::PayloadError> for ApiError {
    fn from(error: actix_web::error::PayloadError) -> Self {
        match error {
            actix_web::error::PayloadError::Overflow => Self::PayloadTooLarge,
            other => {
                tracing::debug!(error = %other, "could not read a request body");
                Self::invalid_body("Could not read the request body.")
            }
        }
    }
}
