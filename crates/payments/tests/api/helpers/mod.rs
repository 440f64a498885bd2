#![allow(dead_code)] // each test module uses a different subset of the helpers

//! `spawn_app`: the real application on port 0, on a fresh database, with typed helpers.

use std::sync::Arc;

use chrono::Utc;
use payments::config::ServeArgs;
use payments::Application;
use payments_adapters_diesel::test_support::{self, TestDatabase};
use payments_domain::auth::Role;
use payments_domain::signature::{self, WebhookSecret};
use payments_domain::usecases::IssueToken;
use payments_domain::Inn;
use serde_json::{json, Value};

/// Instantiates each `async fn case(backend: Backend)` as a test on SQLite and on PostgreSQL.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::Backend::Postgres).await
                }
            )*
        }
    };
}

pub const BILLING: &str = "/api/v1/billing";

pub const SECRET: &str = "test-webhook-secret";
pub const INN: &str = "1234567890";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    pub legacy: bool,
}

/// Starts the app with webhook secret [`SECRET`]; `None` when the backend is not available
/// (PostgreSQL without `PAYMENTS_TEST_DATABASE_URL`: the helper says so on stderr).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, |args| {
        args.webhook_secrets = vec![SECRET.to_string()]
    })
    .await
}

/// Starts the app in legacy open mode.
pub async fn spawn_legacy_app(backend: Backend) -> Option<TestApp> {
    let mut app = spawn_with(backend, |args| args.legacy_open = true).await?;
    app.legacy = true;
    Some(app)
}

pub async fn spawn_with(
    backend: Backend,
    configure: impl FnOnce(&mut ServeArgs),
) -> Option<TestApp> {
    let db = fresh(backend)?;
    let database = db.database().clone();
    Some(start(db, database, configure).await)
}

/// Like [`spawn_with`], but the app's pool gives up on a connection after one second (so a
/// lost database shows quickly).
pub async fn spawn_with_impatient_pool(backend: Backend) -> Option<TestApp> {
    let db = fresh(backend)?;
    let options = payments_adapters_diesel::PoolOptions {
        max_size: 4,
        connection_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let database = payments_adapters_diesel::Database::connect(db.url(), options).expect("connect");
    Some(
        start(db, database, |args| {
            args.webhook_secrets = vec![SECRET.to_string()]
        })
        .await,
    )
}

fn fresh(backend: Backend) -> Option<TestDatabase> {
    match backend {
        Backend::Sqlite => Some(test_support::fresh_sqlite()),
        Backend::Postgres => test_support::fresh_postgres(),
    }
}

async fn start(
    db: TestDatabase,
    database: payments_adapters_diesel::Database,
    configure: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    let mut args = ServeArgs {
        listen: "127.0.0.1:0".parse().expect("address"),
        workers: Some(2),
        shutdown_grace_secs: 1,
        ..ServeArgs::default()
    };
    configure(&mut args);
    let app = Application::build(database, &args)
        .await
        .expect("application builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        db,
        legacy: false,
    }
}

pub fn payment(operation_id: &str, amount: Value, inn: &str) -> Value {
    json!({
        "operation_id": operation_id,
        "amount": amount,
        "payer_inn": inn,
        "document_number": "PAY-328",
        "document_date": "2024-04-27T21:00:00Z",
    })
}

pub fn new_operation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// Asserts status and a JSON content type, returns the body.
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert!(
            self.content_type.starts_with("application/json"),
            "content type {:?} for {}",
            self.content_type,
            self.text
        );
        self.json()
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.expect("body");
    Answer {
        status,
        content_type,
        text,
        headers,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Posts raw bytes, signed with [`SECRET`] unless in legacy mode.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Answer {
        let mut request = self
            .client
            .post(self.url(path))
            .header("Content-Type", content_type)
            .body(body.to_vec());
        if !self.legacy {
            request = request.header("X-Signature", sign(SECRET, body));
        }
        answer(request.send().await.expect("request")).await
    }

    /// Posts raw bytes with the given signature header (or none).
    pub async fn post_with_signature(&self, body: &[u8], signature: Option<String>) -> Answer {
        let mut request = self
            .client
            .post(self.url("/api/webhook/bank/"))
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("X-Signature", signature);
        }
        answer(request.send().await.expect("request")).await
    }

    pub async fn post_webhook(&self, body: &Value) -> Answer {
        self.post_raw(
            "/api/webhook/bank/",
            "application/json",
            body.to_string().as_bytes(),
        )
        .await
    }

    /// Any request with an optional bearer token and JSON body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request")).await
    }

    /// A billing API request with a bearer token; `path` is relative to [`BILLING`].
    pub async fn billing(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        self.send(method, &format!("{BILLING}{path}"), Some(token), body)
            .await
    }

    /// `GET` of a billing API path relative to [`BILLING`].
    pub async fn billing_get(&self, path: &str, token: &str) -> Answer {
        self.billing("GET", path, token, None).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.expect("request")).await
    }

    pub async fn balance(&self, inn: &str, token: &str) -> Answer {
        self.get(&format!("/api/organizations/{inn}/balance/"), Some(token))
            .await
    }

    /// The balance as its literal JSON text (`"145000.00"`), or `None` on 404.
    pub async fn balance_text(&self, inn: &str, token: &str) -> Option<String> {
        let answer = self.balance(inn, token).await;
        if answer.status == 404 {
            return None;
        }
        assert_eq!(answer.status, 200, "{}", answer.text);
        let prefix = format!(r#"{{"inn":"{inn}","balance":"#);
        let rest = answer
            .text
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("unexpected body {}", answer.text));
        Some(rest.trim_end_matches('}').to_string())
    }

    pub async fn token(&self, role: Role, inn: Option<&str>) -> String {
        let database = Arc::new(self.db.database().clone());
        let inn = inn.map(|i| Inn::parse(i).expect("inn"));
        IssueToken::new(database.clone(), database)
            .create(
                role,
                inn.as_ref(),
                "test",
                payments::os_random(),
                Utc::now(),
            )
            .await
            .expect("token")
            .plaintext
    }

    pub async fn staff_token(&self) -> String {
        self.token(Role::Staff, None).await
    }
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    sign_at(secret, body, Utc::now().timestamp())
}

pub fn sign_at(secret: &str, body: &[u8], timestamp: i64) -> String {
    let secret = WebhookSecret::new(secret).expect("secret");
    signature::sign(&secret, timestamp, body)
}

/// A staff token, an organization, a pending invoice of 139.00 and a member token.
pub struct Tenant {
    pub staff: String,
    pub member: String,
    pub organization_id: String,
    pub inn: String,
    pub invoice_id: String,
}

pub async fn tenant(app: &TestApp, inn: &str) -> Tenant {
    let staff = app.staff_token().await;
    let org = app
        .billing(
            "POST",
            "/admin/organizations/",
            &staff,
            Some(json!({"inn": inn, "name": "Acme"})),
        )
        .await
        .expect(201);
    assert_eq!(org["success"], true);
    let organization_id = org["data"]["id"].as_str().unwrap().to_string();
    let invoice = app
        .billing(
            "POST",
            "/admin/invoices/",
            &staff,
            Some(json!({"organization_id": organization_id, "amount": "139"})),
        )
        .await
        .expect(201);
    assert_eq!(invoice["data"]["status"], "pending");
    assert_eq!(invoice["data"]["amount"], "139.00");
    let member = app.token(Role::Member, Some(inn)).await;
    Tenant {
        staff,
        member,
        organization_id,
        inn: inn.to_string(),
        invoice_id: invoice["data"]["id"].as_str().unwrap().to_string(),
    }
}
