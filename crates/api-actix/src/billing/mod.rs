//! The billing API, `/api/v1/billing/` (`docs/api/billing.md`): members' payments,
//! invoices, balance and balance log; staff's payment approval, organizations, invoices and the
//! payment-method catalogue.
//!
//! Every handler authenticates first ([`Call`], a bearer token even in legacy open mode),
//! parses (ids and filters into the domain's types, [`query`]), calls one use case of
//! [`BillingUseCases`](use_cases::BillingUseCases) and maps its result. Roles, tenancy and
//! every rule live in the domain. Answers use the envelope
//! `{"success", "data", "message"?, "request_id"}`; errors, including the ones the transport
//! raises (401, 404, 405, 413, 415, malformed JSON), `{"success": false, "error", ...}`.

pub(crate) mod admin;
pub(crate) mod examples;
pub(crate) mod member;
pub(crate) mod query;
pub(crate) mod staff;
pub(crate) mod use_cases;
pub(crate) mod wire;

use actix_web::http::header::HeaderName;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use payments_domain::pagination::{Page, PageRequest};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi as OpenApiDocument, Ref, RefOr};

use crate::auth::Call;
use crate::body::{read_body, require_json_content_type, JsonObject};
use crate::error::{request_id_of, ApiError, BILLING_PREFIX, NON_FIELD_ERRORS};
use crate::HttpSettings;

use self::wire::{page_of, Envelope};

/// Set to `true` on the answer to a manual payment repeated with the same `Idempotency-Key`.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The client's key making a manual payment safe to retry.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

impl Call {
    /// The success envelope around `data`.
    pub(crate) fn envelope<T>(&self, data: T, message: Option<&'static str>) -> Envelope<T> {
        Envelope {
            success: true,
            data,
            message,
            request_id: self.request_id.clone(),
        }
    }

    /// 200 with `data` and no message.
    pub(crate) fn ok<T: serde::Serialize>(&self, data: T) -> HttpResponse {
        HttpResponse::Ok().json(self.envelope(data, None))
    }

    /// `status` with `data` and a message saying what was done.
    pub(crate) fn done<T: serde::Serialize>(
        &self,
        status: StatusCode,
        data: T,
        message: &'static str,
    ) -> HttpResponse {
        HttpResponse::build(status).json(self.envelope(data, Some(message)))
    }

    /// 200 with `data: null` and a message (deletions).
    pub(crate) fn deleted(&self, message: &'static str) -> HttpResponse {
        HttpResponse::Ok().json(wire::Done {
            success: true,
            data: None,
            message,
            request_id: self.request_id.clone(),
        })
    }

    /// 200 with one page of a list, linking its neighbours.
    pub(crate) fn page<T, U: serde::Serialize>(
        &self,
        request: &HttpRequest,
        page: Page<T>,
        convert: impl FnMut(T) -> U,
    ) -> HttpResponse {
        self.ok(page_of(page, convert, |number| page_link(request, number)))
    }
}

/// The request's path and query with `page` set to `number`; the other parameters are kept as
/// sent, in their order.
fn page_link(request: &HttpRequest, number: u32) -> String {
    let page = format!("page={number}");
    let mut parts: Vec<&str> = Vec::new();
    let mut replaced = false;
    for part in request.query_string().split('&').filter(|p| !p.is_empty()) {
        if part.split('=').next() == Some("page") {
            // Only the first `page` is replaced; repeats would contradict it.
            if !replaced {
                parts.push(&page);
                replaced = true;
            }
        } else {
            parts.push(part);
        }
    }
    if !replaced {
        parts.push(&page);
    }
    format!("{}?{}", request.path(), parts.join("&"))
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
    page_size: Option<String>,
}

/// The list filters `T` and the page asked for, from the query string.
pub(crate) fn list_query<T: DeserializeOwned>(
    request: &HttpRequest,
) -> Result<(T, PageRequest), ApiError> {
    let malformed = |_| ApiError::invalid_body("Malformed query string.");
    let filters = web::Query::<T>::from_query(request.query_string()).map_err(malformed)?;
    let paging = web::Query::<PageQuery>::from_query(request.query_string()).map_err(malformed)?;
    let page = PageRequest::parse(paging.page.as_deref(), paging.page_size.as_deref()).map_err(
        |(field, reason)| {
            let mut errors = payments_domain::FieldErrors::new();
            errors.add(field, reason.to_string());
            ApiError::InvalidData(errors)
        },
    )?;
    Ok((filters.into_inner(), page))
}

/// The page asked for, for lists without filters.
pub(crate) fn page_query(request: &HttpRequest) -> Result<PageRequest, ApiError> {
    #[derive(Deserialize)]
    struct NoFilters {}
    list_query::<NoFilters>(request).map(|(_, page)| page)
}

/// The request body as a JSON object. With `optional`, an empty body (whatever its content
/// type) is an empty object; otherwise the body must be `application/json`.
pub(crate) async fn json_object(
    request: &HttpRequest,
    payload: web::Payload,
    optional: bool,
) -> Result<JsonObject, ApiError> {
    let limit = request
        .app_data::<web::Data<HttpSettings>>()
        .map(|settings| settings.body_limit_bytes)
        .unwrap_or_else(|| HttpSettings::default().body_limit_bytes);
    if !optional {
        // Checked before reading so a wrong client is told cheaply.
        require_json_content_type(request)?;
    }
    let body = read_body(request, payload, limit).await?;
    if optional {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonObject::empty());
        }
        require_json_content_type(request)?;
    }
    JsonObject::parse(&body)
}

/// 400 with the field errors found while splitting a body, if any.
pub(crate) fn no_field_errors(errors: payments_domain::FieldErrors) -> Result<(), ApiError> {
    errors.into_result().map_err(ApiError::InvalidData)
}

/// The answer to a method a billing path does not serve.
pub(crate) fn method_not_allowed(request: &HttpRequest, allow: &'static str) -> HttpResponse {
    ApiError::MethodNotAllowed { allow }.enveloped(&request_id_of(request))
}

// ---------------------------------------------------------------- OpenAPI

/// Adds what every billing operation answers alike (401, 403, 405, 503; 413 and 415 where
/// there is a request body), so each handler documents only its own outcomes.
pub(crate) fn document_common_responses(openapi: &mut OpenApiDocument) {
    let failure = |description: &str, example: serde_json::Value| {
        ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name("FailureBody"))))
                .example(Some(example))
                .build(),
        )
    };
    let header = |description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(description))
            .build()
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        if !path.starts_with(BILLING_PREFIX) {
            continue;
        }
        let allow = allowed_methods(item);
        let forbidden = if path.contains("/admin/") {
            "Staff only."
        } else {
            "This endpoint is for members of an organization; staff use /api/v1/billing/admin/."
        };
        let operations: [&mut Option<Operation>; 4] = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let has_body = operation.request_body.is_some();
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, response: ResponseBuilder| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::T(response.build()));
            };
            add(
                "401",
                failure(
                    "Missing, invalid or revoked bearer token",
                    examples::fail("Authentication credentials were not provided."),
                )
                .header("WWW-Authenticate", header("`Bearer`")),
            );
            add(
                "429",
                failure(
                    "The token has spent its quota of billing requests per minute",
                    examples::fail("Too many requests; retry after 60 s"),
                )
                .header(
                    "Retry-After",
                    header("Seconds until the next request passes"),
                ),
            );
            add(
                "403",
                failure(
                    "The caller's role may not use this endpoint (members use the tenant \
                     endpoints, staff the admin ones)",
                    examples::fail(forbidden),
                ),
            );
            add(
                "405",
                failure(
                    "A method this path does not serve",
                    examples::fail("Method not allowed"),
                )
                .header("Allow", header(&format!("`{allow}`"))),
            );
            if has_body {
                add(
                    "413",
                    failure(
                        "Body over the size limit",
                        examples::fail("Request body too large"),
                    ),
                );
                add(
                    "415",
                    failure(
                        "Content-Type is not `application/json`",
                        examples::fail("Content-Type must be application/json"),
                    ),
                );
            }
            add(
                "503",
                failure(
                    "Storage unavailable (retry), or the request timed out",
                    examples::fail("Service temporarily unavailable, retry later"),
                )
                .header("Retry-After", header("Seconds to wait before retrying")),
            );
        }
    }
}

fn allowed_methods(item: &utoipa::openapi::PathItem) -> String {
    let methods = [
        ("GET", item.get.is_some()),
        ("POST", item.post.is_some()),
        ("PUT", item.put.is_some()),
        ("DELETE", item.delete.is_some()),
    ];
    let names: Vec<&str> = methods
        .into_iter()
        .filter(|(_, served)| *served)
        .map(|(name, _)| name)
        .collect();
    names.join(", ")
}

/// Example of a 400 for a bad page parameter.
pub(crate) fn bad_page_example() -> serde_json::Value {
    examples::invalid(json!({"page": ["Ensure this value is greater than or equal to 1."]}))
}

/// Example of a 400 for malformed JSON.
pub(crate) fn malformed_example() -> serde_json::Value {
    examples::invalid(json!({NON_FIELD_ERRORS: ["Malformed JSON: unexpected end of input."]}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn page_links_keep_the_other_parameters_and_set_page() {
        let request = TestRequest::get()
            .uri("/api/v1/billing/payments/?status=failed&page=2&page_size=5")
            .to_http_request();
        assert_eq!(
            page_link(&request, 3),
            "/api/v1/billing/payments/?status=failed&page=3&page_size=5"
        );
        let request = TestRequest::get()
            .uri("/api/v1/billing/payments/?status=a%2Cb")
            .to_http_request();
        assert_eq!(
            page_link(&request, 2),
            "/api/v1/billing/payments/?status=a%2Cb&page=2"
        );
        let request = TestRequest::get()
            .uri("/api/v1/billing/payments/?page=2&page=9")
            .to_http_request();
        assert_eq!(page_link(&request, 1), "/api/v1/billing/payments/?page=1");
    }

    #[test]
    fn bad_page_parameters_are_field_errors() {
        let request = TestRequest::get().uri("/x?page=0").to_http_request();
        match page_query(&request) {
            Err(ApiError::InvalidData(errors)) => assert_eq!(
                errors.get("page").unwrap(),
                ["Ensure this value is greater than or equal to 1."]
            ),
            other => panic!("{other:?}"),
        }
        let request = TestRequest::get().uri("/x?page_size=ten").to_http_request();
        assert!(matches!(
            page_query(&request),
            Err(ApiError::InvalidData(errors)) if errors.get("page_size").is_some()
        ));
        let request = TestRequest::get()
            .uri("/x?page=2&page_size=500")
            .to_http_request();
        let page = page_query(&request).unwrap();
        assert_eq!((page.page, page.page_size), (2, 100));
    }
}
