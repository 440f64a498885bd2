//! Members' endpoints: their own organization's payments, invoices, balance and balance log.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use payments_domain::billing::RawManualPayment;
use serde_json::json;

use super::examples;
use super::query::{invoice_id, payment_id, InvoiceListQuery, PaymentListQuery};
use super::wire::{
    AccountBalanceBody, AvailableMethodsBody, Envelope, InvoiceBody, InvoiceFilterParams, ListBody,
    ManualPaymentRequest, PageParams, PaymentBody, PaymentFilterParams, TransactionBody,
};
use super::{bad_page_example, json_object, list_query, page_query};
use super::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
use crate::auth::Call;
use crate::error::{ApiError, Rejection};
use crate::openapi::FailureBody;
use payments_domain::ports::StoredResponse;
use payments_domain::usecases::BillingError;

/// Message of a manual payment's 201 (and of its idempotent replays).
pub(crate) const MANUAL_SUBMITTED: &str = "Payment submitted; it awaits approval by staff.";

/// `GET /payments/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/payments/",
    operation_id = "listPayments",
    tag = "billing",
    summary = "List the organization's payments",
    description = "Newest first, bank-webhook payments included. Filters combine.",
    params(PaymentFilterParams, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of payments",
         body = Envelope<ListBody<PaymentBody>>,
         example = json!(examples::page("/api/v1/billing/payments/",
                                        examples::payment("succeeded")))),
        (status = 400, description = "An unknown status or method, a malformed invoice id, or a \
                                      bad page parameter",
         body = FailureBody, example = json!(bad_page_example())),
    )
)]
pub(crate) async fn list_payments(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let (query, page) = list_query::<PaymentListQuery>(&request).map_err(call.fail())?;
    let query = query.try_into_domain().map_err(call.fail())?;
    let found = call
        .state
        .billing
        .member_payments
        .list(&call.principal, &query, page)
        .await
        .map_err(call.fail())?;
    Ok(call.page(&request, found, PaymentBody::of_view))
}

/// `GET /payments/{id}/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/payments/{id}/",
    operation_id = "getPayment",
    tag = "billing",
    summary = "Read one of the organization's payments",
    params(("id" = String, Path, format = Uuid, description = "The payment's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The payment", body = Envelope<PaymentBody>,
         example = json!(examples::ok(examples::payment("succeeded"), None))),
        (status = 404, description = "No such payment, a malformed id, or another \
                                      organization's payment",
         body = FailureBody, example = json!(examples::fail("Payment not found."))),
    )
)]
pub(crate) async fn get_payment(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let id = payment_id(&request).map_err(call.fail())?;
    let view = call
        .state
        .billing
        .member_payments
        .get(&call.principal, id)
        .await
        .map_err(call.fail())?;
    Ok(call.ok(PaymentBody::of_view(view)))
}

/// `GET /payment-methods/available/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/payment-methods/available/",
    operation_id = "availablePaymentMethods",
    tag = "billing",
    summary = "The payment methods the organization may use",
    description = "Enabled catalogue rows of the organization's country (a country row \
                   overrides the `*` row of the same method), then the organization's own \
                   overrides; by sort order; at most one default.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organization's country, currency and methods",
         body = Envelope<AvailableMethodsBody>,
         example = json!(examples::ok(examples::available_methods(), None))),
    )
)]
pub(crate) async fn available_methods(call: Call) -> Result<HttpResponse, Rejection> {
    let (organization, methods) = call
        .state
        .billing
        .member_account
        .available_methods(&call.principal)
        .await
        .map_err(call.fail())?;
    Ok(call.ok(AvailableMethodsBody::new(&organization, methods)))
}

/// `POST /payments/manual/`.
#[utoipa::path(
    post,
    path = "/api/v1/billing/payments/manual/",
    operation_id = "submitManualPayment",
    tag = "billing",
    summary = "Report a manual payment of an invoice",
    description = "Creates a `pending_approval` payment of the invoice's amount and currency, \
                   which staff then approve or reject. Send an `Idempotency-Key` header to \
                   retry safely: a repeat with the same key and body is answered exactly like \
                   the first time, plus `Idempotent-Replayed: true`, and creates nothing; the \
                   same key with another body is 409.",
    params(("Idempotency-Key" = Option<String>, Header,
            description = "1 to 255 visible ASCII characters, chosen by the client")),
    request_body(content = ManualPaymentRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded, or replayed for the same Idempotency-Key",
         body = Envelope<PaymentBody>,
         example = json!(examples::ok(examples::payment("pending_approval"),
                                      Some(MANUAL_SUBMITTED)))),
        (status = 400, description = "Missing or invalid fields, a method not available to \
                                      the organization, an invoice that is not pending, a bad \
                                      Idempotency-Key, or malformed JSON",
         body = FailureBody,
         example = json!(examples::invalid(json!({
             "payment_method": ["\"card\" is not a valid choice; use bank_transfer or local_wallet."]})))),
        (status = 404, description = "The invoice does not exist or is another organization's",
         body = FailureBody, example = json!(examples::fail("Invoice not found."))),
        (status = 409, description = "The invoice already has a payment waiting for approval, \
                                      or the Idempotency-Key was used with another body",
         body = FailureBody,
         example = json!(examples::fail("This invoice already has a payment waiting for approval."))),
    )
)]
pub(crate) async fn submit_manual_payment(
    call: Call,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Rejection> {
    let mut body = json_object(&request, payload, false)
        .await
        .map_err(call.fail())?;
    let raw = RawManualPayment {
        invoice_id: body.raw("invoice_id"),
        payment_method: body.raw("payment_method"),
        transaction_reference: body.raw("transaction_reference"),
        reference: body.raw("reference"),
        notes: body.raw("notes"),
    };
    // Lossy so that a key with non-ASCII bytes still reaches the domain, which refuses it.
    let key = request
        .headers()
        .get(IDEMPOTENCY_KEY)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let receipt = call
        .state
        .billing
        .manual_payments
        .execute(&call.principal, &raw, key.as_deref(), Utc::now())
        .await
        .map_err(call.fail())?;
    let replays = &call.state.idempotency;
    if !receipt.created {
        // The first answer, byte for byte, when it was kept (it is, unless the process died
        // between committing the payment and keeping its answer: then the payment as it is).
        let first = replays
            .first_answer(&call.principal, key.as_deref())
            .await
            .map_err(|e| call.fail()(BillingError::Storage(e)))?;
        if let Some(first) = first {
            let status = StatusCode::from_u16(first.status).unwrap_or(StatusCode::CREATED);
            return Ok(HttpResponse::build(status)
                .insert_header((IDEMPOTENT_REPLAYED, "true"))
                .content_type("application/json")
                .body(first.body));
        }
    }
    let body = serde_json::to_string(&call.envelope(
        PaymentBody::of_view(receipt.payment),
        Some(MANUAL_SUBMITTED),
    ))
    .map_err(|_| call.fail()(ApiError::Internal))?;
    let mut response = HttpResponse::build(StatusCode::CREATED);
    if receipt.created {
        // Kept after the commit; if this fails the payment stands and a repeat answers it
        // as it is then.
        let first = StoredResponse {
            status: StatusCode::CREATED.as_u16(),
            body: body.clone(),
        };
        if let Err(error) = replays
            .remember(&call.principal, key.as_deref(), &first)
            .await
        {
            tracing::warn!(%error, "could not keep the first answer of an idempotency key");
        }
    } else {
        response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    Ok(response.content_type("application/json").body(body))
}

/// `GET /invoices/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/invoices/",
    operation_id = "listInvoices",
    tag = "billing",
    summary = "List the organization's invoices",
    description = "Newest first.",
    params(InvoiceFilterParams, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of invoices",
         body = Envelope<ListBody<InvoiceBody>>,
         example = json!(examples::page("/api/v1/billing/invoices/",
                                        examples::invoice("pending")))),
        (status = 400, description = "An unknown status or a bad page parameter",
         body = FailureBody, example = json!(bad_page_example())),
    )
)]
pub(crate) async fn list_invoices(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let (query, page) = list_query::<InvoiceListQuery>(&request).map_err(call.fail())?;
    let query = query.try_into_domain().map_err(call.fail())?;
    let found = call
        .state
        .billing
        .member_invoices
        .list(&call.principal, &query, page)
        .await
        .map_err(call.fail())?;
    Ok(call.page(&request, found, InvoiceBody::from))
}

/// `GET /invoices/{id}/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/invoices/{id}/",
    operation_id = "getInvoice",
    tag = "billing",
    summary = "Read one of the organization's invoices",
    params(("id" = String, Path, format = Uuid, description = "The invoice's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The invoice", body = Envelope<InvoiceBody>,
         example = json!(examples::ok(examples::invoice("pending"), None))),
        (status = 404, description = "No such invoice, a malformed id, or another \
                                      organization's invoice",
         body = FailureBody, example = json!(examples::fail("Invoice not found."))),
    )
)]
pub(crate) async fn get_invoice(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let id = invoice_id(&request).map_err(call.fail())?;
    let invoice = call
        .state
        .billing
        .member_invoices
        .get(&call.principal, id)
        .await
        .map_err(call.fail())?;
    Ok(call.ok(InvoiceBody::from(invoice)))
}

/// `GET /balance/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/balance/",
    operation_id = "getAccountBalance",
    tag = "billing",
    summary = "The organization's balance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Balance and currency", body = Envelope<AccountBalanceBody>,
         example = json!(examples::ok(examples::balance(), None))),
    )
)]
pub(crate) async fn balance(call: Call) -> Result<HttpResponse, Rejection> {
    let organization = call
        .state
        .billing
        .member_account
        .balance(&call.principal)
        .await
        .map_err(call.fail())?;
    Ok(call.ok(AccountBalanceBody::from(organization)))
}

/// `GET /transactions/`.
#[utoipa::path(
    get,
    path = "/api/v1/billing/transactions/",
    operation_id = "listTransactions",
    tag = "billing",
    summary = "The organization's balance log",
    description = "One entry per balance change (approval, bank credit, refund), newest first; \
                   `delta` is negative for refunds.",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the log",
         body = Envelope<ListBody<TransactionBody>>,
         example = json!(examples::page("/api/v1/billing/transactions/",
                                        examples::transaction()))),
        (status = 400, description = "A bad page parameter",
         body = FailureBody, example = json!(bad_page_example())),
    )
)]
pub(crate) async fn transactions(
    call: Call,
    request: HttpRequest,
) -> Result<HttpResponse, Rejection> {
    let page = page_query(&request).map_err(call.fail())?;
    let found = call
        .state
        .billing
        .member_payments
        .transactions(&call.principal, page)
        .await
        .map_err(call.fail())?;
    Ok(call.page(&request, found, TransactionBody::from))
}
