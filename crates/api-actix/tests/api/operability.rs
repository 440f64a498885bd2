//! Request ids, the request span, metrics, health checks and the request timeout, through the
//! whole app.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;
use actix_web::dev::Service;
use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payments_api_actix::{app, ApiState, HttpSettings, PoolStats, ReadinessCheck};
use payments_domain::bank::BankPayment;
use payments_domain::ledger::LedgerError;
use payments_domain::ports::{BankPaymentStore, RecordError, RecordOutcome};
use payments_domain::signature;
use payments_domain::usecases::ReceiveBankPayment;
use payments_domain::{PaymentId, StorageError};
use serde_json::json;

/// Sends each request to one app and collects the answers.
async fn serve(state: ApiState, settings: HttpSettings, requests: Vec<TestRequest>) -> Vec<Answer> {
    let service = test::init_service(app(state, settings)).await;
    let mut answers = Vec::new();
    for request in requests {
        let response = service.call(request.to_request()).await.unwrap();
        answers.push(Answer::read(response).await);
    }
    answers
}

fn is_uuid_v4(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok_and(|uuid| uuid.get_version_num() == 4)
}

/// The value of the sample `name` (with its labels, exactly as exposed).
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

// ---------------------------------------------------------------- request id

#[actix_web::test]
async fn every_answer_carries_a_generated_request_id() {
    let requests = vec![
        TestRequest::get().uri("/healthz"),
        TestRequest::get().uri("/nowhere"),
        TestRequest::put().uri(WEBHOOK),
        unsigned(BODY),
        get(BALANCE, None),
    ];
    let answers = serve(Ports::new().state(), HttpSettings::default(), requests).await;
    let mut ids = Vec::new();
    for answer in &answers {
        let id = answer.header(header::HeaderName::from_static("x-request-id"));
        let id = id.unwrap_or_else(|| panic!("no X-Request-Id on {}", answer.status));
        assert!(is_uuid_v4(id), "{id}");
        ids.push(id.to_string());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), answers.len(), "ids must be unique");
}

#[actix_web::test]
async fn a_sane_client_request_id_is_echoed_and_others_replaced() {
    let long = "x".repeat(128);
    for (sent, kept) in [
        ("req-42", true),
        ("0a1b2c:~!", true),
        (long.as_str(), true),
        (&*"x".repeat(129), false),
        ("two words", false),
        ("", false),
    ] {
        let request = TestRequest::get()
            .uri("/healthz")
            .insert_header(("X-Request-Id", sent));
        let answer = Ports::new().call(request).await;
        let echoed = answer
            .header(header::HeaderName::from_static("x-request-id"))
            .unwrap();
        if kept {
            assert_eq!(echoed, sent);
        } else {
            assert!(is_uuid_v4(echoed), "{sent:?} gave {echoed}");
        }
    }
}

// ---------------------------------------------------------------- request span

/// Everything the fmt subscriber writes, to inspect logs.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn the_request_span_has_the_route_pattern_and_no_secrets() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Other tests of this binary run on other threads without a subscriber. With a single
    // registered dispatcher, tracing caches a callsite's interest from whichever thread hits it
    // first ("never" on those threads); a second, inert one makes it ask each thread's own.
    let _inert = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::subscriber::set_default(subscriber);

    let token = staff_token();
    let now = Utc::now().timestamp();
    let signature = signature::sign(&secret(), now, BODY.as_bytes());
    let requests = vec![
        signed_at(BODY, now).insert_header(("X-Request-Id", "trace-me-1")),
        get("/api/organizations/0987654321/balance/", Some(&token))
            .insert_header(("X-Request-Id", "trace-me-2")),
    ];
    let ports = Ports::new()
        .credited(PaymentId::generate())
        .with_token(&token)
        .with_organization(organization());
    let answers = serve(ports.state(), HttpSettings::default(), requests).await;
    assert_eq!(answers[0].status, StatusCode::OK);
    assert_eq!(answers[1].status, StatusCode::NOT_FOUND);

    let text = logs.text();
    let line = |id: &str| {
        text.lines()
            .find(|line| line.contains("request answered") && line.contains(id))
            .unwrap_or_else(|| panic!("no access line for {id} in:\n{text}"))
            .to_string()
    };
    let webhook = line("request_id=trace-me-1");
    for field in [
        "method=POST",
        "route=/api/webhook/bank/",
        "status=200",
        "latency_ms=",
    ] {
        assert!(webhook.contains(field), "{field} missing: {webhook}");
    }
    let balance = line("request_id=trace-me-2");
    for field in [
        "method=GET",
        "route=/api/organizations/{inn}/balance/",
        "status=404",
    ] {
        assert!(balance.contains(field), "{field} missing: {balance}");
    }
    // Neither the raw path, nor a body, a token or a signature.
    for secret in [
        "0987654321",
        "PAY-328",
        "145000",
        token.plaintext.as_str(),
        signature.as_str(),
        "Bearer",
    ] {
        assert!(!text.contains(secret), "{secret} was logged:\n{text}");
    }
}

// ---------------------------------------------------------------- metrics

#[actix_web::test]
async fn metrics_count_traffic_outcomes_credits_and_pool() {
    let ports = Ports {
        pool_stats: PoolStats {
            size: 5,
            idle: 3,
            max_size: 10,
            checkouts: 7,
            wait_seconds: 0.25,
            checkout_failures: 1,
            corrupt_rows: 2,
        },
        ..Ports::new()
    }
    .credited(PaymentId::generate());
    let requests = vec![
        signed(BODY),
        unsigned(BODY),
        TestRequest::get().uri("/api/nowhere/123"),
        TestRequest::get().uri("/metrics"),
    ];
    let answers = serve(ports.state(), HttpSettings::default(), requests).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(statuses, [200, 401, 404, 200]);
    let scrape = &answers[3];
    assert_eq!(
        scrape.header(header::CONTENT_TYPE),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = &scrape.body;
    for (name, value) in [
        (
            r#"http_requests_total{method="POST",route="/api/webhook/bank/",status="200"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{method="POST",route="/api/webhook/bank/",status="401"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{method="GET",route="unmatched",status="404"}"#,
            1.0,
        ),
        (
            r#"http_request_duration_seconds_count{method="POST",route="/api/webhook/bank/"}"#,
            2.0,
        ),
        (r#"webhook_outcomes_total{outcome="accepted"}"#, 1.0),
        (r#"webhook_outcomes_total{outcome="unauthorized"}"#, 1.0),
        (r#"webhook_outcomes_total{outcome="conflict"}"#, 0.0),
        ("balance_credits_total", 1.0),
        // 145000 RUB in kopecks.
        ("balance_credited_minor_units_total", 14_500_000.0),
        ("db_pool_size", 5.0),
        ("db_pool_idle", 3.0),
        ("db_pool_max_size", 10.0),
        ("db_pool_checkouts_total", 7.0),
        ("db_pool_wait_seconds_total", 0.25),
        ("db_pool_checkout_failures_total", 1.0),
        ("db_corrupt_rows_total", 2.0),
    ] {
        assert_eq!(sample(text, name), Some(value), "{name} in:\n{text}");
    }
    // Raw paths never become labels.
    assert!(!text.contains("/api/nowhere"));
}

#[actix_web::test]
async fn each_webhook_outcome_is_counted() {
    let conflicting = recorded_payment("1");
    let duplicate = recorded_payment("145000");
    let cases: Vec<(&str, Ports, TestRequest)> = vec![
        (
            "accepted",
            Ports::new().credited(PaymentId::generate()),
            signed(BODY),
        ),
        (
            "duplicate",
            Ports::new().recording(move |_| {
                Ok(RecordOutcome::AlreadyRecorded {
                    payment_id: PaymentId::generate(),
                    existing: duplicate.clone(),
                })
            }),
            signed(BODY),
        ),
        (
            "conflict",
            Ports::new().recording(move |_| {
                Ok(RecordOutcome::AlreadyRecorded {
                    payment_id: PaymentId::generate(),
                    existing: conflicting.clone(),
                })
            }),
            signed(BODY),
        ),
        ("rejected", Ports::new(), signed("[]")),
        (
            "rejected",
            Ports::new().recording(|_| {
                Err(RecordError::Ledger(LedgerError::Overflow {
                    max: rub("9999999999999.99"),
                }))
            }),
            signed(BODY),
        ),
        (
            "rejected",
            Ports::new(),
            signed(BODY).insert_header((header::CONTENT_TYPE, "text/plain")),
        ),
        ("unauthorized", Ports::new(), unsigned(BODY)),
        (
            "unavailable",
            Ports::new().recording(|_| Err(RecordError::Storage(StorageError::new("down")))),
            signed(BODY),
        ),
    ];
    for (outcome, ports, request) in cases {
        let answers = serve(
            ports.state(),
            HttpSettings::default(),
            vec![request, TestRequest::get().uri("/metrics")],
        )
        .await;
        let text = &answers[1].body;
        let counted = |name: &str| {
            sample(
                text,
                &format!(r#"webhook_outcomes_total{{outcome="{name}"}}"#),
            )
        };
        assert_eq!(counted(outcome), Some(1.0), "{outcome}:\n{text}");
        let total: f64 = [
            "accepted",
            "duplicate",
            "conflict",
            "rejected",
            "unauthorized",
            "unavailable",
        ]
        .iter()
        .filter_map(|name| counted(name))
        .sum();
        assert_eq!(total, 1.0, "{outcome}: counted once\n{text}");
        let credits = if outcome == "accepted" { 1.0 } else { 0.0 };
        assert_eq!(sample(text, "balance_credits_total"), Some(credits));
    }
}

#[actix_web::test]
async fn apps_with_their_own_state_count_separately() {
    let busy = Ports::new().credited(PaymentId::generate()).state();
    let quiet = Ports::new().state();
    serve(busy, HttpSettings::default(), vec![signed(BODY)]).await;
    let answers = serve(
        quiet,
        HttpSettings::default(),
        vec![TestRequest::get().uri("/metrics")],
    )
    .await;
    assert_eq!(
        sample(
            &answers[0].body,
            r#"webhook_outcomes_total{outcome="accepted"}"#
        ),
        Some(0.0)
    );
}

// ---------------------------------------------------------------- health

/// Passes or fails as the test says, and counts its calls.
#[derive(Default)]
struct SwitchableCheck {
    failing: AtomicBool,
    calls: AtomicUsize,
}

#[async_trait]
impl ReadinessCheck for SwitchableCheck {
    async fn check(&self) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            Err("database unreachable".to_string())
        } else {
            Ok(())
        }
    }
}

#[actix_web::test]
async fn readiness_follows_the_check_and_liveness_does_no_io() {
    let check = Arc::new(SwitchableCheck::default());
    let ports = Ports {
        readiness: check.clone(),
        ..Ports::new()
    };
    let service = test::init_service(app(ports.state(), HttpSettings::default())).await;
    let call = |uri: &'static str| {
        let service = &service;
        async move {
            let request = TestRequest::get().uri(uri).to_request();
            Answer::read(service.call(request).await.unwrap()).await
        }
    };

    call("/healthz")
        .await
        .assert(StatusCode::OK, json!({"status": "ok"}));
    assert_eq!(check.calls.load(Ordering::SeqCst), 0);

    call("/readyz")
        .await
        .assert(StatusCode::OK, json!({"status": "ready"}));
    check.failing.store(true, Ordering::SeqCst);
    call("/readyz").await.assert(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"status": "unavailable", "reason": "database unreachable"}),
    );
    // Liveness does not care.
    call("/healthz")
        .await
        .assert(StatusCode::OK, json!({"status": "ok"}));
    check.failing.store(false, Ordering::SeqCst);
    call("/readyz")
        .await
        .assert(StatusCode::OK, json!({"status": "ready"}));
    assert_eq!(check.calls.load(Ordering::SeqCst), 3);
}

#[actix_web::test]
async fn health_endpoints_refuse_other_methods_in_json() {
    for uri in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let answer = Ports::new().call(TestRequest::post().uri(uri)).await;
        answer.assert(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "Method not allowed"}),
        );
        assert_eq!(answer.header(header::ALLOW), Some("GET"));
    }
}

// ---------------------------------------------------------------- timeout

/// A store that takes far longer than any test timeout.
struct SlowStore;

#[async_trait]
impl BankPaymentStore for SlowStore {
    async fn record_bank_payment(
        &self,
        _: &BankPayment,
        _: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Err(RecordError::Storage(StorageError::new("too late")))
    }
}

#[actix_web::test]
async fn a_handler_over_the_timeout_is_503_and_counted_unavailable() {
    let mut state = Ports::new().state();
    state.receive_bank_payment = ReceiveBankPayment::new(Arc::new(SlowStore));
    let settings = HttpSettings {
        request_timeout: Duration::from_millis(100),
        ..HttpSettings::default()
    };
    let started = Instant::now();
    let answers = serve(
        state,
        settings,
        vec![signed(BODY), TestRequest::get().uri("/metrics")],
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let answer = &answers[0];
    answer.assert(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "Request timed out"}),
    );
    assert_eq!(answer.header(header::RETRY_AFTER), Some("1"));
    assert!(answer
        .header(header::HeaderName::from_static("x-request-id"))
        .is_some());
    let text = &answers[1].body;
    assert_eq!(
        sample(text, r#"webhook_outcomes_total{outcome="unavailable"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            text,
            r#"http_requests_total{method="POST",route="/api/webhook/bank/",status="503"}"#
        ),
        Some(1.0)
    );
}

#[actix_web::test]
async fn a_handler_within_the_timeout_answers_normally() {
    let settings = HttpSettings {
        request_timeout: Duration::from_millis(500),
        ..HttpSettings::default()
    };
    let id = PaymentId::generate();
    let ports = Ports {
        settings,
        ..Ports::new()
    }
    .credited(id);
    ports
        .call(signed(BODY))
        .await
        .assert(StatusCode::OK, processed(id));
}
