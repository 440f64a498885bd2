//! Organizations: the searchable list (staff), an organization's page (balance, chart, balance
//! log, payments, invoices, payment-method overrides), and the overview a member's home shares
//! with it.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};
use payments_domain::payment::PaymentMethod;
use payments_domain::usecases::OverrideInput;
use payments_domain::usecases::PaymentSearch;
use payments_domain::Organization;

use super::actions;
use super::chart::balance_chart;
use super::layout::{date, delta, instant, money, pager, query_value, Notice};
use super::staff::payments_table;
use super::{html_response, page_of, ConsoleError, Posted, Signed};

const LOG_PAGE_SIZE: u32 = 20;

/// `GET /console/organizations?q=`: staff search by INN or name.
pub(crate) async fn organizations(
    signed: Signed,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    signed.require_staff()?;
    let q = query
        .get("q")
        .map(|q| q.trim().to_string())
        .unwrap_or_default();
    let found = signed
        .state
        .queries
        .search_organizations(&signed.principal, &q, page_of(query.get("page"), 25))
        .await?;
    let page = signed.page("Organizations");
    let content = html! {
        form method="get" action="/console/organizations" class="search" role="search" {
            label for="q" { "Search by INN or name" }
            input id="q" name="q" type="text" value=(q) autofocus;
            button type="submit" { "Search" }
        }
        p class="muted" { (found.total) " organization(s)." }
        @if !found.items.is_empty() {
            div class="table-wrap" {
                table {
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "INN" }
                        th scope="col" { "Country" }
                        th scope="col" { "Balance" }
                    } }
                    tbody {
                        @for o in &found.items {
                            @let href = format!("/console/organizations/{}", o.id);
                            tr {
                                td { a href=(href) { (o.name) } }
                                td { a href=(href) { (o.inn) } }
                                td { (o.country.as_str()) }
                                td class="amount" { (money(&o.balance())) }
                            }
                        }
                    }
                }
            }
        }
        (pager(&found, |n| format!("/console/organizations?q={}&page={n}", query_value(&q))))
    };
    Ok(html_response(StatusCode::OK, page.render(None, content)))
}

/// The balance, chart, balance log, payments and invoices of one organization: the body of
/// its page for staff and of a member's home.
pub(crate) async fn overview(
    signed: &Signed,
    organization: &Organization,
    query: &HashMap<String, String>,
    base: &str,
) -> Result<Markup, ConsoleError> {
    let queries = &signed.state.queries;
    let history = queries
        .balance_history(&signed.principal, organization)
        .await?;
    let log = queries
        .balance_log(
            &signed.principal,
            organization,
            page_of(query.get("log_page"), LOG_PAGE_SIZE),
        )
        .await?;
    let invoices = queries
        .invoices(
            &signed.principal,
            organization,
            page_of(query.get("invoice_page"), 10),
        )
        .await?;
    let payments = if signed.is_staff() {
        let search = PaymentSearch {
            organization: Some(organization.id.0.to_string()),
            ..PaymentSearch::default()
        };
        queries
            .payments(&signed.principal, &search, page_of(None, 10))
            .await?
    } else {
        actions::own_payments(signed, page_of(None, 10)).await?
    };
    Ok(html! {
        section aria-labelledby="balance-title" class="balance" {
            h2 id="balance-title" { "Balance" }
            p class="big amount" data-balance { (money(&organization.balance())) }
            (balance_chart(&history, &organization.balance(), Utc::now()))
        }
        section aria-labelledby="log-title" {
            h2 id="log-title" { "Balance log" }
            @if log.items.is_empty() {
                p { "No entries yet." }
            } @else {
                div class="table-wrap" {
                    table class="log" {
                        thead { tr {
                            th scope="col" { "When" }
                            th scope="col" { "Change" }
                            th scope="col" { "Previous balance" }
                            th scope="col" { "New balance" }
                            th scope="col" { "Payment" }
                        } }
                        tbody {
                            @for entry in &log.items {
                                tr {
                                    td { (instant(&entry.created_at)) }
                                    td class="amount" { (delta(&entry.previous_balance, &entry.new_balance)) }
                                    td class="amount" { (money(&entry.previous_balance)) }
                                    td class="amount" { (money(&entry.new_balance)) }
                                    td { a href=(format!("/console/payments/{}", entry.payment_id)) { "Payment" } }
                                }
                            }
                        }
                    }
                }
                (pager(&log, |n| format!("{base}?log_page={n}")))
            }
        }
        section aria-labelledby="payments-title" {
            h2 id="payments-title" { "Payments" }
            (payments_table(&payments.items, &HashMap::new()))
            @if payments.total > payments.items.len() as u64 {
                p { a href=(format!("/console/payments?organization={}", organization.inn)) {
                    "All " (payments.total) " payments"
                } }
            }
        }
        section aria-labelledby="invoices-title" {
            h2 id="invoices-title" { "Invoices" }
            @if invoices.items.is_empty() {
                p { "No invoices." }
            } @else {
                div class="table-wrap" {
                    table {
                        thead { tr {
                            th scope="col" { "Number" }
                            th scope="col" { "Amount" }
                            th scope="col" { "Status" }
                            th scope="col" { "Due" }
                            th scope="col" { "Issued" }
                        } }
                        tbody {
                            @for invoice in &invoices.items {
                                tr {
                                    td { (invoice.number) }
                                    td class="amount" { (money(&invoice.amount)) }
                                    td { span class=(format!("status {}", invoice.status.as_str())) { (invoice.status.as_str()) } }
                                    td { (invoice.due_date.as_ref().map(date).unwrap_or_else(|| "—".into())) }
                                    td { (instant(&invoice.created_at)) }
                                }
                            }
                        }
                    }
                }
                (pager(&invoices, |n| format!("{base}?invoice_page={n}")))
            }
        }
    })
}

/// `GET /console/organizations/{id}`: staff any organization, a member its own; 404 otherwise.
pub(crate) async fn organization(
    signed: Signed,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    organization_page(&signed, &path, &query, None, StatusCode::OK).await
}

async fn organization_page(
    signed: &Signed,
    id: &str,
    query: &HashMap<String, String>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    let organization = signed
        .state
        .queries
        .organization(&signed.principal, id)
        .await?;
    let base = format!("/console/organizations/{}", organization.id);
    let overview = overview(signed, &organization, query, &base).await?;
    let overrides = if signed.is_staff() {
        Some(overrides_section(signed, &organization).await?)
    } else {
        None
    };
    let page = signed.page(&organization.name);
    let content = html! {
        dl class="facts" {
            dt { "INN" } dd { (organization.inn) }
            dt { "Country" } dd { (organization.country.as_str()) }
            dt { "Currency" } dd { (organization.currency().code()) }
            dt { "Since" } dd { (instant(&organization.created_at)) }
        }
        @if signed.is_staff() {
            p { a href=(format!("/console/invoices?organization={}", organization.id)) { "Issue an invoice to " (organization.name) } }
        }
        (overview)
        @if let Some(overrides) = overrides { (overrides) }
    };
    Ok(html_response(status, page.render(notice.as_ref(), content)))
}

async fn overrides_section(
    signed: &Signed,
    organization: &Organization,
) -> Result<Markup, ConsoleError> {
    let id = organization.id.0.to_string();
    let overrides = actions::overrides(signed, &id).await?;
    let page = signed.page("");
    Ok(html! {
        section aria-labelledby="methods-title" {
            h2 id="methods-title" { "Payment-method overrides" }
            p class="muted" { "An override enables or disables a method for this organization only, whatever the catalogue says for its country." }
            @if overrides.is_empty() {
                p { "No overrides: the catalogue applies." }
            } @else {
                div class="table-wrap" {
                    table {
                        thead { tr {
                            th scope="col" { "Method" }
                            th scope="col" { "Enabled" }
                            th scope="col" { "Default" }
                            th scope="col" { "Changed" }
                            th scope="col" { span class="visually-hidden" { "Remove" } }
                        } }
                        tbody {
                            @for o in &overrides {
                                tr {
                                    td { code { (o.method.as_str()) } }
                                    td { (if o.is_enabled { "yes" } else { "no" }) }
                                    td { (if o.is_default { "yes" } else { "no" }) }
                                    td { (instant(&o.updated_at)) }
                                    td {
                                        form method="post" action=(format!("/console/organizations/{id}/payment-methods/{}/delete", o.method.as_str())) {
                                            (page.csrf_field())
                                            button type="submit" class="secondary" { "Remove override of " (o.method.as_str()) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form method="post" action=(format!("/console/organizations/{id}/payment-methods")) class="inline-form" {
                (page.csrf_field())
                label for="payment_method" { "Method" }
                select id="payment_method" name="payment_method" {
                    @for method in PaymentMethod::ALL {
                        option value=(method.as_str()) { (method.as_str()) }
                    }
                }
                label class="check" {
                    input type="checkbox" name="is_enabled" value="on" checked;
                    " Enabled"
                }
                label class="check" {
                    input type="checkbox" name="is_default" value="on";
                    " Default"
                }
                button type="submit" { "Save override" }
            }
        }
    })
}

/// `POST /console/organizations/{id}/payment-methods`: create or replace an override.
pub(crate) async fn save_override(
    posted: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let signed = &posted.signed;
    signed.require_staff()?;
    let input = OverrideInput {
        payment_method: posted.fields.get("payment_method").map(str::to_string),
        is_enabled: Some(posted.fields.checked("is_enabled")),
        is_default: Some(posted.fields.checked("is_default")),
    };
    let (notice, status) = match actions::save_override(signed, &path, &input).await {
        Ok(saved) => (
            Notice::Success(format!(
                "Override of {} saved: {}{}.",
                saved.method.as_str(),
                if saved.is_enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                if saved.is_default { ", default" } else { "" }
            )),
            StatusCode::OK,
        ),
        Err(payments_domain::usecases::BillingError::NotFound(_)) => {
            return Err(ConsoleError::NotFound)
        }
        Err(error) => (Notice::from_error(&error), StatusCode::BAD_REQUEST),
    };
    organization_page(signed, &path, &HashMap::new(), Some(notice), status).await
}

/// `POST /console/organizations/{id}/payment-methods/{method}/delete`.
pub(crate) async fn delete_override(
    posted: Posted,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let signed = &posted.signed;
    signed.require_staff()?;
    let (id, method) = path.into_inner();
    let (notice, status) = match actions::delete_override(signed, &id, &method).await {
        Ok(()) => (
            Notice::Success(format!("Override of {method} removed.")),
            StatusCode::OK,
        ),
        Err(error) => (Notice::from_error(&error), StatusCode::NOT_FOUND),
    };
    organization_page(signed, &id, &HashMap::new(), Some(notice), status).await
}
