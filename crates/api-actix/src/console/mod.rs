//! The operator console at `/console/`: server-rendered HTML (maud), no JavaScript needed, CSS
//! served from the binary.
//!
//! Sign-in takes an API token and opens a server-side session ([`ConsoleSessions`]); the
//! browser holds only the session id, in an HttpOnly, SameSite=Strict cookie (`Secure` when
//! [`ConsoleSettings::secure_cookie`]). Every request reads the session from the database, so
//! sign-out and token revocation take effect on the very next request. Every state-changing
//! form carries the session's CSRF token as `csrf_token`; a POST without it, or with a wrong
//! one, answers 403 before anything is read or changed. The sign-in form, which has no session
//! yet, carries a token derived from a random nonce in a cookie of its own.
//!
//! Handlers here only parse forms, call the same use cases as the API ([`BillingUseCases`] for
//! every action, from `actions.rs`; [`ConsoleQueries`] for the console's reads) and render the result; the rules
//! (roles, tenancy, state machine, ledger) are the domain's. For a member, everything outside
//! their own organization, staff pages included, answers 404, as in the API.

mod actions;
mod chart;
mod layout;
mod member;
mod organizations;
mod staff;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};
use payments_domain::auth::{Principal, Role};
use payments_domain::console::CsrfToken;
use payments_domain::pagination::PageRequest;
use payments_domain::usecases::{
    BillingError, ConsoleQueries, ConsoleSession, ConsoleSessions, SignInError,
};

use crate::BillingUseCases;

pub(crate) use layout::Page;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "payments_console";
/// Name of the cookie holding the sign-in form's CSRF nonce (before there is a session).
pub const SIGN_IN_COOKIE: &str = "payments_console_sign_in";
/// The form field every state-changing console form carries.
pub const CSRF_FIELD: &str = "csrf_token";
/// The console's root path.
pub const CONSOLE_PATH: &str = "/console/";

const CSS: &str = include_str!("../../static/console.css");

/// How the console behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsoleSettings {
    /// Mark the session cookie `Secure` (the service is reached over HTTPS).
    pub secure_cookie: bool,
}

/// What the console's handlers use.
#[derive(Clone)]
pub struct ConsoleState {
    pub sessions: ConsoleSessions,
    pub queries: ConsoleQueries,
    /// The same use cases as the billing API: every console action goes through them.
    pub billing: BillingUseCases,
    pub settings: ConsoleSettings,
    /// 32 bytes from a CSPRNG, for session ids and form idempotency keys.
    pub random: fn() -> [u8; 32],
}

/// Registers the console's routes under `/console/`.
pub fn configure(state: ConsoleState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config.service(
            web::scope("/console")
                .app_data(web::Data::new(state))
                .app_data(
                    web::FormConfig::default()
                        .limit(64 * 1024)
                        .error_handler(|_, _| ConsoleError::BadForm.into()),
                )
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| ConsoleError::NotFound.into()),
                )
                .app_data(
                    web::QueryConfig::default().error_handler(|_, _| ConsoleError::BadForm.into()),
                )
                .route("", web::get().to(redirect_to_root))
                .route("/", web::get().to(member::home))
                .route("/console.css", web::get().to(stylesheet))
                .route("/sign-in", web::get().to(sign_in_form))
                .route("/sign-in", web::post().to(sign_in))
                .route("/sign-out", web::post().to(sign_out))
                .route("/approvals", web::get().to(staff::approvals))
                .route("/payments", web::get().to(staff::payments))
                .route("/payments/{id}", web::get().to(staff::payment))
                .route("/payments/{id}/approve", web::post().to(staff::approve))
                .route("/payments/{id}/reject", web::post().to(staff::reject))
                .route("/payments/{id}/refund", web::post().to(staff::refund))
                .route("/organizations", web::get().to(staff::organizations))
                .route("/organizations/{id}", web::get().to(staff::organization))
                .route(
                    "/organizations/{id}/payment-methods",
                    web::post().to(staff::save_override),
                )
                .route(
                    "/organizations/{id}/payment-methods/{method}/delete",
                    web::post().to(staff::delete_override),
                )
                .route("/invoices", web::get().to(staff::invoice_form))
                .route("/invoices", web::post().to(staff::create_invoice))
                .route("/ledger", web::get().to(staff::ledger))
                .route(
                    "/manual-payment",
                    web::post().to(member::submit_manual_payment),
                )
                .default_service(web::to(|| async { ConsoleError::NotFound })),
        );
    }
}

/// Why a console request failed; rendered as a small HTML page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConsoleError {
    /// No live session: go to the sign-in page.
    SignedOut,
    /// Missing or wrong `csrf_token`.
    Csrf,
    /// Unknown page, another organization's, or a staff page for a member.
    NotFound,
    /// A form or query that cannot be read at all.
    BadForm,
    /// Storage failed; retry.
    Unavailable,
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::SignedOut => "Please sign in.",
            Self::Csrf => "This form has expired or did not come from the console. Reload the page and try again.",
            Self::NotFound => "Not found.",
            Self::BadForm => "The request could not be read.",
            Self::Unavailable => "The service is temporarily unavailable. Try again.",
        })
    }
}

impl actix_web::ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignedOut => StatusCode::SEE_OTHER,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadForm => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if *self == Self::SignedOut {
            return redirect("/console/sign-in");
        }
        let title = match self {
            Self::Csrf => "Forbidden",
            Self::NotFound => "Not found",
            Self::BadForm => "Bad request",
            _ => "Unavailable",
        };
        let body = layout::bare(
            title,
            html! {
                h1 { (title) }
                p { (self.to_string()) }
                p { a href=(CONSOLE_PATH) { "Back to the console" } }
            },
        );
        html_response(self.status_code(), body)
    }
}

impl actix_web::Responder for ConsoleError {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// Errors of a page's reads: the page cannot be shown. (Errors of an action are shown as a
/// notice on the page instead, see [`layout::Notice::from_error`].)
impl From<BillingError> for ConsoleError {
    fn from(error: BillingError) -> Self {
        match error {
            // A member on a staff page, or anyone on another organization's: 404, like the API.
            BillingError::NotFound(_) | BillingError::Forbidden(_) => Self::NotFound,
            BillingError::Storage(_) => Self::Unavailable,
            _ => Self::BadForm,
        }
    }
}

/// The HTML response every page goes out as: no caching, no framing, no foreign content.
pub(crate) fn html_response(status: StatusCode, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .body(body.into_string())
}

/// 303 to `location` (after a POST, the browser GETs it).
pub(crate) fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn state_of(request: &HttpRequest) -> Result<web::Data<ConsoleState>, ConsoleError> {
    request
        .app_data::<web::Data<ConsoleState>>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("ConsoleState is not registered in the app");
            ConsoleError::Unavailable
        })
}

/// The value of cookie `wanted` in the request's `Cookie` header(s), if any.
fn cookie_of(request: &HttpRequest, wanted: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// The session id in the request's cookies, if any.
fn session_cookie(request: &HttpRequest) -> Option<String> {
    cookie_of(request, SESSION_COOKIE)
}

/// The `Set-Cookie` value of cookie `name`; `None` clears it.
fn set_cookie(name: &str, value: Option<&str>, settings: ConsoleSettings) -> String {
    let secure = if settings.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    match value {
        Some(value) => {
            format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict{secure}")
        }
        None => format!("{name}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// The `Set-Cookie` value for a session id; `None` clears the cookie.
fn cookie_header(session_id: Option<&str>, settings: ConsoleSettings) -> String {
    set_cookie(SESSION_COOKIE, session_id, settings)
}

/// Adds a `Set-Cookie` header.
fn with_cookie(mut response: HttpResponse, cookie: &str) -> HttpResponse {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A signed-in request: who, its CSRF token, and the console's use cases. Without a live
/// session the request is sent to the sign-in page.
pub(crate) struct Signed {
    pub principal: Principal,
    pub csrf: CsrfToken,
    pub state: web::Data<ConsoleState>,
    session_id: String,
}

impl Signed {
    pub fn is_staff(&self) -> bool {
        self.principal.role() == Role::Staff
    }

    /// Staff pages answer 404 to members (as the API hides what a member may not see).
    pub fn require_staff(&self) -> Result<(), ConsoleError> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(ConsoleError::NotFound)
        }
    }

    /// The page frame for this user.
    pub fn page(&self, title: &str) -> Page<'_> {
        Page {
            title: title.to_string(),
            staff: self.is_staff(),
            csrf: &self.csrf,
        }
    }

    /// Random hex for one-time form keys.
    pub fn form_key(&self) -> String {
        hex((self.state.random)())
    }
}

impl FromRequest for Signed {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state_of(request);
        let session_id = session_cookie(request);
        Box::pin(async move {
            let state = state?;
            let session_id = session_id.ok_or(ConsoleError::SignedOut)?;
            let ConsoleSession { principal, csrf } = state
                .sessions
                .resolve(&session_id, Utc::now())
                .await
                .map_err(|_| ConsoleError::Unavailable)?
                .ok_or(ConsoleError::SignedOut)?;
            Ok(Self {
                principal,
                csrf,
                state,
                session_id,
            })
        })
    }
}

/// A submitted form's fields (the last value of a repeated name wins).
#[derive(Debug, Default)]
pub(crate) struct Fields(HashMap<String, String>);

impl Fields {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs.into_iter().collect())
    }

    /// The trimmed value, `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// An HTML checkbox: present means on.
    pub fn checked(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// A state-changing form: the session, and its fields once the CSRF token matched. The check
/// runs before any handler code, so a refused form changes nothing.
pub(crate) struct Posted {
    pub signed: Signed,
    pub fields: Fields,
}

impl FromRequest for Posted {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed = Signed::from_request(request, payload);
        let form = web::Form::<Vec<(String, String)>>::from_request(request, payload);
        Box::pin(async move {
            let signed = signed.await?;
            let fields = Fields::from_pairs(form.await?.into_inner());
            if !signed
                .csrf
                .matches(fields.0.get(CSRF_FIELD).map(String::as_str))
            {
                return Err(ConsoleError::Csrf.into());
            }
            Ok(Self { signed, fields })
        })
    }
}

/// `?page=` style parameters of a list: bad or absent values give the first page.
pub(crate) fn page_of(value: Option<&String>, page_size: u32) -> PageRequest {
    let page = value
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    PageRequest { page, page_size }
}

async fn redirect_to_root() -> HttpResponse {
    redirect(CONSOLE_PATH)
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(CSS)
}

/// The sign-in form. Signing in changes state too, so the form carries a CSRF token: derived
/// from a random nonce kept in an HttpOnly, SameSite=Strict cookie until there is a session.
fn sign_in_page(
    status: StatusCode,
    error: Option<&str>,
    nonce: &str,
    settings: ConsoleSettings,
) -> HttpResponse {
    let csrf = CsrfToken::for_session(nonce);
    let body = layout::bare(
        "Sign in",
        html! {
            main class="narrow" {
                h1 { "Payments console" }
                p { "Sign in with an API token made by " code { "payments token create" } "." }
                @if let Some(error) = error {
                    p class="notice error" role="alert" { (error) }
                }
                form method="post" action="/console/sign-in" {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf.as_str());
                    label for="token" { "API token" }
                    input id="token" name="token" type="password" autocomplete="off" required autofocus;
                    button type="submit" { "Sign in" }
                }
            }
        },
    );
    with_cookie(
        html_response(status, body),
        &set_cookie(SIGN_IN_COOKIE, Some(nonce), settings),
    )
}

async fn sign_in_form(request: HttpRequest) -> Result<HttpResponse, ConsoleError> {
    let state = state_of(&request)?;
    // Already signed in: straight to the console.
    if let Some(id) = session_cookie(&request) {
        if let Ok(Some(_)) = state.sessions.resolve(&id, Utc::now()).await {
            return Ok(redirect(CONSOLE_PATH));
        }
    }
    // One nonce per browser, so that several open sign-in tabs all work.
    let nonce = cookie_of(&request, SIGN_IN_COOKIE).unwrap_or_else(|| hex((state.random)()));
    Ok(sign_in_page(StatusCode::OK, None, &nonce, state.settings))
}

/// Lower-case hex of random bytes.
fn hex(bytes: [u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn sign_in(
    request: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let state = state_of(&request)?;
    let fields = Fields::from_pairs(form.into_inner());
    let nonce = cookie_of(&request, SIGN_IN_COOKIE).ok_or(ConsoleError::Csrf)?;
    if !CsrfToken::for_session(&nonce).matches(fields.0.get(CSRF_FIELD).map(String::as_str)) {
        return Err(ConsoleError::Csrf);
    }
    let token = fields.get("token").unwrap_or_default();
    match state
        .sessions
        .sign_in(token, (state.random)(), Utc::now())
        .await
    {
        Ok(session) => {
            let response = with_cookie(
                redirect(CONSOLE_PATH),
                &cookie_header(Some(&session.session_id), state.settings),
            );
            Ok(with_cookie(
                response,
                &set_cookie(SIGN_IN_COOKIE, None, state.settings),
            ))
        }
        Err(SignInError::InvalidToken) => Ok(sign_in_page(
            StatusCode::UNAUTHORIZED,
            Some("Invalid or revoked token."),
            &nonce,
            state.settings,
        )),
        Err(SignInError::Storage(_)) => Err(ConsoleError::Unavailable),
    }
}

async fn sign_out(posted: Posted) -> Result<HttpResponse, ConsoleError> {
    let signed = posted.signed;
    signed
        .state
        .sessions
        .sign_out(&signed.session_id, Utc::now())
        .await
        .map_err(|_| ConsoleError::Unavailable)?;
    Ok(with_cookie(
        redirect("/console/sign-in"),
        &cookie_header(None, signed.state.settings),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let request = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; payments_console=ses_abc ; b=2"))
            .to_http_request();
        assert_eq!(session_cookie(&request).as_deref(), Some("ses_abc"));
        let request = TestRequest::default()
            .insert_header((header::COOKIE, "payments_console="))
            .to_http_request();
        assert_eq!(session_cookie(&request), None);
        assert_eq!(
            session_cookie(&TestRequest::default().to_http_request()),
            None
        );
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_when_configured() {
        let plain = cookie_header(Some("ses_x"), ConsoleSettings::default());
        assert_eq!(
            plain,
            "payments_console=ses_x; Path=/console; HttpOnly; SameSite=Strict"
        );
        let secure = cookie_header(
            Some("ses_x"),
            ConsoleSettings {
                secure_cookie: true,
            },
        );
        assert!(secure.ends_with("; Secure"));
        let cleared = cookie_header(None, ConsoleSettings::default());
        assert!(cleared.contains("Max-Age=0"));
    }

    #[test]
    fn pages_default_to_the_first() {
        assert_eq!(page_of(None, 20).page, 1);
        assert_eq!(page_of(Some(&"0".to_string()), 20).page, 1);
        assert_eq!(page_of(Some(&"x".to_string()), 20).page, 1);
        assert_eq!(page_of(Some(&"3".to_string()), 20).page, 3);
    }
}
