//! Staff's endpoints under `/api/v1/billing/admin/` for organizations, invoices, the
//! payment-method catalogue and per-organization overrides (payments are in [`super::staff`]).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use payments_domain::bank::RawField;
use payments_domain::usecases::{
    ConfigInput, NewInvoiceInput, NewOrganizationInput, OverrideInput, Resource,
};
use payments_domain::FieldErrors;
use serde_json::json;

use super::examples;
use super::query::{organization_id, override_method, path_uuid};
use super::wire::{
    one_page, ConfigBody, ConfigRequest, Done, Envelope, InvoiceBody, ListBody, NewInvoiceRequest,
    NewOrganizationRequest, OrganizationBody, OverrideBody, OverrideRequest, PageParams,
};
use super::{bad_page_example, json_object, no_field_errors, page_query};
use crate::auth::Call;
use crate::body::JsonObject;
use crate::error::{ApiError, Rejection};
use crate::openapi::FailureBody;

pub(crate) const ORGANIZATION_CREATED: &str = "Organization created.";
pub(crate) const INVOICE_ISSUED: &str = "Invoice issued.";
pub(crate) const CONFIG_CREATED: &str = "Payment method configuration created.";
pub(crate) const CONFIG_UPDATED: &str = "Payment method configuration updated.";
pub(crate) const CONFIG_DELETED: &str = "Payment method configuration deleted.";
pub(crate) const OVERRIDE_SAVED: &str = "Payment method override saved.";
pub(crate) const OVERRIDE_DELETED: &str = "Payment method override deleted.";

/// `GET /admin/organizations/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/admin/organizations/",
    operation_id = "listOrganizations",
    tag = "billing-admin",
    summary = "List organizations",
    description = "Newest first.",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of organizations",
         body = Envelope<ListBody<OrganizationBody>>,
         example = json!(examples::page("/api/v1/billing/admin/organizations/",
                                        examples::organization()))),
        (status = 400, description = "A bad page parameter",
         body = FailureBody, example = json!(bad_page_example())),
    )
)]
pub(crate) async fn list_organizations(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let page = page_query(&request).map_err(call.fail())?;
    let found = call
        .state
        .billing
        .organizations
        .list(&call.principal, page)
        .await
        .map_err(call.fail())?;
    Ok(call.page(&request, found, OrganizationBody::from))
}

/// `POST /admin/organizations/`.
#[utoipa::path(
    post,
    path = "/api/v1/billing/admin/organizations/",
    operation_id = "createOrganization",
    tag = "billing-admin",
    summary = "Create an organization",
    description = "Balance zero, billed in `country` (default `RU`) and `currency` (default \
                   `RUB`).",
    request_body(content = NewOrganizationRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Envelope<OrganizationBody>,
         example = json!(examples::ok(examples::organization(), Some(ORGANIZATION_CREATED)))),
        (status = 400, description = "Invalid fields (every reason), or malformed JSON",
         body = FailureBody,
         example = json!(examples::invalid(json!({"inn": ["INN must be 10 or 12 digits."]})))),
        (status = 409, description = "Another organization has this INN",
         body = FailureBody,
         example = json!(examples::fail("An organization with this INN already exists."))),
    )
)]
pub(crate) async fn create_organization(
    call: Call,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Rejection> {
    let mut body = json_object(&request, payload, false)
        .await
        .map_err(call.fail())?;
    let mut errors = FieldErrors::new();
    let input = NewOrganizationInput {
        inn: body.text("inn", &mut errors),
        name: body.text("name", &mut errors),
        country: body.text("country", &mut errors),
        currency: body.text("currency", &mut errors),
    };
    no_field_errors(errors).map_err(call.fail())?;
    let organization = call
        .state
        .billing
        .organizations
        .create(&call.principal, &input, Utc::now())
        .await
        .map_err(call.fail())?;
    Ok(call.done(
        StatusCode::CREATED,
        OrganizationBody::from(organization),
        ORGANIZATION_CREATED,
    ))
}

/// `POST /admin/invoices/`.
#[utoipa::path(
    post,
    path = "/api/v1/billing/admin/invoices/",
    operation_id = "issueInvoice",
    tag = "billing-admin",
    summary = "Issue an invoice",
    description = "A `pending` invoice in the organization's currency; the number is generated \
                   (`INV-…`) when not given.",
    request_body(content = NewInvoiceRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Issued", body = Envelope<InvoiceBody>,
         example = json!(examples::ok(examples::invoice("pending"), Some(INVOICE_ISSUED)))),
        (status = 400, description = "Invalid fields (every reason), an unknown organization, \
                                      or malformed JSON",
         body = FailureBody,
         example = json!(examples::invalid(json!({"amount": ["Ensure this value is greater than 0."]})))),
        (status = 409, description = "Another invoice has this number",
         body = FailureBody,
         example = json!(examples::fail("An invoice with this number already exists."))),
    )
)]
pub(crate) async fn issue_invoice(
    call: Call,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Rejection> {
    let mut body = json_object(&request, payload, false)
        .await
        .map_err(call.fail())?;
    let mut errors = FieldErrors::new();
    // The literal text of a JSON number or string: never through a float.
    let amount = match body.raw("amount") {
        RawField::Text(text) | RawField::Number(text) => Some(text),
        RawField::Missing | RawField::Null => None,
        RawField::Other => {
            errors.add("amount", "A valid number is required.");
            None
        }
    };
    let input = NewInvoiceInput {
        organization_id: body.text("organization_id", &mut errors),
        amount,
        currency: body.text("currency", &mut errors),
        due_date: body.text("due_date", &mut errors),
        number: body.text("number", &mut errors),
    };
    no_field_errors(errors).map_err(call.fail())?;
    let invoice = call
        .state
        .billing
        .invoices
        .issue(&call.principal, &input, Utc::now())
        .await
        .map_err(call.fail())?;
    Ok(call.done(
        StatusCode::CREATED,
        InvoiceBody::from(invoice),
        INVOICE_ISSUED,
    ))
}

/// `GET /admin/payment-method-configs/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/admin/payment-method-configs/",
    operation_id = "listPaymentMethodConfigs",
    tag = "billing-admin",
    summary = "The payment-method catalogue",
    description = "Every row, by sort order, in one page.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every catalogue row",
         body = Envelope<ListBody<ConfigBody>>,
         example = json!(examples::all(examples::config()))),
    )
)]
pub(crate) async fn list_configs(call: Call) -> Result<HttpResponse, Rejection> {
    let configs = call
        .state
        .billing
        .catalogue
        .list_configs(&call.principal)
        .await
        .map_err(call.fail())?;
    Ok(call.ok(one_page(
        configs.into_iter().map(ConfigBody::from).collect(),
    )))
}

/// The catalogue row named by the path's `{id}`.
fn config_id(request: &HttpRequest) -> Result<uuid::Uuid, ApiError> {
    path_uuid(request, "id", Resource::Configuration)
}

/// The catalogue row of a create or full update.
fn config_input(body: &mut JsonObject) -> Result<ConfigInput, ApiError> {
    let mut errors = FieldErrors::new();
    let input = ConfigInput {
        country_code: body.text("country_code", &mut errors),
        payment_method: body.text("payment_method", &mut errors),
        enabled: body.flag("enabled", &mut errors),
        display_name: body.text("display_name", &mut errors),
        instructions: body.text("instructions", &mut errors),
        details: body.value("details"),
        sort_order: body.integer("sort_order", &mut errors),
    };
    no_field_errors(errors)?;
    Ok(input)
}

/// `POST /admin/payment-method-configs/`.
#[utoipa::path(
    post,
    path = "/api/v1/billing/admin/payment-method-configs/",
    operation_id = "createPaymentMethodConfig",
    tag = "billing-admin",
    summary = "Add a catalogue row",
    description = "One row per country (or `*`) and method.",
    request_body(content = ConfigRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Envelope<ConfigBody>,
         example = json!(examples::ok(examples::config(), Some(CONFIG_CREATED)))),
        (status = 400, description = "Invalid fields (every reason), or malformed JSON",
         body = FailureBody,
         example = json!(examples::invalid(json!({"display_name": ["This field is required."]})))),
        (status = 409, description = "A row for this country and method exists",
         body = FailureBody,
         example = json!(examples::fail("A configuration for this country and method already exists."))),
    )
)]
pub(crate) async fn create_config(
    call: Call,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Rejection> {
    let mut body = json_object(&request, payload, false)
        .await
        .map_err(call.fail())?;
    let input = config_input(&mut body).map_err(call.fail())?;
    let config = call
        .state
        .billing
        .catalogue
        .create_config(&call.principal, &input, Utc::now())
        .await
        .map_err(call.fail())?;
    Ok(call.done(
        StatusCode::CREATED,
        ConfigBody::from(config),
        CONFIG_CREATED,
    ))
}

/// `GET /admin/payment-method-configs/{id}/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/admin/payment-method-configs/{id}/",
    operation_id = "getPaymentMethodConfig",
    tag = "billing-admin",
    summary = "Read a catalogue row",
    params(("id" = String, Path, format = Uuid, description = "The row's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The row", body = Envelope<ConfigBody>,
         example = json!(examples::ok(examples::config(), None))),
        (status = 404, description = "No such row, or a malformed id",
         body = FailureBody, example = json!(examples::fail("Configuration not found."))),
    )
)]
pub(crate) async fn get_config(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let id = config_id(&request).map_err(call.fail())?;
    let config = call
        .state
        .billing
        .catalogue
        .get_config(&call.principal, id)
        .await
        .map_err(call.fail())?;
    Ok(call.ok(ConfigBody::from(config)))
}

/// `PUT /admin/payment-method-configs/{id}/`.
#[utoipa::path(
    put,
    path = "/api/v1/billing/admin/payment-method-configs/{id}/",
    operation_id = "updatePaymentMethodConfig",
    tag = "billing-admin",
    summary = "Replace a catalogue row",
    description = "A full update: omitted optional fields take their defaults.",
    params(("id" = String, Path, format = Uuid, description = "The row's id")),
    request_body(content = ConfigRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = Envelope<ConfigBody>,
         example = json!(examples::ok(examples::config(), Some(CONFIG_UPDATED)))),
        (status = 400, description = "Invalid fields (every reason), or malformed JSON",
         body = FailureBody,
         example = json!(examples::invalid(json!({"display_name": ["This field is required."]})))),
        (status = 404, description = "No such row, or a malformed id",
         body = FailureBody, example = json!(examples::fail("Configuration not found."))),
        (status = 409, description = "Another row has this country and method",
         body = FailureBody,
         example = json!(examples::fail("A configuration for this country and method already exists."))),
    )
)]
pub(crate) async fn update_config(
    call: Call,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Rejection> {
    let mut body = json_object(&request, payload, false)
        .await
        .map_err(call.fail())?;
    let input = config_input(&mut body).map_err(call.fail())?;
    let id = config_id(&request).map_err(call.fail())?;
    let config = call
        .state
        .billing
        .catalogue
        .update_config(&call.principal, id, &input, Utc::now())
        .await
        .map_err(call.fail())?;
    Ok(call.done(StatusCode::OK, ConfigBody::from(config), CONFIG_UPDATED))
}

/// `DELETE /admin/payment-method-configs/{id}/`.
#[utoipa::path(
    delete,
    path = "/api/v1/billing/admin/payment-method-configs/{id}/",
    operation_id = "deletePaymentMethodConfig",
    tag = "billing-admin",
    summary = "Delete a catalogue row",
    params(("id" = String, Path, format = Uuid, description = "The row's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted; `data` is null", body = Done,
         example = json!(examples::done(CONFIG_DELETED))),
        (status = 404, description = "No such row, or a malformed id",
         body = FailureBody, example = json!(examples::fail("Configuration not found."))),
    )
)]
pub(crate) async fn delete_config(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let id = config_id(&request).map_err(call.fail())?;
    call.state
        .billing
        .catalogue
        .delete_config(&call.principal, id)
        .await
        .map_err(call.fail())?;
    Ok(call.deleted(CONFIG_DELETED))
}

/// `GET /admin/organizations/{id}/payment-methods/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/admin/organizations/{id}/payment-methods/",
    operation_id = "listPaymentMethodOverrides",
    tag = "billing-admin",
    summary = "An organization's payment-method overrides",
    description = "Every override, in one page.",
    params(("id" = String, Path, format = Uuid, description = "The organization's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organization's overrides",
         body = Envelope<ListBody<OverrideBody>>,
         example = json!(examples::all(examples::override_()))),
        (status = 404, description = "No such organization, or a malformed id",
         body = FailureBody, example = json!(examples::fail("Organization not found."))),
    )
)]
pub(crate) async fn list_overrides(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let organization = organization_id(&request).map_err(call.fail())?;
    let overrides = call
        .state
        .billing
        .catalogue
        .list_overrides(&call.principal, organization)
        .await
        .map_err(call.fail())?;
    Ok(call.ok(one_page(
        overrides.into_iter().map(OverrideBody::from).collect(),
    )))
}

/// `POST /admin/organizations/{id}/payment-methods/`.
#[utoipa::path(
    post,
    path = "/api/v1/billing/admin/organizations/{id}/payment-methods/",
    operation_id = "savePaymentMethodOverride",
    tag = "billing-admin",
    summary = "Create or replace an organization's override of a method",
    description = "Enables or disables one method for the organization. Marking it the default \
                   clears the default mark of its other overrides.",
    params(("id" = String, Path, format = Uuid, description = "The organization's id")),
    request_body(content = OverrideRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Saved", body = Envelope<OverrideBody>,
         example = json!(examples::ok(examples::override_(), Some(OVERRIDE_SAVED)))),
        (status = 400, description = "Invalid fields, or malformed JSON",
         body = FailureBody,
         example = json!(examples::invalid(json!({"is_enabled": ["This field is required."]})))),
        (status = 404, description = "No such organization, or a malformed id",
         body = FailureBody, example = json!(examples::fail("Organization not found."))),
    )
)]
pub(crate) async fn save_override(
    call: Call,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Rejection> {
    let mut body = json_object(&request, payload, false)
        .await
        .map_err(call.fail())?;
    let mut errors = FieldErrors::new();
    let input = OverrideInput {
        payment_method: body.text("payment_method", &mut errors),
        is_enabled: body.flag("is_enabled", &mut errors),
        is_default: body.flag("is_default", &mut errors),
    };
    no_field_errors(errors).map_err(call.fail())?;
    let organization = organization_id(&request).map_err(call.fail())?;
    let setting = call
        .state
        .billing
        .catalogue
        .upsert_override(&call.principal, organization, &input, Utc::now())
        .await
        .map_err(call.fail())?;
    Ok(call.done(StatusCode::OK, OverrideBody::from(setting), OVERRIDE_SAVED))
}

/// `DELETE /admin/organizations/{id}/payment-methods/{method}/`.
#[utoipa::path(
    delete,
    path = "/api/v1/billing/admin/organizations/{id}/payment-methods/{method}/",
    operation_id = "deletePaymentMethodOverride",
    tag = "billing-admin",
    summary = "Delete an organization's override of a method",
    description = "The catalogue applies again to that method.",
    params(
        ("id" = String, Path, format = Uuid, description = "The organization's id"),
        ("method" = String, Path, description = "The method, e.g. `local_wallet`"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted; `data` is null", body = Done,
         example = json!(examples::done(OVERRIDE_DELETED))),
        (status = 404, description = "No such organization or override",
         body = FailureBody, example = json!(examples::fail("Override not found."))),
    )
)]
pub(crate) async fn delete_override(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let organization = organization_id(&request).map_err(call.fail())?;
    let method = override_method(&request).map_err(call.fail())?;
    call.state
        .billing
        .catalogue
        .delete_override(&call.principal, organization, method)
        .await
        .map_err(call.fail())?;
    Ok(call.deleted(OVERRIDE_DELETED))
}
