//! Black-box tests of `docs/api/billing.md` against the real application (SQLite here; the
//! concurrency cases also run on PostgreSQL in `billing_concurrency.rs`).

use crate::helpers::{new_operation_id, payment, spawn_app, tenant, Backend, TestApp, BILLING};
use payments_domain::auth::Role;
use serde_json::{json, Value};

async fn app() -> TestApp {
    spawn_app(Backend::Sqlite)
        .await
        .expect("sqlite is always available")
}

fn manual(invoice_id: &str, method: &str) -> Value {
    json!({"invoice_id": invoice_id, "payment_method": method, "transaction_reference": "TX-1"})
}

#[tokio::test]
async fn the_readme_walkthrough_end_to_end() {
    let app = app().await;
    let t = tenant(&app, "7701234567").await;

    let methods = app
        .billing_get("/payment-methods/available/", &t.member)
        .await
        .expect(200);
    assert_eq!(methods["data"]["country"], "RU");
    assert_eq!(methods["data"]["currency"], "RUB");
    let names: Vec<&str> = methods["data"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["payment_method"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"bank_transfer"), "{methods}");

    let created = app
        .billing(
            "POST",
            "/payments/manual/",
            &t.member,
            Some(manual(&t.invoice_id, "bank_transfer")),
        )
        .await
        .expect(201);
    assert_eq!(created["data"]["status"], "pending_approval");
    assert!(
        created["data"]["invoice_number"]
            .as_str()
            .unwrap()
            .starts_with("INV-"),
        "{created}"
    );
    let payment_id = created["data"]["id"].as_str().unwrap().to_string();

    let balance = app.billing_get("/balance/", &t.member).await.expect(200);
    assert_eq!(
        balance["data"]["balance"], "0.00",
        "nothing moves before approval"
    );

    let approved = app
        .billing(
            "POST",
            &format!("/admin/payments/{payment_id}/approve/"),
            &t.staff,
            Some(json!({"admin_notes": "seen on the statement"})),
        )
        .await
        .expect(200);
    assert_eq!(approved["data"]["status"], "succeeded");

    let balance = app.billing_get("/balance/", &t.member).await.expect(200);
    assert_eq!(balance["data"]["balance"], "139.00");
    assert_eq!(balance["data"]["currency"], "RUB");

    let transactions = app
        .billing_get("/transactions/", &t.member)
        .await
        .expect(200);
    assert_eq!(transactions["data"]["count"], 1);
    let entry = &transactions["data"]["results"][0];
    assert_eq!(entry["previous_balance"], "0.00");
    assert_eq!(entry["new_balance"], "139.00");
    assert_eq!(entry["payment_id"], payment_id.as_str());

    let invoice = app
        .billing_get(&format!("/invoices/{}/", t.invoice_id), &t.member)
        .await
        .expect(200);
    assert_eq!(invoice["data"]["status"], "paid");

    let listed = app.billing_get("/payments/", &t.member).await.expect(200);
    assert_eq!(listed["data"]["count"], 1);
    let row = &listed["data"]["results"][0];
    assert_eq!(row["status"], "succeeded");
    assert_eq!(row["invoice_id"], t.invoice_id.as_str());
    assert!(row["invoice_number"].as_str().unwrap().starts_with("INV-"));
    for field in [
        "amount",
        "currency",
        "payment_method",
        "transaction_reference",
        "failure_reason",
        "created_at",
        "updated_at",
        "processed_at",
    ] {
        assert!(
            row.get(field).is_some(),
            "payment field {field} missing: {row}"
        );
    }
}

#[tokio::test]
async fn every_body_and_header_carries_the_request_id() {
    let app = app().await;
    let t = tenant(&app, "7701234567").await;
    let answer = app.billing_get("/balance/", &t.member).await;
    let body = answer.expect(200);
    let header = answer.headers["x-request-id"].to_str().unwrap();
    assert_eq!(body["request_id"], header);

    let response = app
        .client
        .get(app.url(&format!("{BILLING}/payments/nope/")))
        .bearer_auth(&t.member)
        .header("X-Request-Id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["request_id"], "client-chosen-42");
}

#[tokio::test]
async fn authentication_and_roles() {
    let app = app().await;
    let t = tenant(&app, "7701234567").await;
    let answer = app
        .send("GET", &format!("{BILLING}/payments/"), None, None)
        .await;
    assert_eq!(answer.expect(401)["success"], false);
    app.billing_get("/payments/", "pay_unknown")
        .await
        .expect(401);
    // Members never reach staff routes; staff never browse through tenant routes.
    app.billing_get("/admin/payments/", &t.member)
        .await
        .expect(403);
    app.billing_get("/admin/organizations/", &t.member)
        .await
        .expect(403);
    app.billing_get("/payments/", &t.staff).await.expect(403);
}

#[tokio::test]
async fn members_never_see_another_organization() {
    let app = app().await;
    let mine = tenant(&app, "7701234567").await;
    let theirs = tenant(&app, "7801234567").await;
    let created = app
        .billing(
            "POST",
            "/payments/manual/",
            &theirs.member,
            Some(manual(&theirs.invoice_id, "bank_transfer")),
        )
        .await
        .expect(201);
    let their_payment = created["data"]["id"].as_str().unwrap().to_string();

    for path in [
        format!("/payments/{their_payment}/"),
        format!("/invoices/{}/", theirs.invoice_id),
    ] {
        let body = app.billing_get(&path, &mine.member).await.expect(404);
        assert_eq!(body["success"], false, "{path}");
    }
    app.billing(
        "POST",
        "/payments/manual/",
        &mine.member,
        Some(manual(&theirs.invoice_id, "bank_transfer")),
    )
    .await
    .expect(404);
    for path in ["/payments/", "/invoices/", "/transactions/"] {
        let list = app.billing_get(path, &mine.member).await.expect(200);
        let ids: Vec<&str> = list["data"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        assert!(!ids.contains(&their_payment.as_str()), "{path}");
        assert!(!ids.contains(&theirs.invoice_id.as_str()), "{path}");
    }
    let filtered = app
        .billing_get(
            &format!("/payments/?invoice_id={}", theirs.invoice_id),
            &mine.member,
        )
        .await
        .expect(200);
    assert_eq!(filtered["data"]["count"], 0);
    // The bank-webhook balance endpoint: a member of another organization gets 404.
    let answer = app.balance(&theirs.inn, &mine.member).await;
    answer.expect(404);
}

#[tokio::test]
async fn manual_payment_rules() {
    let app = app().await;
    let t = tenant(&app, "7701234567").await;
    let url = "/payments/manual/";

    let body = app
        .billing("POST", url, &t.member, Some(json!({})))
        .await
        .expect(400);
    for field in ["invoice_id", "payment_method", "transaction_reference"] {
        assert!(body["errors"][field].is_array(), "{field}: {body}");
    }
    let body = app
        .billing("POST", url, &t.member, Some(manual(&t.invoice_id, "card")))
        .await
        .expect(400);
    assert!(body["errors"]["payment_method"].is_array(), "{body}");

    // A method the organization has switched off is not available.
    app.billing(
        "POST",
        &format!(
            "/admin/organizations/{}/payment-methods/",
            t.organization_id
        ),
        &t.staff,
        Some(json!({"payment_method": "local_wallet", "is_enabled": false, "is_default": false})),
    )
    .await
    .expect(200);
    app.billing(
        "POST",
        url,
        &t.member,
        Some(manual(&t.invoice_id, "local_wallet")),
    )
    .await
    .expect(400);

    // The alias `reference` is accepted.
    let aliased =
        json!({"invoice_id": t.invoice_id, "payment_method": "bank_transfer", "reference": "R-9"});
    let first = app
        .billing("POST", url, &t.member, Some(aliased))
        .await
        .expect(201);
    // A second payment waiting for approval on the same invoice: 409.
    app.billing(
        "POST",
        url,
        &t.member,
        Some(manual(&t.invoice_id, "bank_transfer")),
    )
    .await
    .expect(409);

    // Once paid, the invoice takes no more payments: 400.
    let id = first["data"]["id"].as_str().unwrap();
    app.billing(
        "POST",
        &format!("/admin/payments/{id}/approve/"),
        &t.staff,
        Some(json!({})),
    )
    .await
    .expect(200);
    app.billing(
        "POST",
        url,
        &t.member,
        Some(manual(&t.invoice_id, "bank_transfer")),
    )
    .await
    .expect(400);
}

#[tokio::test]
async fn idempotency_key_replays_the_same_answer_and_refuses_other_bodies() {
    let app = app().await;
    let t = tenant(&app, "7701234567").await;
    let url = app.url(&format!("{BILLING}/payments/manual/"));
    let send = |body: Value| {
        app.client
            .post(url.clone())
            .bearer_auth(&t.member)
            .header("Idempotency-Key", "order-42")
            .json(&body)
            .send()
    };
    let first = send(manual(&t.invoice_id, "bank_transfer")).await.unwrap();
    assert_eq!(first.status().as_u16(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send(manual(&t.invoice_id, "bank_transfer")).await.unwrap();
    assert_eq!(again.status().as_u16(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["data"]["id"], again["data"]["id"]);
    let other = send(json!({"invoice_id": t.invoice_id, "payment_method": "bank_transfer", "transaction_reference": "TX-2"}))
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 409);
    let listed = app.billing_get("/payments/", &t.member).await.expect(200);
    assert_eq!(listed["data"]["count"], 1);
}

#[tokio::test]
async fn staff_actions_follow_the_state_machine() {
    let app = app().await;
    let t = tenant(&app, "7701234567").await;
    let created = app
        .billing(
            "POST",
            "/payments/manual/",
            &t.member,
            Some(manual(&t.invoice_id, "bank_transfer")),
        )
        .await
        .expect(201);
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let action = |name: &str| format!("/admin/payments/{id}/{name}/");

    // Reject needs a reason.
    app.billing("POST", &action("reject"), &t.staff, Some(json!({})))
        .await
        .expect(400);
    // Refund of a payment that has not succeeded: 409 naming the states.
    let body = app
        .billing("POST", &action("refund"), &t.staff, Some(json!({})))
        .await
        .expect(409);
    assert_eq!(body["current_status"], "pending_approval", "{body}");
    assert_eq!(body["required_statuses"], json!(["succeeded"]));

    app.billing("POST", &action("approve"), &t.staff, Some(json!({})))
        .await
        .expect(200);
    // Approving again: same answer, no second credit.
    let again = app
        .billing("POST", &action("approve"), &t.staff, Some(json!({})))
        .await
        .expect(200);
    assert_eq!(again["data"]["status"], "succeeded");
    let body = app
        .billing(
            "POST",
            &action("reject"),
            &t.staff,
            Some(json!({"admin_notes": "late"})),
        )
        .await
        .expect(409);
    assert_eq!(body["current_status"], "succeeded");
    let balance = app.billing_get("/balance/", &t.member).await.expect(200);
    assert_eq!(balance["data"]["balance"], "139.00");

    let refunded = app
        .billing("POST", &action("refund"), &t.staff, Some(json!({})))
        .await
        .expect(200);
    assert_eq!(refunded["data"]["status"], "refunded");
    let balance = app.billing_get("/balance/", &t.member).await.expect(200);
    assert_eq!(balance["data"]["balance"], "0.00");
    let log = app
        .billing_get("/transactions/", &t.member)
        .await
        .expect(200);
    assert_eq!(log["data"]["count"], 2);
    assert_eq!(
        log["data"]["results"][0]["delta"], "-139.00",
        "newest first"
    );

    app.billing(
        "POST",
        &format!("/admin/payments/{}/approve/", uuid::Uuid::new_v4()),
        &t.staff,
        Some(json!({})),
    )
    .await
    .expect(404);
}

#[tokio::test]
async fn rejection_keeps_the_invoice_payable() {
    let app = app().await;
    let t = tenant(&app, "7701234567").await;
    let url = "/payments/manual/";
    let created = app
        .billing(
            "POST",
            url,
            &t.member,
            Some(manual(&t.invoice_id, "bank_transfer")),
        )
        .await
        .expect(201);
    let id = created["data"]["id"].as_str().unwrap();
    let rejected = app
        .billing(
            "POST",
            &format!("/admin/payments/{id}/reject/"),
            &t.staff,
            Some(json!({"admin_notes": "no transfer found"})),
        )
        .await
        .expect(200);
    assert_eq!(rejected["data"]["status"], "failed");
    assert_eq!(rejected["data"]["failure_reason"], "no transfer found");
    let invoice = app
        .billing_get(&format!("/invoices/{}/", t.invoice_id), &t.member)
        .await
        .expect(200);
    assert_eq!(invoice["data"]["status"], "pending");
    app.billing(
        "POST",
        url,
        &t.member,
        Some(manual(&t.invoice_id, "bank_transfer")),
    )
    .await
    .expect(201);
}

/// Bank-webhook payments are ordinary payments: listed for their organization and refundable.
/// (A refund below zero cannot be reached through the API while the ledger invariant holds —
/// the balance is the sum of succeeded payments; the domain and adapter tests cover that rule.)
#[tokio::test]
async fn webhook_payments_are_listed_and_refundable() {
    let app = app().await;
    let t = tenant(&app, "7701234567").await;
    app.post_webhook(&payment(&new_operation_id(), json!(100), &t.inn))
        .await
        .expect(200);
    let list = app
        .billing_get(
            "/payments/?payment_method=bank_transfer&status=completed",
            &t.member,
        )
        .await
        .expect(200);
    assert_eq!(list["data"]["count"], 1);
    let bank = &list["data"]["results"][0];
    assert_eq!(bank["transaction_reference"], "PAY-328");
    assert_eq!(bank["amount"], "100.00");
    assert_eq!(bank["status"], "succeeded");
    let bank_id = bank["id"].as_str().unwrap();
    app.billing(
        "POST",
        &format!("/admin/payments/{bank_id}/refund/"),
        &t.staff,
        Some(json!({})),
    )
    .await
    .expect(200);
    let balance = app.billing_get("/balance/", &t.member).await.expect(200);
    assert_eq!(balance["data"]["balance"], "0.00");
    assert_eq!(app.balance_text(&t.inn, &t.member).await.unwrap(), "0.00");
}

#[tokio::test]
async fn lists_paginate_newest_first_and_filter() {
    let app = app().await;
    let t = tenant(&app, "7701234567").await;
    for _ in 0..5 {
        app.post_webhook(&payment(&new_operation_id(), json!(1), &t.inn))
            .await
            .expect(200);
    }
    let page = app
        .billing_get("/payments/?page_size=2&page=2", &t.member)
        .await
        .expect(200);
    assert_eq!(page["data"]["count"], 5);
    assert_eq!(page["data"]["results"].as_array().unwrap().len(), 2);
    assert!(page["data"]["next"].as_str().unwrap().contains("page=3"));
    assert!(page["data"]["previous"]
        .as_str()
        .unwrap()
        .contains("page=1"));
    let all = app
        .billing_get("/payments/?page_size=100", &t.member)
        .await
        .expect(200);
    let times: Vec<&str> = all["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    let none = app
        .billing_get("/payments/?status=pending_approval,refunded", &t.member)
        .await
        .expect(200);
    assert_eq!(none["data"]["count"], 0);
    app.billing_get("/payments/?status=nonsense", &t.member)
        .await
        .expect(400);
    app.billing_get("/payments/?page=0", &t.member)
        .await
        .expect(400);

    let admin = app
        .billing_get(
            &format!("/admin/payments/?organization={}", t.inn),
            &t.staff,
        )
        .await
        .expect(200);
    assert_eq!(admin["data"]["count"], 5);
}

#[tokio::test]
async fn staff_manage_organizations_invoices_and_the_catalogue() {
    let app = app().await;
    let t = tenant(&app, "7701234567").await;
    // Duplicate INN: 409.
    app.billing(
        "POST",
        "/admin/organizations/",
        &t.staff,
        Some(json!({"inn": "7701234567", "name": "Again"})),
    )
    .await
    .expect(409);
    app.billing(
        "POST",
        "/admin/organizations/",
        &t.staff,
        Some(json!({"inn": "12", "name": ""})),
    )
    .await
    .expect(400);
    let orgs = app
        .billing_get("/admin/organizations/", &t.staff)
        .await
        .expect(200);
    assert_eq!(orgs["data"]["count"], 1);

    // Invoice with an explicit number, then the same number again.
    let body = json!({"organization_id": t.organization_id, "amount": 10.5, "number": "INV-2026-001", "due_date": "2026-12-31"});
    let invoice = app
        .billing("POST", "/admin/invoices/", &t.staff, Some(body.clone()))
        .await
        .expect(201);
    assert_eq!(invoice["data"]["number"], "INV-2026-001");
    assert_eq!(invoice["data"]["amount"], "10.50");
    app.billing("POST", "/admin/invoices/", &t.staff, Some(body))
        .await
        .expect(409);

    // The seeded catalogue, then a new row, an update and a delete.
    let configs = app
        .billing_get("/admin/payment-method-configs/", &t.staff)
        .await
        .expect(200);
    assert!(configs["data"]["count"].as_u64().unwrap() >= 3, "{configs}");
    let created = app
        .billing("POST", "/admin/payment-method-configs/", &t.staff, Some(json!({"country_code": "RU", "payment_method": "card", "display_name": "Карта", "details": {"acquirer": "test"}, "sort_order": 9})))
        .await
        .expect(201);
    let config_id = created["data"]["id"].as_str().unwrap().to_string();
    let methods = app
        .billing_get("/payment-methods/available/", &t.member)
        .await
        .expect(200);
    assert!(methods["data"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["payment_method"] == "card"));
    app.billing("PUT", &format!("/admin/payment-method-configs/{config_id}/"), &t.staff, Some(json!({"country_code": "RU", "payment_method": "card", "display_name": "Карта", "enabled": false})))
    .await
    .expect(200);
    let methods = app
        .billing_get("/payment-methods/available/", &t.member)
        .await
        .expect(200);
    assert!(!methods["data"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["payment_method"] == "card"));
    app.billing(
        "DELETE",
        &format!("/admin/payment-method-configs/{config_id}/"),
        &t.staff,
        None,
    )
    .await
    .expect(200);
    app.billing_get(
        &format!("/admin/payment-method-configs/{config_id}/"),
        &t.staff,
    )
    .await
    .expect(404);

    // Overrides: the default moves with the latest marked method.
    let url = format!(
        "/admin/organizations/{}/payment-methods/",
        t.organization_id
    );
    app.billing(
        "POST",
        &url,
        &t.staff,
        Some(json!({"payment_method": "bank_transfer", "is_enabled": true, "is_default": true})),
    )
    .await
    .expect(200);
    let methods = app
        .billing_get("/payment-methods/available/", &t.member)
        .await
        .expect(200);
    let default: Vec<&Value> = methods["data"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["is_default"] == true)
        .collect();
    assert_eq!(default.len(), 1);
    assert_eq!(default[0]["payment_method"], "bank_transfer");
    let overrides = app.billing_get(&url, &t.staff).await.expect(200);
    assert_eq!(overrides["data"]["count"], 1);
    app.billing("DELETE", &format!("{url}bank_transfer/"), &t.staff, None)
        .await
        .expect(200);
}

/// The balance is kept in the organization's currency; a bank webhook (roubles) for an
/// organization billed in another currency is refused and changes nothing.
#[tokio::test]
async fn a_webhook_for_an_organization_billed_in_another_currency_is_refused() {
    let app = app().await;
    let staff = app.staff_token().await;
    app.billing(
        "POST",
        "/admin/organizations/",
        &staff,
        Some(json!({"inn": "7901234567", "name": "Euro GmbH", "country": "DE", "currency": "EUR"})),
    )
    .await
    .expect(201);
    let body = app
        .post_webhook(&payment(&new_operation_id(), json!(100), "7901234567"))
        .await
        .expect(422);
    assert!(body["error"].as_str().unwrap().contains("EUR"), "{body}");
    let member = app.token(Role::Member, Some("7901234567")).await;
    let balance = app.billing_get("/balance/", &member).await.expect(200);
    assert_eq!(balance["data"]["balance"], "0.00");
    assert_eq!(balance["data"]["currency"], "EUR");
    let payments = app.billing_get("/payments/", &member).await.expect(200);
    assert_eq!(payments["data"]["count"], 0);
}

#[tokio::test]
async fn each_token_has_a_quota_of_billing_requests() {
    let app = crate::helpers::spawn_with(Backend::Sqlite, |args| {
        args.webhook_secrets = vec![crate::helpers::SECRET.into()];
        args.rate_limit_per_minute = 3;
    })
    .await
    .unwrap();
    let t = tenant(&app, "7701234567").await; // the staff token spends 2 of its 3
    for _ in 0..3 {
        app.billing_get("/balance/", &t.member).await.expect(200);
    }
    let limited = app.billing_get("/balance/", &t.member).await;
    let body = limited.expect(429);
    assert_eq!(body["success"], false);
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    // Other tokens keep their own quota; the bank webhook is not limited.
    app.billing_get("/admin/organizations/", &t.staff)
        .await
        .expect(200);
    for _ in 0..5 {
        app.post_webhook(&payment(&new_operation_id(), json!(1), &t.inn))
            .await
            .expect(200);
    }
}
