//! `POST /api/webhook/bank/`: the bank tells us about an incoming transfer.
//!
//! The body is read as raw bytes because the signature covers exactly those bytes, and the JSON
//! is split into fields by hand so that amounts keep their literal text (never a float).

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use payments_domain::bank::RawBankPayment;
use payments_domain::signature;
use payments_domain::usecases::BankPaymentReceipt;

use crate::body::{read_body, require_json_content_type, JsonObject};
use crate::error::ApiError;
use crate::metrics::{Metrics, WebhookOutcome};
use crate::openapi::{BankWebhookRequest, ErrorBody, InvalidDataBody, WebhookAccepted};
use crate::{ApiState, HttpSettings, WebhookAuth};

/// Receives one bank payment: content type, size, signature, JSON shape, then the use case.
#[utoipa::path(
    post,
    path = "/api/webhook/bank/",
    operation_id = "receiveBankWebhook",
    tag = "payments",
    summary = "Receive a bank transfer",
    description = "Records the payment once per `operation_id` and credits the payer's balance \
                   (creating the organization on its first payment). Retries with the same body \
                   answer 200 again and credit nothing. Also served at `/api/webhook/bank`; \
                   other methods answer 405 with an `Allow` header.",
    request_body(content = BankWebhookRequest, content_type = "application/json"),
    security(("webhook_signature" = [])),
    responses(
        (status = 200, description = "Credited now, or earlier by the same operation",
         body = WebhookAccepted,
         example = json!({"message": "Payment processed successfully",
                          "payment_id": "0b6f1c2e-6a3b-4a53-9d2a-3f1f0c8e5b7d"})),
        (status = 400, description = "Malformed JSON, not an object, or invalid fields \
                                      (every reason, by field)",
         body = InvalidDataBody,
         example = json!({"error": "Invalid data",
                          "details": {"operation_id": ["Must be a valid UUID."]}})),
        (status = 401, description = "Missing, malformed, stale or wrong `X-Signature`; \
                                      nothing recorded",
         body = ErrorBody, example = json!({"error": "Invalid signature"})),
        (status = 405, description = "Any method but POST on this path",
         body = ErrorBody, headers(("Allow" = String, description = "`POST`")),
         example = json!({"error": "Method not allowed"})),
        (status = 409, description = "The operation_id was already used with other data; \
                                      nothing changed",
         body = ErrorBody,
         example = json!({"error": "Operation already processed with different data"})),
        (status = 413, description = "Body over the size limit",
         body = ErrorBody, example = json!({"error": "Request body too large"})),
        (status = 415, description = "Content-Type is not `application/json`",
         body = ErrorBody,
         example = json!({"error": "Content-Type must be application/json"})),
        (status = 422, description = "The ledger refused the credit (balance overflow); \
                                      nothing changed",
         body = ErrorBody,
         example = json!({"error": "The payment would take the balance over its maximum of 9999999999999.99."})),
        (status = 503, description = "Storage unavailable, or the request timed out \
                                      (`{\"error\": \"Request timed out\"}`). Nothing was \
                                      committed: the request's transaction ends, rolled back, \
                                      before its timeout answers. Retry.",
         body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait before retrying")),
         example = json!({"error": "Service temporarily unavailable, retry later"})),
    )
)]
pub(crate) async fn receive(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<ApiState>,
    settings: web::Data<HttpSettings>,
) -> Result<HttpResponse, ApiError> {
    let mut outcome = OutcomeCounter::new(&state.metrics);
    let result = process(&request, payload, &state, &settings).await;
    outcome.settle(&result);
    let receipt = result?;
    Ok(HttpResponse::Ok().json(WebhookAccepted {
        message: "Payment processed successfully",
        payment_id: receipt.payment_id().to_string(),
    }))
}

async fn process(
    request: &HttpRequest,
    payload: web::Payload,
    state: &ApiState,
    settings: &HttpSettings,
) -> Result<BankPaymentReceipt, ApiError> {
    // Checked before reading so a wrong client is told cheaply, whatever it sends.
    require_json_content_type(request)?;
    let body = read_body(request, payload, settings.body_limit_bytes).await?;
    let now = Utc::now();
    if let WebhookAuth::Signed(secrets) = &state.webhook_auth {
        // A header that is not visible ASCII cannot be a valid signature: treat it as malformed.
        let header = request
            .headers()
            .get(signature::HEADER)
            .map(|value| value.to_str().unwrap_or_default());
        signature::verify(secrets, header, &body, now.timestamp())?;
    }
    let raw = parse_bank_payment(&body)?;
    Ok(state.receive_bank_payment.execute(&raw, now).await?)
}

/// Counts the webhook's outcome exactly once, when dropped.
///
/// Counting on drop also covers a handler cut off by the request timeout: that webhook was
/// answered 503, so it counts as unavailable.
struct OutcomeCounter {
    metrics: Metrics,
    outcome: WebhookOutcome,
}

impl OutcomeCounter {
    fn new(metrics: &Metrics) -> Self {
        Self {
            metrics: metrics.clone(),
            outcome: WebhookOutcome::Unavailable,
        }
    }

    fn settle(&mut self, result: &Result<BankPaymentReceipt, ApiError>) {
        self.outcome = match result {
            Ok(BankPaymentReceipt::Credited { change, .. }) => {
                self.metrics.record_credit(change.delta_minor_units());
                WebhookOutcome::Accepted
            }
            Ok(BankPaymentReceipt::Duplicate { .. }) => WebhookOutcome::Duplicate,
            Err(error) => WebhookOutcome::of_error(error),
        };
    }
}

impl Drop for OutcomeCounter {
    fn drop(&mut self) {
        self.metrics.record_webhook(self.outcome);
    }
}

/// Splits a webhook body into the five fields the domain validates; other keys are ignored.
pub(crate) fn parse_bank_payment(body: &[u8]) -> Result<RawBankPayment, ApiError> {
    let mut fields = JsonObject::parse(body)?;
    Ok(RawBankPayment {
        operation_id: fields.raw("operation_id"),
        amount: fields.raw("amount"),
        payer_inn: fields.raw("payer_inn"),
        document_number: fields.raw("document_number"),
        document_date: fields.raw("document_date"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::NON_FIELD_ERRORS;
    use payments_domain::bank::RawField;

    fn reasons(error: ApiError) -> Vec<String> {
        match error {
            ApiError::InvalidData(errors) => errors.get(NON_FIELD_ERRORS).unwrap().to_vec(),
            other => panic!("expected invalid data, got {other:?}"),
        }
    }

    #[test]
    fn numbers_keep_their_literal_text_and_strings_are_unescaped() {
        let raw = parse_bank_payment(
            br#"{"operation_id": "a\u0062c", "amount": 145000.10, "payer_inn": 1234567890,
                "document_number": null, "document_date": true, "extra": [1]}"#,
        )
        .unwrap();
        assert_eq!(raw.operation_id, RawField::Text("abc".into()));
        assert_eq!(raw.amount, RawField::Number("145000.10".into()));
        assert_eq!(raw.payer_inn, RawField::Number("1234567890".into()));
        assert_eq!(raw.document_number, RawField::Null);
        assert_eq!(raw.document_date, RawField::Other);
    }

    #[test]
    fn absent_fields_are_missing_and_objects_or_arrays_are_other() {
        let raw =
            parse_bank_payment(br#"{"amount": {"v": 1}, "payer_inn": [], "x": 1e400}"#).unwrap();
        assert_eq!(raw.operation_id, RawField::Missing);
        assert_eq!(raw.amount, RawField::Other);
        assert_eq!(raw.payer_inn, RawField::Other);
        assert_eq!(raw.document_date, RawField::Missing);
    }

    #[test]
    fn huge_and_exponent_literals_are_passed_through_unchanged() {
        let raw = parse_bank_payment(br#"{"amount": 123456789012345678901234567890.123}"#).unwrap();
        assert_eq!(
            raw.amount,
            RawField::Number("123456789012345678901234567890.123".into())
        );
        let raw = parse_bank_payment(br#"{"amount": -1.5E3}"#).unwrap();
        assert_eq!(raw.amount, RawField::Number("-1.5E3".into()));
    }

    #[test]
    fn malformed_and_non_object_bodies() {
        for body in [&b""[..], b"{", b"{\"a\":}", b"\xff", b"{} x", b"nul"] {
            let reason = reasons(parse_bank_payment(body).unwrap_err());
            assert_eq!(reason.len(), 1);
            assert!(
                reason[0].starts_with("Malformed JSON"),
                "{body:?}: {reason:?}"
            );
        }
        for body in [&b"[]"[..], b"1", b"\"x\"", b"null", b" true "] {
            assert_eq!(
                reasons(parse_bank_payment(body).unwrap_err()),
                ["Expected a JSON object."]
            );
        }
    }
}
