//! Helpers and imports shared by the contract cases.

pub use std::collections::HashSet;
pub use std::time::Instant;

pub use chrono::{DateTime, Duration, NaiveDate, SubsecRound, TimeZone, Utc};
pub use payments_adapters_diesel::test_support::TestDatabase;
pub use payments_domain::auth::{NewToken, Role, TokenHash, TokenId, User};
pub use payments_domain::billing::{
    audit_organization, IdempotencyKey, ManualPaymentError, ManualPaymentRequest, StaffAction,
    StaffActionError,
};
pub use payments_domain::catalogue::{
    available_methods, AccountPaymentMethod, AvailableMethod, CountryScope, PaymentMethodConfig,
};
pub use payments_domain::invoice::{Invoice, InvoiceId, InvoiceNumber, InvoiceStatus};
pub use payments_domain::ledger::{verify_log_chain, LedgerError};
pub use payments_domain::organization::CountryCode;
pub use payments_domain::pagination::PageRequest;
pub use payments_domain::payment::Payment;
pub use payments_domain::ports::{
    BankPaymentStore, CatalogueError, CatalogueStore, CreateInvoiceError, CreateOrganizationError,
    InvoiceFilter, InvoiceStore, LedgerAuditSource, ListOrder, ManualPaymentStore,
    ManualSubmission, OrganizationStore, PaymentFilter, PaymentQueries, RecordError, RecordOutcome,
    StaffActionOutcome, StaffActionStore, StaffActionStoreError, SubmitError, SubmitOutcome,
    TokenStore, WebhookSecretStore,
};
pub use payments_domain::signature::WebhookSecret;
pub use payments_domain::{
    BankPayment, Currency, DocumentDate, DocumentNumber, Inn, Money, OperationId, Organization,
    OrganizationId, PaymentId, PaymentMethod, PaymentStatus,
};
pub use serde_json::json;
pub use uuid::Uuid;

pub use PaymentMethod::{BankTransfer, LocalWallet};

pub const INN: &str = "1234567890";

pub fn rub(text: &str) -> Money {
    Money::parse(text, Currency::RUB).unwrap()
}

pub fn inn(text: &str) -> Inn {
    Inn::parse(text).unwrap()
}

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn bank_payment(amount: &str, payer_inn: &str) -> BankPayment {
    BankPayment {
        operation_id: OperationId(Uuid::new_v4()),
        amount: rub(amount),
        payer_inn: inn(payer_inn),
        document_number: DocumentNumber::parse("PAY-328").unwrap(),
        document_date: DocumentDate::from_utc(
            Utc.with_ymd_and_hms(2024, 4, 27, 21, 0, 0).unwrap() + Duration::microseconds(123_456),
        ),
    }
}

pub fn recorded(outcome: RecordOutcome) -> (PaymentId, Money, Money) {
    match outcome {
        RecordOutcome::Recorded {
            payment_id, change, ..
        } => (payment_id, change.previous, change.new),
        other => panic!("expected Recorded, got {other:?}"),
    }
}

pub async fn balance(db: &TestDatabase, payer_inn: &str) -> Money {
    db.find_by_inn(&inn(payer_inn))
        .await
        .unwrap()
        .expect("organization exists")
        .balance()
}

/// Balance, payments and log entries: what "nothing changed" compares.
pub async fn snapshot(db: &TestDatabase, payer_inn: &str) -> (Money, i64, i64, i64) {
    (
        balance(db, payer_inn).await,
        db.count_rows("organizations"),
        db.count_rows("payments"),
        db.count_rows("balance_log"),
    )
}

pub async fn organization_at(db: &TestDatabase, inn_text: &str, at: DateTime<Utc>) -> Organization {
    let organization = Organization::new(
        OrganizationId::new_random(),
        inn(inn_text),
        format!("Org {inn_text}"),
        CountryCode::russia(),
        Currency::RUB,
        at,
    );
    db.create_organization(&organization).await.unwrap();
    organization
}

pub async fn organization(db: &TestDatabase, inn_text: &str) -> Organization {
    organization_at(db, inn_text, now()).await
}

pub fn new_invoice(organization: &Organization, amount: &str, number: &str) -> Invoice {
    let at = now();
    Invoice {
        id: InvoiceId(Uuid::new_v4()),
        organization_id: organization.id,
        number: InvoiceNumber::parse(number).unwrap(),
        amount: rub(amount),
        status: InvoiceStatus::Pending,
        due_date: NaiveDate::from_ymd_opt(2026, 12, 31),
        paid_at: None,
        created_at: at,
        updated_at: at,
    }
}

pub async fn invoice(db: &TestDatabase, organization: &Organization, amount: &str) -> Invoice {
    let number = format!("INV-{}", &Uuid::new_v4().simple().to_string()[..10]);
    let invoice = new_invoice(organization, amount, &number);
    db.create_invoice(&invoice).await.unwrap();
    invoice
}

pub async fn available(db: &TestDatabase, organization: &Organization) -> Vec<AvailableMethod> {
    available_methods(
        &organization.country,
        &db.list_configs().await.unwrap(),
        &db.list_overrides(organization.id).await.unwrap(),
    )
}

pub fn request(invoice: &Invoice, method: PaymentMethod, reference: &str) -> ManualPaymentRequest {
    ManualPaymentRequest {
        invoice_id: invoice.id,
        method,
        transaction_reference: reference.to_string(),
        notes: Some("paid from the main account".to_string()),
    }
}

pub async fn submission(
    db: &TestDatabase,
    organization: &Organization,
    request: ManualPaymentRequest,
    key: Option<&str>,
    at: DateTime<Utc>,
) -> ManualSubmission {
    ManualSubmission {
        organization_id: organization.id,
        request,
        available: available(db, organization).await,
        idempotency_key: key.map(|k| IdempotencyKey::parse(k).unwrap()),
        now: at,
    }
}

pub async fn submit(
    db: &TestDatabase,
    organization: &Organization,
    request: ManualPaymentRequest,
    key: Option<&str>,
) -> Result<SubmitOutcome, SubmitError> {
    let submission = submission(db, organization, request, key, now()).await;
    db.submit_manual_payment(&submission).await
}

pub fn created(outcome: SubmitOutcome) -> Payment {
    match outcome {
        SubmitOutcome::Created(payment) => payment,
        other => panic!("expected Created, got {other:?}"),
    }
}

/// A pending_approval payment for a new invoice of `amount`.
pub async fn pending_payment(
    db: &TestDatabase,
    organization: &Organization,
    amount: &str,
) -> (Invoice, Payment) {
    let invoice = invoice(db, organization, amount).await;
    let payment = created(
        submit(
            db,
            organization,
            request(&invoice, BankTransfer, "PP-1"),
            None,
        )
        .await
        .unwrap(),
    );
    (invoice, payment)
}

pub fn approve() -> StaffAction {
    StaffAction::Approve {
        admin_notes: Some("seen on the statement".into()),
    }
}

pub fn reject() -> StaffAction {
    StaffAction::reject(Some("no such transfer")).unwrap()
}

pub fn refund() -> StaffAction {
    StaffAction::Refund { admin_notes: None }
}

pub async fn act(
    db: &TestDatabase,
    payment: PaymentId,
    action: StaffAction,
) -> Result<StaffActionOutcome, StaffActionStoreError> {
    db.apply_staff_action(payment, &action, now()).await
}

pub fn applied(outcome: StaffActionOutcome) -> Payment {
    match outcome {
        StaffActionOutcome::Applied(payment) => payment,
        other => panic!("expected Applied, got {other:?}"),
    }
}

pub async fn balance_of(db: &TestDatabase, organization: &Organization) -> Money {
    db.find_organization(organization.id)
        .await
        .unwrap()
        .unwrap()
        .balance()
}

pub async fn status_of(db: &TestDatabase, payment: PaymentId) -> PaymentStatus {
    db.find_payment(payment)
        .await
        .unwrap()
        .unwrap()
        .payment
        .status
}

/// Balance, payment rows, log rows and invoice statuses: what "nothing changed" compares.
pub async fn ledger_state(
    db: &TestDatabase,
    organization: &Organization,
) -> (Money, i64, i64, String) {
    let invoices = db
        .list_invoices(
            &InvoiceFilter {
                organization_id: Some(organization.id),
                statuses: vec![],
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    let statuses: Vec<String> = invoices
        .items
        .iter()
        .map(|i| format!("{}:{}", i.number, i.status))
        .collect();
    (
        balance_of(db, organization).await,
        db.count_rows("payments"),
        db.count_rows("balance_log"),
        statuses.join(","),
    )
}

pub fn page(page: u32, page_size: u32) -> PageRequest {
    PageRequest { page, page_size }
}

pub fn config(country: &str, method: PaymentMethod) -> PaymentMethodConfig {
    let at = now();
    PaymentMethodConfig {
        id: Uuid::new_v4(),
        country: CountryScope::parse(country).unwrap(),
        method,
        enabled: true,
        display_name: format!("{method} in {country}"),
        instructions: "Pay within three days.".into(),
        details: json!({"iban": "DE00 0000 0000 0000 0000 00", "nested": {"n": [1, 2]}}),
        sort_order: 5,
        created_at: at,
        updated_at: at,
    }
}

pub fn setting(
    organization: &Organization,
    method: PaymentMethod,
    is_enabled: bool,
    is_default: bool,
) -> AccountPaymentMethod {
    let at = now();
    AccountPaymentMethod {
        organization_id: organization.id,
        method,
        is_enabled,
        is_default,
        created_at: at,
        updated_at: at,
    }
}
