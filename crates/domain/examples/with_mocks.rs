//! The `ReceiveBankPayment` use case over the `mockall` mock of its port, as another service's
//! unit tests would use it: the mock stands for the storage, the domain's rules run for real.
//!
//! Needs the `mocks` feature:
//! `cargo run -p payments-domain --example with_mocks --features mocks`.

use std::sync::Arc;

use chrono::Utc;
use payments_domain::bank::{RawBankPayment, RawField};
use payments_domain::ledger;
use payments_domain::ports::{MockBankPaymentStore, RecordOutcome};
use payments_domain::usecases::{BankPaymentReceipt, ReceiveBankPayment, ReceiveError};
use payments_domain::{BankPayment, Currency, Money, OrganizationId, PaymentId};

fn webhook(amount: &str) -> RawBankPayment {
    RawBankPayment {
        operation_id: RawField::Text("ccf0a86d-041b-4991-bcf7-e2352f7b8a4a".into()),
        amount: RawField::Number(amount.into()),
        payer_inn: RawField::Text("1234567890".into()),
        document_number: RawField::Text("PAY-328".into()),
        document_date: RawField::Text("2024-04-27T21:00:00Z".into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rub = |text: &str| Money::parse(text, Currency::RUB);
    let first = BankPayment::from_raw(&webhook("145000"))?;
    let first_id = PaymentId::generate();

    // 1. A new operation: the store records it once and reports the credit it computed.
    let mut store = MockBankPaymentStore::new();
    let change = ledger::credit(rub("0")?, first.amount)?;
    let expected = first.clone();
    store
        .expect_record_bank_payment()
        .withf(move |payment, _now| *payment == expected)
        .times(1)
        .returning(move |_, _| {
            Ok(RecordOutcome::Recorded {
                payment_id: first_id,
                organization_id: OrganizationId::new_random(),
                change,
            })
        });
    let receipt = ReceiveBankPayment::new(Arc::new(store))
        .execute(&webhook("145000"), Utc::now())
        .await?;
    assert_eq!(
        receipt,
        BankPaymentReceipt::Credited {
            payment_id: first_id,
            change
        }
    );

    // 2. The store already holds the operation: the use case's dedup rule decides. The same
    //    contents (`145000.00` equals `145000`) are a duplicate, other contents a conflict.
    let mut store = MockBankPaymentStore::new();
    let recorded = first.clone();
    store
        .expect_record_bank_payment()
        .times(2)
        .returning(move |_, _| {
            Ok(RecordOutcome::AlreadyRecorded {
                payment_id: first_id,
                existing: recorded.clone(),
            })
        });
    let receive = ReceiveBankPayment::new(Arc::new(store));
    let retry = receive.execute(&webhook("145000.00"), Utc::now()).await?;
    assert_eq!(
        retry,
        BankPaymentReceipt::Duplicate {
            payment_id: first_id
        }
    );
    let other = receive.execute(&webhook("1.00"), Utc::now()).await;
    assert!(matches!(other, Err(ReceiveError::Conflict { payment_id }) if payment_id == first_id));

    // 3. An invalid body never reaches the store: a mock with no expectation would panic.
    let receive = ReceiveBankPayment::new(Arc::new(MockBankPaymentStore::new()));
    let invalid = receive.execute(&webhook("-5"), Utc::now()).await;
    assert!(
        matches!(invalid, Err(ReceiveError::Invalid(ref errors)) if errors.get("amount").is_some())
    );

    println!("credited {first_id} once; a retry was a duplicate, a changed body a conflict");
    Ok(())
}
