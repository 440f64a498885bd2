//! Black-box tests of `docs/api/bank-webhook.md`: every row of its validation and answers
//! tables, against the real application on port 0 (SQLite; the PostgreSQL runs are in
//! `both_backends.rs`).

use crate::helpers::{
    new_operation_id, payment, sign_at, spawn_app, spawn_legacy_app, Backend, INN,
};
use payments_domain::auth::Role;
use serde_json::{json, Value};

async fn app() -> crate::helpers::TestApp {
    spawn_app(Backend::Sqlite)
        .await
        .expect("sqlite is always available")
}

#[tokio::test]
async fn new_operation_is_processed_and_credited() {
    let app = app().await;
    let staff = app.staff_token().await;
    let body = app
        .post_webhook(&payment(&new_operation_id(), json!(145000), INN))
        .await
        .expect(200);
    assert_eq!(body["message"], "Payment processed successfully");
    assert!(uuid::Uuid::parse_str(body["payment_id"].as_str().unwrap()).is_ok());
    let answer = app.balance(INN, &staff).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text, r#"{"inn":"1234567890","balance":145000.00}"#);
}

#[tokio::test]
async fn repeated_operation_is_acknowledged_and_not_credited_again() {
    let app = app().await;
    let staff = app.staff_token().await;
    let id = new_operation_id();
    for amount in [json!(100), json!("100.00"), json!(100.0)] {
        let body = app
            .post_webhook(&payment(&id, amount, INN))
            .await
            .expect(200);
        assert_eq!(body["message"], "Payment processed successfully");
    }
    // Same instant written in another zone, id in upper case: still the same operation.
    let mut same = payment(&id.to_uppercase(), json!(100), INN);
    same["document_date"] = json!("2024-04-28T00:00:00+03:00");
    app.post_webhook(&same).await.expect(200);
    assert_eq!(app.balance_text(INN, &staff).await.unwrap(), "100.00");
}

#[tokio::test]
async fn reused_operation_id_with_other_data_is_a_conflict_and_changes_nothing() {
    let app = app().await;
    let staff = app.staff_token().await;
    let id = new_operation_id();
    app.post_webhook(&payment(&id, json!(100), INN))
        .await
        .expect(200);
    let variants = [
        payment(&id, json!(101), INN),
        payment(&id, json!(100), "0987654321"),
        {
            let mut p = payment(&id, json!(100), INN);
            p["document_number"] = json!("PAY-999");
            p
        },
        {
            let mut p = payment(&id, json!(100), INN);
            p["document_date"] = json!("2024-04-26");
            p
        },
    ];
    for variant in variants {
        let body = app.post_webhook(&variant).await.expect(409);
        assert_eq!(
            body,
            json!({"error": "Operation already processed with different data"})
        );
    }
    assert_eq!(app.balance_text(INN, &staff).await.unwrap(), "100.00");
    // The conflicting INN's organization was never created.
    assert_eq!(app.balance_text("0987654321", &staff).await, None);
}

fn field_error(body: &Value, field: &str) -> Vec<String> {
    assert_eq!(body["error"], "Invalid data", "{body}");
    body["details"][field]
        .as_array()
        .unwrap_or_else(|| panic!("no details for {field}: {body}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn each_field_rule_is_enforced_with_a_400_naming_the_field() {
    let app = app().await;
    let cases: Vec<(&str, Value)> = vec![
        ("operation_id", json!("not-a-uuid")),
        ("operation_id", json!("ccf0a86d041b4991bcf7e2352f7b8a4a")),
        ("operation_id", json!(42)),
        ("operation_id", Value::Null),
        ("amount", json!(0)),
        ("amount", json!(-5)),
        ("amount", json!("0.005")),
        ("amount", json!("1.500")),
        ("amount", json!(0.005)),
        ("amount", json!("10000000000000")),
        ("amount", json!("12,50")),
        ("amount", json!(true)),
        ("amount", json!([1])),
        ("payer_inn", json!("123456789")),
        ("payer_inn", json!("12345678901")),
        ("payer_inn", json!("12345abcde")),
        ("payer_inn", json!("")),
        ("document_number", json!("")),
        ("document_number", json!("x".repeat(51))),
        ("document_number", json!("PAY\u{7}328")),
        ("document_number", json!({"n": 1})),
        ("document_date", json!("27.04.2024")),
        ("document_date", json!("2024-02-30")),
        ("document_date", json!(20240427)),
    ];
    for (field, value) in cases {
        let mut body = payment(&new_operation_id(), json!(1), INN);
        body[field] = value.clone();
        let answer = app.post_webhook(&body).await;
        let json = answer.expect(400);
        assert!(!field_error(&json, field).is_empty(), "{field}={value}");
    }
}

#[tokio::test]
async fn missing_fields_are_each_reported() {
    let app = app().await;
    let body = app.post_webhook(&json!({"amount": 1})).await.expect(400);
    for field in [
        "operation_id",
        "payer_inn",
        "document_number",
        "document_date",
    ] {
        assert_eq!(field_error(&body, field), ["This field is required."]);
    }
}

#[tokio::test]
async fn accepted_forms_of_each_field() {
    let app = app().await;
    let staff = app.staff_token().await;
    let accepted: Vec<(&str, Value)> = vec![
        ("amount", json!("1.50")),
        ("amount", json!(1.5)),
        ("amount", json!("9999999999999.99")),
        ("amount", json!(0.01)),
        ("payer_inn", json!("  1234567890  ")),
        ("payer_inn", json!("123456789012")),
        ("document_number", json!("x".repeat(50))),
        ("document_date", json!("2024-04-27")),
        ("document_date", json!("2024-04-27T21:00:00")),
        ("document_date", json!("2024-04-27T21:00:00.123456+03:00")),
        (
            "operation_id",
            json!("CCF0A86D-041B-4991-BCF7-E2352F7B8A4A"),
        ),
        ("unknown_extra_field", json!({"anything": [1, 2]})),
    ];
    for (case, (field, value)) in accepted.into_iter().enumerate() {
        // Each case credits its own organization, so the big amount cannot overflow.
        let inn = format!("{}", 2_000_000_000 + case);
        let mut body = payment(&new_operation_id(), json!(1), &inn);
        body[field] = value.clone();
        let answer = app.post_webhook(&body).await;
        assert_eq!(answer.status, 200, "{field}={value}: {}", answer.text);
    }
    assert_eq!(
        app.balance_text("1234567890", &staff).await.unwrap(),
        "1.00",
        "the trimmed INN is the same organization"
    );
}

#[tokio::test]
async fn malformed_and_non_object_json_are_400() {
    let app = app().await;
    for raw in [&b"{"[..], b"not json", b"", b"{\"amount\": 1,}"] {
        let answer = app
            .post_raw("/api/webhook/bank/", "application/json", raw)
            .await;
        let body = answer.expect(400);
        assert_eq!(body["error"], "Invalid data");
        assert!(body["details"].is_object(), "{body}");
    }
    for raw in [&b"[]"[..], b"\"text\"", b"42", b"null"] {
        let body = app
            .post_raw("/api/webhook/bank/", "application/json", raw)
            .await
            .expect(400);
        assert_eq!(body["error"], "Invalid data");
    }
}

#[tokio::test]
async fn content_type_must_be_json_charset_allowed() {
    let app = app().await;
    let body = payment(&new_operation_id(), json!(5), INN).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let answer = app
            .post_raw("/api/webhook/bank/", content_type, body.as_bytes())
            .await;
        assert!(answer.expect(415)["error"].is_string());
    }
    let answer = app
        .post_raw(
            "/api/webhook/bank/",
            "application/json; charset=utf-8",
            body.as_bytes(),
        )
        .await;
    answer.expect(200);
}

#[tokio::test]
async fn missing_content_type_is_415() {
    let app = app().await;
    let body = payment(&new_operation_id(), json!(5), INN).to_string();
    let response = app
        .client
        .post(app.url("/api/webhook/bank/"))
        .header(
            "X-Signature",
            crate::helpers::sign(crate::helpers::SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
}

#[tokio::test]
async fn overflowing_the_balance_is_422_and_changes_nothing() {
    let app = app().await;
    let staff = app.staff_token().await;
    app.post_webhook(&payment(
        &new_operation_id(),
        json!("9999999999999.99"),
        INN,
    ))
    .await
    .expect(200);
    let id = new_operation_id();
    let body = app
        .post_webhook(&payment(&id, json!("0.01"), INN))
        .await
        .expect(422);
    assert!(
        body["error"].as_str().unwrap().contains("maximum"),
        "{body}"
    );
    assert_eq!(
        app.balance_text(INN, &staff).await.unwrap(),
        "9999999999999.99"
    );
    // The refused operation was not recorded: reusing its id with other data is judged
    // afresh (422 again), not as a conflict with a stored payment (409).
    app.post_webhook(&payment(&id, json!("0.02"), INN))
        .await
        .expect(422);
}

#[tokio::test]
async fn unsigned_badly_signed_and_stale_webhooks_are_401_and_not_recorded() {
    let app = app().await;
    let staff = app.staff_token().await;
    let body = payment(&new_operation_id(), json!(7), INN).to_string();
    let now = chrono::Utc::now().timestamp();
    let attempts = [
        None,
        Some("garbage".to_string()),
        Some(sign_at("wrong-secret", body.as_bytes(), now)),
        Some(sign_at(crate::helpers::SECRET, b"other body", now)),
        // A minute past the 300 s window either way: the server reads its clock a little
        // later than `now`, and on a loaded machine "301 s ahead" had become 300 s.
        Some(sign_at(crate::helpers::SECRET, body.as_bytes(), now - 360)),
        Some(sign_at(crate::helpers::SECRET, body.as_bytes(), now + 360)),
    ];
    for signature in attempts {
        let answer = app
            .post_with_signature(body.as_bytes(), signature.clone())
            .await;
        assert_eq!(
            answer.expect(401),
            json!({"error": "Invalid signature"}),
            "{signature:?}"
        );
    }
    assert_eq!(app.balance_text(INN, &staff).await, None);
    let signed = sign_at(crate::helpers::SECRET, body.as_bytes(), now - 240);
    app.post_with_signature(body.as_bytes(), Some(signed))
        .await
        .expect(200);
}

#[tokio::test]
async fn several_secrets_rotate() {
    let app = crate::helpers::spawn_with(Backend::Sqlite, |args| {
        args.webhook_secrets = vec!["new-secret".into(), "old-secret".into()]
    })
    .await
    .unwrap();
    for secret in ["new-secret", "old-secret"] {
        let body = payment(&new_operation_id(), json!(1), INN).to_string();
        let signature = crate::helpers::sign(secret, body.as_bytes());
        app.post_with_signature(body.as_bytes(), Some(signature))
            .await
            .expect(200);
    }
}

#[tokio::test]
async fn balance_answers() {
    let app = app().await;
    let staff = app.staff_token().await;
    let answer = app.balance("1234567890", &staff).await;
    assert_eq!(
        answer.expect(404),
        json!({"error": "Organization not found"})
    );
    let answer = app.balance("not-an-inn", &staff).await;
    assert_eq!(
        answer.expect(404),
        json!({"error": "Organization not found"})
    );

    app.post_webhook(&payment(&new_operation_id(), json!("0.10"), INN))
        .await
        .expect(200);
    let answer = app
        .get(&format!("/api/organizations/{INN}/balance"), Some(&staff))
        .await;
    assert_eq!(answer.status, 200, "no trailing slash");
    assert_eq!(answer.text, r#"{"inn":"1234567890","balance":0.10}"#);
}

#[tokio::test]
async fn balance_reads_need_a_token_of_staff_or_of_that_organization() {
    let app = app().await;
    app.post_webhook(&payment(&new_operation_id(), json!(3), INN))
        .await
        .expect(200);
    app.post_webhook(&payment(&new_operation_id(), json!(4), "5555555555"))
        .await
        .expect(200);

    let path = format!("/api/organizations/{INN}/balance/");
    let answer = app.get(&path, None).await;
    assert!(answer.expect(401)["error"].is_string());
    let answer = app.get(&path, Some("pay_forged")).await;
    answer.expect(401);

    let member = app.token(Role::Member, Some(INN)).await;
    assert_eq!(app.balance_text(INN, &member).await.unwrap(), "3.00");
    let stranger = app.token(Role::Member, Some("5555555555")).await;
    assert_eq!(
        app.balance(INN, &stranger).await.expect(404),
        json!({"error": "Organization not found"})
    );
}

#[tokio::test]
async fn trailing_slash_is_optional_on_the_webhook() {
    let app = app().await;
    let body = payment(&new_operation_id(), json!(2), INN).to_string();
    app.post_raw("/api/webhook/bank", "application/json", body.as_bytes())
        .await
        .expect(200);
}

#[tokio::test]
async fn other_methods_unknown_paths_and_big_bodies_get_json_errors() {
    let app = app().await;
    let response = app
        .client
        .get(app.url("/api/webhook/bank/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let response = app
        .client
        .delete(app.url("/api/organizations/1234567890/balance/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);

    let answer = app.get("/nowhere", None).await;
    assert!(answer.expect(404)["error"].is_string());

    let huge = vec![b' '; 2 * 1024 * 1024];
    let answer = app
        .post_raw("/api/webhook/bank/", "application/json", &huge)
        .await;
    assert!(answer.expect(413)["error"].is_string());
}

#[tokio::test]
async fn legacy_mode_accepts_unsigned_webhooks_and_open_balance_reads() {
    let app = spawn_legacy_app(Backend::Sqlite).await.unwrap();
    let body = payment(&new_operation_id(), json!(145000), INN).to_string();
    app.post_with_signature(body.as_bytes(), None)
        .await
        .expect(200);
    let answer = app
        .get(&format!("/api/organizations/{INN}/balance/"), None)
        .await;
    assert_eq!(answer.text, r#"{"inn":"1234567890","balance":145000.00}"#);
}
