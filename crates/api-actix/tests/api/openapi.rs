//! The OpenAPI description against the app itself: every route documented, every documented
//! example answered for real with the same shape, and the docs UI self-contained.

use crate::support::*;
use actix_web::dev::Service;
use actix_web::http::{header, Method, StatusCode};
use actix_web::test::{self, TestRequest};
use payments_api_actix::{app, routes, HttpSettings, RateLimit, ReadinessCheck};
use payments_domain::auth::Role;
use payments_domain::billing::{ManualPaymentError, StaffActionError};
use payments_domain::invoice::InvoiceStatus;
use payments_domain::ledger::LedgerError;
use payments_domain::ledger::LedgerError as Ledger;
use payments_domain::ports::{
    CatalogueError, CreateInvoiceError, CreateOrganizationError, StaffActionOutcome,
    StaffActionStoreError, SubmitError, SubmitOutcome,
};
use payments_domain::ports::{MockOrganizationStore, RecordError, RecordOutcome};
use payments_domain::{PaymentId, PaymentStatus, StorageError};
use serde_json::{Map, Value};
use std::sync::Arc;

async fn served_spec() -> Value {
    let answer = Ports::new()
        .call(TestRequest::get().uri("/openapi.json"))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        Some("application/json")
    );
    serde_json::from_str(&answer.body).expect("the spec is JSON")
}

fn operation<'a>(spec: &'a Value, method: &Method, path: &str) -> Option<&'a Value> {
    spec["paths"]
        .get(path)?
        .get(method.as_str().to_ascii_lowercase())
}

#[actix_web::test]
async fn the_spec_is_openapi_3_1_with_both_security_schemes() {
    let spec = served_spec().await;
    let version = spec["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1"), "{version}");
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["webhook_signature"]["type"], "apiKey");
    assert_eq!(schemes["webhook_signature"]["in"], "header");
    assert_eq!(schemes["webhook_signature"]["name"], "X-Signature");

    let webhook = operation(&spec, &Method::POST, "/api/webhook/bank/").unwrap();
    assert_eq!(
        webhook["security"][0]["webhook_signature"],
        Value::Array(vec![])
    );
    let balance = operation(&spec, &Method::GET, "/api/organizations/{inn}/balance/").unwrap();
    assert_eq!(balance["security"][0]["bearer"], Value::Array(vec![]));
    // The request body's example is the contract's.
    let body = &spec["components"]["schemas"]["BankWebhookRequest"]["example"];
    assert_eq!(body["operation_id"], "ccf0a86d-041b-4991-bcf7-e2352f7b8a4a");
    assert_eq!(body["amount"], 145000);
}

#[actix_web::test]
async fn every_registered_route_is_documented_and_nothing_else() {
    let spec = served_spec().await;
    let registered: Vec<(Method, &str)> = routes().collect();
    for (method, path) in &registered {
        assert!(
            operation(&spec, method, path).is_some(),
            "{method} {path} is served but not in the OpenAPI description"
        );
    }
    let paths = spec["paths"].as_object().unwrap();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            assert!(
                registered.contains(&(method.clone(), path.as_str())),
                "{method} {path} is documented but not served"
            );
        }
    }
    assert_eq!(
        paths
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum::<usize>(),
        registered.len()
    );
}

#[actix_web::test]
async fn operation_ids_are_unique() {
    let spec = served_spec().await;
    let mut ids: Vec<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().unwrap())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count);
}

/// Fails the readiness check with the documented reason.
struct NotReady;

#[async_trait::async_trait]
impl ReadinessCheck for NotReady {
    async fn check(&self) -> Result<(), String> {
        Err("database unreachable".to_string())
    }
}

/// A real answer for each documented `(method, path, status)`.
async fn real_answer(method: &str, path: &str, status: u16) -> Option<Answer> {
    if path.starts_with(BILLING) {
        return billing_answer(method, path, status).await;
    }
    let token = staff_token();
    let answer = match (method, path, status) {
        ("post", "/api/webhook/bank/", 200) => {
            Ports::new()
                .credited(PaymentId::generate())
                .call(signed(BODY))
                .await
        }
        ("post", "/api/webhook/bank/", 400) => {
            let body = BODY.replace("ccf0a86d-041b-4991-bcf7-e2352f7b8a4a", "nope");
            Ports::new().call(signed(&body)).await
        }
        ("post", "/api/webhook/bank/", 401) => Ports::new().call(unsigned(BODY)).await,
        ("post", "/api/webhook/bank/", 405) => {
            Ports::new().call(TestRequest::get().uri(WEBHOOK)).await
        }
        ("post", "/api/webhook/bank/", 409) => {
            let existing = recorded_payment("1");
            Ports::new()
                .recording(move |_| {
                    Ok(RecordOutcome::AlreadyRecorded {
                        payment_id: PaymentId::generate(),
                        existing: existing.clone(),
                    })
                })
                .call(signed(BODY))
                .await
        }
        ("post", "/api/webhook/bank/", 413) => {
            let ports = Ports {
                settings: HttpSettings {
                    body_limit_bytes: 10,
                    ..HttpSettings::default()
                },
                ..Ports::new()
            };
            ports.call(signed(BODY)).await
        }
        ("post", "/api/webhook/bank/", 415) => {
            let request = signed(BODY).insert_header((header::CONTENT_TYPE, "text/plain"));
            Ports::new().call(request).await
        }
        ("post", "/api/webhook/bank/", 422) => {
            Ports::new()
                .recording(|_| {
                    Err(RecordError::Ledger(LedgerError::Overflow {
                        max: rub("9999999999999.99"),
                    }))
                })
                .call(signed(BODY))
                .await
        }
        ("post", "/api/webhook/bank/", 503) => {
            Ports::new()
                .recording(|_| Err(RecordError::Storage(StorageError::new("down"))))
                .call(signed(BODY))
                .await
        }
        ("get", "/api/organizations/{inn}/balance/", 200) => {
            Ports::new()
                .with_token(&token)
                .with_organization(organization())
                .call(get(BALANCE, Some(&token)))
                .await
        }
        ("get", "/api/organizations/{inn}/balance/", 401) => {
            Ports::new().call(get(BALANCE, None)).await
        }
        ("get", "/api/organizations/{inn}/balance/", 404) => {
            let member = mint(
                9,
                Role::Member,
                Some(payments_domain::OrganizationId::new_random()),
            );
            Ports::new()
                .with_token(&member)
                .with_organization(organization())
                .call(get(BALANCE, Some(&member)))
                .await
        }
        ("get", "/api/organizations/{inn}/balance/", 405) => {
            Ports::new().call(TestRequest::delete().uri(BALANCE)).await
        }
        ("get", "/api/organizations/{inn}/balance/", 503) => {
            let mut ports = Ports::new().legacy();
            ports.organizations = MockOrganizationStore::new();
            ports
                .organizations
                .expect_find_by_inn()
                .returning(|_| Err(StorageError::new("down")));
            ports.call(get(BALANCE, None)).await
        }
        ("get", "/healthz", 200) => Ports::new().call(TestRequest::get().uri("/healthz")).await,
        ("get", "/readyz", 200) => Ports::new().call(TestRequest::get().uri("/readyz")).await,
        ("get", "/readyz", 503) => {
            let ports = Ports {
                readiness: Arc::new(NotReady),
                ..Ports::new()
            };
            ports.call(TestRequest::get().uri("/readyz")).await
        }
        ("get", "/metrics", 200) => Ports::new().call(TestRequest::get().uri("/metrics")).await,
        ("get", "/openapi.json", 200) => {
            Ports::new()
                .call(TestRequest::get().uri("/openapi.json"))
                .await
        }
        ("get", "/docs/", 200) => Ports::new().call(TestRequest::get().uri("/docs/")).await,
        ("get", "/docs", 308) => Ports::new().call(TestRequest::get().uri("/docs")).await,
        _ => return None,
    };
    Some(answer)
}

/// Same JSON types and object keys all the way down; arrays compared by their first element.
/// Fixed messages (`error`, `status`, `message`) must match exactly.
fn same_shape(example: &Value, real: &Value, at: &str) -> Result<(), String> {
    match (example, real) {
        (Value::Object(example), Value::Object(real)) => {
            let keys = |map: &Map<String, Value>| {
                let mut keys: Vec<String> = map.keys().cloned().collect();
                keys.sort();
                keys
            };
            if keys(example) != keys(real) {
                return Err(format!(
                    "{at}: keys {:?} documented, {:?} sent",
                    keys(example),
                    keys(real)
                ));
            }
            for (key, value) in example {
                if ["error", "status", "message"].contains(&key.as_str()) && value != &real[key] {
                    return Err(format!(
                        "{at}.{key}: {value} documented, {} sent",
                        real[key]
                    ));
                }
                same_shape(value, &real[key], &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(example), Value::Array(real)) => match example.first() {
            Some(first) => real
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| same_shape(first, item, &format!("{at}[{i}]"))),
            None => Ok(()),
        },
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => Ok(()),
        _ => Err(format!("{at}: {example} documented, {real} sent")),
    }
}

#[actix_web::test]
async fn every_documented_response_matches_a_real_one() {
    let spec = served_spec().await;
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !is_main_path(path) {
            continue; // aliases share the main path's answers (checked below)
        }
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let where_ = format!("{method} {path} {status}");
                let answer = real_answer(method, path, status.parse().unwrap())
                    .await
                    .unwrap_or_else(|| panic!("no real request for documented {where_}"));
                assert_eq!(answer.status.as_str(), status, "{where_}: {}", answer.body);
                for name in response["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|h| h.0)
                {
                    assert!(
                        answer.headers.contains_key(name.as_str()),
                        "{where_}: documented header {name} not sent"
                    );
                }
                let Some(content) = response["content"].as_object() else {
                    assert!(answer.body.is_empty(), "{where_}: undocumented body");
                    checked += 1;
                    continue;
                };
                let sent_type = answer.header(header::CONTENT_TYPE).unwrap_or_default();
                let (documented_type, media) = content.iter().next().unwrap();
                assert!(
                    sent_type.starts_with(documented_type.as_str()),
                    "{where_}: {documented_type} documented, {sent_type} sent"
                );
                if documented_type == "application/json" {
                    if let Some(example) = media.get("example") {
                        same_shape(example, &answer.json(), "body")
                            .unwrap_or_else(|error| panic!("{where_}: {error}"));
                    }
                } else if let Some(Value::String(example)) = media.get("example") {
                    // Text examples (metrics) are excerpts of the real answer's lines.
                    for line in example.lines() {
                        let name =
                            line.split([' ', '{'])
                                .nth(if line.starts_with('#') { 2 } else { 0 });
                        let name = name.unwrap_or_default();
                        assert!(answer.body.contains(name), "{where_}: {name} not sent");
                    }
                }
                checked += 1;
            }
        }
    }
    // Webhook 9, balance 5, healthz 1, readyz 2, metrics 1, openapi 1, docs 1 + 1; billing:
    // 23 operations with 401, 403, 405, 429, 503 each, 413 and 415 on the 9 with a body, and
    // their own outcomes (16 member, 42 staff).
    assert_eq!(checked, 21 + 23 * 5 + 9 * 2 + 16 + 42);
}

#[test]
fn shape_comparison_catches_drift() {
    let example = serde_json::json!({"error": "Invalid data", "details": {"a": ["x"]}});
    let same = serde_json::json!({"error": "Invalid data", "details": {"a": ["y", "z"]}});
    assert_eq!(same_shape(&example, &same, "body"), Ok(()));
    for drifted in [
        serde_json::json!({"error": "Invalid data"}),
        serde_json::json!({"error": "Invalid data", "details": {"a": ["x"]}, "extra": 1}),
        serde_json::json!({"error": "Other message", "details": {"a": ["x"]}}),
        serde_json::json!({"error": "Invalid data", "details": {"a": "x"}}),
        serde_json::json!({"error": "Invalid data", "details": {"a": [1]}}),
        serde_json::json!({"error": "Invalid data", "details": {"b": ["x"]}}),
    ] {
        assert!(same_shape(&example, &drifted, "body").is_err(), "{drifted}");
    }
}

fn is_main_path(path: &str) -> bool {
    payments_api_actix::Endpoint::ALL
        .iter()
        .any(|endpoint| endpoint.paths()[0] == path)
}

#[actix_web::test]
async fn aliases_are_documented_like_their_main_path() {
    let spec = served_spec().await;
    for endpoint in payments_api_actix::Endpoint::ALL {
        let (main, aliases) = endpoint.paths().split_first().unwrap();
        for method in endpoint.methods() {
            let main = operation(&spec, method, main).unwrap();
            for alias in aliases {
                let alias = operation(&spec, method, alias).unwrap();
                assert_eq!(main["responses"], alias["responses"]);
            }
        }
    }
}

#[actix_web::test]
async fn the_docs_ui_is_served_from_the_binary() {
    let service = test::init_service(app(Ports::new().state(), HttpSettings::default())).await;
    let fetch = |uri: String| {
        let service = &service;
        async move {
            let request = TestRequest::get().uri(&uri).to_request();
            Answer::read(service.call(request).await.unwrap()).await
        }
    };

    let redirect = fetch("/docs".into()).await;
    assert_eq!(redirect.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.header(header::LOCATION), Some("/docs/"));

    let index = fetch("/docs/".into()).await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(index
        .header(header::CONTENT_TYPE)
        .unwrap()
        .starts_with("text/html"));
    assert!(index.body.contains("swagger-ui"));
    assert!(!index.body.contains("https://") && !index.body.contains("http://"));

    // Every asset the page loads is relative and served here too.
    let assets: Vec<String> = index
        .body
        .split(['"', '\''])
        .filter(|part| part.starts_with("./"))
        .map(|part| format!("/docs/{}", &part[2..]))
        .collect();
    assert!(assets.len() >= 3, "{assets:?}");
    for asset in assets {
        let answer = fetch(asset.clone()).await;
        assert_eq!(answer.status, StatusCode::OK, "{asset}");
    }
    // The UI loads our spec, not a default one from the internet.
    let initializer = fetch("/docs/swagger-initializer.js".into()).await;
    assert!(initializer.body.contains("/openapi.json"));
    assert!(!initializer.body.contains("petstore"));
}

// ---------------------------------------------------------------- billing scenarios

/// A concrete request path for a documented billing path (ids filled in).
fn concrete(path: &str) -> String {
    path.trim_start_matches(BILLING)
        .replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{method}", "local_wallet")
}

/// A body every billing endpoint with one accepts as far as the domain.
fn sample_body(method: &str, path: &str) -> Option<String> {
    let body = match (method, path.trim_start_matches(BILLING)) {
        ("post", "/payments/manual/") => manual_body(),
        ("post", "/admin/payments/{id}/reject/") => {
            r#"{"admin_notes": "no transfer found"}"#.into()
        }
        ("post", p) if p.starts_with("/admin/payments/") => "{}".into(),
        ("post", "/admin/organizations/") => r#"{"inn": "7701234567", "name": "Acme"}"#.into(),
        ("post", "/admin/invoices/") => serde_json::json!({
            "organization_id": acme().id.to_string(), "amount": "139", "due_date": "2026-12-31",
            "number": "INV-2026-001"})
        .to_string(),
        ("post" | "put", p) if p.starts_with("/admin/payment-method-configs/") => config_body(),
        ("post", "/admin/organizations/{id}/payment-methods/") => {
            r#"{"payment_method": "local_wallet", "is_enabled": false, "is_default": false}"#.into()
        }
        _ => return None,
    };
    Some(body)
}

fn config_body() -> String {
    serde_json::json!({"country_code": "RU", "payment_method": "bank_transfer", "enabled": true,
        "display_name": "Bank transfer",
        "instructions": "Use the invoice number as the payment reference",
        "details": {"account": "40702810900000012345"}, "sort_order": 1})
    .to_string()
}

/// Member and staff tokens both accepted; `setup` arranges the billing mocks.
async fn as_role(
    admin: bool,
    request: impl FnOnce(&payments_domain::auth::NewToken) -> TestRequest,
    setup: impl FnOnce(&mut BillingMocks),
) -> Answer {
    let (member, staff) = (member_of(&acme()), staff());
    let caller = if admin { &staff } else { &member };
    let request = request(caller);
    Ports::new()
        .with_tokens(&[&member, &staff])
        .billing(setup)
        .call(request)
        .await
}

/// What every billing operation answers alike, then each one's own outcomes.
async fn billing_answer(method: &str, path: &str, status: u16) -> Option<Answer> {
    let admin = path.contains("/admin/");
    let relative = concrete(path);
    let body = sample_body(method, path);
    let verb = method.to_ascii_uppercase();
    let request = |token: Option<&payments_domain::auth::NewToken>| {
        billing(&verb, &relative, token, body.as_deref())
    };
    let answer = match status {
        401 => Ports::new().call(request(None)).await,
        // The other role: members on admin routes, staff on member routes.
        403 => as_role(!admin, |token| request(Some(token)), |_| {}).await,
        405 => {
            as_role(
                admin,
                |token| billing("PATCH", &relative, Some(token), None),
                |_| {},
            )
            .await
        }
        413 => {
            let ports = Ports {
                settings: HttpSettings {
                    body_limit_bytes: 8,
                    ..HttpSettings::default()
                },
                ..Ports::new()
            };
            let token = if admin { staff() } else { member_of(&acme()) };
            let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(64));
            let request = billing(&verb, &relative, Some(&token), Some(&big));
            ports.with_token(&token).call(request).await
        }
        415 => {
            let text = |token: &payments_domain::auth::NewToken| {
                request(Some(token)).insert_header((header::CONTENT_TYPE, "text/plain"))
            };
            as_role(admin, text, |_| {}).await
        }
        503 => {
            let down = |mocks: &mut BillingMocks| *mocks = BillingMocks::down();
            as_role(admin, |token| request(Some(token)), down).await
        }
        429 => {
            // A quota of one a minute; the other role's requests are refused before any port
            // is asked, so the first one only spends the quota.
            let (member, staff) = (member_of(&acme()), staff());
            let other_role = if admin { &member } else { &staff };
            Ports {
                rate_limit: RateLimit::per_minute(1),
                ..Ports::new()
            }
            .with_tokens(&[&member, &staff])
            .call_after(request(Some(other_role)), request(Some(other_role)))
            .await
        }
        _ => return own_billing_answer(method, path.trim_start_matches(BILLING), status).await,
    };
    Some(answer)
}

/// Staff's request with a JSON body.
fn staff_sends(
    method: &str,
    path: &str,
    body: &str,
) -> impl FnOnce(&payments_domain::auth::NewToken) -> TestRequest {
    let (method, path, body) = (method.to_string(), path.to_string(), body.to_string());
    move |token| billing(&method, &path, Some(token), Some(&body))
}

/// Each billing operation's own documented outcomes.
async fn own_billing_answer(method: &str, path: &str, status: u16) -> Option<Answer> {
    let org = acme();
    let get = |uri: &str| {
        let uri = uri.to_string();
        move |token: &payments_domain::auth::NewToken| billing("GET", &uri, Some(token), None)
    };
    let id = uuid::Uuid::new_v4().to_string();
    let answer = match (method, path, status) {
        // ---- member
        ("get", "/payments/", 200) => {
            as_role(false, get("/payments/?page=2&page_size=1"), |m| {
                m.payments.expect_list_payments().returning(|_, request| {
                    Ok(page(vec![view(PaymentStatus::Succeeded)], 3, request))
                });
            })
            .await
        }
        ("get", "/payments/" | "/invoices/" | "/transactions/", 400) => {
            as_role(false, get(&format!("{path}?page=0")), |_| {}).await
        }
        ("get", "/payments/{id}/", 200) => {
            as_role(false, get(&format!("/payments/{id}/")), |m| {
                m.payments
                    .expect_find_payment()
                    .returning(|_| Ok(Some(view(PaymentStatus::Succeeded))));
            })
            .await
        }
        ("get", "/payments/{id}/", 404) => {
            as_role(false, get("/payments/not-a-uuid/"), |_| {}).await
        }
        ("get", "/payment-methods/available/", 200) => {
            let known = org.clone();
            as_role(false, get(path), move |m| {
                let mocks = std::mem::take(m).knowing(&known).with_catalogue();
                *m = mocks;
            })
            .await
        }
        ("post", "/payments/manual/", 201) => {
            let known = org.clone();
            as_role(
                false,
                |t| billing("POST", path, Some(t), Some(&manual_body())),
                move |m| {
                    *m = std::mem::take(m)
                        .knowing(&known)
                        .with_catalogue()
                        .with_invoice();
                    m.manual.expect_submit_manual_payment().returning(|_| {
                        Ok(SubmitOutcome::Created(payment(
                            PaymentStatus::PendingApproval,
                        )))
                    });
                },
            )
            .await
        }
        ("post", "/payments/manual/", 400) => {
            let body = manual_body().replace("bank_transfer", "card");
            let known = org.clone();
            as_role(
                false,
                |t| billing("POST", path, Some(t), Some(&body)),
                move |m| {
                    *m = std::mem::take(m).knowing(&known);
                },
            )
            .await
        }
        ("post", "/payments/manual/", 404 | 409) => {
            let refusal = if status == 404 {
                ManualPaymentError::InvoiceNotFound
            } else {
                ManualPaymentError::PendingPaymentExists
            };
            let known = org.clone();
            as_role(
                false,
                |t| billing("POST", path, Some(t), Some(&manual_body())),
                move |m| {
                    *m = std::mem::take(m).knowing(&known).with_catalogue();
                    m.manual
                        .expect_submit_manual_payment()
                        .returning(move |_| Err(SubmitError::Rule(refusal.clone())));
                },
            )
            .await
        }
        ("get", "/invoices/", 200) => {
            as_role(false, get("/invoices/?page=2&page_size=1"), |m| {
                m.invoices.expect_list_invoices().returning(|_, request| {
                    Ok(page(vec![invoice(InvoiceStatus::Pending)], 3, request))
                });
            })
            .await
        }
        ("get", "/invoices/{id}/", 200) => {
            as_role(false, get(&format!("/invoices/{id}/")), |m| {
                m.invoices
                    .expect_find_invoice()
                    .returning(|_| Ok(Some(invoice(InvoiceStatus::Pending))));
            })
            .await
        }
        ("get", "/invoices/{id}/", 404) => {
            as_role(false, get(&format!("/invoices/{id}/")), |m| {
                m.invoices.expect_find_invoice().returning(|_| Ok(None));
            })
            .await
        }
        ("get", "/balance/", 200) => {
            let known = org.clone();
            as_role(false, get(path), move |m| {
                *m = std::mem::take(m).knowing(&known)
            })
            .await
        }
        ("get", "/transactions/", 200) => {
            as_role(false, get("/transactions/?page=2&page_size=1"), |m| {
                m.payments
                    .expect_list_balance_log()
                    .returning(|_, request| Ok(page(vec![log_entry("0", "139")], 3, request)));
            })
            .await
        }
        // ---- staff
        ("get", "/admin/payments/", 200) => {
            as_role(true, get("/admin/payments/?page=2&page_size=1"), |m| {
                m.payments.expect_list_payments().returning(|_, request| {
                    Ok(page(vec![view(PaymentStatus::Succeeded)], 3, request))
                });
            })
            .await
        }
        ("get", "/admin/payments/" | "/admin/organizations/", 400) => {
            as_role(true, get(&format!("{path}?page=0")), |_| {}).await
        }
        ("post", action, _) if action.starts_with("/admin/payments/{id}/") => {
            let name = action
                .trim_start_matches("/admin/payments/{id}/")
                .trim_end_matches('/');
            let uri = format!("/admin/payments/{id}/{name}/");
            let outcome: Result<StaffActionOutcome, StaffActionError> = match (name, status) {
                ("approve", 200) => Ok(StaffActionOutcome::Applied(payment(
                    PaymentStatus::Succeeded,
                ))),
                ("reject", 200) => Ok(StaffActionOutcome::Applied(payment(PaymentStatus::Failed))),
                ("refund", 200) => Ok(StaffActionOutcome::Applied(payment(
                    PaymentStatus::Refunded,
                ))),
                (_, 400) => {
                    // Refused at the edge: malformed JSON, or reject without notes.
                    let body = if name == "reject" {
                        "{}"
                    } else {
                        r#"{"admin_notes": "#
                    };
                    return Some(as_role(true, staff_sends("POST", &uri, body), |_| {}).await);
                }
                (_, 404) => Err(StaffActionError::PaymentNotFound),
                // As plan_staff_action refuses: approve and reject need pending_approval.
                ("approve", 409) => Err(staff_refusal(
                    PaymentStatus::Failed,
                    PaymentStatus::Succeeded,
                )),
                ("reject", 409) => Err(staff_refusal(
                    PaymentStatus::Succeeded,
                    PaymentStatus::Failed,
                )),
                ("refund", 409) => Err(PaymentStatus::PendingApproval
                    .transition_to(PaymentStatus::Refunded)
                    .unwrap_err()
                    .into()),
                ("approve", 422) => Err(StaffActionError::Ledger(Ledger::Overflow {
                    max: rub("9999999999999.99"),
                })),
                _ => return None,
            };
            let body = if name == "reject" {
                r#"{"admin_notes": "no transfer found"}"#
            } else {
                r#"{"admin_notes": "seen on the statement"}"#
            };
            as_role(true, staff_sends("POST", &uri, body), move |m| {
                *m = std::mem::take(m).with_invoice();
                m.staff
                    .expect_apply_staff_action()
                    .returning(move |_, _, _| outcome.clone().map_err(StaffActionStoreError::Rule));
            })
            .await
        }
        ("get", "/admin/organizations/", 200) => {
            as_role(true, get("/admin/organizations/?page=2&page_size=1"), |m| {
                m.organizations
                    .expect_list_organizations()
                    .returning(|request| Ok(page(vec![acme()], 3, request)));
            })
            .await
        }
        ("post", "/admin/organizations/", 201 | 400 | 409) => {
            let inn = if status == 400 { "12" } else { "7701234567" };
            let body = format!(r#"{{"inn": "{inn}", "name": "Acme"}}"#);
            as_role(true, staff_sends("POST", path, &body), move |m| {
                m.organizations
                    .expect_create_organization()
                    .returning(move |_| {
                        if status == 409 {
                            Err(CreateOrganizationError::InnTaken)
                        } else {
                            Ok(())
                        }
                    });
            })
            .await
        }
        ("post", "/admin/invoices/", 201 | 400 | 409) => {
            let amount = if status == 400 { "0" } else { "139" };
            let body = serde_json::json!({"organization_id": org.id.to_string(), "amount": amount,
                "due_date": "2026-12-31", "number": "INV-2026-001"})
            .to_string();
            let known = org.clone();
            as_role(true, staff_sends("POST", path, &body), move |m| {
                *m = std::mem::take(m).knowing(&known);
                m.invoices.expect_create_invoice().returning(move |_| {
                    if status == 409 {
                        Err(CreateInvoiceError::NumberTaken)
                    } else {
                        Ok(())
                    }
                });
            })
            .await
        }
        ("get", "/admin/payment-method-configs/", 200) => {
            as_role(true, get(path), |m| {
                m.catalogue
                    .expect_list_configs()
                    .returning(|| Ok(vec![config()]));
            })
            .await
        }
        ("post", "/admin/payment-method-configs/", 201 | 400 | 409) => {
            let body = if status == 400 {
                config_body().replace("display_name", "name")
            } else {
                config_body()
            };
            as_role(true, staff_sends("POST", path, &body), move |m| {
                m.catalogue.expect_create_config().returning(move |_| {
                    if status == 409 {
                        Err(CatalogueError::Duplicate)
                    } else {
                        Ok(())
                    }
                });
            })
            .await
        }
        ("get" | "put" | "delete", "/admin/payment-method-configs/{id}/", _) => {
            let uri = format!("/admin/payment-method-configs/{id}/");
            let body = if status == 400 {
                config_body().replace("display_name", "name")
            } else {
                config_body()
            };
            let verb = method.to_ascii_uppercase();
            let request = move |token: &payments_domain::auth::NewToken| {
                let body = (verb != "GET" && verb != "DELETE").then_some(body);
                billing(&verb, &uri, Some(token), body.as_deref())
            };
            let method = method.to_string();
            as_role(true, request, move |m| {
                let found = (status != 404).then(config);
                m.catalogue
                    .expect_find_config()
                    .returning(move |_| Ok(found.clone()));
                m.catalogue.expect_update_config().returning(move |_| {
                    if status == 409 {
                        Err(CatalogueError::Duplicate)
                    } else {
                        Ok(())
                    }
                });
                if method == "delete" {
                    m.catalogue.expect_delete_config().returning(move |_| {
                        if status == 404 {
                            Err(CatalogueError::NotFound)
                        } else {
                            Ok(())
                        }
                    });
                }
            })
            .await
        }
        ("get" | "post", "/admin/organizations/{id}/payment-methods/", _) => {
            let uri = format!("/admin/organizations/{}/payment-methods/", org.id);
            let body = if status == 400 {
                r#"{"payment_method": "local_wallet"}"#
            } else {
                r#"{"payment_method": "local_wallet", "is_enabled": false, "is_default": false}"#
            };
            let verb = method.to_ascii_uppercase();
            let request = move |token: &payments_domain::auth::NewToken| {
                let body = (verb == "POST").then_some(body);
                billing(&verb, &uri, Some(token), body)
            };
            let known = org.clone();
            as_role(true, request, move |m| {
                let found = (status != 404).then(|| known.clone());
                m.organizations
                    .expect_find_organization()
                    .returning(move |_| Ok(found.clone()));
                let setting = override_of(&known);
                m.catalogue
                    .expect_list_overrides()
                    .returning(move |_| Ok(vec![setting.clone()]));
                m.catalogue.expect_upsert_override().returning(|_| Ok(()));
            })
            .await
        }
        ("delete", "/admin/organizations/{id}/payment-methods/{method}/", _) => {
            let uri = format!(
                "/admin/organizations/{}/payment-methods/local_wallet/",
                org.id
            );
            let known = org.clone();
            as_role(
                true,
                move |t| billing("DELETE", &uri, Some(t), None),
                move |m| {
                    *m = std::mem::take(m).knowing(&known);
                    m.catalogue.expect_delete_override().returning(move |_, _| {
                        if status == 404 {
                            Err(CatalogueError::NotFound)
                        } else {
                            Ok(())
                        }
                    });
                },
            )
            .await
        }
        _ => return None,
    };
    Some(answer)
}

/// The refusal of approve or reject on a payment that does not await approval.
fn staff_refusal(current: PaymentStatus, requested: PaymentStatus) -> StaffActionError {
    StaffActionError::InvalidTransition(payments_domain::payment::InvalidTransition {
        current,
        requested,
        required: vec![PaymentStatus::PendingApproval],
    })
}
