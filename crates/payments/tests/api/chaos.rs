//! Fault tests (`just chaos`): the real binary under load while things break, each run checked
//! against the database afterwards. Every operation a client saw answered 200 is recorded
//! exactly once, nothing is recorded twice, the balance is the exact sum, and
//! `payments ledger verify` passes.
//!
//! - `kill -9` of the service mid-load, clients retrying until they get an answer;
//! - a PostgreSQL restart mid-load (503 JSON within the request timeout, then recovery without
//!   restarting the service), on a throwaway cluster this test starts itself with
//!   `initdb`/`pg_ctl` under a temporary directory: never the shared server;
//! - two instances taking every delivery twice, concurrently;
//! - approve/reject storms on the same payments across two instances.
//!
//! Loopback only, bounded in time (`CHAOS_SECONDS` of load per case, default 4). The tests are
//! `#[ignore]`d in the ordinary run; `just chaos` runs them (`cargo test -p payments --test api chaos:: -- --ignored`). PostgreSQL cases
//! need `PAYMENTS_TEST_DATABASE_URL` like every other PostgreSQL test; the restart case also
//! needs the server binaries (`PG_BIN`, default `/usr/lib/postgresql/15/bin`).

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::{sign, SECRET};
use payments_adapters_diesel::test_support::{self, TestDatabase};
use serde_json::{json, Value};

const INN: &str = "1234567890";
const REQUEST_TIMEOUT_SECS: u64 = 3;

fn load_duration() -> Duration {
    let secs = std::env::var("CHAOS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    Duration::from_secs(secs)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One running `payments serve`.
struct Service {
    child: Child,
    port: u16,
    database_url: String,
}

impl Service {
    fn start(database_url: &str, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_payments"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PAYMENTS_LISTEN", format!("127.0.0.1:{port}"))
            .env("PAYMENTS_WEBHOOK_SECRETS", SECRET)
            .env("PAYMENTS_RATE_LIMIT_PER_MINUTE", "0")
            .env(
                "PAYMENTS_REQUEST_TIMEOUT_SECS",
                REQUEST_TIMEOUT_SECS.to_string(),
            )
            .env("PAYMENTS_DB_CONNECT_TIMEOUT_SECS", "1")
            .env("PAYMENTS_DB_STATEMENT_TIMEOUT_SECS", "2")
            .env("PAYMENTS_DB_POOL_SIZE", "8")
            .env("PAYMENTS_WORKERS", "2")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start payments");
        Self {
            child,
            port,
            database_url: database_url.to_string(),
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/healthz", self.base())).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the service on port {} did not start", self.port);
    }

    /// `kill -9`, then start again on the same port and database.
    async fn kill_and_restart(&mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
        *self = Service::start(&self.database_url.clone(), self.port);
        self.wait_ready().await;
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(database_url: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_payments"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "error")
        .output()
        .expect("run payments");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn staff_token(database_url: &str) -> String {
    let (ok, text) = cli(
        database_url,
        &["token", "create", "--role", "staff", "--name", "chaos"],
    );
    assert!(ok, "{text}");
    text.lines().next().unwrap_or_default().trim().to_string()
}

fn assert_ledger_verifies(database_url: &str) {
    let (ok, text) = cli(database_url, &["ledger", "verify"]);
    assert!(ok, "ledger verify failed: {text}");
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    answered_200: AtomicUsize,
    retries: AtomicUsize,
    statuses: Mutex<HashMap<u16, usize>>,
    /// Slowest non-200 answer (the promise: a 503 within the request timeout).
    slowest_failure: Mutex<Duration>,
    non_json_failures: AtomicUsize,
}

impl Tally {
    fn saw(&self, status: u16) {
        *self.statuses.lock().unwrap().entry(status).or_default() += 1;
    }

    fn report(&self, name: &str) {
        eprintln!(
            "chaos {name}: {} answered 200, {} retries, statuses {:?}, slowest failure {:?}",
            self.answered_200.load(Ordering::SeqCst),
            self.retries.load(Ordering::SeqCst),
            self.statuses.lock().unwrap(),
            self.slowest_failure.lock().unwrap()
        );
    }
}

/// A distinct webhook payment: amount `1.00 + i` cents, so a double credit shows in the sum.
fn operation(i: usize) -> (Vec<u8>, i64) {
    let minor = 100 + i as i64;
    let body = json!({
        "operation_id": uuid::Uuid::new_v4().to_string(),
        "amount": format!("{}.{:02}", minor / 100, minor % 100),
        "payer_inn": INN,
        "document_number": format!("CHAOS-{i}"),
        "document_date": "2026-12-01T00:00:00Z",
    });
    (body.to_string().into_bytes(), minor)
}

/// Delivers `body` to `bases` in turn until one answers 200, as a bank retries. Connection
/// errors and 5xx are retried; anything else is a failure of the test.
async fn deliver(client: &reqwest::Client, bases: &[String], body: &[u8], tally: &Tally) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let signature = sign(SECRET, body);
    let mut attempt = 0usize;
    loop {
        assert!(Instant::now() < deadline, "no 200 after 90 s of retries");
        let base = &bases[attempt % bases.len()];
        attempt += 1;
        let started = Instant::now();
        let sent = client
            .post(format!("{base}/api/webhook/bank/"))
            .header("Content-Type", "application/json")
            .header("X-Signature", &signature)
            .body(body.to_vec())
            .timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS + 5))
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                tally.saw(status);
                let json = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/json"));
                let text = response.text().await.unwrap_or_default();
                match status {
                    200 => {
                        tally.answered_200.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    500..=599 => {
                        let took = started.elapsed();
                        let mut slowest = tally.slowest_failure.lock().unwrap();
                        *slowest = (*slowest).max(took);
                        if !json {
                            tally.non_json_failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    other => panic!("unexpected {other}: {text}"),
                }
            }
            // Connection refused or reset: the service is down or was killed mid-request.
            Err(_) => tally.saw(0),
        }
        tally.retries.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `clients` concurrent senders of fresh operations until `duration` passes; each sender
/// finishes its operation (retrying) before stopping. Returns the sum of the amounts, in minor
/// units, and how many operations there were.
async fn load(
    bases: Vec<String>,
    clients: usize,
    duration: Duration,
    duplicate: bool,
    tally: Arc<Tally>,
) -> (i64, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let sum = Arc::new(Mutex::new(0i64));
    let stop_at = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (bases, next, sum, tally) = (bases.clone(), next.clone(), sum.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while Instant::now() < stop_at {
                let (body, minor) = operation(next.fetch_add(1, Ordering::SeqCst));
                if duplicate {
                    // The same delivery to every instance at once.
                    let sends = bases.iter().enumerate().map(|(i, _)| {
                        let mut order = bases.clone();
                        order.rotate_left(i);
                        let (client, body, tally) = (client.clone(), body.clone(), tally.clone());
                        async move { deliver(&client, &order, &body, &tally).await }
                    });
                    futures_join_all(sends.collect()).await;
                } else {
                    deliver(&client, &bases, &body, &tally).await;
                }
                *sum.lock().unwrap() += minor;
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let total = *sum.lock().unwrap();
    (total, next.load(Ordering::SeqCst))
}

/// Awaits every future (a tiny `join_all`, to need no extra crate).
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(futures: Vec<F>) {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    for handle in handles {
        handle.await.expect("delivery task");
    }
}

/// The database agrees with what the clients were told.
async fn assert_recorded_exactly_once(db: &TestDatabase, base: &str, sum_minor: i64, ops: usize) {
    assert_eq!(
        db.count_rows("payments") as usize,
        ops,
        "every operation answered 200 is one payment row, none twice"
    );
    assert_eq!(
        db.count_rows("balance_log") as usize,
        ops,
        "one log entry each"
    );
    let staff = staff_token(db.url());
    let body = reqwest::Client::new()
        .get(format!("{base}/api/organizations/{INN}/balance/"))
        .bearer_auth(&staff)
        .send()
        .await
        .expect("balance")
        .text()
        .await
        .expect("balance body");
    // The balance is a JSON number written with its two decimals; compare the literal text.
    let expected = format!(
        r#"{{"inn":"{INN}","balance":{}.{:02}}}"#,
        sum_minor / 100,
        sum_minor % 100
    );
    assert_eq!(body, expected);
    assert_ledger_verifies(db.url());
}

fn sqlite_db() -> TestDatabase {
    test_support::fresh_sqlite()
}

// ---------------------------------------------------------------- kill -9

async fn kill_9_mid_load(db: TestDatabase, name: &str) {
    let mut service = Service::start(db.url(), free_port());
    service.wait_ready().await;
    let tally = Arc::new(Tally::default());
    let duration = load_duration();
    let load = tokio::spawn(load(
        vec![service.base()],
        8,
        duration,
        false,
        tally.clone(),
    ));
    // Three kills spread over the load.
    for _ in 0..3 {
        tokio::time::sleep(duration / 4).await;
        service.kill_and_restart().await;
    }
    let (sum, ops) = load.await.expect("load");
    tally.report(name);
    assert!(
        tally.statuses.lock().unwrap().get(&0).is_some(),
        "no kill hit a request"
    );
    assert_recorded_exactly_once(&db, &service.base(), sum, ops).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault test: just chaos"]
async fn sqlite_kill_9_mid_load_loses_nothing_and_pays_nothing_twice() {
    kill_9_mid_load(sqlite_db(), "sqlite kill -9").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault test: just chaos"]
async fn postgres_kill_9_mid_load_loses_nothing_and_pays_nothing_twice() {
    let Some(db) = test_support::fresh_postgres() else {
        return;
    };
    kill_9_mid_load(db, "postgres kill -9").await;
}

// ---------------------------------------------------------------- PostgreSQL restart

/// A PostgreSQL cluster of this test's own, under a temporary directory, on a free port.
struct ThrowawayCluster {
    dir: PathBuf,
    port: u16,
}

impl ThrowawayCluster {
    fn pg_bin(tool: &str) -> PathBuf {
        let dir = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
        Path::new(&dir).join(tool)
    }

    /// PostgreSQL refuses to run as root: as root, the cluster belongs to `postgres`.
    fn run(tool: &str, args: &[&str]) -> std::process::Output {
        let binary = Self::pg_bin(tool);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()))
    }

    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("payments-chaos-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres:"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let data = dir.join("data");
        let data = data.to_str().unwrap();
        let out = Self::run(
            "initdb",
            &["-D", data, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = Self {
            dir,
            port: free_port(),
        };
        cluster.pg_ctl_start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        let out = Self::run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&self) {
        let out = Self::run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        let _ = Self::run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault test: just chaos"]
async fn postgres_restart_mid_load_answers_503_in_time_and_recovers() {
    let cluster = ThrowawayCluster::start();
    let db = test_support::attach(&cluster.url("postgres"));
    let service = Service::start(db.url(), free_port());
    service.wait_ready().await;
    let tally = Arc::new(Tally::default());
    let duration = load_duration() * 2;
    let load = tokio::spawn(load(
        vec![service.base()],
        6,
        duration,
        false,
        tally.clone(),
    ));
    tokio::time::sleep(duration / 4).await;
    cluster.stop();
    // Down for two seconds: requests meanwhile must get a JSON 503 within the request timeout.
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.pg_ctl_start();
    let (sum, ops) = load.await.expect("load");
    tally.report("postgres restart");
    let statuses = tally.statuses.lock().unwrap().clone();
    assert!(
        statuses.get(&503).copied().unwrap_or(0) > 0,
        "the outage was never seen: {statuses:?}"
    );
    assert_eq!(
        statuses.get(&0),
        None,
        "the service dropped connections: {statuses:?}"
    );
    assert_eq!(tally.non_json_failures.load(Ordering::SeqCst), 0);
    let slowest = *tally.slowest_failure.lock().unwrap();
    assert!(
        slowest <= Duration::from_secs(REQUEST_TIMEOUT_SECS) + Duration::from_millis(500),
        "a failure took {slowest:?}"
    );
    // Recovered without a restart of the service: the same process answers again.
    assert_recorded_exactly_once(&db, &service.base(), sum, ops).await;
    drop(service);
    drop(db);
}

// ---------------------------------------------------------------- two instances

async fn two_instances_duplicate_deliveries(db: TestDatabase, name: &str) {
    let a = Service::start(db.url(), free_port());
    let b = Service::start(db.url(), free_port());
    a.wait_ready().await;
    b.wait_ready().await;
    let tally = Arc::new(Tally::default());
    let (sum, ops) = load(
        vec![a.base(), b.base()],
        6,
        load_duration(),
        true,
        tally.clone(),
    )
    .await;
    tally.report(name);
    assert_eq!(tally.answered_200.load(Ordering::SeqCst), ops * 2);
    assert_recorded_exactly_once(&db, &a.base(), sum, ops).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault test: just chaos"]
async fn sqlite_two_instances_take_every_delivery_twice_and_credit_once() {
    two_instances_duplicate_deliveries(sqlite_db(), "sqlite two instances").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault test: just chaos"]
async fn postgres_two_instances_take_every_delivery_twice_and_credit_once() {
    let Some(db) = test_support::fresh_postgres() else {
        return;
    };
    two_instances_duplicate_deliveries(db, "postgres two instances").await;
}

// ---------------------------------------------------------------- approve/reject storms

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let mut request = client.request(method, url).bearer_auth(token);
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn approve_reject_storm(db: TestDatabase, name: &str) {
    let a = Service::start(db.url(), free_port());
    let b = Service::start(db.url(), free_port());
    a.wait_ready().await;
    b.wait_ready().await;
    let client = reqwest::Client::new();
    let billing = |base: &str, path: &str| format!("{base}/api/v1/billing{path}");
    let staff = staff_token(db.url());
    let (status, org) = call(
        &client,
        reqwest::Method::POST,
        billing(&a.base(), "/admin/organizations/"),
        &staff,
        json!({"inn": "7701234567", "name": "Storm LLC"}),
    )
    .await;
    assert_eq!(status, 201, "{org}");
    let organization_id = org["data"]["id"].as_str().unwrap().to_string();
    let (ok, member) = cli(
        db.url(),
        &[
            "token",
            "create",
            "--role",
            "member",
            "--inn",
            "7701234567",
            "--name",
            "storm",
        ],
    );
    assert!(ok, "{member}");
    let member = member.lines().next().unwrap().trim().to_string();

    let payments = 40;
    let mut ids = Vec::new();
    for i in 0..payments {
        let (status, invoice) = call(
            &client,
            reqwest::Method::POST,
            billing(&a.base(), "/admin/invoices/"),
            &staff,
            json!({"organization_id": organization_id, "amount": format!("{}.00", i + 1)}),
        )
        .await;
        assert_eq!(status, 201, "{invoice}");
        let (status, payment) = call(
            &client,
            reqwest::Method::POST,
            billing(&b.base(), "/payments/manual/"),
            &member,
            json!({"invoice_id": invoice["data"]["id"], "payment_method": "bank_transfer",
                   "transaction_reference": format!("STORM-{i}")}),
        )
        .await;
        assert_eq!(status, 201, "{payment}");
        ids.push(payment["data"]["id"].as_str().unwrap().to_string());
    }

    // Every payment gets three approvals and three rejections at once, split across instances.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for id in &ids {
        for k in 0..6 {
            let base = if k % 2 == 0 { a.base() } else { b.base() };
            let (action, body) = if k < 3 {
                ("approve", json!({"admin_notes": "storm"}))
            } else {
                ("reject", json!({"admin_notes": "storm"}))
            };
            let url = billing(&base, &format!("/admin/payments/{id}/{action}/"));
            let (client, staff, id) = (client.clone(), staff.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                // A 503 (pool or lock wait under the storm) is retried, as a client would.
                let mut retries = 0;
                loop {
                    let (status, answer) = call(
                        &client,
                        reqwest::Method::POST,
                        url.clone(),
                        &staff,
                        body.clone(),
                    )
                    .await;
                    if status != 503 || retries == 20 {
                        assert!(
                            status == 200 || status == 409,
                            "{action} {id}: {status} {answer}"
                        );
                        return (id, action, status, retries);
                    }
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }));
        }
    }
    let mut winners: HashMap<String, Vec<&str>> = HashMap::new();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    let mut retried = 0;
    for task in tasks {
        let (id, action, status, retries) = task.await.expect("storm task");
        *statuses.entry(status).or_default() += 1;
        retried += retries;
        if status == 200 {
            winners.entry(id).or_default().push(action);
        }
    }
    eprintln!(
        "chaos {name}: {} actions in {:?}, final statuses {statuses:?}, {retried} retries of 503",
        payments * 6,
        started.elapsed()
    );
    // For each payment, every 200 names the same action: the one that won.
    let mut approved_sum = 0i64;
    let mut approved = 0;
    for (i, id) in ids.iter().enumerate() {
        let actions = winners.get(id).cloned().unwrap_or_default();
        assert!(!actions.is_empty(), "{id}: no action answered 200");
        assert!(
            actions.iter().all(|a| *a == actions[0]),
            "{id}: {actions:?}"
        );
        let (status, payment) = call(
            &client,
            reqwest::Method::GET,
            billing(&a.base(), &format!("/payments/{id}/")),
            &member,
            Value::Null,
        )
        .await;
        assert_eq!(status, 200);
        let expected = if actions[0] == "approve" {
            "succeeded"
        } else {
            "failed"
        };
        assert_eq!(payment["data"]["status"], expected, "{id}");
        if actions[0] == "approve" {
            approved += 1;
            approved_sum += (i as i64 + 1) * 100;
        }
    }
    assert_eq!(db.count_rows("balance_log") as usize, approved);
    let (_, balance) = call(
        &client,
        reqwest::Method::GET,
        billing(&b.base(), "/balance/"),
        &member,
        Value::Null,
    )
    .await;
    let expected = format!("{}.{:02}", approved_sum / 100, approved_sum % 100);
    assert_eq!(balance["data"]["balance"], expected, "{balance}");
    assert_ledger_verifies(db.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault test: just chaos"]
async fn sqlite_approve_reject_storm_across_instances_has_one_winner_each() {
    approve_reject_storm(sqlite_db(), "sqlite storm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault test: just chaos"]
async fn postgres_approve_reject_storm_across_instances_has_one_winner_each() {
    let Some(db) = test_support::fresh_postgres() else {
        return;
    };
    approve_reject_storm(db, "postgres storm").await;
}
