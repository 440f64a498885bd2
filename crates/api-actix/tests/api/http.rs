//! The whole app, as the binary builds it, driven through actix's test server with mocked
//! ports. Every test checks status, content type and body.

use crate::support::*;
use actix_web::http::{header, Method, StatusCode};
use actix_web::test::TestRequest;
use chrono::Utc;
use payments_api_actix::HttpSettings;
use payments_domain::auth::Role;
use payments_domain::ledger::LedgerError;
use payments_domain::ports::{MockOrganizationStore, RecordError, RecordOutcome};
use payments_domain::signature::{self, WebhookSecret};
use payments_domain::{OrganizationId, PaymentId, StorageError};
use serde_json::json;

// ---------------------------------------------------------------- webhook

#[actix_web::test]
async fn signed_new_payment_is_credited() {
    let id = PaymentId::generate();
    let answer = Ports::new().credited(id).call(signed(BODY)).await;
    answer.assert(StatusCode::OK, processed(id));
}

#[actix_web::test]
async fn webhook_answers_without_the_trailing_slash_too() {
    let id = PaymentId::generate();
    let request = signed(BODY).uri("/api/webhook/bank");
    let answer = Ports::new().credited(id).call(request).await;
    answer.assert(StatusCode::OK, processed(id));
}

#[actix_web::test]
async fn a_duplicate_answers_the_same_message() {
    let id = PaymentId::generate();
    let existing = recorded_payment("145000.00");
    let ports = Ports::new().recording(move |_| {
        Ok(RecordOutcome::AlreadyRecorded {
            payment_id: id,
            existing: existing.clone(),
        })
    });
    ports
        .call(signed(BODY))
        .await
        .assert(StatusCode::OK, processed(id));
}

#[actix_web::test]
async fn content_type_parameters_and_case_are_accepted() {
    let id = PaymentId::generate();
    let request =
        signed(BODY).insert_header((header::CONTENT_TYPE, "Application/JSON; charset=utf-8"));
    let answer = Ports::new().credited(id).call(request).await;
    answer.assert(StatusCode::OK, processed(id));
}

#[actix_web::test]
async fn other_or_missing_content_types_are_415() {
    let expected = json!({"error": "Content-Type must be application/json"});
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/json-patch+json"),
        Some(""),
        None,
    ] {
        let mut request = TestRequest::post().uri(WEBHOOK).set_payload(BODY);
        if let Some(content_type) = content_type {
            request = request.insert_header((header::CONTENT_TYPE, content_type));
        }
        let answer = Ports::new().call(request).await;
        answer.assert(StatusCode::UNSUPPORTED_MEDIA_TYPE, expected.clone());
    }
}

#[actix_web::test]
async fn a_body_over_the_limit_is_413() {
    let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(200));
    let expected = json!({"error": "Request body too large"});
    let small = HttpSettings {
        body_limit_bytes: 100,
        ..HttpSettings::default()
    };

    let ports = Ports {
        settings: small,
        ..Ports::new()
    };
    let answer = ports.call(signed(&big)).await;
    answer.assert(StatusCode::PAYLOAD_TOO_LARGE, expected.clone());
}

#[actix_web::test]
async fn a_streamed_body_over_the_limit_is_413() {
    // No Content-Length: the limit must hold while reading.
    let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(200));
    let ports = Ports {
        settings: HttpSettings {
            body_limit_bytes: 100,
            ..HttpSettings::default()
        },
        ..Ports::new()
    };
    let answer = ports
        .call_with(signed(&big), |headers| {
            headers.remove(header::CONTENT_LENGTH);
        })
        .await;
    answer.assert(
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({"error": "Request body too large"}),
    );
}

#[actix_web::test]
async fn malformed_json_is_400_with_a_short_reason() {
    let answer = Ports::new().call(signed(r#"{"amount": 1,"#)).await;
    answer.assert(
        StatusCode::BAD_REQUEST,
        invalid(json!({"non_field_errors": ["Malformed JSON: unexpected end of input."]})),
    );
    let answer = Ports::new().call(signed(r#"{"amount": x}"#)).await;
    answer.assert(
        StatusCode::BAD_REQUEST,
        invalid(
            json!({"non_field_errors": ["Malformed JSON: syntax error at line 1, column 12."]}),
        ),
    );
}

#[actix_web::test]
async fn json_that_is_not_an_object_is_400() {
    for body in ["[]", "145000", "\"text\"", "null"] {
        let answer = Ports::new().call(signed(body)).await;
        answer.assert(
            StatusCode::BAD_REQUEST,
            invalid(json!({"non_field_errors": ["Expected a JSON object."]})),
        );
    }
}

#[actix_web::test]
async fn bad_fields_are_400_with_every_reason() {
    let body = r#"{"operation_id": "nope", "amount": 0.005, "payer_inn": "123",
                   "document_number": "PAY-1", "document_date": "2024-04-27", "extra": true}"#;
    let answer = Ports::new().call(signed(body)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        Some("application/json")
    );
    let value = answer.json();
    assert_eq!(value["error"], "Invalid data");
    let details = value["details"].as_object().unwrap();
    let mut fields: Vec<&str> = details.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["amount", "operation_id", "payer_inn"]);
    assert_eq!(
        details["amount"],
        json!(["Ensure that there are no more than 2 decimal places."])
    );
    assert_eq!(details["operation_id"], json!(["Must be a valid UUID."]));
    assert_eq!(
        details["payer_inn"],
        json!(["INN must be 10 or 12 digits."])
    );
}

#[actix_web::test]
async fn a_missing_field_is_required() {
    let answer = Ports::new()
        .call(signed(r#"{"operation_id": "ccf0a86d-041b-4991-bcf7-e2352f7b8a4a", "amount": "1.50", "payer_inn": "1234567890", "document_date": "2024-04-27"}"#))
        .await;
    answer.assert(
        StatusCode::BAD_REQUEST,
        invalid(json!({"document_number": ["This field is required."]})),
    );
}

#[actix_web::test]
async fn missing_signature_is_401_and_nothing_is_recorded() {
    let answer = Ports::new().call(unsigned(BODY)).await;
    answer.assert(StatusCode::UNAUTHORIZED, invalid_signature());
}

#[actix_web::test]
async fn bad_or_malformed_signatures_are_401() {
    let now = Utc::now().timestamp();
    let other = WebhookSecret::new("another").unwrap();
    for header_value in [
        signature::sign(&other, now, BODY.as_bytes()),
        signature::sign(&secret(), now, b"{}"),
        "garbage".to_string(),
        format!("t={now},v1=00"),
    ] {
        let request = unsigned(BODY).insert_header((signature::HEADER, header_value));
        let answer = Ports::new().call(request).await;
        answer.assert(StatusCode::UNAUTHORIZED, invalid_signature());
    }
}

#[actix_web::test]
async fn stale_or_future_signatures_are_401() {
    let now = Utc::now().timestamp();
    for timestamp in [now - 600, now + 600] {
        let answer = Ports::new().call(signed_at(BODY, timestamp)).await;
        answer.assert(StatusCode::UNAUTHORIZED, invalid_signature());
    }
}

#[actix_web::test]
async fn legacy_mode_needs_no_signature() {
    let id = PaymentId::generate();
    let answer = Ports::new()
        .legacy()
        .credited(id)
        .call(unsigned(BODY))
        .await;
    answer.assert(StatusCode::OK, processed(id));
}

#[actix_web::test]
async fn reused_operation_with_other_data_is_409() {
    let existing = recorded_payment("1");
    let ports = Ports::new().recording(move |_| {
        Ok(RecordOutcome::AlreadyRecorded {
            payment_id: PaymentId::generate(),
            existing: existing.clone(),
        })
    });
    ports.call(signed(BODY)).await.assert(
        StatusCode::CONFLICT,
        json!({"error": "Operation already processed with different data"}),
    );
}

#[actix_web::test]
async fn a_ledger_refusal_is_422() {
    let ports = Ports::new().recording(|_| {
        Err(RecordError::Ledger(LedgerError::Overflow {
            max: rub("9999999999999.99"),
        }))
    });
    ports.call(signed(BODY)).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"error": "The payment would take the balance over its maximum of 9999999999999.99."}),
    );
}

#[actix_web::test]
async fn a_storage_failure_is_503_with_retry_after() {
    let ports =
        Ports::new().recording(|_| Err(RecordError::Storage(StorageError::new("pool timed out"))));
    let answer = ports.call(signed(BODY)).await;
    answer.assert(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "Service temporarily unavailable, retry later"}),
    );
    assert_eq!(answer.header(header::RETRY_AFTER), Some("1"));
    assert!(!answer.body.contains("pool"));
}

#[actix_web::test]
async fn webhook_with_another_method_is_405_json() {
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let request = TestRequest::default().method(method).uri(WEBHOOK);
        let answer = Ports::new().call(request).await;
        answer.assert(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "Method not allowed"}),
        );
        assert_eq!(answer.header(header::ALLOW), Some("POST"));
    }
}

// ---------------------------------------------------------------- balance

#[actix_web::test]
async fn balance_is_a_number_with_exactly_two_decimals() {
    let token = staff_token();
    for uri in [BALANCE, "/api/organizations/1234567890/balance"] {
        let answer = Ports::new()
            .with_token(&token)
            .with_organization(organization())
            .call(get(uri, Some(&token)))
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.header(header::CONTENT_TYPE),
            Some("application/json")
        );
        assert_eq!(answer.body, r#"{"inn":"1234567890","balance":145000.00}"#);
    }
}

#[actix_web::test]
async fn balance_without_a_token_is_401() {
    let answer = Ports::new().call(get(BALANCE, None)).await;
    answer.assert(
        StatusCode::UNAUTHORIZED,
        json!({"error": "Authentication credentials were not provided."}),
    );
    assert_eq!(answer.header(header::WWW_AUTHENTICATE), Some("Bearer"));
}

#[actix_web::test]
async fn balance_with_an_unknown_token_is_401() {
    let answer = Ports::new()
        .with_token(&staff_token())
        .call(get(BALANCE, Some(&mint(2, Role::Staff, None))))
        .await;
    answer.assert(
        StatusCode::UNAUTHORIZED,
        json!({"error": "Invalid or revoked token."}),
    );
    assert_eq!(answer.header(header::WWW_AUTHENTICATE), Some("Bearer"));
}

#[actix_web::test]
async fn unknown_and_malformed_inns_are_404() {
    let token = staff_token();
    let not_found = json!({"error": "Organization not found"});
    for uri in [
        "/api/organizations/0987654321/balance/",
        "/api/organizations/123/balance/",
        "/api/organizations/abcdefghij/balance",
    ] {
        let answer = Ports::new()
            .with_token(&token)
            .with_organization(organization())
            .call(get(uri, Some(&token)))
            .await;
        answer.assert(StatusCode::NOT_FOUND, not_found.clone());
    }
}

#[actix_web::test]
async fn a_member_of_another_organization_gets_404() {
    let token = mint(3, Role::Member, Some(OrganizationId::new_random()));
    let answer = Ports::new()
        .with_token(&token)
        .with_organization(organization())
        .call(get(BALANCE, Some(&token)))
        .await;
    answer.assert(
        StatusCode::NOT_FOUND,
        json!({"error": "Organization not found"}),
    );
}

#[actix_web::test]
async fn a_member_reads_its_own_balance() {
    let organization = organization();
    let token = mint(4, Role::Member, Some(organization.id));
    let answer = Ports::new()
        .with_token(&token)
        .with_organization(organization)
        .call(get(BALANCE, Some(&token)))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, r#"{"inn":"1234567890","balance":145000.00}"#);
}

#[actix_web::test]
async fn legacy_mode_reads_balances_without_a_token() {
    let answer = Ports::new()
        .legacy()
        .with_organization(organization())
        .call(get(BALANCE, None))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        Some("application/json")
    );
    assert_eq!(answer.body, r#"{"inn":"1234567890","balance":145000.00}"#);
}

#[actix_web::test]
async fn balance_storage_failure_is_503() {
    let mut ports = Ports::new().legacy();
    ports.organizations = MockOrganizationStore::new();
    ports
        .organizations
        .expect_find_by_inn()
        .returning(|_| Err(StorageError::new("down")));
    let answer = ports.call(get(BALANCE, None)).await;
    answer.assert(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "Service temporarily unavailable, retry later"}),
    );
    assert_eq!(answer.header(header::RETRY_AFTER), Some("1"));
}

#[actix_web::test]
async fn balance_with_another_method_is_405_json() {
    let request = TestRequest::post()
        .uri("/api/organizations/1234567890/balance")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload("{}");
    let answer = Ports::new().call(request).await;
    answer.assert(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"error": "Method not allowed"}),
    );
    assert_eq!(answer.header(header::ALLOW), Some("GET"));
}

// ---------------------------------------------------------------- everything else

#[actix_web::test]
async fn unknown_paths_are_404_json() {
    for uri in [
        "/",
        "/api/webhook/",
        "/api/organizations/1234567890/",
        "/admin/",
    ] {
        let answer = Ports::new().call(TestRequest::get().uri(uri)).await;
        answer.assert(StatusCode::NOT_FOUND, json!({"error": "Not found"}));
    }
}
