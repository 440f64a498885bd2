//! Running the service: graceful shutdown of the real binary, readiness that follows the
//! database, metrics that move, the OpenAPI document and `payments config`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{
    new_operation_id, payment, sign, spawn_app, spawn_with_impatient_pool, Backend, SECRET,
};
use serde_json::json;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Server {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts the real `payments` binary on SQLite and waits for `/healthz`.
fn start_binary(grace_secs: u64) -> Server {
    let dir = std::env::temp_dir().join(format!("payments-op-{}", uuid::Uuid::new_v4().simple()));
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_payments"))
        .env("DATABASE_URL", dir.join("db.sqlite3"))
        .env("PAYMENTS_LISTEN", format!("127.0.0.1:{port}"))
        .env("PAYMENTS_WEBHOOK_SECRETS", SECRET)
        .env("PAYMENTS_SHUTDOWN_GRACE_SECS", grace_secs.to_string())
        .env("PAYMENTS_WORKERS", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the payments binary");
    let server = Server { child, port, dir };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if get(port, "/healthz").starts_with("HTTP/1.1 200") {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "the binary did not become healthy"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The raw answer to a `GET` of `path` on one connection; empty when the server is not there.
fn get(port: u16, path: &str) -> String {
    let mut answer = String::new();
    if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let _ = stream.write_all(request.as_bytes());
        let _ = stream.read_to_string(&mut answer);
    }
    answer
}

/// The server's `http_requests_in_flight`, not counting the scrape that reads it (0 when the
/// scrape fails).
fn requests_in_flight(port: u16) -> i64 {
    get(port, "/metrics")
        .lines()
        .find_map(|line| line.strip_prefix("http_requests_in_flight "))
        .and_then(|value| value.trim().parse::<i64>().ok())
        .map_or(0, |with_this_scrape| with_this_scrape - 1)
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let mut server = start_binary(10);
    // Five requests whose bodies are only half sent: the handlers are running when SIGTERM
    // arrives.
    let mut in_flight = Vec::new();
    for _ in 0..5 {
        let body = payment(&new_operation_id(), json!(10), "1234567890").to_string();
        let head = format!(
            "POST /api/webhook/bank/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             X-Signature: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            sign(SECRET, body.as_bytes()),
            body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let half = body.len() / 2;
        stream.write_all(head.as_bytes()).expect("head");
        stream
            .write_all(&body.as_bytes()[..half])
            .expect("first half");
        in_flight.push((stream, body, half));
    }
    // SIGTERM only once the server is inside all five (a fixed pause could be too short on
    // a loaded machine: a connection not yet accepted would be closed with the listener).
    let deadline = Instant::now() + Duration::from_secs(20);
    while requests_in_flight(server.port) < 5 {
        assert!(
            Instant::now() < deadline,
            "the five requests never reached the handlers"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    // The listener closes at once, while the five requests are still in flight.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    for (mut stream, body, half) in in_flight {
        stream
            .write_all(&body.as_bytes()[half..])
            .expect("second half");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("an answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.contains("Payment processed successfully"),
            "{answer}"
        );
    }
    // Then the process exits cleanly.
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the binary did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn metrics_move_with_traffic() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.post_webhook(&payment(&new_operation_id(), json!("12.34"), "1234567890"))
        .await
        .expect(200);
    app.post_with_signature(b"{}", None).await.expect(401);
    app.get("/nowhere", None).await.expect(404);
    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text;
    assert!(
        text.contains(r#"webhook_outcomes_total{outcome="accepted"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"webhook_outcomes_total{outcome="unauthorized"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("balance_credited_minor_units_total 1234"),
        "{text}"
    );
    assert!(text.contains(r#"route="/api/webhook/bank/""#), "{text}");
    assert!(text.contains("db_pool_max_size 16"), "{text}");
    let checkouts: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("db_pool_checkouts_total "))
        .and_then(|value| value.parse().ok())
        .expect("db_pool_checkouts_total");
    assert!(checkouts >= 1, "the webhook took a connection: {text}");
    assert!(text.contains("db_pool_wait_seconds_total"), "{text}");
}

#[tokio::test]
async fn openapi_and_docs_are_served_offline() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let spec = app.get("/openapi.json", None).await.expect(200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/webhook/bank/",
        "/api/organizations/{inn}/balance/",
        "/api/v1/billing/payments/manual/",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the spec"
        );
    }
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    let html = docs.text().await.unwrap();
    assert!(
        !html.contains("https://"),
        "the docs UI must not load anything remote"
    );
}

#[tokio::test]
async fn readiness_and_liveness_on_a_healthy_database() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    assert_eq!(
        app.get("/healthz", None).await.expect(200),
        json!({"status": "ok"})
    );
    assert_eq!(
        app.get("/readyz", None).await.expect(200),
        json!({"status": "ready"})
    );
}

/// PostgreSQL only (an SQLite file cannot be taken away from an open process): the database
/// is made unreachable (connections refused and cut), then reachable again; `/readyz` follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_follows_a_postgres_database() {
    let Some(app) = spawn_with_impatient_pool(Backend::Postgres).await else {
        return;
    };
    // A second scratch database, to run administrative SQL about the first from outside it.
    let admin = payments_adapters_diesel::test_support::fresh_postgres().expect("postgres");
    let name = app.db.url().rsplit('/').next().unwrap().to_string();
    app.get("/readyz", None).await.expect(200);

    admin
        .execute_sql(&format!(
            "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
        ))
        .unwrap();
    let down = app.get("/readyz", None).await;
    let body = down.expect(503);
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["reason"], "database unreachable");

    admin
        .execute_sql(&format!(
            "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS true"
        ))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = app.get("/readyz", None).await;
        if answer.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still not ready: {}",
            answer.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn config_command_prints_the_effective_configuration_with_secrets_masked() {
    let output = Command::new(env!("CARGO_BIN_EXE_payments"))
        .args(["config"])
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@db.internal/payments",
        )
        .env("PAYMENTS_WEBHOOK_SECRETS", "very-secret-1,very-secret-2")
        .output()
        .expect("run payments config");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("DATABASE_URL=postgres://app:****@db.internal/payments"),
        "{text}"
    );
    assert!(
        text.contains("PAYMENTS_WEBHOOK_SECRETS=2 configured"),
        "{text}"
    );
    assert!(
        !text.contains("hunter2") && !text.contains("very-secret"),
        "{text}"
    );

    let bad = Command::new(env!("CARGO_BIN_EXE_payments"))
        .args(["config"])
        .env("PAYMENTS_LISTEN", "not-an-address")
        .output()
        .expect("run payments config");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("PAYMENTS_LISTEN")
            || String::from_utf8_lossy(&bad.stderr).contains("--listen")
    );
}

#[tokio::test]
async fn ledger_verify_passes_on_a_healthy_ledger_and_names_a_broken_organization() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.post_webhook(&payment(&new_operation_id(), json!("10.00"), "1234567890"))
        .await
        .expect(200);
    app.post_webhook(&payment(&new_operation_id(), json!("5.50"), "1234567890"))
        .await
        .expect(200);
    app.post_webhook(&payment(&new_operation_id(), json!(1), "5555555555"))
        .await
        .expect(200);
    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_payments"))
            .args(["ledger", "verify"])
            .env("DATABASE_URL", app.db.url())
            .output()
            .expect("run payments ledger verify")
    };
    let healthy = verify();
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    assert!(String::from_utf8_lossy(&healthy.stderr).contains("2 organizations checked"));

    // A balance changed behind the ledger's back.
    app.db
        .execute_sql(
            "UPDATE organizations SET balance_minor = balance_minor + 1 WHERE inn = '1234567890'",
        )
        .unwrap();
    let broken = verify();
    assert!(!broken.status.success());
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("1234567890"), "{stderr}");
    assert!(!stderr.contains("organization 5555555555"), "{stderr}");
}

#[tokio::test]
async fn readiness_waits_for_migrations() {
    use payments_api_actix::ReadinessCheck;
    let dir =
        std::env::temp_dir().join(format!("payments-ready-{}", uuid::Uuid::new_v4().simple()));
    let database = payments_adapters_diesel::Database::connect(
        &dir.join("db.sqlite3").display().to_string(),
        payments_adapters_diesel::PoolOptions::default(),
    )
    .unwrap();
    let readiness = payments::ops::DatabaseReadiness(database.clone());
    assert_eq!(
        readiness.check().await,
        Err("database migrations pending".to_string())
    );
    payments::migrate(&database).await.unwrap();
    assert_eq!(readiness.check().await, Ok(()));
    drop(readiness);
    drop(database);
    let _ = std::fs::remove_dir_all(dir);
}
