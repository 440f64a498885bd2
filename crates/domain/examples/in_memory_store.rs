//! A second service receiving bank payments through the domain's `ReceiveBankPayment` use case,
//! with its own storage: an in-memory implementation of the `BankPaymentStore` port.
//!
//! Run with `cargo run -p payments-domain --example in_memory_store`.
//!
//! The port's contract is what makes the use case correct, whatever the storage:
//! - exactly one payment per `operation_id`, decided atomically (here: one mutex held from the
//!   look-up to the write, the in-memory counterpart of a unique key inside a transaction);
//! - a repeated `operation_id` returns `AlreadyRecorded` with the first payment's contents and
//!   writes nothing, so the use case's dedup rule answers duplicate or conflict;
//! - the credit is computed by `ledger::credit` and a refusal writes nothing, not even the
//!   organization.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payments_domain::bank::{RawBankPayment, RawField};
use payments_domain::ledger::{self, BalanceChange};
use payments_domain::ports::{BankPaymentStore, RecordError, RecordOutcome};
use payments_domain::usecases::{BankPaymentReceipt, ReceiveBankPayment, ReceiveError};
use payments_domain::{
    BankPayment, Currency, Inn, Money, OperationId, OrganizationId, PaymentId, StorageError,
};

/// One organization's account as this service keeps it.
struct Account {
    id: OrganizationId,
    balance: Money,
    /// The balance log: every change, oldest first.
    log: Vec<(PaymentId, BalanceChange)>,
}

#[derive(Default)]
struct Tables {
    /// The "unique key": at most one payment per operation id, forever.
    payments: HashMap<OperationId, (PaymentId, BankPayment)>,
    accounts: HashMap<Inn, Account>,
}

/// All state behind one mutex: every `record_bank_payment` is one atomic "transaction".
#[derive(Default)]
struct InMemoryStore {
    tables: Mutex<Tables>,
}

impl InMemoryStore {
    fn balance(&self, inn: &Inn) -> Option<Money> {
        let tables = self.tables.lock().ok()?;
        tables.accounts.get(inn).map(|account| account.balance)
    }

    fn log_len(&self, inn: &Inn) -> usize {
        self.tables
            .lock()
            .map(|tables| tables.accounts.get(inn).map_or(0, |a| a.log.len()))
            .unwrap_or(0)
    }
}

#[async_trait]
impl BankPaymentStore for InMemoryStore {
    async fn record_bank_payment(
        &self,
        payment: &BankPayment,
        _now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        // A poisoned lock means a writer panicked mid-change: report a storage failure (the
        // caller answers 503 and the bank retries) rather than trusting half-written state.
        let mut tables = self
            .tables
            .lock()
            .map_err(|_| StorageError::new("in-memory store poisoned"))?;

        // The operation id decides, under the same lock as the write: no race between the
        // look-up and the insert.
        if let Some((payment_id, existing)) = tables.payments.get(&payment.operation_id) {
            return Ok(RecordOutcome::AlreadyRecorded {
                payment_id: *payment_id,
                existing: existing.clone(),
            });
        }

        // An organization seen for the first time starts at zero roubles; it is only stored
        // if the credit is accepted.
        let (organization_id, balance) = match tables.accounts.get(&payment.payer_inn) {
            Some(account) => (account.id, account.balance),
            None => (OrganizationId::new_random(), Money::zero(Currency::RUB)),
        };
        let change = ledger::credit(balance, payment.amount)?;

        let payment_id = PaymentId::generate();
        tables
            .payments
            .insert(payment.operation_id, (payment_id, payment.clone()));
        let account = tables
            .accounts
            .entry(payment.payer_inn.clone())
            .or_insert_with(|| Account {
                id: organization_id,
                balance,
                log: Vec::new(),
            });
        account.balance = change.new;
        account.log.push((payment_id, change));
        Ok(RecordOutcome::Recorded {
            payment_id,
            organization_id,
            change,
        })
    }
}

/// A webhook body as this service's transport would split it (numbers kept as text).
fn webhook(operation_id: &str, amount: &str, inn: &str) -> RawBankPayment {
    RawBankPayment {
        operation_id: RawField::Text(operation_id.into()),
        amount: RawField::Number(amount.into()),
        payer_inn: RawField::Text(inn.into()),
        document_number: RawField::Text("PAY-328".into()),
        document_date: RawField::Text("2024-04-27T21:00:00Z".into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(InMemoryStore::default());
    let receive = ReceiveBankPayment::new(store.clone());
    let inn = Inn::parse("1234567890")?;
    let rub = |text: &str| Money::parse(text, Currency::RUB);
    let operation = "ccf0a86d-041b-4991-bcf7-e2352f7b8a4a";

    // The bank delivers one operation ten times at once: one credit, ten acknowledgements.
    let mut deliveries = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let receive = receive.clone();
        let body = webhook(operation, "145000", "1234567890");
        deliveries.spawn(async move { receive.execute(&body, Utc::now()).await });
    }
    let mut credited = 0;
    let mut duplicates = 0;
    while let Some(answer) = deliveries.join_next().await {
        let receipt = answer??;
        credited += usize::from(matches!(receipt, BankPaymentReceipt::Credited { .. }));
        duplicates += usize::from(matches!(receipt, BankPaymentReceipt::Duplicate { .. }));
    }
    assert_eq!((credited, duplicates), (1, 9));
    assert_eq!(store.balance(&inn), Some(rub("145000.00")?));

    // The same operation id with another amount is a conflict (409): nothing changes.
    let conflict = receive
        .execute(&webhook(operation, "1.00", "1234567890"), Utc::now())
        .await;
    assert!(matches!(conflict, Err(ReceiveError::Conflict { .. })));

    // An invalid body is refused field by field (400) before the store is reached.
    let invalid = receive
        .execute(&webhook("not-a-uuid", "0.005", "123"), Utc::now())
        .await;
    let Err(ReceiveError::Invalid(errors)) = invalid else {
        return Err(format!("expected field errors, got {invalid:?}").into());
    };
    println!("invalid body refused: {errors}");

    // A new operation for the same organization is credited on top.
    let second = receive
        .execute(
            &webhook("0b5e0c7e-1f33-4c9b-9d5a-6d2f1e0a7c11", "0.50", "1234567890"),
            Utc::now(),
        )
        .await?;
    assert!(matches!(second, BankPaymentReceipt::Credited { .. }));
    assert_eq!(store.balance(&inn), Some(rub("145000.50")?));
    assert_eq!(store.log_len(&inn), 2);

    let balance = store.balance(&inn).ok_or("the organization exists")?;
    println!(
        "{inn}: balance {balance} RUB after {credited} credit and {duplicates} duplicate \
         deliveries, one conflict refused, one more payment"
    );
    Ok(())
}
