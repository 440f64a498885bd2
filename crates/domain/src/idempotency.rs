//! The `Idempotency-Key` rule of manual payments: new, replay or reuse.
//!
//! The adapter claims `(organization, key)` under a unique key first (so concurrent twins
//! queue on the database), then asks [`decide`] with what the key already held, and writes
//! what the decision says. See [`crate::ports::ManualPaymentStore`].

use crate::billing::ManualPaymentRequest;
use crate::payment::PaymentId;

/// What a store holds for a key another request claimed first (and committed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIdempotencyKey {
    /// [`ManualPaymentRequest::fingerprint`] of the request that claimed the key.
    pub fingerprint: String,
    /// The payment that request created; `None` only if its owner never finished, which a
    /// committed key cannot be (the claim and the payment commit together).
    pub payment_id: Option<PaymentId>,
}

/// What to do with a request carrying an idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotencyDecision {
    /// The key is this request's: record the payment and link it to the key.
    New,
    /// The same request again: answer with this payment, write nothing.
    Replay(PaymentId),
    /// Another request used the key: refuse
    /// ([`crate::billing::ManualPaymentError::IdempotencyKeyReused`]), write nothing.
    Reused,
    /// The same request, but the key names no payment: the stored row is corrupt.
    Dangling,
}

/// Decides a keyed request given what the key held before this request claimed it (`None`:
/// this request's claim succeeded).
pub fn decide(
    request: &ManualPaymentRequest,
    stored: Option<&StoredIdempotencyKey>,
) -> IdempotencyDecision {
    let Some(stored) = stored else {
        return IdempotencyDecision::New;
    };
    if stored.fingerprint != request.fingerprint() {
        return IdempotencyDecision::Reused;
    }
    match stored.payment_id {
        Some(payment_id) => IdempotencyDecision::Replay(payment_id),
        None => IdempotencyDecision::Dangling,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::InvoiceId;
    use crate::payment::PaymentMethod;
    use uuid::Uuid;

    fn request(reference: &str) -> ManualPaymentRequest {
        ManualPaymentRequest {
            invoice_id: InvoiceId(Uuid::from_u128(7)),
            method: PaymentMethod::BankTransfer,
            transaction_reference: reference.to_string(),
            notes: None,
        }
    }

    fn stored(of: &ManualPaymentRequest, payment_id: Option<PaymentId>) -> StoredIdempotencyKey {
        StoredIdempotencyKey {
            fingerprint: of.fingerprint(),
            payment_id,
        }
    }

    #[test]
    fn an_unclaimed_key_is_new() {
        assert_eq!(decide(&request("A"), None), IdempotencyDecision::New);
    }

    #[test]
    fn the_same_request_replays_its_payment() {
        let payment = PaymentId::generate();
        let first = request("A");
        assert_eq!(
            decide(&request("A"), Some(&stored(&first, Some(payment)))),
            IdempotencyDecision::Replay(payment)
        );
    }

    #[test]
    fn another_request_under_the_key_is_a_reuse() {
        let first = request("A");
        let payment = Some(PaymentId::generate());
        assert_eq!(
            decide(&request("B"), Some(&stored(&first, payment))),
            IdempotencyDecision::Reused
        );
        // Even when the first request's row is broken: the request differs, so refuse.
        assert_eq!(
            decide(&request("B"), Some(&stored(&first, None))),
            IdempotencyDecision::Reused
        );
    }

    #[test]
    fn a_matching_key_without_payment_is_dangling() {
        let first = request("A");
        assert_eq!(
            decide(&request("A"), Some(&stored(&first, None))),
            IdempotencyDecision::Dangling
        );
    }
}
