//! A member's home: their organization's balance with the chart, the methods available to
//! them, a form to submit a manual payment for a pending invoice, then the balance log,
//! payments and invoices. Staff land on the approval queue instead.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use payments_domain::billing::{RawField, RawManualPayment};

use super::actions;
use super::layout::{money, Notice};
use super::organizations::overview;
use super::{html_response, redirect, ConsoleError, Posted, Signed};

/// `GET /console/`.
pub(crate) async fn home(
    signed: Signed,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    if signed.is_staff() {
        return Ok(redirect("/console/approvals"));
    }
    home_page(&signed, &query, None, StatusCode::OK).await
}

async fn home_page(
    signed: &Signed,
    query: &HashMap<String, String>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    let (organization, methods) = actions::available_methods(signed).await?;
    let pending = actions::pending_invoices(signed).await?;
    let overview = overview(signed, &organization, query, "/console/").await?;
    let page = signed.page(&organization.name);
    let methods_section: Markup = html! {
        section aria-labelledby="methods-title" {
            h2 id="methods-title" { "How you can pay" }
            @if methods.is_empty() {
                p { "No payment methods are available to your organization." }
            } @else {
                ul class="methods" {
                    @for m in &methods {
                        li {
                            strong { (m.display_name) } " (" code { (m.method.as_str()) } ")"
                            @if m.is_default { " — default" }
                            @if !m.instructions.is_empty() { p { (m.instructions) } }
                            @if let Some(details) = m.details.as_object() {
                                @if !details.is_empty() {
                                    dl class="details" {
                                        @for (key, value) in details {
                                            dt { (key) }
                                            dd { (value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let form: Markup = html! {
        section aria-labelledby="manual-title" {
            h2 id="manual-title" { "Report a payment" }
            @if pending.items.is_empty() {
                p { "No invoice is waiting for payment." }
            } @else {
                p { "Paid an invoice by bank transfer or wallet? Tell us the transaction reference; staff check it and approve the payment." }
                form method="post" action="/console/manual-payment" class="stacked" {
                    (page.csrf_field())
                    // One key per rendered form: a double submit records one payment.
                    input type="hidden" name="form_key" value=(signed.form_key());
                    label for="invoice_id" { "Invoice" }
                    select id="invoice_id" name="invoice_id" required {
                        @for invoice in &pending.items {
                            option value=(invoice.id.0) { (invoice.number) " — " (money(&invoice.amount)) }
                        }
                    }
                    label for="payment_method" { "Method" }
                    select id="payment_method" name="payment_method" required {
                        @for m in &methods {
                            option value=(m.method.as_str()) selected[m.is_default] { (m.display_name) " (" (m.method.as_str()) ")" }
                        }
                    }
                    label for="transaction_reference" { "Transaction reference" }
                    input id="transaction_reference" name="transaction_reference" type="text" required maxlength="255";
                    label for="notes" { "Notes (optional)" }
                    textarea id="notes" name="notes" rows="2" maxlength="2000" {}
                    button type="submit" { "Submit payment" }
                }
            }
        }
    };
    let content = html! {
        p class="muted" { "INN " (organization.inn) }
        (overview)
        (methods_section)
        (form)
    };
    Ok(html_response(status, page.render(notice.as_ref(), content)))
}

/// `POST /console/manual-payment`: through the same use case as `POST /payments/manual/`,
/// with the form's one-time key as the idempotency key.
pub(crate) async fn submit_manual_payment(posted: Posted) -> Result<HttpResponse, ConsoleError> {
    let signed = &posted.signed;
    if signed.is_staff() {
        return Err(ConsoleError::NotFound);
    }
    let text = |name: &str| {
        posted
            .fields
            .get(name)
            .map_or(RawField::Missing, |v| RawField::Text(v.to_string()))
    };
    let raw = RawManualPayment {
        invoice_id: text("invoice_id"),
        payment_method: text("payment_method"),
        transaction_reference: text("transaction_reference"),
        reference: RawField::Missing,
        notes: text("notes"),
    };
    let outcome = actions::submit_manual_payment(signed, &raw, posted.fields.get("form_key")).await;
    let (notice, status) = match outcome {
        Ok(receipt) => {
            let view = &receipt.payment;
            let text = format!(
                "Payment {} of {} for invoice {} submitted: it waits for approval by staff.",
                view.payment.transaction_reference.as_deref().unwrap_or("—"),
                money(&view.payment.amount),
                view.invoice_number.as_deref().unwrap_or("—"),
            );
            (Notice::Success(text), StatusCode::OK)
        }
        Err(error) => {
            let status = super::staff::status_of(Some(&error));
            (Notice::from_error(&error), status)
        }
    };
    home_page(signed, &HashMap::new(), Some(notice), status).await
}
