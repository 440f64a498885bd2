//! The operator console in a real browser: headless Chromium, driven through chromedriver
//! (WebDriver) with fantoccini, against the real `payments` binary on a fresh SQLite file.
//!
//! Scenarios: a member signs in and submits a manual payment; a member cannot open another
//! organization's page (404); staff sign in, find the payment by its reference, approve it and
//! see the organization's balance and log change; a form posted without its CSRF token is
//! refused; sign-out ends the session. Screenshots of the main pages go to `docs/screenshots/` with `PAYMENTS_UPDATE_SCREENSHOTS=1`.
//!
//! Needs `chromium` and `chromium-driver` (Debian). Without them the test prints
//! `SKIPPED (browser)` and passes, unless `PAYMENTS_TEST_REQUIRE_BROWSER=1` (CI) makes it fail.
//! `PAYMENTS_TEST_CHROMIUM` and `PAYMENTS_TEST_CHROMEDRIVER` override the binaries' paths.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use payments_domain::signature::{self, WebhookSecret};
use serde_json::{json, Value};

const SECRET: &str = "browser-test-secret";
const OURS: &str = "7701234567";
const THEIRS: &str = "7709876543";

/// A child process killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn find_binary(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(env) {
        return Some(PathBuf::from(path));
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// The real service on a fresh SQLite file.
struct Service {
    _process: Process,
    base: String,
    database: PathBuf,
    http: reqwest::Client,
}

impl Service {
    fn start(dir: &Path) -> Self {
        let port = free_port();
        let database = dir.join("console.sqlite3");
        let process = Command::new(env!("CARGO_BIN_EXE_payments"))
            .arg("serve")
            .env("DATABASE_URL", &database)
            .env("PAYMENTS_LISTEN", format!("127.0.0.1:{port}"))
            .env("PAYMENTS_WEBHOOK_SECRETS", SECRET)
            .env("PAYMENTS_WORKERS", "2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the payments binary starts");
        wait_for_port(port, "payments");
        Self {
            _process: Process(process),
            base: format!("http://127.0.0.1:{port}"),
            database,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// `payments token create`, as an operator runs it.
    fn token(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_payments"))
            .args(["token", "create"])
            .args(args)
            .env("DATABASE_URL", &self.database)
            .output()
            .expect("payments token create");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    async fn api(&self, method: &str, path: &str, token: &str, body: Value) -> Value {
        let url = format!("{}/api/v1/billing{path}", self.base);
        let request = match method {
            "POST" => self.http.post(url).json(&body),
            _ => self.http.get(url),
        };
        let response = request.bearer_auth(token).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    async fn webhook(&self, amount: &str, inn: &str) {
        let body = json!({
            "operation_id": uuid::Uuid::new_v4().to_string(),
            "amount": amount,
            "payer_inn": inn,
            "document_number": "PAY-1",
            "document_date": "2026-11-20T09:00:00Z",
        })
        .to_string();
        let secret = WebhookSecret::new(SECRET).unwrap();
        let signature = signature::sign(&secret, Utc::now().timestamp(), body.as_bytes());
        let response = self
            .http
            .post(format!("{}/api/webhook/bank/", self.base))
            .header("Content-Type", "application/json")
            .header("X-Signature", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// Status of a console page fetched with a session cookie (WebDriver shows no status).
    async fn status_with_cookie(&self, path: &str, cookie: &str) -> u16 {
        self.http
            .get(format!("{}{path}", self.base))
            .header("Cookie", format!("payments_console={cookie}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// Headless Chromium behind chromedriver. The flags keep it off the network (the machine has
/// none, and Chromium otherwise waits on it) and out of the user's profile.
async fn browser(dir: &Path) -> Option<(Process, Client)> {
    let chromium = find_binary(
        "PAYMENTS_TEST_CHROMIUM",
        &[
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ],
    );
    let driver = find_binary("PAYMENTS_TEST_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        let required = std::env::var("PAYMENTS_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "PAYMENTS_TEST_REQUIRE_BROWSER=1 but chromium or chromedriver is missing \
             (apt-get install chromium chromium-driver)"
        );
        eprintln!("SKIPPED (browser): chromium or chromedriver not found");
        return None;
    };
    let port = free_port();
    let process = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let process = Process(process);
    wait_for_port(port, "chromedriver");
    let profile = dir.join("chromium-profile");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session");
    Some((process, client))
}

async fn text_of(client: &Client) -> String {
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn title_of(client: &Client) -> String {
    client.title().await.unwrap()
}

async fn open(client: &Client, service: &Service, path: &str) {
    client
        .goto(&format!("{}{path}", service.base))
        .await
        .unwrap();
}

/// Signs in with the keyboard only: the token field has the focus, Enter submits.
async fn sign_in(client: &Client, service: &Service, token: &str) {
    open(client, service, "/console/sign-in").await;
    let focused = client.active_element().await.unwrap();
    assert_eq!(focused.attr("id").await.unwrap().as_deref(), Some("token"));
    focused.send_keys(token).await.unwrap();
    client
        .execute("window.__before_click = true;", vec![])
        .await
        .unwrap();
    focused.send_keys(&Key::Enter.to_string()).await.unwrap();
    wait_for_new_page(client).await;
}

/// Every visible form control has a label (the accessibility rule the pages keep).
async fn assert_labelled(client: &Client) {
    let unlabelled = client
        .execute(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')] \
               .filter(e => !e.labels || e.labels.length === 0) \
               .map(e => e.outerHTML);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "controls without a label");
}

/// The button whose visible text is `text`.
async fn button(client: &Client, text: &str) -> Element {
    client
        .find(Locator::XPath(&format!(
            "//button[normalize-space()='{text}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("no button {text:?}: {e}"))
}

/// Clicks what submits a form or follows a link, and waits until the next page has loaded
/// (WebDriver's click does not promise to wait for the navigation).
async fn follow(client: &Client, element: Element) {
    client
        .execute("window.__before_click = true;", vec![])
        .await
        .unwrap();
    element.click().await.unwrap();
    wait_for_new_page(client).await;
}

/// Waits until the page marked with `__before_click` has been replaced and the new one loaded.
async fn wait_for_new_page(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let loaded = client
            .execute(
                "return window.__before_click === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if matches!(loaded, Ok(Value::Bool(true))) {
            return;
        }
        assert!(Instant::now() < deadline, "the click led to no new page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

trait ClickAndFollow {
    async fn click_and_follow(self, client: &Client);
}

impl ClickAndFollow for Element {
    async fn click_and_follow(self, client: &Client) {
        follow(client, self).await
    }
}

async fn session_cookie(client: &Client) -> String {
    client
        .get_named_cookie("payments_console")
        .await
        .expect("the session cookie")
        .value()
        .to_string()
}

/// Saves a PNG of the page. The committed README pictures are refreshed only when asked
/// (`PAYMENTS_UPDATE_SCREENSHOTS=1`), so an ordinary test run leaves the checkout clean; a
/// screenshot is still taken (into the test's temp dir) so that the capture itself is tested.
async fn screenshot(client: &Client, scratch: &Path, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    let dir = if std::env::var_os("PAYMENTS_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
    } else {
        scratch.join("screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The approval row of the payment with this reference.
async fn approval_row(client: &Client, reference: &str) -> Element {
    client
        .find(Locator::XPath(&format!(
            "//table[contains(@class,'approvals')]//tr[td[normalize-space()='{reference}']]"
        )))
        .await
        .unwrap_or_else(|e| panic!("no approval row for {reference}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let dir = std::env::temp_dir().join(format!("payments-console-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some((_driver, client)) = browser(&dir).await else {
        return;
    };
    let service = Service::start(&dir);

    // Two organizations; ours has a history of bank payments (for the chart) and two invoices.
    let staff = service.token(&["--role", "staff", "--name", "ops"]);
    let ours = service
        .api(
            "POST",
            "/admin/organizations/",
            &staff,
            json!({"inn": OURS, "name": "Acme LLC"}),
        )
        .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = service
        .api(
            "POST",
            "/admin/organizations/",
            &staff,
            json!({"inn": THEIRS, "name": "Other Ltd"}),
        )
        .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for amount in ["1200.00", "800.50", "2500.00"] {
        service.webhook(amount, OURS).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let mut invoices = Vec::new();
    for amount in ["139.00", "450.00"] {
        let invoice = service
            .api(
                "POST",
                "/admin/invoices/",
                &staff,
                json!({"organization_id": ours, "amount": amount}),
            )
            .await;
        invoices.push(invoice["data"]["id"].as_str().unwrap().to_string());
    }
    let member = service.token(&["--role", "member", "--inn", OURS, "--name", "accountant"]);
    // A second waiting payment, submitted through the API, for the CSRF scenario.
    service
        .api(
            "POST",
            "/payments/manual/",
            &member,
            json!({"invoice_id": invoices[1], "payment_method": "bank_transfer", "transaction_reference": "PP-3000"}),
        )
        .await;

    // 1. A member signs in and submits a manual payment.
    sign_in(&client, &service, &member).await;
    let home = text_of(&client).await;
    assert!(home.contains("Acme LLC"), "{home}");
    assert!(home.contains("4500.50 RUB"), "the balance: {home}");
    assert!(
        client.find(Locator::Css("figure.chart svg")).await.is_ok(),
        "the chart is on the member's home"
    );
    let form = client
        .find(Locator::Css("form[action='/console/manual-payment']"))
        .await
        .unwrap();
    form.find(Locator::Css("select#invoice_id"))
        .await
        .unwrap()
        .select_by_value(&invoices[0])
        .await
        .unwrap();
    form.find(Locator::Css("select#payment_method"))
        .await
        .unwrap()
        .select_by_value("bank_transfer")
        .await
        .unwrap();
    form.find(Locator::Css("input#transaction_reference"))
        .await
        .unwrap()
        .send_keys("PP-2211")
        .await
        .unwrap();
    button(&client, "Submit payment")
        .await
        .click_and_follow(&client)
        .await;
    let submitted = text_of(&client).await;
    assert!(
        submitted.contains("Payment PP-2211 of 139.00 RUB for invoice"),
        "{submitted}"
    );
    assert!(submitted.contains("waits for approval"), "{submitted}");

    // 2. The member cannot open another organization's page: 404.
    open(
        &client,
        &service,
        &format!("/console/organizations/{theirs}"),
    )
    .await;
    assert!(title_of(&client).await.starts_with("Not found"));
    assert!(!text_of(&client).await.contains("Other Ltd"));
    let member_cookie = session_cookie(&client).await;
    for path in [
        format!("/console/organizations/{theirs}"),
        "/console/approvals".into(),
    ] {
        assert_eq!(
            service.status_with_cookie(&path, &member_cookie).await,
            404,
            "{path}"
        );
    }
    assert_eq!(
        service
            .status_with_cookie(&format!("/console/organizations/{ours}"), &member_cookie)
            .await,
        200
    );

    // 5 (member). Sign-out ends the session on the server.
    open(&client, &service, "/console/").await;
    follow(&client, button(&client, "Sign out").await).await;
    assert!(client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/console/sign-in"));
    open(&client, &service, "/console/").await;
    assert!(client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/console/sign-in"));
    assert_eq!(
        service
            .status_with_cookie("/console/", &member_cookie)
            .await,
        303
    );

    // 3. Staff sign in, see the organization before, find the payment by its reference,
    //    approve it, and see the balance and the log change.
    sign_in(&client, &service, &staff).await;
    open(&client, &service, &format!("/console/organizations/{ours}")).await;
    let before = client
        .find(Locator::Css("[data-balance]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(before, "4500.50 RUB");
    let log_rows_before = client
        .find_all(Locator::Css("table.log tbody tr"))
        .await
        .unwrap()
        .len();
    assert_eq!(log_rows_before, 3);

    open(&client, &service, "/console/approvals").await;
    client.set_window_size(1280, 720).await.unwrap();
    screenshot(&client, &dir, "staff-approvals").await;
    assert_labelled(&client).await;
    let row = approval_row(&client, "PP-2211").await;
    let row_text = row.text().await.unwrap();
    assert!(
        row_text.contains("139.00 RUB") && row_text.contains("bank_transfer"),
        "{row_text}"
    );
    assert!(row_text.contains("Acme LLC (INN 7701234567)"), "{row_text}");
    row.find(Locator::Css("input[name=notes]"))
        .await
        .unwrap()
        .send_keys("seen on the bank statement")
        .await
        .unwrap();
    row.find(Locator::XPath(".//button[normalize-space()='Approve']"))
        .await
        .unwrap()
        .click_and_follow(&client)
        .await;
    let notice = client
        .find(Locator::Css(".notice"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(notice.contains("approved"), "{notice}");
    assert!(!notice.contains("already"), "{notice}");

    // Find the organization by INN with the search box, the page's first text input.
    open(&client, &service, "/console/organizations").await;
    let search = client
        .find(Locator::Css("input:not([type=hidden])"))
        .await
        .unwrap();
    assert_eq!(search.attr("name").await.unwrap().as_deref(), Some("q"));
    search.send_keys(OURS).await.unwrap();
    follow(&client, button(&client, "Search").await).await;
    client
        .find(Locator::LinkText("Acme LLC"))
        .await
        .unwrap()
        .click_and_follow(&client)
        .await;
    let after = client
        .find(Locator::Css("[data-balance]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(after, "4639.50 RUB");
    let log = client
        .find_all(Locator::Css("table.log tbody tr"))
        .await
        .unwrap();
    assert_eq!(log.len(), log_rows_before + 1);
    let newest = log[0].text().await.unwrap();
    assert!(
        newest.contains("+139.00 RUB") && newest.contains("4639.50 RUB"),
        "{newest}"
    );
    client.set_window_size(1280, 1000).await.unwrap();
    screenshot(&client, &dir, "organization").await;
    assert_labelled(&client).await;

    open(&client, &service, "/console/approvals").await;

    // 4. A form posted without its CSRF token is refused and changes nothing.
    let row = approval_row(&client, "PP-3000").await;
    row.find(Locator::Css("input[name=csrf_token]"))
        .await
        .unwrap();
    client
        .execute(
            "arguments[0].querySelector('input[name=csrf_token]').remove();",
            vec![serde_json::to_value(&row).unwrap()],
        )
        .await
        .unwrap();
    row.find(Locator::XPath(".//button[normalize-space()='Approve']"))
        .await
        .unwrap()
        .click_and_follow(&client)
        .await;
    assert!(title_of(&client).await.starts_with("Forbidden"));
    open(&client, &service, "/console/approvals").await;
    approval_row(&client, "PP-3000").await;
    open(&client, &service, &format!("/console/organizations/{ours}")).await;
    let unchanged = client
        .find(Locator::Css("[data-balance]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(unchanged, "4639.50 RUB");

    // 5 (staff). Sign out, and the console asks to sign in again.
    let staff_cookie = session_cookie(&client).await;
    follow(&client, button(&client, "Sign out").await).await;
    open(&client, &service, "/console/approvals").await;
    assert!(client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/console/sign-in"));
    assert_eq!(
        service
            .status_with_cookie("/console/approvals", &staff_cookie)
            .await,
        303
    );

    // The member's home, now with the approved payment.
    sign_in(&client, &service, &member).await;
    client.set_window_size(1280, 1000).await.unwrap();
    screenshot(&client, &dir, "member-home").await;
    assert_labelled(&client).await;
    open(&client, &service, "/console/payments").await;
    assert_labelled(&client).await;
    open(&client, &service, "/console/").await;
    assert!(text_of(&client).await.contains("4639.50 RUB"));
    // The same page on a phone-sized window.
    client.set_window_size(390, 844).await.unwrap();
    screenshot(&client, &dir, "member-home-phone").await;
    let overflow = client
        .execute(
            "const w = document.documentElement.clientWidth; \
             return [...document.querySelectorAll('body *')] \
               .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap')) \
               .map(e => e.tagName + '.' + e.className).slice(0, 5);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow,
        json!([]),
        "nothing but tables scrolls sideways on a phone"
    );

    client.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
