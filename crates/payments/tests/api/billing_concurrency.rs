//! Money moves exactly once under races, through HTTP, on SQLite and PostgreSQL (PostgreSQL
//! when `PAYMENTS_TEST_DATABASE_URL` is set; required when `PAYMENTS_TEST_REQUIRE_POSTGRES=1`).

use std::sync::Arc;

use crate::helpers::{spawn_app, tenant, Backend, TestApp, BILLING};
use serde_json::{json, Value};
use tokio::task::JoinSet;

struct Setup {
    app: Arc<TestApp>,
    staff: String,
    member: String,
    invoice_id: String,
}

async fn setup(backend: Backend) -> Option<Setup> {
    let app = spawn_app(backend).await?;
    let t = tenant(&app, "7701234567").await;
    Some(Setup {
        app: Arc::new(app),
        staff: t.staff,
        member: t.member,
        invoice_id: t.invoice_id,
    })
}

async fn submit(s: &Setup) -> String {
    let body = json!({"invoice_id": s.invoice_id, "payment_method": "bank_transfer", "transaction_reference": "TX"});
    let created = s
        .app
        .billing("POST", "/payments/manual/", &s.member, Some(body))
        .await
        .expect(201);
    created["data"]["id"].as_str().unwrap().to_string()
}

async fn balance(s: &Setup) -> Value {
    s.app.billing_get("/balance/", &s.member).await.expect(200)["data"]["balance"].clone()
}

async fn twenty_concurrent_approvals_credit_once(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let id = submit(&s).await;
    let mut set = JoinSet::new();
    for _ in 0..20 {
        let (app, staff, id) = (s.app.clone(), s.staff.clone(), id.clone());
        set.spawn(async move {
            app.billing(
                "POST",
                &format!("/admin/payments/{id}/approve/"),
                &staff,
                Some(json!({})),
            )
            .await
            .status
        });
    }
    let statuses: Vec<u16> = set.join_all().await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(balance(&s).await, "139.00");
    let log = s
        .app
        .billing_get("/transactions/", &s.member)
        .await
        .expect(200);
    assert_eq!(log["data"]["count"], 1);
}

async fn approve_racing_reject_has_one_winner(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let id = submit(&s).await;
    let mut set = JoinSet::new();
    for i in 0..20 {
        let (app, staff, id) = (s.app.clone(), s.staff.clone(), id.clone());
        set.spawn(async move {
            let (action, body) = if i % 2 == 0 {
                ("approve", json!({}))
            } else {
                ("reject", json!({"admin_notes": "not received"}))
            };
            let answer = app
                .billing(
                    "POST",
                    &format!("/admin/payments/{id}/{action}/"),
                    &staff,
                    Some(body),
                )
                .await;
            (action, answer.status)
        });
    }
    let results: Vec<(&str, u16)> = set.join_all().await;
    let approvals_ok = results.iter().any(|(a, s)| *a == "approve" && *s == 200);
    let rejections_ok = results.iter().any(|(a, s)| *a == "reject" && *s == 200);
    assert!(
        approvals_ok != rejections_ok,
        "exactly one kind wins: {results:?}"
    );
    for (action, status) in &results {
        let winner = if approvals_ok { "approve" } else { "reject" };
        let expected = if *action == winner { 200 } else { 409 };
        assert_eq!(*status, expected, "{action}: {results:?}");
    }
    let expected_balance = if approvals_ok { "139.00" } else { "0.00" };
    assert_eq!(balance(&s).await, expected_balance);
}

async fn concurrent_submissions_with_one_idempotency_key_create_one_payment(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let mut set = JoinSet::new();
    for _ in 0..10 {
        let (app, member, invoice_id) = (s.app.clone(), s.member.clone(), s.invoice_id.clone());
        set.spawn(async move {
            let response = app
                .client
                .post(app.url(&format!("{BILLING}/payments/manual/")))
                .bearer_auth(member)
                .header("Idempotency-Key", "same-key")
                .json(&json!({"invoice_id": invoice_id, "payment_method": "bank_transfer", "transaction_reference": "TX"}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body["data"]["id"].as_str().unwrap_or_default().to_string())
        });
    }
    let results: Vec<(u16, String)> = set.join_all().await;
    assert!(
        results.iter().all(|(status, _)| *status == 201),
        "{results:?}"
    );
    let first = &results[0].1;
    assert!(results.iter().all(|(_, id)| id == first), "{results:?}");
    let list = s.app.billing_get("/payments/", &s.member).await.expect(200);
    assert_eq!(list["data"]["count"], 1);
}

on_both_backends!(
    twenty_concurrent_approvals_credit_once,
    approve_racing_reject_has_one_winner,
    concurrent_submissions_with_one_idempotency_key_create_one_payment,
);
