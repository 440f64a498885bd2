//! HTTP tests of the operator console against the real application, on SQLite and
//! PostgreSQL: sessions and cookies, CSRF, tenancy, approvals, manual payments, refunds.
//! (`console_browser.rs` drives the same pages in headless Chromium.)

use std::sync::Arc;

use crate::helpers::{spawn_app, spawn_with, tenant, Backend, TestApp};
use chrono::Utc;
use payments_domain::auth::Role;
use payments_domain::usecases::IssueToken;
use serde_json::json;

/// A console answer: status, `Location`, the session's `Set-Cookie`, the sign-in nonce
/// cookie (`name=value`) and the HTML.
struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    sign_in_cookie: Option<String>,
    html: String,
}

impl Page {
    /// The page's CSRF token (every signed-in page has the sign-out form).
    fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.html.find(marker).expect("a csrf_token field") + marker.len();
        self.html[start..].split('"').next().unwrap().to_string()
    }

    /// The value of a hidden or text input named `name`.
    fn input(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.html.find(&marker).expect("the input") + marker.len();
        self.html[start..].split('"').next().unwrap().to_string()
    }
}

/// A browser-like client: no redirects followed, cookies sent by hand.
struct Browser {
    base: String,
    client: reqwest::Client,
    cookie: Option<String>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            base: app.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Page {
        let request = match &self.cookie {
            Some(cookie) => request.header("Cookie", cookie.as_str()),
            None => request,
        };
        let response = request.send().await.expect("response");
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let named = |name: &str| {
            cookies
                .iter()
                .find(|c| c.starts_with(&format!("{name}=")))
                .cloned()
        };
        let (set_cookie, sign_in_cookie) = (
            named("payments_console"),
            named("payments_console_sign_in").map(|c| c.split(';').next().unwrap().to_string()),
        );
        Page {
            status: response.status().as_u16(),
            location,
            set_cookie,
            sign_in_cookie,
            html: response.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(self.client.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    /// Posts the sign-in form as a browser does: with the form's CSRF token and its cookie.
    async fn post_sign_in(&self, token: &str) -> Page {
        let form = self.get("/console/sign-in").await;
        let nonce = form.sign_in_cookie.clone().expect("the sign-in cookie");
        let csrf = form.csrf();
        let request = self
            .client
            .post(format!("{}/console/sign-in", self.base))
            .header("Cookie", nonce)
            .form(&[("csrf_token", csrf.as_str()), ("token", token)]);
        self.send(request).await
    }

    /// Signs in with `token`; keeps the session cookie.
    async fn sign_in(&mut self, token: &str) -> Page {
        let page = self.post_sign_in(token).await;
        assert_eq!(page.status, 303, "{}", page.html);
        let cookie = page.set_cookie.clone().expect("a session cookie");
        self.cookie = Some(cookie.split(';').next().unwrap().to_string());
        page
    }
}

async fn submit_manual(app: &TestApp, member: &str, invoice_id: &str, reference: &str) -> String {
    let answer = app
        .billing(
            "POST",
            "/payments/manual/",
            member,
            Some(json!({"invoice_id": invoice_id, "payment_method": "bank_transfer", "transaction_reference": reference})),
        )
        .await
        .expect(201);
    answer["data"]["id"].as_str().unwrap().to_string()
}

async fn balance(app: &TestApp, member: &str) -> String {
    app.billing_get("/balance/", member).await.expect(200)["data"]["balance"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn sign_in_sets_a_strict_http_only_cookie(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let t = tenant(&app, "7701234567").await;
    let mut browser = Browser::new(&app);

    let anonymous = browser.get("/console/approvals").await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location.as_deref(), Some("/console/sign-in"));
    let form = browser.get("/console/sign-in").await;
    assert_eq!(form.status, 200);
    assert!(form.html.contains("<label for=\"token\">API token</label>"));

    // Signing in changes state: without the form's CSRF token and cookie, 403.
    let forged = browser
        .post("/console/sign-in", &[("token", t.staff.as_str())])
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.set_cookie.is_none());
    let refused = browser.post_sign_in("pay_not-a-token").await;
    assert_eq!(refused.status, 401);
    assert!(refused.set_cookie.is_none());
    assert!(refused.html.contains("Invalid or revoked token."));

    let signed = browser.sign_in(&t.staff).await;
    let cookie = signed.set_cookie.unwrap();
    assert!(cookie.starts_with("payments_console=ses_"), "{cookie}");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "not configured: {cookie}");
    assert_eq!(signed.location.as_deref(), Some("/console/"));

    let home = browser.get("/console/").await;
    assert_eq!(home.location.as_deref(), Some("/console/approvals"));
    let approvals = browser.get("/console/approvals").await;
    assert_eq!(approvals.status, 200);
    for link in [
        "Approvals",
        "Organizations",
        "Payments",
        "Invoices",
        "Ledger",
    ] {
        let href = format!("/console/{}", link.to_lowercase());
        assert!(
            approvals
                .html
                .contains(&format!("<a href=\"{href}\">{link}</a>")),
            "{link}"
        );
    }
    assert!(approvals
        .html
        .contains("<button type=\"submit\">Sign out</button>"));

    // The stylesheet is served from the binary.
    let css = browser.get("/console/console.css").await;
    assert_eq!(css.status, 200);
    assert!(css.html.contains("font-family"));
}

async fn approving_twice_says_already_approved_and_credits_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let t = tenant(&app, "7701234567").await;
    let payment = submit_manual(&app, &t.member, &t.invoice_id, "PP-2211").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&t.staff).await;

    let queue = browser.get("/console/approvals").await;
    let row = queue
        .html
        .split("<tr data-payment=")
        .find(|row| row.contains("PP-2211"))
        .expect("the payment's row");
    for text in [
        "PP-2211",
        "139.00 RUB",
        "bank_transfer",
        ">Approve<",
        ">Reject<",
        "Acme (INN 7701234567)",
    ] {
        assert!(row.contains(text), "{text} in {row}");
    }
    let csrf = queue.csrf();
    let path = format!("/console/payments/{payment}/approve");
    let first = browser
        .post(
            &path,
            &[("csrf_token", &csrf), ("notes", "seen on the statement")],
        )
        .await;
    assert_eq!(first.status, 200);
    assert!(
        first
            .html
            .contains("Payment PP-2211 of 139.00 RUB approved."),
        "{}",
        first.html
    );
    assert!(
        !first.html.contains("<tr data-payment="),
        "the queue is empty"
    );
    let second = browser.post(&path, &[("csrf_token", &csrf)]).await;
    assert_eq!(second.status, 200);
    assert!(second
        .html
        .contains("was already approved; nothing changed."));
    assert_eq!(balance(&app, &t.member).await, "139.00");

    let organization = browser
        .get(&format!("/console/organizations/{}", t.organization_id))
        .await;
    assert_eq!(organization.status, 200);
    assert!(organization.html.contains("data-balance>139.00 RUB<"));
    assert!(organization.html.contains("+139.00 RUB"), "a log entry");
    assert!(organization.html.contains("<svg"), "the chart");
    assert!(organization.html.contains("paid"), "the invoice");

    // A rejection needs a reason (the domain's rule), and a decided payment cannot be rejected.
    let reject = format!("/console/payments/{payment}/reject");
    let no_reason = browser.post(&reject, &[("csrf_token", &csrf)]).await;
    assert_eq!(no_reason.status, 400);
    assert!(no_reason
        .html
        .contains("A reason is required to reject a payment."));
    let too_late = browser
        .post(&reject, &[("csrf_token", &csrf), ("notes", "duplicate")])
        .await;
    assert_eq!(too_late.status, 409);
    assert_eq!(balance(&app, &t.member).await, "139.00");

    let ledger = browser.get("/console/ledger").await;
    assert!(ledger
        .html
        .contains("The ledger holds for all 1 organization(s)."));
}

async fn a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let t = tenant(&app, "7701234567").await;
    let payment = submit_manual(&app, &t.member, &t.invoice_id, "PP-1").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&t.staff).await;
    let path = format!("/console/payments/{payment}/approve");
    let missing = browser.post(&path, &[("notes", "x")]).await;
    assert_eq!(missing.status, 403);
    assert!(missing.html.contains("Forbidden"));
    let wrong = browser.post(&path, &[("csrf_token", "0123")]).await;
    assert_eq!(wrong.status, 403);
    // Another session's token is wrong too: one token per session.
    let mut other = Browser::new(&app);
    other.sign_in(&t.staff).await;
    let others = other.get("/console/approvals").await.csrf();
    assert_ne!(others, browser.get("/console/approvals").await.csrf());
    let foreign = browser.post(&path, &[("csrf_token", &others)]).await;
    assert_eq!(foreign.status, 403);
    let sign_out = browser.post("/console/sign-out", &[]).await;
    assert_eq!(sign_out.status, 403, "sign-out is a form like any other");
    assert_eq!(balance(&app, &t.member).await, "0.00");
    let view = app
        .billing_get("/admin/payments/?status=pending_approval", &t.staff)
        .await
        .expect(200);
    assert_eq!(view["data"]["count"], 1, "still waiting: {view}");
}

async fn members_see_only_their_organization(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let ours = tenant(&app, "7701234567").await;
    let theirs = tenant(&app, "7709876543").await;
    let theirs_payment = submit_manual(&app, &theirs.member, &theirs.invoice_id, "THEIRS").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&ours.member).await;

    let home = browser.get("/console/").await;
    assert_eq!(home.status, 200);
    assert!(home.html.contains("data-balance>0.00 RUB<"));
    assert!(home.html.contains("<svg"), "the chart");
    assert!(home.html.contains("No balance changes yet."));
    assert!(home.html.contains("Report a payment"));
    assert!(!home.html.contains(">Approvals<"), "no staff navigation");

    let own = browser
        .get(&format!("/console/organizations/{}", ours.organization_id))
        .await;
    assert_eq!(own.status, 200);
    for path in [
        format!("/console/organizations/{}", theirs.organization_id),
        format!("/console/payments/{theirs_payment}"),
        "/console/organizations/not-an-id".to_string(),
        "/console/approvals".to_string(),
        "/console/organizations".to_string(),
        "/console/invoices".to_string(),
        "/console/ledger".to_string(),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.html.contains("Not found"), "{path}");
    }
    let csrf = home.csrf();
    let approve = browser
        .post(
            &format!("/console/payments/{theirs_payment}/approve"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(approve.status, 404);
    let payments = browser
        .get(&format!("/console/payments?organization={}", theirs.inn))
        .await;
    assert_eq!(payments.status, 200);
    assert!(
        !payments.html.contains("THEIRS"),
        "a member's list is their own"
    );
    assert_eq!(balance(&app, &theirs.member).await, "0.00");
}

async fn a_member_submits_a_manual_payment_once_per_form(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let t = tenant(&app, "7701234567").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&t.member).await;
    let home = browser.get("/console/").await;
    assert!(home.html.contains("How you can pay"));
    let (csrf, key) = (home.csrf(), home.input("form_key"));
    let form = [
        ("csrf_token", csrf.as_str()),
        ("form_key", key.as_str()),
        ("invoice_id", t.invoice_id.as_str()),
        ("payment_method", "bank_transfer"),
        ("transaction_reference", "PP-77"),
        ("notes", ""),
    ];
    let sent = browser.post("/console/manual-payment", &form).await;
    assert_eq!(sent.status, 200, "{}", sent.html);
    assert!(sent
        .html
        .contains("Payment PP-77 of 139.00 RUB for invoice"));
    assert!(sent.html.contains("waits for approval"));
    // The same form again (a double click): the same payment, not a second one.
    let again = browser.post("/console/manual-payment", &form).await;
    assert_eq!(again.status, 200, "{}", again.html);
    let payments = app.billing_get("/payments/", &t.member).await.expect(200);
    assert_eq!(payments["data"]["count"], 1, "{payments}");
    assert_eq!(payments["data"]["results"][0]["status"], "pending_approval");
    // A new form for the same invoice: the domain refuses a second waiting payment.
    let key2 = browser.get("/console/").await.input("form_key");
    let mut second = form;
    second[1] = ("form_key", key2.as_str());
    let refused = browser.post("/console/manual-payment", &second).await;
    assert_eq!(refused.status, 409, "{}", refused.html);
}

async fn refund_needs_a_confirmation(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let t = tenant(&app, "7701234567").await;
    let payment = submit_manual(&app, &t.member, &t.invoice_id, "PP-9").await;
    app.billing(
        "POST",
        &format!("/admin/payments/{payment}/approve/"),
        &t.staff,
        None,
    )
    .await
    .expect(200);
    let mut browser = Browser::new(&app);
    browser.sign_in(&t.staff).await;
    let page = browser.get(&format!("/console/payments/{payment}")).await;
    assert!(page.html.contains(">Refund<"));
    let csrf = page.csrf();
    let refund = format!("/console/payments/{payment}/refund");
    let confirm = browser.post(&refund, &[("csrf_token", &csrf)]).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.html.contains(">Confirm<"));
    assert_eq!(balance(&app, &t.member).await, "139.00", "not yet");
    let done = browser
        .post(&refund, &[("csrf_token", &csrf), ("confirm", "yes")])
        .await;
    assert!(
        done.html.contains("Payment PP-9 of 139.00 RUB refunded."),
        "{}",
        done.html
    );
    assert_eq!(balance(&app, &t.member).await, "0.00");

    let filtered = browser
        .get("/console/payments?status=refunded&method=bank_transfer&from=2000-01-01")
        .await;
    assert!(filtered.html.contains("PP-9"));
    let none = browser.get("/console/payments?status=failed").await;
    assert!(!none.html.contains("PP-9"));
    let bad = browser.get("/console/payments?from=yesterday").await;
    assert_eq!(bad.status, 400);
    assert!(bad.html.contains("Date has wrong format"));

    let search = browser.get("/console/organizations?q=7701").await;
    assert!(search.html.contains(">Acme</a>") && search.html.contains(">7701234567</a>"));
    let first_input = search.html.find("<input").unwrap();
    assert!(search.html[first_input..].starts_with("<input id=\"q\" name=\"q\" type=\"text\""));
    let issued = browser
        .post(
            "/console/invoices",
            &[
                ("csrf_token", &csrf),
                ("organization_id", &t.organization_id),
                ("amount", "250.5"),
                ("number", "INV-CONSOLE-1"),
            ],
        )
        .await;
    assert!(
        issued
            .html
            .contains("Invoice INV-CONSOLE-1 of 250.50 RUB issued."),
        "{}",
        issued.html
    );
}

async fn sign_out_and_revocation_end_the_session_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let staff_record = {
        let database = Arc::new(app.db.database().clone());
        IssueToken::new(database.clone(), database)
            .create(Role::Staff, None, "ops", payments::os_random(), Utc::now())
            .await
            .unwrap()
    };
    let mut browser = Browser::new(&app);
    browser.sign_in(&staff_record.plaintext).await;
    let page = browser.get("/console/approvals").await;
    assert_eq!(page.status, 200);
    let out = browser
        .post("/console/sign-out", &[("csrf_token", &page.csrf())])
        .await;
    assert_eq!(out.status, 303);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    // The old cookie is dead on the server, not just cleared in the browser.
    let after = browser.get("/console/approvals").await;
    assert_eq!(after.location.as_deref(), Some("/console/sign-in"));

    browser.sign_in(&staff_record.plaintext).await;
    assert_eq!(browser.get("/console/approvals").await.status, 200);
    let database = Arc::new(app.db.database().clone());
    IssueToken::new(database.clone(), database)
        .revoke(staff_record.record.id, Utc::now())
        .await
        .unwrap();
    let revoked = browser.get("/console/approvals").await;
    assert_eq!(revoked.location.as_deref(), Some("/console/sign-in"));
    let again = browser.post_sign_in(&staff_record.plaintext).await;
    assert_eq!(again.status, 401);
}

on_both_backends!(
    sign_in_sets_a_strict_http_only_cookie,
    approving_twice_says_already_approved_and_credits_once,
    a_post_without_the_right_csrf_token_is_refused_and_changes_nothing,
    members_see_only_their_organization,
    a_member_submits_a_manual_payment_once_per_form,
    refund_needs_a_confirmation,
    sign_out_and_revocation_end_the_session_at_once,
);

#[tokio::test]
async fn the_cookie_is_secure_when_configured() {
    let app = spawn_with(Backend::Sqlite, |args| args.console_secure_cookie = true)
        .await
        .unwrap();
    let staff = app.staff_token().await;
    let mut browser = Browser::new(&app);
    let signed = browser.sign_in(&staff).await;
    assert!(signed.set_cookie.unwrap().ends_with("; Secure"));
}
