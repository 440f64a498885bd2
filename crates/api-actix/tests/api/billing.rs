//! The billing API through the whole app, with the domain's use cases over mocked ports:
//! envelopes, authentication and roles, lists, bodies, and the mapping of every outcome.

use crate::support::*;
use actix_web::dev::Service;
use actix_web::http::{header, StatusCode};
use actix_web::test;
use payments_api_actix::{app, HttpSettings, IDEMPOTENT_REPLAYED, REQUEST_ID_HEADER};
use payments_domain::billing::{ManualPaymentError, StaffAction, StaffActionError};
use payments_domain::invoice::InvoiceStatus;
use payments_domain::ledger::LedgerError;
use payments_domain::ports::{
    CatalogueError, CreateInvoiceError, CreateOrganizationError, StaffActionOutcome,
    StaffActionStoreError, SubmitError, SubmitOutcome,
};
use payments_domain::{Inn, PaymentMethod, PaymentStatus};
use serde_json::{json, Value};

/// Status, JSON content type, the error envelope with `error`, and its request id equal to the
/// header's.
#[track_caller]
fn assert_failure(answer: &Answer, status: StatusCode, error: &str) -> Value {
    assert_eq!(answer.status, status, "body: {}", answer.body);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        Some("application/json")
    );
    let body = answer.json();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(
        body["request_id"].as_str(),
        answer.header(REQUEST_ID_HEADER),
        "{body}"
    );
    body
}

/// Status, the success envelope, its request id; returns `data`.
#[track_caller]
fn assert_success(answer: &Answer, status: StatusCode) -> Value {
    assert_eq!(answer.status, status, "body: {}", answer.body);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        Some("application/json")
    );
    let body = answer.json();
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(
        body["request_id"].as_str(),
        answer.header(REQUEST_ID_HEADER),
        "{body}"
    );
    body["data"].clone()
}

fn member() -> payments_domain::auth::NewToken {
    member_of(&acme())
}

/// The app with member and staff tokens accepted and `setup` on the billing ports.
fn ports(setup: impl FnOnce(&mut BillingMocks)) -> Ports {
    Ports::new()
        .with_tokens(&[&member(), &staff()])
        .billing(setup)
}

// ---------------------------------------------------------------- envelope, auth, roles

#[actix_web::test]
async fn success_and_error_envelopes_carry_the_client_request_id() {
    let org = acme();
    let request = billing("GET", "/balance/", Some(&member()), None)
        .insert_header((REQUEST_ID_HEADER, "client-chosen-42"));
    let answer = ports(|m| *m = std::mem::take(m).knowing(&org))
        .call(request)
        .await;
    let data = assert_success(&answer, StatusCode::OK);
    assert_eq!(answer.json()["request_id"], "client-chosen-42");
    assert!(answer.json().get("message").is_none());
    assert_eq!(
        data,
        json!({"organization_id": org.id.to_string(), "inn": "7701234567",
               "balance": "139.00", "currency": "RUB"})
    );

    let request = billing("GET", "/payments/nope/", Some(&member()), None)
        .insert_header((REQUEST_ID_HEADER, "client-chosen-43"));
    let answer = ports(|_| {}).call(request).await;
    assert_failure(&answer, StatusCode::NOT_FOUND, "Payment not found.");
    assert_eq!(answer.json()["request_id"], "client-chosen-43");
}

#[actix_web::test]
async fn no_or_unknown_token_is_401_even_in_legacy_open_mode() {
    for ports in [Ports::new(), Ports::new().legacy()] {
        let answer = ports.call(billing("GET", "/payments/", None, None)).await;
        assert_failure(
            &answer,
            StatusCode::UNAUTHORIZED,
            "Authentication credentials were not provided.",
        );
        assert_eq!(answer.header(header::WWW_AUTHENTICATE), Some("Bearer"));
    }
    let stranger = mint(42, payments_domain::auth::Role::Staff, None);
    let answer = ports(|_| {})
        .call(billing("GET", "/admin/payments/", Some(&stranger), None))
        .await;
    assert_failure(
        &answer,
        StatusCode::UNAUTHORIZED,
        "Invalid or revoked token.",
    );
}

#[actix_web::test]
async fn authentication_comes_before_the_body_and_the_path() {
    // A malformed body and a malformed id tell an anonymous caller nothing.
    let request = billing("POST", "/payments/manual/", None, Some("{"));
    let answer = Ports::new().call(request).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let answer = Ports::new()
        .call(billing("GET", "/invoices/nope/", None, None))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn members_are_refused_admin_routes_and_staff_tenant_routes() {
    for path in [
        "/admin/payments/",
        "/admin/organizations/",
        "/admin/payment-method-configs/",
    ] {
        let answer = ports(|_| {})
            .call(billing("GET", path, Some(&member()), None))
            .await;
        assert_failure(&answer, StatusCode::FORBIDDEN, "Staff only.");
    }
    for path in ["/payments/", "/invoices/", "/transactions/", "/balance/"] {
        let answer = ports(|_| {})
            .call(billing("GET", path, Some(&staff()), None))
            .await;
        assert_failure(
            &answer,
            StatusCode::FORBIDDEN,
            "This endpoint is for members of an organization; staff use /api/v1/billing/admin/.",
        );
    }
}

#[actix_web::test]
async fn malformed_ids_and_unknown_billing_paths_are_404_envelopes() {
    for (path, error) in [
        ("/payments/12/", "Payment not found."),
        ("/invoices/not-an-id", "Invoice not found."),
    ] {
        let answer = ports(|_| {})
            .call(billing("GET", path, Some(&member()), None))
            .await;
        assert_failure(&answer, StatusCode::NOT_FOUND, error);
    }
    let answer = ports(|_| {})
        .call(billing(
            "GET",
            "/admin/payment-method-configs/x/",
            Some(&staff()),
            None,
        ))
        .await;
    assert_failure(&answer, StatusCode::NOT_FOUND, "Configuration not found.");
    let answer = ports(|_| {})
        .call(billing(
            "POST",
            "/admin/payments/x/approve/",
            Some(&staff()),
            None,
        ))
        .await;
    assert_failure(&answer, StatusCode::NOT_FOUND, "Payment not found.");
    // Unknown paths: the envelope under the prefix, the legacy body elsewhere.
    let answer = ports(|_| {})
        .call(billing("GET", "/nowhere/", Some(&member()), None))
        .await;
    assert_failure(&answer, StatusCode::NOT_FOUND, "Not found");
    let answer = Ports::new()
        .call(test::TestRequest::get().uri("/api/v1/billingx"))
        .await;
    answer.assert(StatusCode::NOT_FOUND, json!({"error": "Not found"}));
}

#[actix_web::test]
async fn wrong_methods_are_405_envelopes_with_allow() {
    for (method, path, allow) in [
        ("DELETE", "/payments/", "GET"),
        ("GET", "/payments/manual/", "POST"),
        ("PUT", "/admin/organizations/", "GET, POST"),
        (
            "PATCH",
            "/admin/payment-method-configs/x/",
            "GET, PUT, DELETE",
        ),
        (
            "GET",
            "/admin/organizations/x/payment-methods/card/",
            "DELETE",
        ),
        ("GET", "/admin/payments/x/approve", "POST"),
    ] {
        let answer = ports(|_| {})
            .call(billing(method, path, Some(&staff()), None))
            .await;
        assert_failure(
            &answer,
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
        );
        assert_eq!(answer.header(header::ALLOW), Some(allow), "{method} {path}");
    }
}

#[actix_web::test]
async fn storage_failures_are_503_with_retry_after_and_no_cause() {
    let answer = ports(|m| *m = BillingMocks::down())
        .call(billing("GET", "/payments/", Some(&member()), None))
        .await;
    assert_failure(
        &answer,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service temporarily unavailable, retry later",
    );
    assert_eq!(answer.header(header::RETRY_AFTER), Some("1"));
    assert!(!answer.body.contains("refused"));
}

// ---------------------------------------------------------------- lists

#[actix_web::test]
async fn lists_link_their_neighbours_keeping_the_other_parameters() {
    let answer = ports(|m| {
        m.payments
            .expect_list_payments()
            .withf(|_, page| page.page == 2 && page.page_size == 2)
            .returning(|_, request| {
                Ok(page(
                    vec![view(PaymentStatus::Succeeded), view(PaymentStatus::Failed)],
                    5,
                    request,
                ))
            });
    })
    .call(billing(
        "GET",
        "/payments?status=succeeded,failed&page=2&page_size=2",
        Some(&member()),
        None,
    ))
    .await;
    let data = assert_success(&answer, StatusCode::OK);
    assert_eq!(data["count"], 5);
    assert_eq!(
        data["next"],
        "/api/v1/billing/payments?status=succeeded,failed&page=3&page_size=2"
    );
    assert_eq!(
        data["previous"],
        "/api/v1/billing/payments?status=succeeded,failed&page=1&page_size=2"
    );
    assert_eq!(data["results"].as_array().unwrap().len(), 2);

    let answer = ports(|m| {
        m.payments
            .expect_list_balance_log()
            .returning(|_, request| Ok(page(vec![log_entry("139", "0")], 1, request)));
    })
    .call(billing("GET", "/transactions/", Some(&member()), None))
    .await;
    let data = assert_success(&answer, StatusCode::OK);
    assert_eq!(
        (&data["next"], &data["previous"]),
        (&Value::Null, &Value::Null)
    );
    let entry = &data["results"][0];
    assert_eq!(entry["previous_balance"], "139.00");
    assert_eq!(entry["new_balance"], "0.00");
    assert_eq!(entry["delta"], "-139.00");
    assert_eq!(entry["currency"], "RUB");
}

#[actix_web::test]
async fn bad_page_parameters_are_400_with_the_field() {
    for (query, field) in [("page=0", "page"), ("page_size=x", "page_size")] {
        let answer = ports(|_| {})
            .call(billing(
                "GET",
                &format!("/invoices/?{query}"),
                Some(&member()),
                None,
            ))
            .await;
        let body = assert_failure(&answer, StatusCode::BAD_REQUEST, "Invalid data");
        assert!(body["errors"][field].is_array(), "{body}");
    }
}

#[actix_web::test]
async fn filters_reach_the_use_case() {
    let org = acme();
    let answer = ports(|m| {
        m.payments
            .expect_list_payments()
            .withf(move |filter, _| {
                filter.organization_id == Some(acme().id)
                    && filter.statuses == [PaymentStatus::Succeeded, PaymentStatus::Refunded]
                    && filter.method == Some(PaymentMethod::LocalWallet)
                    && filter.invoice_id == Some(invoice_id())
            })
            .times(1)
            .returning(|_, request| Ok(page(vec![], 0, request)));
    })
    .call(billing(
        "GET",
        &format!(
            "/payments/?status=completed,refunded&payment_method=local_wallet&invoice_id={}",
            invoice_id()
        ),
        Some(&member()),
        None,
    ))
    .await;
    let data = assert_success(&answer, StatusCode::OK);
    assert_eq!(
        data,
        json!({"count": 0, "next": null, "previous": null, "results": []})
    );

    // Staff filter by INN; the domain resolves it.
    let answer = ports(|m| {
        let known = org.clone();
        m.organizations
            .expect_find_by_inn()
            .withf(|inn| *inn == Inn::parse("7701234567").unwrap())
            .returning(move |_| Ok(Some(known.clone())));
        m.payments
            .expect_list_payments()
            .withf(|filter, _| filter.organization_id == Some(acme().id))
            .times(1)
            .returning(|_, request| Ok(page(vec![view(PaymentStatus::Succeeded)], 1, request)));
    })
    .call(billing(
        "GET",
        "/admin/payments/?organization=7701234567",
        Some(&staff()),
        None,
    ))
    .await;
    let data = assert_success(&answer, StatusCode::OK);
    // Staff see admin notes.
    assert_eq!(data["results"][0]["admin_notes"], "seen on the statement");

    let answer = ports(|_| {})
        .call(billing(
            "GET",
            "/payments/?status=done",
            Some(&member()),
            None,
        ))
        .await;
    let body = assert_failure(&answer, StatusCode::BAD_REQUEST, "Invalid data");
    assert!(body["errors"]["status"].is_array());
}

#[actix_web::test]
async fn members_see_every_payment_field_but_the_admin_notes() {
    let answer = ports(|m| {
        m.payments
            .expect_find_payment()
            .returning(|_| Ok(Some(view(PaymentStatus::Succeeded))));
    })
    .call(billing(
        "GET",
        &format!("/payments/{}", payment(PaymentStatus::Succeeded).id),
        Some(&member()),
        None,
    ))
    .await;
    let data = assert_success(&answer, StatusCode::OK);
    let mut keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "amount",
            "created_at",
            "currency",
            "document_date",
            "document_number",
            "failure_reason",
            "id",
            "invoice_id",
            "invoice_number",
            "notes",
            "operation_id",
            "organization_id",
            "payment_method",
            "processed_at",
            "status",
            "transaction_reference",
            "updated_at",
        ]
    );
    assert_eq!(data["amount"], "139.00");
    assert_eq!(data["invoice_number"], "INV-2026-001");
    assert!(data["created_at"].as_str().unwrap().ends_with('Z'));
}

// ---------------------------------------------------------------- manual payments

/// Acme, its catalogue, and the manual store answering `outcome`.
fn submitting(outcome: Result<SubmitOutcome, SubmitError>) -> Ports {
    let org = acme();
    ports(move |m| {
        *m = std::mem::take(m)
            .knowing(&org)
            .with_catalogue()
            .with_invoice();
        m.manual
            .expect_submit_manual_payment()
            .returning(move |_| outcome.clone());
    })
}

#[actix_web::test]
async fn a_manual_payment_is_201_and_its_replay_says_so() {
    // The adapter returns the stored payment both times.
    let stored = payment(PaymentStatus::PendingApproval);
    let created = Ok(SubmitOutcome::Created(stored.clone()));
    let first = submitting(created)
        .call(billing(
            "POST",
            "/payments/manual/",
            Some(&member()),
            Some(&manual_body()),
        ))
        .await;
    let data = assert_success(&first, StatusCode::CREATED);
    assert_eq!(data["status"], "pending_approval");
    assert_eq!(
        data["id"],
        payment(PaymentStatus::PendingApproval).id.to_string()
    );
    assert!(data.get("admin_notes").is_none(), "{data}");
    assert_eq!(data["invoice_number"], "INV-2026-001", "{data}");
    assert!(first.header(IDEMPOTENT_REPLAYED).is_none());

    let replayed = Ok(SubmitOutcome::Replayed(stored));
    let again = submitting(replayed)
        .call(
            billing(
                "POST",
                "/payments/manual",
                Some(&member()),
                Some(&manual_body()),
            )
            .insert_header(("Idempotency-Key", "order-42")),
        )
        .await;
    let again_data = assert_success(&again, StatusCode::CREATED);
    assert_eq!(again.header(IDEMPOTENT_REPLAYED), Some("true"));
    assert_eq!(again_data, data);
    assert_eq!(again.json()["message"], first.json()["message"]);
}

#[actix_web::test]
async fn the_body_and_the_idempotency_key_reach_the_use_case() {
    let org = acme();
    let answer = ports(move |m| {
        *m = std::mem::take(m)
            .knowing(&org)
            .with_catalogue()
            .with_invoice();
        m.manual
            .expect_submit_manual_payment()
            .withf(|submission| {
                submission.idempotency_key.as_ref().map(|key| key.as_str()) == Some("order-42")
                    && submission.request.transaction_reference == "R-9"
                    && submission.request.invoice_id.0 == invoice_id()
                    && submission.organization_id == acme().id
            })
            .times(1)
            .returning(|_| {
                Ok(SubmitOutcome::Created(payment(
                    PaymentStatus::PendingApproval,
                )))
            });
    })
    .call(
        billing(
            "POST",
            "/payments/manual/",
            Some(&member()),
            // The old system's alias of transaction_reference.
            Some(
                &json!({"invoice_id": invoice_id(), "payment_method": "bank_transfer",
                         "reference": "R-9"})
                .to_string(),
            ),
        )
        .insert_header(("Idempotency-Key", "order-42")),
    )
    .await;
    assert_success(&answer, StatusCode::CREATED);
}

#[actix_web::test]
async fn manual_payment_refusals_map_to_400_404_and_409() {
    for (refusal, status, error) in [
        (
            ManualPaymentError::PendingPaymentExists,
            StatusCode::CONFLICT,
            "This invoice already has a payment waiting for approval.",
        ),
        (
            ManualPaymentError::IdempotencyKeyReused,
            StatusCode::CONFLICT,
            "Idempotency-Key was already used with a different request.",
        ),
        (
            ManualPaymentError::InvoiceNotFound,
            StatusCode::NOT_FOUND,
            "Invoice not found.",
        ),
        (
            ManualPaymentError::InvoiceNotPayable(InvoiceStatus::Paid),
            StatusCode::BAD_REQUEST,
            "Invalid data",
        ),
    ] {
        let answer = submitting(Err(SubmitError::Rule(refusal)))
            .call(billing(
                "POST",
                "/payments/manual/",
                Some(&member()),
                Some(&manual_body()),
            ))
            .await;
        let body = assert_failure(&answer, status, error);
        if status == StatusCode::BAD_REQUEST {
            assert_eq!(
                body["errors"]["invoice_id"],
                json!(["Invoice is paid; only pending invoices can be paid."])
            );
        }
    }
}

#[actix_web::test]
async fn invalid_manual_payments_are_400_with_every_field() {
    let org = acme();
    let answer = ports(move |m| *m = std::mem::take(m).knowing(&org))
        .call(billing(
            "POST",
            "/payments/manual/",
            Some(&member()),
            Some(r#"{"notes": 5}"#),
        ))
        .await;
    let body = assert_failure(&answer, StatusCode::BAD_REQUEST, "Invalid data");
    assert_eq!(
        body["errors"],
        json!({
            "invoice_id": ["This field is required."],
            "payment_method": ["This field is required."],
            "transaction_reference": ["This field is required."],
            "notes": ["Not a valid string."],
        })
    );
    let org = acme();
    let answer = ports(move |m| *m = std::mem::take(m).knowing(&org))
        .call(
            billing(
                "POST",
                "/payments/manual/",
                Some(&member()),
                Some(&manual_body()),
            )
            .insert_header(("Idempotency-Key", "has space")),
        )
        .await;
    let body = assert_failure(&answer, StatusCode::BAD_REQUEST, "Invalid data");
    assert!(body["errors"]["Idempotency-Key"].is_array(), "{body}");
}

// ---------------------------------------------------------------- bodies

#[actix_web::test]
async fn body_errors_are_enveloped() {
    let answer = ports(|_| {})
        .call(billing(
            "POST",
            "/payments/manual/",
            Some(&member()),
            Some(r#"{"a": 1,"#),
        ))
        .await;
    let body = assert_failure(&answer, StatusCode::BAD_REQUEST, "Invalid data");
    assert_eq!(
        body["errors"],
        json!({"non_field_errors": ["Malformed JSON: unexpected end of input."]})
    );

    let answer = ports(|_| {})
        .call(billing(
            "POST",
            "/admin/organizations/",
            Some(&staff()),
            Some("[1]"),
        ))
        .await;
    let body = assert_failure(&answer, StatusCode::BAD_REQUEST, "Invalid data");
    assert_eq!(
        body["errors"],
        json!({"non_field_errors": ["Expected a JSON object."]})
    );

    let request = billing("POST", "/admin/invoices/", Some(&staff()), Some("{}"))
        .insert_header((header::CONTENT_TYPE, "text/plain"));
    let answer = ports(|_| {}).call(request).await;
    assert_failure(
        &answer,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type must be application/json",
    );

    let small = Ports {
        settings: HttpSettings {
            body_limit_bytes: 16,
            ..HttpSettings::default()
        },
        ..ports(|_| {})
    };
    let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(100));
    let answer = small
        .call(billing(
            "PUT",
            "/admin/payment-method-configs/x/",
            Some(&staff()),
            Some(&big),
        ))
        .await;
    assert_failure(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body too large",
    );
}

#[actix_web::test]
async fn field_types_are_checked_at_the_edge() {
    let body = r#"{"country_code": "RU", "payment_method": "card", "display_name": "Card",
                   "enabled": "yes", "sort_order": 1.5, "instructions": {}}"#;
    let answer = ports(|_| {})
        .call(billing(
            "POST",
            "/admin/payment-method-configs/",
            Some(&staff()),
            Some(body),
        ))
        .await;
    let body = assert_failure(&answer, StatusCode::BAD_REQUEST, "Invalid data");
    assert_eq!(
        body["errors"],
        json!({"enabled": ["Must be a valid boolean."],
               "sort_order": ["A valid integer is required."],
               "instructions": ["Not a valid string."]})
    );
}

// ---------------------------------------------------------------- staff actions

/// The staff store expects `action` and answers `outcome`.
fn acting(action: StaffAction, outcome: Result<StaffActionOutcome, StaffActionError>) -> Ports {
    ports(move |m| {
        *m = std::mem::take(m).with_invoice();
        m.staff
            .expect_apply_staff_action()
            .withf(move |id, asked, _| {
                *id == payment(PaymentStatus::Succeeded).id && *asked == action
            })
            .times(1)
            .returning(move |_, _, _| outcome.clone().map_err(StaffActionStoreError::Rule));
    })
}

fn action_path(name: &str) -> String {
    format!(
        "/admin/payments/{}/{name}/",
        payment(PaymentStatus::Succeeded).id
    )
}

#[actix_web::test]
async fn approve_accepts_an_empty_body_and_repeats_are_200() {
    let approve = StaffAction::Approve { admin_notes: None };
    // No body and no content type at all.
    let answer = acting(
        approve.clone(),
        Ok(StaffActionOutcome::Applied(payment(
            PaymentStatus::Succeeded,
        ))),
    )
    .call(billing(
        "POST",
        &action_path("approve"),
        Some(&staff()),
        None,
    ))
    .await;
    let data = assert_success(&answer, StatusCode::OK);
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["admin_notes"], "seen on the statement");
    assert_eq!(answer.json()["message"], "Payment approved.");

    let answer = acting(
        approve,
        Ok(StaffActionOutcome::AlreadyDone(payment(
            PaymentStatus::Succeeded,
        ))),
    )
    .call(billing(
        "POST",
        &action_path("approve"),
        Some(&staff()),
        Some("{}"),
    ))
    .await;
    let data = assert_success(&answer, StatusCode::OK);
    assert_eq!(data["status"], "succeeded");
    assert_eq!(
        answer.json()["message"],
        "Payment was already approved; nothing changed."
    );

    let with_notes = StaffAction::Approve {
        admin_notes: Some("seen on the statement".into()),
    };
    let answer = acting(
        with_notes,
        Ok(StaffActionOutcome::Applied(payment(
            PaymentStatus::Succeeded,
        ))),
    )
    .call(billing(
        "POST",
        &action_path("approve"),
        Some(&staff()),
        Some(r#"{"admin_notes": "seen on the statement"}"#),
    ))
    .await;
    assert_success(&answer, StatusCode::OK);
}

#[actix_web::test]
async fn refused_transitions_are_409_naming_the_states() {
    let refusal = PaymentStatus::PendingApproval
        .transition_to(PaymentStatus::Refunded)
        .unwrap_err();
    let answer = acting(
        StaffAction::Refund { admin_notes: None },
        Err(refusal.into()),
    )
    .call(billing(
        "POST",
        &action_path("refund"),
        Some(&staff()),
        Some("{}"),
    ))
    .await;
    let body = assert_failure(
        &answer,
        StatusCode::CONFLICT,
        "Payment is pending_approval; this action needs it to be succeeded.",
    );
    assert_eq!(body["current_status"], "pending_approval");
    assert_eq!(body["required_statuses"], json!(["succeeded"]));

    let refusal = PaymentStatus::Succeeded
        .transition_to(PaymentStatus::Failed)
        .unwrap_err();
    let reject = StaffAction::reject(Some("late")).unwrap();
    let answer = acting(reject, Err(refusal.into()))
        .call(billing(
            "POST",
            &action_path("reject"),
            Some(&staff()),
            Some(r#"{"admin_notes": "late"}"#),
        ))
        .await;
    let body = assert_failure(
        &answer,
        StatusCode::CONFLICT,
        "Payment is succeeded; this action needs it to be pending or pending_approval or processing.",
    );
    assert_eq!(
        body["required_statuses"],
        json!(["pending", "pending_approval", "processing"])
    );
}

#[actix_web::test]
async fn reject_needs_a_reason_and_becomes_the_failure_reason() {
    for body in [None, Some("{}"), Some(r#"{"admin_notes": "  "}"#)] {
        let answer = ports(|_| {})
            .call(billing(
                "POST",
                &action_path("reject"),
                Some(&staff()),
                body,
            ))
            .await;
        let body = assert_failure(&answer, StatusCode::BAD_REQUEST, "Invalid data");
        assert_eq!(
            body["errors"],
            json!({"admin_notes": ["A reason is required to reject a payment."]})
        );
    }
    let answer = acting(
        StaffAction::reject(Some("no transfer found")).unwrap(),
        Ok(StaffActionOutcome::Applied(payment(PaymentStatus::Failed))),
    )
    .call(billing(
        "POST",
        &action_path("reject"),
        Some(&staff()),
        Some(r#"{"admin_notes": "no transfer found"}"#),
    ))
    .await;
    let data = assert_success(&answer, StatusCode::OK);
    assert_eq!(data["status"], "failed");
    assert_eq!(data["failure_reason"], "no transfer found");
}

#[actix_web::test]
async fn ledger_refusals_are_409_or_422() {
    let answer = acting(
        StaffAction::Approve { admin_notes: None },
        Err(StaffActionError::Ledger(LedgerError::Overflow {
            max: rub("9999999999999.99"),
        })),
    )
    .call(billing(
        "POST",
        &action_path("approve"),
        Some(&staff()),
        None,
    ))
    .await;
    assert_failure(
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "The payment would take the balance over its maximum of 9999999999999.99.",
    );
    let answer = acting(
        StaffAction::Refund { admin_notes: None },
        Err(StaffActionError::Ledger(LedgerError::InsufficientBalance {
            balance: rub("0"),
            requested: rub("139"),
        })),
    )
    .call(billing(
        "POST",
        &action_path("refund"),
        Some(&staff()),
        None,
    ))
    .await;
    assert_failure(
        &answer,
        StatusCode::CONFLICT,
        "Insufficient balance: 0.00 available, 139.00 requested.",
    );
    let answer = acting(
        StaffAction::Refund { admin_notes: None },
        Err(StaffActionError::PaymentNotFound),
    )
    .call(billing(
        "POST",
        &action_path("refund"),
        Some(&staff()),
        None,
    ))
    .await;
    assert_failure(&answer, StatusCode::NOT_FOUND, "Payment not found.");
}

// ---------------------------------------------------------------- staff writes

#[actix_web::test]
async fn organizations_are_created_201_and_a_taken_inn_is_409() {
    let answer = ports(|m| {
        m.organizations
            .expect_create_organization()
            .withf(|org| org.inn.as_str() == "7701234567" && org.name == "Acme")
            .returning(|_| Ok(()));
    })
    .call(billing(
        "POST",
        "/admin/organizations/",
        Some(&staff()),
        // An INN sent as a number is taken as its digits.
        Some(r#"{"inn": 7701234567, "name": "Acme"}"#),
    ))
    .await;
    let data = assert_success(&answer, StatusCode::CREATED);
    assert_eq!(answer.json()["message"], "Organization created.");
    assert_eq!(
        (&data["country"], &data["currency"], &data["balance"]),
        (&json!("RU"), &json!("RUB"), &json!("0.00"))
    );
    assert!(data["id"].is_string());

    let answer = ports(|m| {
        m.organizations
            .expect_create_organization()
            .returning(|_| Err(CreateOrganizationError::InnTaken));
    })
    .call(billing(
        "POST",
        "/admin/organizations/",
        Some(&staff()),
        Some(r#"{"inn": "7701234567", "name": "Again"}"#),
    ))
    .await;
    assert_failure(
        &answer,
        StatusCode::CONFLICT,
        "An organization with this INN already exists.",
    );
}

#[actix_web::test]
async fn invoice_amounts_pass_as_their_literal_text() {
    let org = acme();
    let answer = ports(move |m| {
        *m = std::mem::take(m).knowing(&org);
        m.invoices
            .expect_create_invoice()
            .withf(|invoice| {
                invoice.amount.to_string() == "10.50" && invoice.number.as_str() == "INV-2026-001"
            })
            .returning(|_| Ok(()));
    })
    .call(billing(
        "POST",
        "/admin/invoices/",
        Some(&staff()),
        Some(&format!(
            r#"{{"organization_id": "{}", "amount": 10.50, "number": "INV-2026-001",
                 "due_date": "2026-12-31"}}"#,
            acme().id
        )),
    ))
    .await;
    let data = assert_success(&answer, StatusCode::CREATED);
    assert_eq!(data["amount"], "10.50");
    assert_eq!(data["status"], "pending");
    assert_eq!(data["due_date"], "2026-12-31");

    // Through a float this would be 139.0 and accepted; its text has 18 decimals.
    let org = acme();
    let answer = ports(move |m| *m = std::mem::take(m).knowing(&org))
        .call(billing(
            "POST",
            "/admin/invoices/",
            Some(&staff()),
            Some(&format!(
                r#"{{"organization_id": "{}", "amount": 139.000000000000000001}}"#,
                acme().id
            )),
        ))
        .await;
    let body = assert_failure(&answer, StatusCode::BAD_REQUEST, "Invalid data");
    assert_eq!(
        body["errors"],
        json!({"amount": ["Ensure that there are no more than 2 decimal places."]})
    );

    let org = acme();
    let answer = ports(move |m| {
        *m = std::mem::take(m).knowing(&org);
        m.invoices
            .expect_create_invoice()
            .returning(|_| Err(CreateInvoiceError::NumberTaken));
    })
    .call(billing(
        "POST",
        "/admin/invoices/",
        Some(&staff()),
        Some(&json!({"organization_id": acme().id.to_string(), "amount": "139"}).to_string()),
    ))
    .await;
    assert_failure(
        &answer,
        StatusCode::CONFLICT,
        "An invoice with this number already exists.",
    );
}

#[actix_web::test]
async fn the_catalogue_can_be_listed_created_read_replaced_and_deleted() {
    let config_id = config().id;
    let list = ports(|m| {
        m.catalogue
            .expect_list_configs()
            .returning(|| Ok(vec![config()]));
    })
    .call(billing(
        "GET",
        "/admin/payment-method-configs/",
        Some(&staff()),
        None,
    ))
    .await;
    let data = assert_success(&list, StatusCode::OK);
    assert_eq!(data["count"], 1);
    assert_eq!(data["next"], Value::Null);
    assert_eq!(
        data["results"][0]["details"],
        json!({"account": "40702810900000012345"})
    );

    let body = r#"{"country_code": "*", "payment_method": "card", "display_name": "Card",
                   "details": {"acquirer": "test"}, "sort_order": "9"}"#;
    let created = ports(|m| {
        m.catalogue
            .expect_create_config()
            .withf(|c| c.country.as_str() == "*" && c.sort_order == 9 && c.enabled)
            .returning(|_| Ok(()));
    })
    .call(billing(
        "POST",
        "/admin/payment-method-configs/",
        Some(&staff()),
        Some(body),
    ))
    .await;
    let data = assert_success(&created, StatusCode::CREATED);
    assert_eq!(data["country_code"], "*");
    assert_eq!(data["details"], json!({"acquirer": "test"}));

    let duplicate = ports(|m| {
        m.catalogue
            .expect_create_config()
            .returning(|_| Err(CatalogueError::Duplicate));
    })
    .call(billing(
        "POST",
        "/admin/payment-method-configs/",
        Some(&staff()),
        Some(body),
    ))
    .await;
    assert_failure(
        &duplicate,
        StatusCode::CONFLICT,
        "A configuration for this country and method already exists.",
    );

    let path = format!("/admin/payment-method-configs/{config_id}/");
    let read = ports(|m| {
        m.catalogue
            .expect_find_config()
            .returning(|_| Ok(Some(config())));
    })
    .call(billing("GET", &path, Some(&staff()), None))
    .await;
    assert_eq!(
        assert_success(&read, StatusCode::OK)["id"],
        config_id.to_string()
    );

    let replaced = ports(|m| {
        m.catalogue.expect_find_config().returning(|_| Ok(Some(config())));
        m.catalogue
            .expect_update_config()
            .withf(move |c| c.id == config_id && !c.enabled)
            .returning(|_| Ok(()));
    })
    .call(billing(
        "PUT",
        &path,
        Some(&staff()),
        Some(r#"{"country_code": "RU", "payment_method": "bank_transfer", "display_name": "Bank", "enabled": false}"#),
    ))
    .await;
    let data = assert_success(&replaced, StatusCode::OK);
    assert_eq!(data["enabled"], false);
    assert_eq!(
        replaced.json()["message"],
        "Payment method configuration updated."
    );

    let deleted = ports(|m| {
        m.catalogue
            .expect_delete_config()
            .withf(move |id| *id == config_id)
            .returning(|_| Ok(()));
    })
    .call(billing("DELETE", &path, Some(&staff()), None))
    .await;
    assert_eq!(assert_success(&deleted, StatusCode::OK), Value::Null);
    assert_eq!(
        deleted.json()["message"],
        "Payment method configuration deleted."
    );

    let gone = ports(|m| {
        m.catalogue.expect_find_config().returning(|_| Ok(None));
    })
    .call(billing("GET", &path, Some(&staff()), None))
    .await;
    assert_failure(&gone, StatusCode::NOT_FOUND, "Configuration not found.");
}

#[actix_web::test]
async fn overrides_are_listed_saved_and_deleted() {
    let org = acme();
    let path = format!("/admin/organizations/{}/payment-methods/", org.id);
    let known = org.clone();
    let list = ports(move |m| {
        let setting = override_of(&known);
        *m = std::mem::take(m).knowing(&known);
        m.catalogue
            .expect_list_overrides()
            .returning(move |_| Ok(vec![setting.clone()]));
    })
    .call(billing("GET", &path, Some(&staff()), None))
    .await;
    let data = assert_success(&list, StatusCode::OK);
    assert_eq!(data["count"], 1);
    assert_eq!(data["results"][0]["payment_method"], "local_wallet");
    assert_eq!(data["results"][0]["is_enabled"], false);

    let known = org.clone();
    let saved = ports(move |m| {
        *m = std::mem::take(m).knowing(&known);
        m.catalogue
            .expect_upsert_override()
            .withf(|s| s.method == PaymentMethod::BankTransfer && s.is_enabled && s.is_default)
            .times(1)
            .returning(|_| Ok(()));
    })
    .call(billing(
        "POST",
        &path,
        Some(&staff()),
        Some(r#"{"payment_method": "bank_transfer", "is_enabled": true, "is_default": true}"#),
    ))
    .await;
    let data = assert_success(&saved, StatusCode::OK);
    assert_eq!(data["is_default"], true);
    assert_eq!(saved.json()["message"], "Payment method override saved.");

    let known = org.clone();
    let refused = ports(move |m| *m = std::mem::take(m).knowing(&known))
        .call(billing(
            "POST",
            &path,
            Some(&staff()),
            Some(r#"{"payment_method": "bank_transfer", "is_enabled": false, "is_default": true}"#),
        ))
        .await;
    let body = assert_failure(&refused, StatusCode::BAD_REQUEST, "Invalid data");
    assert!(body["errors"]["is_default"].is_array());

    let known = org.clone();
    let deleted = ports(move |m| {
        *m = std::mem::take(m).knowing(&known);
        m.catalogue
            .expect_delete_override()
            .withf(|_, method| *method == PaymentMethod::LocalWallet)
            .returning(|_, _| Ok(()));
    })
    .call(billing(
        "DELETE",
        &format!("{path}local_wallet"),
        Some(&staff()),
        None,
    ))
    .await;
    assert_eq!(assert_success(&deleted, StatusCode::OK), Value::Null);

    let unknown = ports(move |m| *m = std::mem::take(m).knowing(&org))
        .call(billing(
            "DELETE",
            &format!("{path}cash/"),
            Some(&staff()),
            None,
        ))
        .await;
    assert_failure(&unknown, StatusCode::NOT_FOUND, "Override not found.");

    let other = ports(|m| {
        m.organizations
            .expect_find_organization()
            .returning(|_| Ok(None));
    })
    .call(billing(
        "GET",
        &format!("/admin/organizations/{}/payment-methods/", invoice_id()),
        Some(&staff()),
        None,
    ))
    .await;
    assert_failure(&other, StatusCode::NOT_FOUND, "Organization not found.");
}

#[actix_web::test]
async fn available_methods_name_the_country_and_currency() {
    let org = acme();
    let answer = ports(move |m| *m = std::mem::take(m).knowing(&org).with_catalogue())
        .call(billing(
            "GET",
            "/payment-methods/available",
            Some(&member()),
            None,
        ))
        .await;
    let data = assert_success(&answer, StatusCode::OK);
    assert_eq!(
        data,
        json!({"country": "RU", "currency": "RUB", "methods": [{
            "payment_method": "bank_transfer", "display_name": "Bank transfer",
            "instructions": "Use the invoice number as the payment reference",
            "details": {"account": "40702810900000012345"}, "is_default": false}]})
    );
}

// ---------------------------------------------------------------- operability

#[actix_web::test]
async fn billing_requests_are_counted_by_route_pattern() {
    let state = ports(|m| {
        m.payments.expect_find_payment().returning(|_| Ok(None));
    })
    .state();
    let metrics = state.metrics.clone();
    let service = test::init_service(app(state, HttpSettings::default())).await;
    let request = billing(
        "GET",
        &format!("/payments/{}/", invoice_id()),
        Some(&member()),
        None,
    );
    let answer = Answer::read(service.call(request.to_request()).await.unwrap()).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let text = metrics.render().unwrap();
    let line = r#"http_requests_total{method="GET",route="/api/v1/billing/payments/{id}/",status="404"} 1"#;
    assert!(text.contains(line), "{text}");
}
