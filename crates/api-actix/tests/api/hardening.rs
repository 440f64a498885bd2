//! Regression tests of the hardening issue that the HTTP layer owns: the readiness deadline and
//! the cap on signature candidates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use async_trait::async_trait;
use payments_api_actix::{ReadinessCheck, READINESS_DEADLINE};
use payments_domain::signature::{self, MAX_CANDIDATES};
use serde_json::json;

/// A readiness check stuck like one waiting for the pool's connection timeout.
struct StuckCheck;

#[async_trait]
impl ReadinessCheck for StuckCheck {
    async fn check(&self) -> Result<(), String> {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(())
    }
}

#[actix_web::test]
async fn readiness_answers_a_json_503_within_its_own_deadline() {
    assert_eq!(READINESS_DEADLINE, Duration::from_secs(1));
    let ports = Ports {
        readiness: Arc::new(StuckCheck),
        ..Ports::new()
    };
    let started = Instant::now();
    let answer = ports.call(TestRequest::get().uri("/readyz")).await;
    let took = started.elapsed();
    answer.assert(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"status": "unavailable", "reason": "readiness check timed out"}),
    );
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    assert!(took >= READINESS_DEADLINE, "took {took:?}");
}

#[actix_web::test]
async fn a_signature_with_too_many_candidates_is_refused_as_invalid() {
    let now = chrono::Utc::now().timestamp();
    let good = signature::sign(&secret(), now, BODY.as_bytes());
    let good = good.split(",v1=").nth(1).unwrap().to_string();
    let filler = vec!["00".repeat(32); MAX_CANDIDATES];
    let header = format!("t={now},v1={},v1={good}", filler.join(",v1="));
    let answer = Ports::new()
        .call(
            TestRequest::post()
                .uri(WEBHOOK)
                .insert_header(("Content-Type", "application/json"))
                .insert_header(("X-Signature", header))
                .set_payload(BODY),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
}

/// Fuzzers generate by `format`: every date, time and id in the spec carries one, so
/// schemathesis sends out-of-range dates and malformed ids instead of plain strings.
#[test]
fn typed_strings_in_the_spec_carry_a_format() {
    let spec = serde_json::to_value(payments_api_actix::openapi()).unwrap();
    let mut missing = Vec::new();
    let mut checked = 0;
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    for (schema_name, schema) in schemas {
        let Some(properties) = schema["properties"].as_object() else {
            continue;
        };
        for (name, property) in properties {
            let typed = name.ends_with("_date")
                || name.ends_with("_at")
                || name == "id"
                || (name.ends_with("_id") && name != "request_id");
            let is_string = property.to_string().contains("\"string\"");
            if typed && is_string {
                checked += 1;
                if property.get("format").is_none() {
                    missing.push(format!("{schema_name}.{name}"));
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} typed strings found");
    assert!(missing.is_empty(), "no format: {missing:?}");
    let webhook = &schemas["BankWebhookRequest"]["properties"]["document_date"];
    assert_eq!(webhook["format"], "date-time", "{webhook}");
}
