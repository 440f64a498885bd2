//! Receiving a payment from the bank's webhook.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::bank::{BankPayment, Dedup, RawBankPayment};
use crate::error::{FieldErrors, StorageError};
use crate::ledger::{BalanceChange, LedgerError};
use crate::payment::PaymentId;
use crate::ports::{BankPaymentStore, RecordError, RecordOutcome};

/// What the webhook answers on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankPaymentReceipt {
    /// First time this operation was seen: recorded and credited.
    Credited {
        payment_id: PaymentId,
        change: BalanceChange,
    },
    /// A retry of an operation already recorded with the same contents: nothing changed.
    Duplicate { payment_id: PaymentId },
}

impl BankPaymentReceipt {
    /// The payment the receipt is about.
    pub fn payment_id(&self) -> PaymentId {
        match self {
            Self::Credited { payment_id, .. } | Self::Duplicate { payment_id } => *payment_id,
        }
    }
}

/// Why a webhook was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The body is not a valid payment (HTTP 400).
    #[error("invalid bank payment: {0}")]
    Invalid(FieldErrors),
    /// The operation_id was already used with other contents (HTTP 409).
    #[error("Operation already processed with different data")]
    Conflict { payment_id: PaymentId },
    /// The ledger refused the credit (HTTP 422).
    #[error(transparent)]
    Refused(LedgerError),
    /// Storage failed; the payment may be retried (HTTP 503).
    #[error(transparent)]
    Storage(StorageError),
}

/// Validates a webhook body, records it exactly once and applies the dedup rule.
///
/// The use case owns the rules (validation, the dedup rule, what a ledger refusal means); the
/// [`BankPaymentStore`] only has to record each operation id once, atomically, as its contract
/// says. A full in-memory store is in `examples/in_memory_store.rs`, and the same with the port's
/// mock in `examples/with_mocks.rs`.
///
/// # Examples
/// A store that has already recorded the operation (as the mock of the `mocks` feature, or any
/// adapter, would report it): a retry with the same contents is a duplicate, other contents a
/// conflict.
/// ```
/// use std::sync::Arc;
///
/// use async_trait::async_trait;
/// use chrono::{DateTime, Utc};
/// use payments_domain::bank::{RawBankPayment, RawField};
/// use payments_domain::ports::{BankPaymentStore, RecordError, RecordOutcome};
/// use payments_domain::usecases::{BankPaymentReceipt, ReceiveBankPayment, ReceiveError};
/// use payments_domain::{BankPayment, PaymentId};
///
/// /// Holds one payment, recorded earlier under its operation id.
/// struct AlreadyHas(PaymentId, BankPayment);
///
/// #[async_trait]
/// impl BankPaymentStore for AlreadyHas {
///     async fn record_bank_payment(
///         &self,
///         _payment: &BankPayment,
///         _now: DateTime<Utc>,
///     ) -> Result<RecordOutcome, RecordError> {
///         // Every call here reuses the one operation id, so it is never recorded twice.
///         Ok(RecordOutcome::AlreadyRecorded { payment_id: self.0, existing: self.1.clone() })
///     }
/// }
///
/// let body = |amount: &str| RawBankPayment {
///     operation_id: RawField::Text("ccf0a86d-041b-4991-bcf7-e2352f7b8a4a".into()),
///     amount: RawField::Number(amount.into()),
///     payer_inn: RawField::Text("1234567890".into()),
///     document_number: RawField::Text("PAY-328".into()),
///     document_date: RawField::Text("2024-04-27".into()),
/// };
/// let first = PaymentId::generate();
/// let store = AlreadyHas(first, BankPayment::from_raw(&body("145000"))?);
/// let receive = ReceiveBankPayment::new(Arc::new(store));
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let retry = receive.execute(&body("145000.00"), Utc::now()).await;
/// assert_eq!(retry, Ok(BankPaymentReceipt::Duplicate { payment_id: first }));
///
/// let changed = receive.execute(&body("1.00"), Utc::now()).await;
/// assert_eq!(changed, Err(ReceiveError::Conflict { payment_id: first }));
///
/// let invalid = receive.execute(&body("zero"), Utc::now()).await;
/// assert!(matches!(invalid, Err(ReceiveError::Invalid(errors)) if errors.get("amount").is_some()));
/// # });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ReceiveBankPayment {
    store: Arc<dyn BankPaymentStore>,
}

impl ReceiveBankPayment {
    pub fn new(store: Arc<dyn BankPaymentStore>) -> Self {
        Self { store }
    }

    /// Runs the use case at time `now`.
    pub async fn execute(
        &self,
        raw: &RawBankPayment,
        now: DateTime<Utc>,
    ) -> Result<BankPaymentReceipt, ReceiveError> {
        let payment = BankPayment::from_raw(raw).map_err(ReceiveError::Invalid)?;
        self.record(&payment, now).await
    }

    /// Records an already validated payment (the entry point for a batching front end).
    pub async fn record(
        &self,
        payment: &BankPayment,
        now: DateTime<Utc>,
    ) -> Result<BankPaymentReceipt, ReceiveError> {
        match self.store.record_bank_payment(payment, now).await {
            Ok(RecordOutcome::Recorded {
                payment_id, change, ..
            }) => Ok(BankPaymentReceipt::Credited { payment_id, change }),
            Ok(RecordOutcome::AlreadyRecorded {
                payment_id,
                existing,
            }) => match payment.compare(&existing) {
                Dedup::Duplicate => Ok(BankPaymentReceipt::Duplicate { payment_id }),
                Dedup::Conflict => Err(ReceiveError::Conflict { payment_id }),
            },
            Err(RecordError::Ledger(refusal)) => Err(ReceiveError::Refused(refusal)),
            Err(RecordError::Storage(failure)) => Err(ReceiveError::Storage(failure)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::RawField;
    use crate::ledger::credit;
    use crate::money::{Currency, Money};
    use crate::organization::OrganizationId;
    use crate::ports::MockBankPaymentStore;

    fn raw(amount: &str, inn: &str) -> RawBankPayment {
        RawBankPayment {
            operation_id: RawField::Text("ccf0a86d-041b-4991-bcf7-e2352f7b8a4a".into()),
            amount: RawField::Number(amount.into()),
            payer_inn: RawField::Text(inn.into()),
            document_number: RawField::Text("PAY-328".into()),
            document_date: RawField::Text("2024-04-27T21:00:00Z".into()),
        }
    }

    fn rub(text: &str) -> Money {
        Money::parse(text, Currency::RUB).unwrap()
    }

    fn use_case(store: MockBankPaymentStore) -> ReceiveBankPayment {
        ReceiveBankPayment::new(Arc::new(store))
    }

    #[tokio::test]
    async fn new_operation_is_recorded_and_credited() {
        let payment_id = PaymentId::generate();
        let mut store = MockBankPaymentStore::new();
        store
            .expect_record_bank_payment()
            .withf(|p, _| p.amount == rub("145000") && p.payer_inn.as_str() == "1234567890")
            .times(1)
            .returning(move |p, _| {
                Ok(RecordOutcome::Recorded {
                    payment_id,
                    organization_id: OrganizationId::new_random(),
                    change: credit(rub("0"), p.amount).unwrap(),
                })
            });
        let receipt = use_case(store)
            .execute(&raw("145000", "1234567890"), Utc::now())
            .await
            .unwrap();
        assert_eq!(
            receipt,
            BankPaymentReceipt::Credited {
                payment_id,
                change: credit(rub("0"), rub("145000")).unwrap()
            }
        );
    }

    #[tokio::test]
    async fn invalid_body_never_reaches_the_store() {
        let mut store = MockBankPaymentStore::new();
        store.expect_record_bank_payment().never();
        let err = use_case(store)
            .execute(&raw("-1", "123"), Utc::now())
            .await
            .unwrap_err();
        let ReceiveError::Invalid(errors) = err else {
            panic!("expected validation errors, got {err:?}")
        };
        assert!(errors.get("amount").is_some());
        assert!(errors.get("payer_inn").is_some());
    }

    fn already_recorded(payment_id: PaymentId, amount: &str) -> MockBankPaymentStore {
        let existing = BankPayment::from_raw(&raw(amount, "1234567890")).unwrap();
        let mut store = MockBankPaymentStore::new();
        store
            .expect_record_bank_payment()
            .times(1)
            .returning(move |_, _| {
                Ok(RecordOutcome::AlreadyRecorded {
                    payment_id,
                    existing: existing.clone(),
                })
            });
        store
    }

    #[tokio::test]
    async fn same_operation_same_contents_is_a_duplicate() {
        let payment_id = PaymentId::generate();
        let receipt = use_case(already_recorded(payment_id, "145000"))
            .execute(&raw("145000.00", "1234567890"), Utc::now())
            .await
            .unwrap();
        assert_eq!(receipt, BankPaymentReceipt::Duplicate { payment_id });
    }

    #[tokio::test]
    async fn same_operation_other_contents_is_a_conflict() {
        let payment_id = PaymentId::generate();
        let err = use_case(already_recorded(payment_id, "145000"))
            .execute(&raw("145001", "1234567890"), Utc::now())
            .await
            .unwrap_err();
        assert_eq!(err, ReceiveError::Conflict { payment_id });
    }

    #[tokio::test]
    async fn ledger_refusal_and_storage_failure_are_passed_through() {
        let mut store = MockBankPaymentStore::new();
        let overflow = LedgerError::Overflow {
            max: rub("9999999999999.99"),
        };
        let refusal = overflow.clone();
        store
            .expect_record_bank_payment()
            .times(1)
            .returning(move |_, _| Err(RecordError::Ledger(refusal.clone())));
        let err = use_case(store)
            .execute(&raw("1", "1234567890"), Utc::now())
            .await
            .unwrap_err();
        assert_eq!(err, ReceiveError::Refused(overflow));

        let mut store = MockBankPaymentStore::new();
        store
            .expect_record_bank_payment()
            .returning(|_, _| Err(RecordError::Storage(StorageError::new("down"))));
        let err = use_case(store)
            .execute(&raw("1", "1234567890"), Utc::now())
            .await
            .unwrap_err();
        assert!(matches!(err, ReceiveError::Storage(_)));
    }
}
