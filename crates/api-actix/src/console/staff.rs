//! Staff pages: the approval queue (approve, reject), payments (filters, a payment's page,
//! refund behind a confirmation), issuing invoices, and the ledger check. Payments are also
//! open to members, limited to their own organization by the use cases.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use payments_domain::billing::StaffAction;
use payments_domain::payment::{PaymentMethod, PaymentStatus};
use payments_domain::ports::PaymentView;
use payments_domain::usecases::NewInvoiceInput;
use payments_domain::usecases::{BillingError, PaymentSearch};
use payments_domain::{Organization, OrganizationId};

use super::actions;
use super::layout::{date, instant, money, pager, query_value, Notice};
use super::{html_response, page_of, ConsoleError, Posted, Signed};

pub(crate) use super::organizations::{
    delete_override, organization, organizations, save_override,
};

/// The status an action's outcome is shown with: refusals keep the page but say why.
pub(crate) fn status_of(error: Option<&BillingError>) -> StatusCode {
    match error {
        None => StatusCode::OK,
        Some(BillingError::Invalid(_)) => StatusCode::BAD_REQUEST,
        Some(BillingError::NotFound(_) | BillingError::Forbidden(_)) => StatusCode::NOT_FOUND,
        Some(BillingError::InvalidTransition(_) | BillingError::Conflict(_)) => {
            StatusCode::CONFLICT
        }
        Some(BillingError::Unprocessable(_)) => StatusCode::UNPROCESSABLE_ENTITY,
        Some(BillingError::Storage(_)) => StatusCode::SERVICE_UNAVAILABLE,
        Some(_) => StatusCode::BAD_REQUEST,
    }
}

/// The organizations of `views`, by id, for showing names (each read once).
async fn names(
    signed: &Signed,
    views: &[PaymentView],
) -> Result<HashMap<OrganizationId, Organization>, ConsoleError> {
    let mut found = HashMap::new();
    for view in views {
        let id = view.payment.organization_id;
        if let std::collections::hash_map::Entry::Vacant(slot) = found.entry(id) {
            let organization = signed
                .state
                .queries
                .organization(&signed.principal, &id.0.to_string())
                .await?;
            slot.insert(organization);
        }
    }
    Ok(found)
}

fn organization_link(
    organizations: &HashMap<OrganizationId, Organization>,
    id: OrganizationId,
) -> Markup {
    match organizations.get(&id) {
        Some(o) => html! {
            a href=(format!("/console/organizations/{}", o.id)) { (o.name) " (INN " (o.inn) ")" }
        },
        None => html! { (id) },
    }
}

fn reference(view: &PaymentView) -> &str {
    view.payment.transaction_reference.as_deref().unwrap_or("—")
}

// ---- approvals ----

/// `GET /console/approvals`.
pub(crate) async fn approvals(signed: Signed) -> Result<HttpResponse, ConsoleError> {
    approvals_page(&signed, None, StatusCode::OK).await
}

async fn approvals_page(
    signed: &Signed,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    signed.require_staff()?;
    let queue = signed
        .state
        .queries
        .approval_queue(&signed.principal)
        .await?;
    let organizations = names(signed, &queue).await?;
    let page = signed.page("Approvals");
    let content = html! {
        p class="muted" { (queue.len()) " payment(s) waiting for approval, oldest first." }
        @if queue.is_empty() {
            p { "Nothing to approve." }
        } @else {
            div class="table-wrap" {
                table class="approvals" {
                    thead { tr {
                        th scope="col" { "Submitted" }
                        th scope="col" { "Organization" }
                        th scope="col" { "Invoice" }
                        th scope="col" { "Amount" }
                        th scope="col" { "Method" }
                        th scope="col" { "Reference" }
                        th scope="col" { "Decision" }
                    } }
                    tbody {
                        @for view in &queue {
                            @let id = view.payment.id;
                            tr data-payment=(id) {
                                td { (instant(&view.payment.created_at)) }
                                td { (organization_link(&organizations, view.payment.organization_id)) }
                                td { (view.invoice_number.as_deref().unwrap_or("—")) }
                                td class="amount" { (money(&view.payment.amount)) }
                                td { code { (view.payment.method.as_str()) } }
                                td class="reference" { (reference(view)) }
                                td {
                                    form method="post" action=(format!("/console/payments/{id}/approve")) class="decision" {
                                        (page.csrf_field())
                                        label for=(format!("notes-{id}")) { "Notes (optional; a reason to reject)" }
                                        input id=(format!("notes-{id}")) name="notes" type="text" maxlength="2000";
                                        div class="buttons" {
                                            button type="submit" class="approve" { "Approve" }
                                            button type="submit" class="reject"
                                                formaction=(format!("/console/payments/{id}/reject")) { "Reject" }
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
    Ok(html_response(status, page.render(notice.as_ref(), content)))
}

/// Runs a staff action through the billing use case and words its outcome.
async fn act(signed: &Signed, id: &str, action: StaffAction) -> (Notice, Option<BillingError>) {
    let verb = match action {
        StaffAction::Approve { .. } => "approved",
        StaffAction::Reject { .. } => "rejected",
        StaffAction::Refund { .. } => "refunded",
    };
    match actions::staff_action(signed, id, action).await {
        Ok(receipt) => {
            let reference = reference(&receipt.payment).to_string();
            let amount = money(&receipt.payment.payment.amount);
            let text = if receipt.applied {
                format!("Payment {reference} of {amount} {verb}.")
            } else {
                format!("Payment {reference} of {amount} was already {verb}; nothing changed.")
            };
            (Notice::Success(text), None)
        }
        Err(error) => (Notice::from_error(&error), Some(error)),
    }
}

/// `POST /console/payments/{id}/approve`.
pub(crate) async fn approve(
    posted: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let action = StaffAction::Approve {
        admin_notes: posted.fields.get("notes").map(str::to_string),
    };
    let (notice, error) = act(&posted.signed, &path, action).await;
    let status = status_of(error.as_ref());
    approvals_page(&posted.signed, Some(notice), status).await
}

/// `POST /console/payments/{id}/reject` (the notes are the reason, which the rules require).
pub(crate) async fn reject(
    posted: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    posted.signed.require_staff()?;
    let (notice, error) = match StaffAction::reject(posted.fields.get("notes")) {
        Ok(action) => act(&posted.signed, &path, action).await,
        Err(fields) => {
            let error = BillingError::Invalid(fields);
            (Notice::from_error(&error), Some(error))
        }
    };
    let status = status_of(error.as_ref());
    approvals_page(&posted.signed, Some(notice), status).await
}

// ---- payments ----

/// `GET /console/payments`: filtered by status, method, organization (staff) and dates.
pub(crate) async fn payments(
    signed: Signed,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let text = |name: &str| query.get(name).cloned().filter(|v| !v.trim().is_empty());
    let search = PaymentSearch {
        status: text("status"),
        method: text("method"),
        organization: if signed.is_staff() {
            text("organization")
        } else {
            None
        },
        from: text("from"),
        to: text("to"),
    };
    let page_request = page_of(query.get("page"), 25);
    let (found, notice) = match signed
        .state
        .queries
        .payments(&signed.principal, &search, page_request)
        .await
    {
        Ok(found) => (Some(found), None),
        Err(error @ BillingError::Invalid(_)) => (None, Some(Notice::from_error(&error))),
        Err(other) => return Err(other.into()),
    };
    let organizations = match &found {
        Some(found) => names(&signed, &found.items).await?,
        None => HashMap::new(),
    };
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let page = signed.page("Payments");
    let filter_query = format!(
        "status={}&method={}&organization={}&from={}&to={}",
        query_value(&value(&search.status)),
        query_value(&value(&search.method)),
        query_value(&value(&search.organization)),
        query_value(&value(&search.from)),
        query_value(&value(&search.to)),
    );
    let content = html! {
        form method="get" action="/console/payments" class="filters" {
            div {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" { "Any" }
                    @for status in PaymentStatus::ALL {
                        option value=(status.as_str()) selected[search.status.as_deref() == Some(status.as_str())] { (status.as_str()) }
                    }
                }
            }
            div {
                label for="method" { "Method" }
                select id="method" name="method" {
                    option value="" { "Any" }
                    @for method in PaymentMethod::ALL {
                        option value=(method.as_str()) selected[search.method.as_deref() == Some(method.as_str())] { (method.as_str()) }
                    }
                }
            }
            @if signed.is_staff() {
                div {
                    label for="organization" { "Organization (INN or id)" }
                    input id="organization" name="organization" type="text" value=(value(&search.organization));
                }
            }
            div {
                label for="from" { "From (YYYY-MM-DD)" }
                input id="from" name="from" type="date" value=(value(&search.from));
            }
            div {
                label for="to" { "To (YYYY-MM-DD)" }
                input id="to" name="to" type="date" value=(value(&search.to));
            }
            div { button type="submit" { "Filter" } }
        }
        @if let Some(found) = &found {
            p class="muted" { (found.total) " payment(s)." }
            (payments_table(&found.items, &organizations))
            (pager(found, |n| format!("/console/payments?{filter_query}&page={n}")))
        }
    };
    let status = if notice.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(html_response(status, page.render(notice.as_ref(), content)))
}

/// A table of payments, each linking to its page.
pub(crate) fn payments_table(
    views: &[PaymentView],
    organizations: &HashMap<OrganizationId, Organization>,
) -> Markup {
    html! {
        @if views.is_empty() {
            p { "No payments." }
        } @else {
            div class="table-wrap" {
                table {
                    thead { tr {
                        th scope="col" { "Payment" }
                        th scope="col" { "Created" }
                        @if !organizations.is_empty() { th scope="col" { "Organization" } }
                        th scope="col" { "Invoice" }
                        th scope="col" { "Amount" }
                        th scope="col" { "Method" }
                        th scope="col" { "Status" }
                    } }
                    tbody {
                        @for view in views {
                            tr {
                                td { a href=(format!("/console/payments/{}", view.payment.id)) { (reference(view)) } }
                                td { (instant(&view.payment.created_at)) }
                                @if !organizations.is_empty() {
                                    td { (organization_link(organizations, view.payment.organization_id)) }
                                }
                                td { (view.invoice_number.as_deref().unwrap_or("—")) }
                                td class="amount" { (money(&view.payment.amount)) }
                                td { code { (view.payment.method.as_str()) } }
                                td { span class=(format!("status {}", view.payment.status.as_str())) { (view.payment.status.as_str()) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /console/payments/{id}`.
pub(crate) async fn payment(
    signed: Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    payment_page(&signed, &path, None, StatusCode::OK).await
}

async fn payment_page(
    signed: &Signed,
    id: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    let view = signed.state.queries.payment(&signed.principal, id).await?;
    let organizations = names(signed, std::slice::from_ref(&view)).await?;
    let p = &view.payment;
    let page = signed.page(&format!("Payment {}", reference(&view)));
    let content = html! {
        dl class="facts" {
            dt { "Organization" } dd { (organization_link(&organizations, p.organization_id)) }
            dt { "Amount" } dd class="amount" { (money(&p.amount)) }
            dt { "Status" } dd { span class=(format!("status {}", p.status.as_str())) { (p.status.as_str()) } }
            dt { "Method" } dd { code { (p.method.as_str()) } }
            dt { "Reference" } dd { (reference(&view)) }
            dt { "Invoice" } dd { (view.invoice_number.as_deref().unwrap_or("—")) }
            dt { "Created" } dd { (instant(&p.created_at)) }
            @if let Some(at) = &p.processed_at { dt { "Processed" } dd { (instant(at)) } }
            @if let Some(notes) = &p.notes { dt { "Payer's notes" } dd { (notes) } }
            @if let Some(notes) = &p.admin_notes { dt { "Staff notes" } dd { (notes) } }
            @if let Some(reason) = &p.failure_reason { dt { "Reason" } dd { (reason) } }
            @if let Some(bank) = &p.bank {
                dt { "Bank document" } dd { (bank.document_number.as_str()) " of " (date(&bank.document_date.instant().date_naive())) }
            }
            dt { "Payment id" } dd { code { (p.id) } }
        }
        @if signed.is_staff() && p.status == PaymentStatus::Succeeded {
            section aria-labelledby="refund-title" {
                h2 id="refund-title" { "Refund" }
                p { "Refunding debits " (money(&p.amount)) " from the organization's balance. You will be asked to confirm." }
                form method="post" action=(format!("/console/payments/{}/refund", p.id)) {
                    (page.csrf_field())
                    label for="refund-notes" { "Notes (optional)" }
                    input id="refund-notes" name="notes" type="text" maxlength="2000";
                    button type="submit" { "Refund" }
                }
            }
        }
    };
    Ok(html_response(status, page.render(notice.as_ref(), content)))
}

/// `POST /console/payments/{id}/refund`: first a confirmation page, then the refund.
pub(crate) async fn refund(
    posted: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let signed = &posted.signed;
    signed.require_staff()?;
    let notes = posted.fields.get("notes").map(str::to_string);
    if posted.fields.get("confirm") != Some("yes") {
        let view = signed
            .state
            .queries
            .payment(&signed.principal, &path)
            .await?;
        let page = signed.page("Confirm the refund");
        let content = html! {
            p { "Refund payment " strong { (reference(&view)) } " of " strong { (money(&view.payment.amount)) } "? The organization's balance is debited by this amount." }
            form method="post" action=(format!("/console/payments/{}/refund", view.payment.id)) {
                (page.csrf_field())
                input type="hidden" name="confirm" value="yes";
                input type="hidden" name="notes" value=(notes.clone().unwrap_or_default());
                button type="submit" { "Confirm" }
                " "
                a href=(format!("/console/payments/{}", view.payment.id)) { "Cancel" }
            }
        };
        return Ok(html_response(StatusCode::OK, page.render(None, content)));
    }
    let (notice, error) = act(signed, &path, StaffAction::Refund { admin_notes: notes }).await;
    let status = status_of(error.as_ref());
    payment_page(signed, &path, Some(notice), status).await
}

// ---- invoices ----

/// `GET /console/invoices`: the form to issue an invoice (`?organization=` preselects one).
pub(crate) async fn invoice_form(
    signed: Signed,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    invoice_page(
        &signed,
        query.get("organization").map(String::as_str),
        None,
        StatusCode::OK,
    )
    .await
}

async fn invoice_page(
    signed: &Signed,
    selected: Option<&str>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    signed.require_staff()?;
    let organizations = signed
        .state
        .queries
        .search_organizations(
            &signed.principal,
            "",
            payments_domain::pagination::PageRequest {
                page: 1,
                page_size: payments_domain::pagination::MAX_PAGE_SIZE,
            },
        )
        .await?;
    let page = signed.page("Invoices");
    let content = html! {
        h2 { "Issue an invoice" }
        form method="post" action="/console/invoices" class="stacked" {
            (page.csrf_field())
            label for="organization_id" { "Organization" }
            select id="organization_id" name="organization_id" required {
                @for o in &organizations.items {
                    option value=(o.id) selected[selected == Some(o.id.0.to_string().as_str())] {
                        (o.name) " (INN " (o.inn) ", " (o.currency().code()) ")"
                    }
                }
            }
            label for="amount" { "Amount (in the organization's currency)" }
            input id="amount" name="amount" type="text" inputmode="decimal" required placeholder="139.00";
            label for="due_date" { "Due date (optional)" }
            input id="due_date" name="due_date" type="date";
            label for="number" { "Number (optional; generated when empty)" }
            input id="number" name="number" type="text" maxlength="50";
            button type="submit" { "Issue invoice" }
        }
        @if organizations.total > organizations.items.len() as u64 {
            p class="muted" { "Showing the first " (organizations.items.len()) " organizations by name; open an organization's page to issue it an invoice." }
        }
    };
    Ok(html_response(status, page.render(notice.as_ref(), content)))
}

/// `POST /console/invoices`.
pub(crate) async fn create_invoice(posted: Posted) -> Result<HttpResponse, ConsoleError> {
    let signed = &posted.signed;
    signed.require_staff()?;
    let field = |name: &str| posted.fields.get(name).map(str::to_string);
    let input = NewInvoiceInput {
        organization_id: field("organization_id"),
        amount: field("amount"),
        currency: None,
        due_date: field("due_date"),
        number: field("number"),
    };
    let selected = posted.fields.get("organization_id");
    match actions::issue_invoice(signed, &input).await {
        Ok(invoice) => {
            let text = format!(
                "Invoice {} of {} issued.",
                invoice.number,
                money(&invoice.amount)
            );
            invoice_page(
                signed,
                selected,
                Some(Notice::Success(text)),
                StatusCode::OK,
            )
            .await
        }
        Err(error) => {
            let status = status_of(Some(&error));
            invoice_page(signed, selected, Some(Notice::from_error(&error)), status).await
        }
    }
}

// ---- ledger ----

/// `GET /console/ledger`: `payments ledger verify`, per organization.
pub(crate) async fn ledger(signed: Signed) -> Result<HttpResponse, ConsoleError> {
    signed.require_staff()?;
    let checks = signed.state.queries.ledger(&signed.principal).await?;
    let failures = checks.iter().filter(|c| c.result.is_err()).count();
    let page = signed.page("Ledger");
    let summary = if failures == 0 {
        Notice::Success(format!(
            "The ledger holds for all {} organization(s).",
            checks.len()
        ))
    } else {
        Notice::Error(format!(
            "{failures} of {} organization(s) break the ledger invariant.",
            checks.len()
        ))
    };
    let content = html! {
        p { "The same check as " code { "payments ledger verify" } ": each organization's balance log is an unbroken chain from zero to its balance, and the balance equals the sum of its succeeded payments." }
        div class="table-wrap" {
            table {
                thead { tr {
                    th scope="col" { "Organization" }
                    th scope="col" { "Balance" }
                    th scope="col" { "Log entries" }
                    th scope="col" { "Result" }
                } }
                tbody {
                    @for check in &checks {
                        tr {
                            td { a href=(format!("/console/organizations/{}", check.organization_id)) { "INN " (check.inn) } }
                            td class="amount" { (money(&check.balance)) }
                            td { (check.log_entries) }
                            td {
                                @match &check.result {
                                    Ok(()) => span class="status succeeded" { "OK" },
                                    Err(failure) => span class="status failed" { (failure.problem) },
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        page.render(Some(&summary), content),
    ))
}
