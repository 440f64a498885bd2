//! The wire types of the API and its OpenAPI 3.1 description (`GET /openapi.json`, `/docs/`).
//!
//! The response bodies here are the ones the handlers serialize, so the schemas cannot drift
//! from what is sent; `tests/api/openapi.rs` checks every documented example against real answers.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDocument, RefOr, Required};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::ApiError;
use crate::routes::Endpoint;

/// Every error but invalid data: `{"error": "<message>"}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "Not found"}))]
pub struct ErrorBody {
    /// A human-readable message; stable per status, safe to show.
    pub error: String,
}

/// 400: the body or some of its fields are invalid; every reason at once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "Invalid data", "details": {"amount": ["Ensure that there are no more than 2 decimal places."]}}))]
pub struct InvalidDataBody {
    /// Always "Invalid data".
    pub error: String,
    /// Reasons by field name; `non_field_errors` for the body as a whole (malformed JSON).
    pub details: BTreeMap<String, Vec<String>>,
}

/// Every billing error: `success` is false; `errors` (by field) comes with 400 invalid data,
/// `current_status` and `required_statuses` with a refused status change (409).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"success": false, "error": "Payment not found.", "request_id": "3f2c8a4e-0d1b-4e36-9a57-0c6f3b2d9e11"}))]
pub struct FailureBody {
    /// Always false.
    pub success: bool,
    /// A human-readable message, safe to show.
    pub error: String,
    /// Reasons by field name; `non_field_errors` for the body as a whole (malformed JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    /// The payment's status, when a status change was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub current_status: Option<&'static str>,
    /// The statuses the refused change would need.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub required_statuses: Option<Vec<&'static str>>,
    /// The request's `X-Request-Id`.
    pub request_id: String,
}

/// 200 to a webhook, first time or retried.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookAccepted {
    #[schema(value_type = String, example = "Payment processed successfully")]
    pub message: &'static str,
    /// The payment recorded for this operation_id (the same on every retry).
    #[schema(format = Uuid, example = "0b6f1c2e-6a3b-4a53-9d2a-3f1f0c8e5b7d")]
    pub payment_id: String,
}

/// An organization's balance.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BalanceBody {
    #[schema(example = "1234567890")]
    pub inn: String,
    /// A JSON number written with exactly the currency's decimals (`145000.00`), never a float
    /// computation on our side; parse it as a decimal.
    #[schema(value_type = f64, example = 145000.00)]
    pub balance: Box<RawValue>,
}

/// `/healthz` and a passing `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HealthBody {
    /// "ok" (`/healthz`) or "ready" (`/readyz`).
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
}

/// A failing `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NotReadyBody {
    /// Always "unavailable".
    #[schema(value_type = String, example = "unavailable")]
    pub status: &'static str,
    /// Why the readiness check failed.
    pub reason: String,
}

/// The webhook body. Documentation only: the handler splits the JSON by hand so that the
/// signature covers the raw bytes and amounts keep their literal text.
#[derive(ToSchema)]
#[schema(example = json!({"operation_id": "ccf0a86d-041b-4991-bcf7-e2352f7b8a4a", "amount": 145000,
    "payer_inn": "1234567890", "document_number": "PAY-328", "document_date": "2024-04-27T21:00:00Z"}))]
#[allow(dead_code)]
pub(crate) struct BankWebhookRequest {
    /// The dedup key: one payment per operation_id, forever. Any case, with dashes.
    #[schema(format = Uuid)]
    operation_id: String,
    /// Greater than 0, at most 2 decimal places and 13 integer digits. A JSON number or a
    /// numeric string; never read through a float.
    #[schema(schema_with = amount_schema)]
    amount: String,
    /// 10 or 12 digits.
    #[schema(pattern = r"^\s*(\d{10}|\d{12})\s*$")]
    payer_inn: String,
    /// The bank document's number; 1 to 50 characters, no control characters.
    #[schema(min_length = 1, max_length = 50)]
    document_number: String,
    /// RFC 3339 date-time in years 1 to 9999 (UTC), no leap second; a plain date or a naive
    /// date-time (read as UTC) is accepted too.
    #[schema(format = DateTime)]
    document_date: String,
}

pub(crate) fn amount_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Number, Type::String]))
        .description(Some(
            "Greater than 0, at most 2 decimal places and 13 integer digits.",
        ))
        .examples([serde_json::json!(145000), serde_json::json!("1.50")])
        .into()
}

/// The API's description. Paths are documented next to their handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Payments API",
        description = "Bank webhooks crediting organization balances, balance reads, the \
                       billing API (`/api/v1/billing/`) and the service's operational \
                       endpoints. Every answer is JSON (except `/metrics` and `/docs/`) and \
                       carries an `X-Request-Id` header: the client's own when it sent a sane \
                       one (1 to 128 visible ASCII characters), else a new UUID. Billing \
                       answers are enveloped: `{\"success\": true, \"data\", \"message\"?, \
                       \"request_id\"}` or `{\"success\": false, \"error\", \"errors\"?, \
                       \"request_id\"}`; lists are `data = {\"count\", \"next\", \"previous\", \
                       \"results\"}`; amounts are decimal strings (`\"139.00\"`). Unknown \
                       paths answer 404 `{\"error\": \"Not found\"}` (enveloped under \
                       `/api/v1/billing/`)."
    ),
    paths(
        crate::webhook::receive,
        crate::balance::read,
        crate::health::live,
        crate::health::ready,
        crate::metrics::scrape,
        serve_spec,
        docs_ui,
        docs_redirect,
        crate::billing::member::list_payments,
        crate::billing::member::submit_manual_payment,
        crate::billing::member::get_payment,
        crate::billing::member::available_methods,
        crate::billing::member::list_invoices,
        crate::billing::member::get_invoice,
        crate::billing::member::balance,
        crate::billing::member::transactions,
        crate::billing::staff::list_payments,
        crate::billing::staff::approve,
        crate::billing::staff::reject,
        crate::billing::staff::refund,
        crate::billing::admin::list_organizations,
        crate::billing::admin::create_organization,
        crate::billing::admin::issue_invoice,
        crate::billing::admin::list_configs,
        crate::billing::admin::create_config,
        crate::billing::admin::get_config,
        crate::billing::admin::update_config,
        crate::billing::admin::delete_config,
        crate::billing::admin::list_overrides,
        crate::billing::admin::save_override,
        crate::billing::admin::delete_override,
    ),
    components(schemas(ErrorBody, InvalidDataBody, FailureBody)),
    modifiers(&Operability),
    tags(
        (name = "payments", description = "Bank webhooks and balances"),
        (name = "billing", description = "A member's own organization: payments, manual \
                                           payments, invoices, balance and balance log"),
        (name = "billing-admin", description = "Staff: every organization's payments and their \
                                                 approval, organizations, invoices, the \
                                                 payment-method catalogue"),
        (name = "operations", description = "Health, metrics and this description"),
    )
)]
struct ApiDoc;

/// What is the same for every operation, added here rather than repeated on each: the
/// security schemes, the request-id header both ways, and the paths' slash-less aliases.
struct Operability;

impl Modify for Operability {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        crate::billing::document_common_responses(openapi);

        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pay_<hex>")
                    .description(Some(
                        "An API token of staff or of a member of an organization. Balance \
                         reads skip it in legacy open mode; the billing API always needs it.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "webhook_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Signature",
                "`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>`; several \
                 `v1=` values allowed; timestamps more than 300 s away are refused. Not \
                 required in legacy open mode.",
            ))),
        );

        let request_id = ParameterBuilder::new()
            .name("X-Request-Id")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Your id for this request, echoed back; replaced by a UUID unless it is 1 to \
                 128 visible ASCII characters.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(128)),
            ))
            .build();
        let echoed = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some("The request's id, as logged."))
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .parameters
                    .get_or_insert_with(Vec::new)
                    .push(request_id.clone());
                for response in operation.responses.responses.values_mut() {
                    if let RefOr::T(response) = response {
                        response
                            .headers
                            .insert("X-Request-Id".to_string(), echoed.clone());
                    }
                }
            }
        }

        // Aliases answer exactly like the main path; documenting them from the route table
        // keeps the spec and the router in step.
        for endpoint in Endpoint::ALL {
            let Some((main, aliases)) = endpoint.paths().split_first() else {
                continue;
            };
            let Some(item) = openapi.paths.paths.get(*main).cloned() else {
                continue;
            };
            for alias in aliases {
                let mut item = item.clone();
                let operations = [
                    &mut item.get,
                    &mut item.post,
                    &mut item.put,
                    &mut item.delete,
                ];
                for operation in operations.into_iter().flatten() {
                    if let Some(id) = &mut operation.operation_id {
                        id.push_str("WithoutSlash");
                    }
                    operation.summary = Some(format!("Same as `{main}`"));
                }
                openapi.paths.paths.insert((*alias).to_string(), item);
            }
        }
    }
}

/// The description, built once.
pub fn openapi() -> OpenApiDocument {
    ApiDoc::openapi()
}

static SPEC_JSON: LazyLock<Result<Bytes, String>> = LazyLock::new(|| {
    openapi()
        .to_json()
        .map(Bytes::from)
        .map_err(|error| error.to_string())
});

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openApi",
    tag = "operations",
    summary = "This OpenAPI 3.1 description",
    responses(
        (status = 200, description = "The OpenAPI document", body = Object,
         content_type = "application/json"),
    )
)]
pub(crate) async fn serve_spec() -> Result<HttpResponse, ApiError> {
    match &*SPEC_JSON {
        Ok(json) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(json.clone())),
        Err(error) => {
            tracing::error!(%error, "could not encode the OpenAPI description");
            Err(ApiError::Internal)
        }
    }
}

/// `GET /docs/` is served by utoipa-swagger-ui; this only documents it.
#[utoipa::path(
    get,
    path = "/docs/",
    operation_id = "docs",
    tag = "operations",
    summary = "Interactive documentation (Swagger UI)",
    description = "Swagger UI for `/openapi.json`, served from the binary: no external resources.",
    responses(
        (status = 200, description = "The Swagger UI page", content_type = "text/html", body = String),
    )
)]
#[allow(dead_code)]
fn docs_ui() {}

/// `GET /docs` → `/docs/`, where the UI's relative asset links resolve.
#[utoipa::path(
    get,
    path = "/docs",
    operation_id = "docsRedirect",
    tag = "operations",
    summary = "Redirect to /docs/",
    responses(
        (status = 308, description = "Permanent redirect to `/docs/`",
         headers(("Location" = String, description = "`/docs/`"))),
    )
)]
pub(crate) async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_encodes() {
        assert!(SPEC_JSON.is_ok());
    }
}
