//! Whatever the domain parsers accept must read back unchanged from both backends: generated
//! webhook payments (amount, INN, document number, document date at the extremes the parser
//! allows), organization names and invoice due dates are stored and read back, and a retry of
//! a stored payment is recognised as the same operation.

use chrono::{DateTime, TimeZone, Utc};
use payments_adapters_diesel::test_support::{self, TestDatabase};
use payments_domain::bank::{Dedup, RawBankPayment, RawField};
use payments_domain::invoice::{parse_due_date, Invoice, InvoiceId, InvoiceNumber, InvoiceStatus};
use payments_domain::organization::CountryCode;
use payments_domain::ports::{
    BankPaymentStore, InvoiceStore, OrganizationStore, PaymentQueries, RecordOutcome,
};
use payments_domain::{BankPayment, Currency, Inn, Money, Organization, OrganizationId};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48)
}

fn storable_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let first = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap().timestamp();
    let last = Utc
        .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .unwrap()
        .timestamp();
    prop_oneof![Just(first), Just(last), first..=last,].prop_flat_map(|secs| {
        prop_oneof![Just(0u32), Just(999_999u32), 0u32..1_000_000]
            .prop_map(move |micros| Utc.timestamp_opt(secs, micros * 1000).unwrap())
    })
}

/// Webhook bodies the domain accepts, in the textual forms a client sends.
fn accepted_payment() -> impl Strategy<Value = BankPayment> {
    (
        prop_oneof![
            Just("0.01".to_string()),
            Just("9999999999.99".to_string()),
            "[1-9][0-9]{0,9}(\\.[0-9]{1,2})?",
        ],
        prop_oneof!["[0-9]{10}", "[0-9]{12}"],
        // Any non-control text (letters of every script, emoji, quotes, backslashes).
        "[^\\p{Cc}\\s][^\\p{Cc}]{0,48}[^\\p{Cc}\\s]",
        storable_instant(),
    )
        .prop_map(|(amount, inn, number, instant)| {
            let raw = RawBankPayment {
                operation_id: RawField::Text(uuid::Uuid::new_v4().to_string()),
                amount: RawField::Number(amount),
                payer_inn: RawField::Text(inn),
                document_number: RawField::Text(number),
                document_date: RawField::Text(
                    instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                ),
            };
            BankPayment::from_raw(&raw).expect("generated bodies are valid")
        })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn accepted_payments_read_back_unchanged(db: &TestDatabase) {
    let rt = runtime();
    let database = db.database().clone();
    let mut runner = TestRunner::new(Config::with_cases(cases()));
    runner
        .run(&accepted_payment(), |payment| {
            let now = Utc::now();
            let outcome = rt
                .block_on(database.record_bank_payment(&payment, now))
                .unwrap();
            let RecordOutcome::Recorded { payment_id, .. } = outcome else {
                panic!("a new operation must be recorded: {outcome:?}");
            };
            let view = rt
                .block_on(database.find_payment(payment_id))
                .unwrap()
                .expect("stored payment");
            let bank = view.payment.bank.expect("bank details");
            prop_assert_eq!(view.payment.amount, payment.amount);
            prop_assert_eq!(&bank.document_number, &payment.document_number);
            prop_assert_eq!(bank.document_date, payment.document_date);
            prop_assert_eq!(bank.operation_id, payment.operation_id);
            // The identical retry reads the stored row back and judges it the same operation.
            match rt
                .block_on(database.record_bank_payment(&payment, now))
                .unwrap()
            {
                RecordOutcome::AlreadyRecorded { existing, .. } => {
                    prop_assert_eq!(payment.compare(&existing), Dedup::Duplicate);
                    prop_assert_eq!(existing, payment);
                }
                other => panic!("a retry must not record again: {other:?}"),
            }
            Ok(())
        })
        .unwrap();
}

fn names_and_due_dates_read_back_unchanged(db: &TestDatabase) {
    let rt = runtime();
    let database = db.database().clone();
    let mut runner = TestRunner::new(Config::with_cases(cases()));
    let strategy = (
        "[^\\p{Cc}\\s][^\\p{Cc}]{0,60}[^\\p{Cc}\\s]",
        1i32..=9999,
        1u32..=12,
        1u32..=28,
    );
    let counter = std::sync::atomic::AtomicU64::new(1_000_000_000);
    runner
        .run(&strategy, |(name, year, month, day)| {
            let inn = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let now = Utc::now();
            let organization = Organization::new(
                OrganizationId::new_random(),
                Inn::parse(&inn.to_string()).unwrap(),
                name.clone(),
                CountryCode::russia(),
                Currency::RUB,
                now,
            );
            rt.block_on(database.create_organization(&organization))
                .unwrap();
            let found = rt
                .block_on(database.find_organization(organization.id))
                .unwrap()
                .expect("stored organization");
            prop_assert_eq!(&found.name, &name);
            let due = parse_due_date(&format!("{year:04}-{month:02}-{day:02}")).unwrap();
            let id = InvoiceId(uuid::Uuid::new_v4());
            let invoice = Invoice {
                id,
                organization_id: organization.id,
                number: InvoiceNumber::generated(id),
                amount: Money::parse("1.00", Currency::RUB).unwrap(),
                status: InvoiceStatus::Pending,
                due_date: Some(due),
                paid_at: None,
                created_at: now,
                updated_at: now,
            };
            rt.block_on(database.create_invoice(&invoice)).unwrap();
            let found = rt
                .block_on(database.find_invoice(id))
                .unwrap()
                .expect("invoice");
            prop_assert_eq!(found.due_date, Some(due));
            Ok(())
        })
        .unwrap();
}

#[test]
fn sqlite_accepted_payments_read_back_unchanged() {
    accepted_payments_read_back_unchanged(&test_support::fresh_sqlite());
}

#[test]
fn postgres_accepted_payments_read_back_unchanged() {
    if let Some(db) = test_support::fresh_postgres() {
        accepted_payments_read_back_unchanged(&db);
    }
}

#[test]
fn sqlite_names_and_due_dates_read_back_unchanged() {
    names_and_due_dates_read_back_unchanged(&test_support::fresh_sqlite());
}

#[test]
fn postgres_names_and_due_dates_read_back_unchanged() {
    if let Some(db) = test_support::fresh_postgres() {
        names_and_due_dates_read_back_unchanged(&db);
    }
}
