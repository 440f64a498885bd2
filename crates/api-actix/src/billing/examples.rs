//! Example values of the OpenAPI description; `tests/api/openapi.rs` checks each against a real
//! answer.

use serde_json::{json, Value};

const REQUEST_ID: &str = "3f2c8a4e-0d1b-4e36-9a57-0c6f3b2d9e11";
const ORGANIZATION: &str = "9d3c4c02-53a4-4b57-8c52-0f5d8b7e1a20";
const INVOICE: &str = "5b0f8f47-2f7e-4e0c-9a43-51f1b7d35a9e";
const WHEN: &str = "2026-11-25T09:30:00.000000Z";

pub(crate) fn ok(data: Value, message: Option<&str>) -> Value {
    let mut body = json!({"success": true, "data": data, "request_id": REQUEST_ID});
    if let Some(message) = message {
        body["message"] = json!(message);
    }
    body
}

/// A middle page of a list: both links set.
pub(crate) fn page(path: &str, item: Value) -> Value {
    ok(
        json!({"count": 3, "next": format!("{path}?page=3&page_size=1"),
               "previous": format!("{path}?page=1&page_size=1"), "results": [item]}),
        None,
    )
}

/// A collection answered in one page.
pub(crate) fn all(item: Value) -> Value {
    ok(
        json!({"count": 1, "next": null, "previous": null, "results": [item]}),
        None,
    )
}

pub(crate) fn fail(error: &str) -> Value {
    json!({"success": false, "error": error, "request_id": REQUEST_ID})
}

pub(crate) fn invalid(errors: Value) -> Value {
    json!({"success": false, "error": "Invalid data", "errors": errors, "request_id": REQUEST_ID})
}

pub(crate) fn transition(current: &str, required: &[&str]) -> Value {
    let names = required.join(" or ");
    json!({"success": false,
           "error": format!("Payment is {current}; this action needs it to be {names}."),
           "current_status": current, "required_statuses": required,
           "request_id": REQUEST_ID})
}

/// A manual payment of an invoice in `status`, as members see it.
pub(crate) fn payment(status: &str) -> Value {
    let processed = !matches!(status, "pending_approval" | "pending" | "processing");
    json!({
        "id": "0b6f1c2e-6a3b-4a53-9d2a-3f1f0c8e5b7d",
        "organization_id": ORGANIZATION,
        "amount": "139.00",
        "currency": "RUB",
        "payment_method": "bank_transfer",
        "status": status,
        "invoice_id": INVOICE,
        "invoice_number": "INV-2026-001",
        "transaction_reference": "TX-1",
        "notes": "Paid from our account at Sberbank",
        "failure_reason": if status == "failed" { json!("no transfer found") } else { Value::Null },
        "created_at": WHEN,
        "updated_at": WHEN,
        "processed_at": if processed { json!(WHEN) } else { Value::Null },
        "operation_id": null,
        "document_number": null,
        "document_date": null,
    })
}

/// A payment as staff see it.
pub(crate) fn admin_payment(mut payment: Value, admin_notes: &str) -> Value {
    payment["admin_notes"] = json!(admin_notes);
    payment
}

pub(crate) fn invoice(status: &str) -> Value {
    json!({
        "id": INVOICE, "organization_id": ORGANIZATION, "number": "INV-2026-001",
        "amount": "139.00", "currency": "RUB", "status": status, "due_date": "2026-12-31",
        "paid_at": if status == "paid" { json!(WHEN) } else { Value::Null },
        "created_at": WHEN, "updated_at": WHEN,
    })
}

pub(crate) fn organization() -> Value {
    json!({
        "id": ORGANIZATION, "inn": "7701234567", "name": "Acme", "country": "RU",
        "currency": "RUB", "balance": "0.00", "created_at": WHEN, "updated_at": WHEN,
    })
}

pub(crate) fn balance() -> Value {
    json!({"organization_id": ORGANIZATION, "inn": "7701234567", "balance": "139.00",
           "currency": "RUB"})
}

pub(crate) fn transaction() -> Value {
    json!({
        "id": "6c1d2f0a-8b3e-4f5a-9c7d-1e2f3a4b5c6d",
        "payment_id": "0b6f1c2e-6a3b-4a53-9d2a-3f1f0c8e5b7d",
        "previous_balance": "0.00", "new_balance": "139.00", "delta": "139.00",
        "currency": "RUB", "created_at": WHEN,
    })
}

pub(crate) fn available_methods() -> Value {
    json!({"country": "RU", "currency": "RUB", "methods": [{
        "payment_method": "bank_transfer", "display_name": "Bank transfer",
        "instructions": "Use the invoice number as the payment reference",
        "details": {"account": "40702810900000012345"}, "is_default": true,
    }]})
}

pub(crate) fn config() -> Value {
    json!({
        "id": "2a7e9c41-0f3b-4d8e-b5a6-7c9d1e2f3a4b", "country_code": "RU",
        "payment_method": "bank_transfer", "enabled": true, "display_name": "Bank transfer",
        "instructions": "Use the invoice number as the payment reference",
        "details": {"account": "40702810900000012345"}, "sort_order": 1,
        "created_at": WHEN, "updated_at": WHEN,
    })
}

pub(crate) fn override_() -> Value {
    json!({"payment_method": "local_wallet", "is_enabled": false, "is_default": false,
           "created_at": WHEN, "updated_at": WHEN})
}

pub(crate) fn done(message: &str) -> Value {
    json!({"success": true, "data": null, "message": message, "request_id": REQUEST_ID})
}
