//! Staff's endpoints on payments, under `/api/v1/billing/admin/payments/`: every
//! organization's payments, and approving, rejecting and refunding them.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use payments_domain::billing::StaffAction;
use payments_domain::FieldErrors;
use serde_json::json;

use super::query::{payment_id, PaymentListQuery};
use super::wire::{
    AdminPaymentBody, Envelope, ListBody, OrganizationFilterParams, PageParams,
    PaymentFilterParams, RejectRequest, StaffNotesRequest,
};
use super::{
    bad_page_example, examples, json_object, list_query, malformed_example, no_field_errors,
};
use crate::auth::Call;
use crate::error::{ApiError, Rejection};
use crate::openapi::FailureBody;

pub(crate) const APPROVED: &str = "Payment approved.";
pub(crate) const ALREADY_APPROVED: &str = "Payment was already approved; nothing changed.";
pub(crate) const REJECTED: &str = "Payment rejected.";
pub(crate) const ALREADY_REJECTED: &str = "Payment was already rejected; nothing changed.";
pub(crate) const REFUNDED: &str = "Payment refunded.";
pub(crate) const ALREADY_REFUNDED: &str = "Payment was already refunded; nothing changed.";

/// `GET /admin/payments/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/admin/payments/",
    operation_id = "adminListPayments",
    tag = "billing-admin",
    summary = "List every organization's payments",
    description = "Newest first; the member filters, plus `?organization=` (id or INN).",
    params(PaymentFilterParams, OrganizationFilterParams, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of payments, with admin notes",
         body = Envelope<ListBody<AdminPaymentBody>>,
         example = json!(examples::page("/api/v1/billing/admin/payments/",
             examples::admin_payment(examples::payment("succeeded"), "seen on the statement")))),
        (status = 400, description = "An unknown status, method or organization, a malformed \
                                      id, or a bad page parameter",
         body = FailureBody, example = json!(bad_page_example())),
    )
)]
pub(crate) async fn list_payments(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let (query, page) = list_query::<PaymentListQuery>(&request).map_err(call.fail())?;
    let query = query.try_into_admin().map_err(call.fail())?;
    let found = call
        .state
        .billing
        .admin_payments
        .list(&call.principal, &query, page)
        .await
        .map_err(call.fail())?;
    Ok(call.page(&request, found, AdminPaymentBody::of_view))
}

/// The optional `admin_notes` of approve and refund, as sent (the domain validates them).
async fn optional_notes(
    call: &Call,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Option<String>, Rejection> {
    let mut body = json_object(request, payload, true)
        .await
        .map_err(call.fail())?;
    let mut errors = FieldErrors::new();
    let notes = body.text("admin_notes", &mut errors);
    no_field_errors(errors).map_err(call.fail())?;
    Ok(notes)
}

/// Applies `action` and answers 200 with the payment, changed now or before.
async fn act(
    call: &Call,
    request: &HttpRequest,
    action: StaffAction,
    messages: (&'static str, &'static str),
) -> Result<HttpResponse, Rejection> {
    let id = payment_id(request).map_err(call.fail())?;
    let outcome = call
        .state
        .billing
        .staff_actions
        .execute(&call.principal, id, action, Utc::now())
        .await
        .map_err(call.fail())?;
    let message = if outcome.applied {
        messages.0
    } else {
        messages.1
    };
    Ok(call.done(
        StatusCode::OK,
        AdminPaymentBody::of_view(outcome.payment),
        message,
    ))
}

/// `POST /admin/payments/{id}/approve/`.
#[utoipa::path(
    post,
    path = "/api/v1/billing/admin/payments/{id}/approve/",
    operation_id = "approvePayment",
    tag = "billing-admin",
    summary = "Approve a payment",
    description = "pending_approval → succeeded: the invoice becomes paid and the balance is \
                   credited with a log entry, all at once. Approving an approved payment \
                   answers 200 again and credits nothing. The body may be empty.",
    params(("id" = String, Path, format = Uuid, description = "The payment's id")),
    request_body(content = StaffNotesRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Approved now, or before (see `message`)",
         body = Envelope<AdminPaymentBody>,
         example = json!(examples::ok(
             examples::admin_payment(examples::payment("succeeded"), "seen on the statement"),
             Some(APPROVED)))),
        (status = 400, description = "Malformed JSON or a non-string `admin_notes`",
         body = FailureBody, example = json!(malformed_example())),
        (status = 404, description = "No such payment, or a malformed id",
         body = FailureBody, example = json!(examples::fail("Payment not found."))),
        (status = 409, description = "The payment is in a status that cannot be approved \
                                      (named, with the ones it would need), or its invoice was \
                                      paid by another payment",
         body = FailureBody,
         example = json!(examples::transition("failed", &["pending_approval"]))),
        (status = 422, description = "The credit would overflow the balance; nothing changed",
         body = FailureBody,
         example = json!(examples::fail("The payment would take the balance over its maximum of 9999999999999.99."))),
    )
)]
pub(crate) async fn approve(
    call: Call,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Rejection> {
    let admin_notes = optional_notes(&call, &request, payload).await?;
    let action = StaffAction::approve(admin_notes.as_deref())
        .map_err(ApiError::InvalidData)
        .map_err(call.fail())?;
    act(&call, &request, action, (APPROVED, ALREADY_APPROVED)).await
}

/// `POST /admin/payments/{id}/reject/`.
#[utoipa::path(
    post,
    path = "/api/v1/billing/admin/payments/{id}/reject/",
    operation_id = "rejectPayment",
    tag = "billing-admin",
    summary = "Reject a payment",
    description = "pending_approval → failed, with `admin_notes` as the failure reason; the \
                   invoice stays payable. Rejecting a rejected payment answers 200 again.",
    params(("id" = String, Path, format = Uuid, description = "The payment's id")),
    request_body(content = RejectRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Rejected now, or before (see `message`)",
         body = Envelope<AdminPaymentBody>,
         example = json!(examples::ok(
             examples::admin_payment(examples::payment("failed"), "no transfer found"),
             Some(REJECTED)))),
        (status = 400, description = "`admin_notes` missing, blank or too long, or malformed \
                                      JSON",
         body = FailureBody,
         example = json!(examples::invalid(json!({
             "admin_notes": ["A reason is required to reject a payment."]})))),
        (status = 404, description = "No such payment, or a malformed id",
         body = FailureBody, example = json!(examples::fail("Payment not found."))),
        (status = 409, description = "The payment is in a status that cannot be rejected",
         body = FailureBody,
         example = json!(examples::transition("succeeded",
                                              &["pending_approval"]))),
    )
)]
pub(crate) async fn reject(
    call: Call,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Rejection> {
    let mut body = json_object(&request, payload, true)
        .await
        .map_err(call.fail())?;
    let mut errors = FieldErrors::new();
    let notes = body.text("admin_notes", &mut errors);
    no_field_errors(errors).map_err(call.fail())?;
    let action = StaffAction::reject(notes.as_deref())
        .map_err(ApiError::InvalidData)
        .map_err(call.fail())?;
    act(&call, &request, action, (REJECTED, ALREADY_REJECTED)).await
}

/// `POST /admin/payments/{id}/refund/`.
#[utoipa::path(
    post,
    path = "/api/v1/billing/admin/payments/{id}/refund/",
    operation_id = "refundPayment",
    tag = "billing-admin",
    summary = "Refund a payment",
    description = "succeeded → refunded: the balance is debited with a log entry, never below \
                   zero. Refunding a refunded payment answers 200 again and debits nothing. \
                   The body may be empty.",
    params(("id" = String, Path, format = Uuid, description = "The payment's id")),
    request_body(content = StaffNotesRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Refunded now, or before (see `message`)",
         body = Envelope<AdminPaymentBody>,
         example = json!(examples::ok(
             examples::admin_payment(examples::payment("refunded"), "customer asked"),
             Some(REFUNDED)))),
        (status = 400, description = "Malformed JSON or a non-string `admin_notes`",
         body = FailureBody, example = json!(malformed_example())),
        (status = 404, description = "No such payment, or a malformed id",
         body = FailureBody, example = json!(examples::fail("Payment not found."))),
        (status = 409, description = "The payment has not succeeded (named, with the status it \
                                      would need), or the balance is lower than the amount",
         body = FailureBody,
         example = json!(examples::transition("pending_approval", &["succeeded"]))),
    )
)]
pub(crate) async fn refund(
    call: Call,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Rejection> {
    let admin_notes = optional_notes(&call, &request, payload).await?;
    let action = StaffAction::refund(admin_notes.as_deref())
        .map_err(ApiError::InvalidData)
        .map_err(call.fail())?;
    act(&call, &request, action, (REFUNDED, ALREADY_REFUNDED)).await
}
