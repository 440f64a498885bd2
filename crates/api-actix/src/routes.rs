//! The one table of routes: [`crate::app`] registers from it, the OpenAPI description documents
//! its aliases from it, and the tests check every entry is documented.

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse, Resource};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::error::ApiError;
use crate::observability::enforce_timeout;
use crate::{balance, health, metrics, openapi, webhook};

/// Every endpoint the app serves.
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
}

impl Endpoint {
    pub const ALL: [Self; 8] = [
        Self::BankWebhook,
        Self::Balance,
        Self::Liveness,
        Self::Readiness,
        Self::Metrics,
        Self::OpenApi,
        Self::Docs,
        Self::DocsRedirect,
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
        }
    }

    /// The method it serves; others get 405 (except on `/docs/`, a static file tree).
    pub fn method(self) -> Method {
        match self {
            Self::BankWebhook => Method::POST,
            _ => Method::GET,
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
        endpoint
            .paths()
            .iter()
            .map(move |path| (endpoint.method(), *path))
    })
}
