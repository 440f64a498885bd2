//! `GET /api/organizations/{inn}/balance/`: an organization's balance, within the caller's
//! tenancy.

use actix_web::{web, HttpRequest, HttpResponse};
use payments_domain::usecases::ReadBalanceError;
use payments_domain::Inn;
use serde_json::value::RawValue;

use crate::auth::bearer_of;
use crate::error::ApiError;
use crate::openapi::{BalanceBody, ErrorBody};
use crate::{ApiState, WebhookAuth};

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
    request: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    // The old service answered 404 for any INN it did not know, well formed or not.
    let inn = Inn::parse(request.match_info().query("inn")).ok();
    let organization = if matches!(state.webhook_auth, WebhookAuth::LegacyOpen) {
        let inn = inn.ok_or(ReadBalanceError::NotFound)?;
        state.read_balance.execute_open(&inn).await?
    } else {
        // The token and the organization are read together, in one storage call; the use
        // case still authenticates first, so an anonymous caller learns nothing of the path.
        let token = bearer_of(&request)?;
        state
            .read_balance
            .execute_with_token(token, inn.as_ref())
            .await?
    };
    let balance = RawValue::from_string(organization.balance().to_string()).map_err(|error| {
        tracing::error!(%error, "a balance did not print as a JSON number");
        ApiError::Internal
    })?;
    Ok(HttpResponse::Ok().json(BalanceBody {
        inn: organization.inn.as_str().to_owned(),
        balance,
    }))
}
