//! `GET /api/organizations/{inn}/balance/`: an organization's balance, within the caller's
//! tenancy.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use payments_domain::auth::{self, Principal};
use payments_domain::usecases::AuthenticationError;
use payments_domain::Inn;
use serde_json::value::RawValue;

use crate::error::ApiError;
use crate::openapi::{BalanceBody, ErrorBody};
use crate::{ApiState, WebhookAuth};

/// Who is asking. `None` only in legacy open mode, where reads need no token.
///
/// Authentication is an extractor so that it runs before anything about the path is looked
/// at: an anonymous caller learns nothing, not even whether an INN is well formed.
pub(crate) struct Caller(Option<Principal>);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<ApiState>>().cloned();
        // Copied out so the future does not borrow the request.
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().map(str::to_owned));
        Box::pin(async move {
            let Some(state) = state else {
                tracing::error!("ApiState is not registered in the app");
                return Err(ApiError::Internal);
            };
            if matches!(state.webhook_auth, WebhookAuth::LegacyOpen) {
                return Ok(Self(None));
            }
            let token = match &authorization {
                None => None,
                Some(Ok(value)) => auth::bearer_token(value),
                // A header that is not visible ASCII holds no token we could have issued.
                Some(Err(_)) => return Err(AuthenticationError::Invalid.into()),
            };
            let principal = state.authenticate.execute(token).await?;
            Ok(Self(Some(principal)))
        })
    }
}

/// Reads one organization's balance.
#[utoipa::path(
    get,
    path = "/api/organizations/{inn}/balance/",
    operation_id = "readBalance",
    tag = "payments",
    summary = "Read an organization's balance",
    description = "Staff read any organization; a member reads only its own (others are 404). \
                   Also served at `/api/organizations/{inn}/balance`; other methods answer 405 \
                   with an `Allow` header.",
    params(("inn" = String, Path, description = "The organization's INN: 10 or 12 digits",
            example = "1234567890")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The balance, with exactly the currency's decimals",
         body = BalanceBody, example = json!({"inn": "1234567890", "balance": 145000.00})),
        (status = 401, description = "Missing, invalid or revoked token",
         body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "`Bearer`")),
         example = json!({"error": "Authentication credentials were not provided."})),
        (status = 404, description = "Unknown or malformed INN, or another organization's",
         body = ErrorBody, example = json!({"error": "Organization not found"})),
        (status = 405, description = "Any method but GET on this path",
         body = ErrorBody, headers(("Allow" = String, description = "`GET`")),
         example = json!({"error": "Method not allowed"})),
        (status = 503, description = "Storage unavailable, or the request timed out \
                                      (`{\"error\": \"Request timed out\"}`)",
         body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait before retrying")),
         example = json!({"error": "Service temporarily unavailable, retry later"})),
    )
)]
pub(crate) async fn read(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    // The old service answered 404 for any INN it did not know, well formed or not.
    let inn = Inn::parse(request.match_info().query("inn"))
        .map_err(|_| ApiError::OrganizationNotFound)?;
    let organization = state.read_balance.execute(caller.0.as_ref(), &inn).await?;
    let balance = RawValue::from_string(organization.balance.to_string()).map_err(|error| {
        tracing::error!(%error, "a balance did not print as a JSON number");
        ApiError::Internal
    })?;
    Ok(HttpResponse::Ok().json(BalanceBody {
        inn: organization.inn.as_str().to_owned(),
        balance,
    }))
}
