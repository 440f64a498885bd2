//! The one table of routes: [`crate::app`] registers from it, the OpenAPI description documents
//! its aliases from it, and the tests check every entry is documented.

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse, Resource, Route};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::billing::{admin, member, staff};
use crate::error::ApiError;
use crate::observability::enforce_timeout;
use crate::{balance, billing, health, metrics, openapi, webhook};

/// Every endpoint the app serves: one path (and its alias), one or more methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    BankWebhook,
    Balance,
    Liveness,
    Readiness,
    Metrics,
    OpenApi,
    Docs,
    DocsRedirect,
    BillingPayments,
    BillingManualPayment,
    BillingPayment,
    BillingAvailableMethods,
    BillingInvoices,
    BillingInvoice,
    BillingBalance,
    BillingTransactions,
    AdminPayments,
    AdminApprovePayment,
    AdminRejectPayment,
    AdminRefundPayment,
    AdminOrganizations,
    AdminInvoices,
    AdminConfigs,
    AdminConfig,
    AdminOverrides,
    AdminOverride,
}

impl Endpoint {
    /// In registration order: a path that another endpoint's pattern would also match
    /// (`/payments/manual/` and `/payments/{id}/`) comes first.
    pub const ALL: [Self; 26] = [
        Self::BankWebhook,
        Self::Balance,
        Self::Liveness,
        Self::Readiness,
        Self::Metrics,
        Self::OpenApi,
        Self::Docs,
        Self::DocsRedirect,
        Self::BillingPayments,
        Self::BillingManualPayment,
        Self::BillingPayment,
        Self::BillingAvailableMethods,
        Self::BillingInvoices,
        Self::BillingInvoice,
        Self::BillingBalance,
        Self::BillingTransactions,
        Self::AdminPayments,
        Self::AdminApprovePayment,
        Self::AdminRejectPayment,
        Self::AdminRefundPayment,
        Self::AdminOrganizations,
        Self::AdminInvoices,
        Self::AdminConfigs,
        Self::AdminConfig,
        Self::AdminOverrides,
        Self::AdminOverride,
    ];

    /// The paths it answers on; the first is the main one, the others are aliases.
    pub fn paths(self) -> &'static [&'static str] {
        match self {
            Self::BankWebhook => &["/api/webhook/bank/", "/api/webhook/bank"],
            Self::Balance => &[
                "/api/organizations/{inn}/balance/",
                "/api/organizations/{inn}/balance",
            ],
            Self::Liveness => &["/healthz"],
            Self::Readiness => &["/readyz"],
            Self::Metrics => &["/metrics"],
            Self::OpenApi => &["/openapi.json"],
            Self::Docs => &["/docs/"],
            Self::DocsRedirect => &["/docs"],
            Self::BillingPayments => &["/api/v1/billing/payments/", "/api/v1/billing/payments"],
            Self::BillingManualPayment => &[
                "/api/v1/billing/payments/manual/",
                "/api/v1/billing/payments/manual",
            ],
            Self::BillingPayment => &[
                "/api/v1/billing/payments/{id}/",
                "/api/v1/billing/payments/{id}",
            ],
            Self::BillingAvailableMethods => &[
                "/api/v1/billing/payment-methods/available/",
                "/api/v1/billing/payment-methods/available",
            ],
            Self::BillingInvoices => &["/api/v1/billing/invoices/", "/api/v1/billing/invoices"],
            Self::BillingInvoice => &[
                "/api/v1/billing/invoices/{id}/",
                "/api/v1/billing/invoices/{id}",
            ],
            Self::BillingBalance => &["/api/v1/billing/balance/", "/api/v1/billing/balance"],
            Self::BillingTransactions => &[
                "/api/v1/billing/transactions/",
                "/api/v1/billing/transactions",
            ],
            Self::AdminPayments => &[
                "/api/v1/billing/admin/payments/",
                "/api/v1/billing/admin/payments",
            ],
            Self::AdminApprovePayment => &[
                "/api/v1/billing/admin/payments/{id}/approve/",
                "/api/v1/billing/admin/payments/{id}/approve",
            ],
            Self::AdminRejectPayment => &[
                "/api/v1/billing/admin/payments/{id}/reject/",
                "/api/v1/billing/admin/payments/{id}/reject",
            ],
            Self::AdminRefundPayment => &[
                "/api/v1/billing/admin/payments/{id}/refund/",
                "/api/v1/billing/admin/payments/{id}/refund",
            ],
            Self::AdminOrganizations => &[
                "/api/v1/billing/admin/organizations/",
                "/api/v1/billing/admin/organizations",
            ],
            Self::AdminInvoices => &[
                "/api/v1/billing/admin/invoices/",
                "/api/v1/billing/admin/invoices",
            ],
            Self::AdminConfigs => &[
                "/api/v1/billing/admin/payment-method-configs/",
                "/api/v1/billing/admin/payment-method-configs",
            ],
            Self::AdminConfig => &[
                "/api/v1/billing/admin/payment-method-configs/{id}/",
                "/api/v1/billing/admin/payment-method-configs/{id}",
            ],
            Self::AdminOverrides => &[
                "/api/v1/billing/admin/organizations/{id}/payment-methods/",
                "/api/v1/billing/admin/organizations/{id}/payment-methods",
            ],
            Self::AdminOverride => &[
                "/api/v1/billing/admin/organizations/{id}/payment-methods/{method}/",
                "/api/v1/billing/admin/organizations/{id}/payment-methods/{method}",
            ],
        }
    }

    /// The methods it serves; others get 405 (except on `/docs/`, a static file tree).
    pub fn methods(self) -> &'static [Method] {
        const GET: &[Method] = &[Method::GET];
        const POST: &[Method] = &[Method::POST];
        match self {
            Self::BankWebhook
            | Self::BillingManualPayment
            | Self::AdminApprovePayment
            | Self::AdminRejectPayment
            | Self::AdminRefundPayment
            | Self::AdminInvoices => POST,
            Self::AdminOrganizations | Self::AdminConfigs | Self::AdminOverrides => {
                &[Method::GET, Method::POST]
            }
            Self::AdminConfig => &[Method::GET, Method::PUT, Method::DELETE],
            Self::AdminOverride => &[Method::DELETE],
            _ => GET,
        }
    }

    /// The `Allow` header of its 405 answers.
    fn allow(self) -> &'static str {
        match self.methods() {
            [Method::GET, Method::POST] => "GET, POST",
            [Method::GET, Method::PUT, Method::DELETE] => "GET, PUT, DELETE",
            [Method::POST] => "POST",
            [Method::DELETE] => "DELETE",
            _ => "GET",
        }
    }

    /// The billing routes of the endpoint, one per method; empty for the others.
    fn billing_routes(self) -> Vec<Route> {
        match self {
            Self::BillingPayments => vec![web::get().to(member::list_payments)],
            Self::BillingManualPayment => vec![web::post().to(member::submit_manual_payment)],
            Self::BillingPayment => vec![web::get().to(member::get_payment)],
            Self::BillingAvailableMethods => vec![web::get().to(member::available_methods)],
            Self::BillingInvoices => vec![web::get().to(member::list_invoices)],
            Self::BillingInvoice => vec![web::get().to(member::get_invoice)],
            Self::BillingBalance => vec![web::get().to(member::balance)],
            Self::BillingTransactions => vec![web::get().to(member::transactions)],
            Self::AdminPayments => vec![web::get().to(staff::list_payments)],
            Self::AdminApprovePayment => vec![web::post().to(staff::approve)],
            Self::AdminRejectPayment => vec![web::post().to(staff::reject)],
            Self::AdminRefundPayment => vec![web::post().to(staff::refund)],
            Self::AdminOrganizations => vec![
                web::get().to(admin::list_organizations),
                web::post().to(admin::create_organization),
            ],
            Self::AdminInvoices => vec![web::post().to(admin::issue_invoice)],
            Self::AdminConfigs => vec![
                web::get().to(admin::list_configs),
                web::post().to(admin::create_config),
            ],
            Self::AdminConfig => vec![
                web::get().to(admin::get_config),
                web::put().to(admin::update_config),
                web::delete().to(admin::delete_config),
            ],
            Self::AdminOverrides => vec![
                web::get().to(admin::list_overrides),
                web::post().to(admin::save_override),
            ],
            Self::AdminOverride => vec![web::delete().to(admin::delete_override)],
            _ => Vec::new(),
        }
    }

    /// Adds the endpoint to an app.
    pub(crate) fn register(self, config: &mut web::ServiceConfig) {
        let paths = self.paths();
        match self {
            Self::BankWebhook => {
                config.service(
                    web::resource(paths.to_vec())
                        .route(web::post().to(webhook::receive))
                        .default_service(web::to(only_post))
                        .wrap(from_fn(enforce_timeout)),
                );
            }
            Self::Balance => {
                config.service(
                    web::resource(paths.to_vec())
                        .route(web::get().to(balance::read))
                        .default_service(web::to(only_get))
                        .wrap(from_fn(enforce_timeout)),
                );
            }
            Self::Liveness => {
                config.service(get_only(paths).route(web::get().to(health::live)));
            }
            Self::Readiness => {
                config.service(
                    get_only(paths)
                        .route(web::get().to(health::ready))
                        .wrap(from_fn(enforce_timeout)),
                );
            }
            Self::Metrics => {
                config.service(
                    get_only(paths)
                        .route(web::get().to(metrics::scrape))
                        .wrap(from_fn(enforce_timeout)),
                );
            }
            Self::OpenApi => {
                config.service(get_only(paths).route(web::get().to(openapi::serve_spec)));
            }
            Self::Docs => {
                // Serves `/docs/` and its assets; the spec itself comes from our own route.
                config
                    .service(SwaggerUi::new("/docs/{_:.*}").config(Config::from("/openapi.json")));
            }
            Self::DocsRedirect => {
                config.service(get_only(paths).route(web::get().to(openapi::docs_redirect)));
            }
            billing_endpoint => {
                // One resource per path, all its methods on it: actix picks the first resource
                // whose path matches, so a second resource on the same path would never be
                // reached, and its 405 must list every method.
                let allow = billing_endpoint.allow();
                let resource = billing_endpoint
                    .billing_routes()
                    .into_iter()
                    .fold(web::resource(paths.to_vec()), Resource::route);
                config.service(
                    resource
                        .default_service(web::to(move |request: HttpRequest| async move {
                            billing::method_not_allowed(&request, allow)
                        }))
                        .wrap(from_fn(enforce_timeout)),
                );
            }
        }
    }
}

async fn only_get() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed { allow: "GET" })
}

async fn only_post() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed { allow: "POST" })
}

/// A resource answering 405 to anything but the GET route added to it.
fn get_only(paths: &'static [&'static str]) -> Resource {
    web::resource(paths.to_vec()).default_service(web::to(only_get))
}

/// `(method, path)` of every route the app registers, aliases included.
pub fn routes() -> impl Iterator<Item = (Method, &'static str)> {
    Endpoint::ALL.into_iter().flat_map(|endpoint| {
        endpoint.paths().iter().flat_map(move |path| {
            endpoint
                .methods()
                .iter()
                .map(move |method| (method.clone(), *path))
        })
    })
}
