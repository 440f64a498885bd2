//! Webhook throughput and latency of the real application over HTTP, on SQLite and (when
//! `PAYMENTS_TEST_DATABASE_URL` is set) PostgreSQL. Run with `cargo bench -p payments` or
//! `just bench`.
//!
//! Machines here are shared and noisy, so every figure is the median of several rounds, and
//! the conclusions are ratios measured in the same run:
//! - concurrency speed-up: throughput with 32 clients over throughput with 1;
//! - hot-row cost: 32 clients paying many organizations over 32 clients paying one (whose
//!   balance row serializes them);
//! - retry fast path: latency of a new payment over latency of a repeated delivery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use payments::config::ServeArgs;
use payments::Application;
use payments_adapters_diesel::test_support::{self, TestDatabase};
use payments_domain::signature::{self, WebhookSecret};
use serde_json::json;
use tokio::task::JoinSet;

const SECRET: &str = "bench-secret";
const ROUNDS: usize = 3;

struct Target {
    name: &'static str,
    base: String,
    client: reqwest::Client,
    _db: TestDatabase,
}

async fn start(name: &'static str, db: TestDatabase) -> Target {
    let args = ServeArgs {
        listen: "127.0.0.1:0".parse().expect("address"),
        webhook_secrets: vec![SECRET.into()],
        ..ServeArgs::default()
    };
    let app = Application::build(db.database().clone(), &args)
        .await
        .expect("app");
    let base = format!("http://127.0.0.1:{}/api/webhook/bank/", app.port());
    tokio::spawn(app.run_until_stopped());
    Target {
        name,
        base,
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client"),
        _db: db,
    }
}

fn body(operation_id: &str, inn: &str) -> String {
    json!({
        "operation_id": operation_id,
        "amount": "10.00",
        "payer_inn": inn,
        "document_number": "PAY-1",
        "document_date": "2024-04-27T21:00:00Z",
    })
    .to_string()
}

async fn post(client: &reqwest::Client, url: &str, body: String) -> Duration {
    let secret = WebhookSecret::new(SECRET).expect("secret");
    let signature = signature::sign(&secret, Utc::now().timestamp(), body.as_bytes());
    let started = Instant::now();
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Signature", signature)
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status().as_u16(),
        200,
        "benchmark requests must succeed"
    );
    let _ = response.bytes().await;
    started.elapsed()
}

/// Sends `bodies` with `clients` concurrent senders; returns (requests per second, median latency).
async fn run(target: &Target, bodies: Vec<String>, clients: usize) -> (f64, Duration) {
    let total = bodies.len();
    let queue = Arc::new(tokio::sync::Mutex::new(bodies));
    let started = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..clients {
        let (queue, client, url) = (queue.clone(), target.client.clone(), target.base.clone());
        set.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().await.pop();
                let Some(body) = next else { break };
                latencies.push(post(&client, &url, body).await);
            }
            latencies
        });
    }
    let mut latencies: Vec<Duration> = set.join_all().await.into_iter().flatten().collect();
    let elapsed = started.elapsed();
    latencies.sort();
    (
        total as f64 / elapsed.as_secs_f64(),
        latencies[latencies.len() / 2],
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn fresh_ids(n: usize) -> Vec<String> {
    (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect()
}

async fn measure(target: &Target) {
    let n = 400;
    let (mut one_client, mut many_inns, mut one_inn, mut new_latency, mut retry_latency) =
        (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let inn = |i: usize| format!("{:010}", 1_000_000_000 + round * 100_000 + i);
        let bodies = fresh_ids(n / 4)
            .iter()
            .enumerate()
            .map(|(i, id)| body(id, &inn(i)))
            .collect();
        let (rps, latency) = run(target, bodies, 1).await;
        one_client.push(rps);
        new_latency.push(latency.as_secs_f64());

        let bodies = fresh_ids(n)
            .iter()
            .enumerate()
            .map(|(i, id)| body(id, &inn(50_000 + i)))
            .collect();
        many_inns.push(run(target, bodies, 32).await.0);

        let hot = inn(99_999);
        let bodies = fresh_ids(n).iter().map(|id| body(id, &hot)).collect();
        one_inn.push(run(target, bodies, 32).await.0);

        // Retries of operations already recorded (the bank redelivering).
        let ids = fresh_ids(n / 4);
        let first: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| body(id, &inn(70_000 + i)))
            .collect();
        run(target, first.clone(), 8).await;
        retry_latency.push(run(target, first, 1).await.1.as_secs_f64());
    }
    let (one_client, many_inns, one_inn) = (median(one_client), median(many_inns), median(one_inn));
    let (new_latency, retry_latency) = (median(new_latency), median(retry_latency));
    println!("\n{} (median of {ROUNDS} rounds)", target.name);
    println!(
        "  1 client, new payments          {:>8.0} req/s   median latency {:>6.2} ms",
        one_client,
        new_latency * 1e3
    );
    println!("  32 clients, many organizations  {:>8.0} req/s", many_inns);
    println!("  32 clients, one organization    {:>8.0} req/s", one_inn);
    println!(
        "  1 client, repeated deliveries                   median latency {:>6.2} ms",
        retry_latency * 1e3
    );
    println!(
        "  ratio  concurrency speed-up (32 vs 1 client)      {:>5.2}x",
        many_inns / one_client
    );
    println!(
        "  ratio  hot-row cost (many vs one organization)    {:>5.2}x",
        many_inns / one_inn
    );
    println!(
        "  ratio  retry fast path (new vs repeated latency)  {:>5.2}x",
        new_latency / retry_latency
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sqlite = start("SQLite", test_support::fresh_sqlite()).await;
        measure(&sqlite).await;
        match test_support::fresh_postgres() {
            Some(db) => measure(&start("PostgreSQL", db).await).await,
            None => println!("\nPostgreSQL: skipped (set PAYMENTS_TEST_DATABASE_URL)"),
        }
    });
}
