//! `ledger verify` ties the log to the payments (defect 8): a log where one payment is
//! credited twice and another of the same amount never passes every sum, and is caught.

use chrono::Utc;
use payments_adapters_diesel::test_support::{self, TestDatabase};
use payments_domain::bank::{RawBankPayment, RawField};
use payments_domain::billing::audit_organization;
use payments_domain::ports::{BankPaymentStore, LedgerAuditSource};
use payments_domain::BankPayment;

fn payment(number: &str) -> BankPayment {
    BankPayment::from_raw(&RawBankPayment {
        operation_id: RawField::Text(uuid::Uuid::new_v4().to_string()),
        amount: RawField::Text("10.00".into()),
        payer_inn: RawField::Text("1234567890".into()),
        document_number: RawField::Text(number.into()),
        document_date: RawField::Text("2026-12-01".into()),
    })
    .unwrap()
}

async fn errors_that_cancel_out_are_caught(db: TestDatabase) {
    for number in ["A", "B"] {
        db.record_bank_payment(&payment(number), Utc::now())
            .await
            .unwrap();
    }
    let audit = |db: &TestDatabase| {
        let db = db.database().clone();
        async move {
            db.ledger_audit_inputs()
                .await
                .unwrap()
                .iter()
                .map(audit_organization)
                .collect::<Result<Vec<_>, _>>()
        }
    };
    assert!(audit(&db).await.is_ok());
    // Both entries now credit the first payment: chain, balance and sums still agree. (The
    // append-only trigger is lifted for the tampering.)
    let lift = if db.url().starts_with("postgres") {
        "ALTER TABLE balance_log DISABLE TRIGGER balance_log_append_only"
    } else {
        "DROP TRIGGER balance_log_no_update"
    };
    db.execute_sql(lift).unwrap();
    db.execute_sql(
        "UPDATE balance_log SET payment_id = \
         (SELECT payment_id FROM balance_log ORDER BY seq LIMIT 1)",
    )
    .unwrap();
    let failure = audit(&db).await.unwrap_err();
    assert!(
        failure.problem.contains("credits [1000, 1000]"),
        "{failure}"
    );
    assert!(failure.problem.contains("credits []"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_errors_that_cancel_out_are_caught() {
    errors_that_cancel_out_are_caught(test_support::fresh_sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_errors_that_cancel_out_are_caught() {
    if let Some(db) = test_support::fresh_postgres() {
        errors_that_cancel_out_are_caught(db).await;
    }
}
