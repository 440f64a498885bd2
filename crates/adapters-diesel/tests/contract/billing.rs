//! Contract cases of the billing ports: users and tokens, organizations, invoices, payment
//! queries, the catalogue, manual payments, staff actions and the ledger audit.

use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use payments_adapters_diesel::test_support::TestDatabase;
use payments_domain::auth::{NewToken, Role, TokenHash, TokenId, User};
use payments_domain::billing::{
    audit_organization, IdempotencyKey, ManualPaymentError, ManualPaymentRequest, StaffAction,
    StaffActionError,
};
use payments_domain::catalogue::{
    available_methods, AccountPaymentMethod, AvailableMethod, CountryScope, PaymentMethodConfig,
};
use payments_domain::invoice::{Invoice, InvoiceId, InvoiceNumber, InvoiceStatus};
use payments_domain::ledger::{verify_log_chain, LedgerError};
use payments_domain::organization::CountryCode;
use payments_domain::pagination::PageRequest;
use payments_domain::payment::Payment;
use payments_domain::ports::{
    BankPaymentStore, CatalogueError, CatalogueStore, CreateInvoiceError, CreateOrganizationError,
    InvoiceFilter, InvoiceStore, LedgerAuditSource, ManualPaymentStore, ManualSubmission,
    OrganizationStore, PaymentFilter, PaymentQueries, RecordOutcome, StaffActionOutcome,
    StaffActionStore, StaffActionStoreError, SubmitError, SubmitOutcome, TokenStore,
};
use payments_domain::{
    Currency, Money, Organization, OrganizationId, PaymentId, PaymentMethod, PaymentStatus,
};
use serde_json::json;
use uuid::Uuid;

use super::{bank_payment, inn, now, rub};

use PaymentMethod::{BankTransfer, LocalWallet};

// ---------------------------------------------------------------------------------------------
// Helpers

async fn organization_at(db: &TestDatabase, inn_text: &str, at: DateTime<Utc>) -> Organization {
    let organization = Organization {
        id: OrganizationId::new_random(),
        inn: inn(inn_text),
        name: format!("Org {inn_text}"),
        country: CountryCode::russia(),
        balance: Money::zero(Currency::RUB),
        created_at: at,
        updated_at: at,
    };
    db.create_organization(&organization).await.unwrap();
    organization
}

async fn organization(db: &TestDatabase, inn_text: &str) -> Organization {
    organization_at(db, inn_text, now()).await
}

fn new_invoice(organization: &Organization, amount: &str, number: &str) -> Invoice {
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

async fn invoice(db: &TestDatabase, organization: &Organization, amount: &str) -> Invoice {
    let number = format!("INV-{}", &Uuid::new_v4().simple().to_string()[..10]);
    let invoice = new_invoice(organization, amount, &number);
    db.create_invoice(&invoice).await.unwrap();
    invoice
}

async fn available(db: &TestDatabase, organization: &Organization) -> Vec<AvailableMethod> {
    available_methods(
        &organization.country,
        &db.list_configs().await.unwrap(),
        &db.list_overrides(organization.id).await.unwrap(),
    )
}

fn request(invoice: &Invoice, method: PaymentMethod, reference: &str) -> ManualPaymentRequest {
    ManualPaymentRequest {
        invoice_id: invoice.id,
        method,
        transaction_reference: reference.to_string(),
        notes: Some("paid from the main account".to_string()),
    }
}

async fn submission(
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

async fn submit(
    db: &TestDatabase,
    organization: &Organization,
    request: ManualPaymentRequest,
    key: Option<&str>,
) -> Result<SubmitOutcome, SubmitError> {
    let submission = submission(db, organization, request, key, now()).await;
    db.submit_manual_payment(&submission).await
}

fn created(outcome: SubmitOutcome) -> Payment {
    match outcome {
        SubmitOutcome::Created(payment) => payment,
        other => panic!("expected Created, got {other:?}"),
    }
}

/// A pending_approval payment for a new invoice of `amount`.
async fn pending_payment(
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

fn approve() -> StaffAction {
    StaffAction::Approve {
        admin_notes: Some("seen on the statement".into()),
    }
}

fn reject() -> StaffAction {
    StaffAction::reject(Some("no such transfer")).unwrap()
}

fn refund() -> StaffAction {
    StaffAction::Refund { admin_notes: None }
}

async fn act(
    db: &TestDatabase,
    payment: PaymentId,
    action: StaffAction,
) -> Result<StaffActionOutcome, StaffActionStoreError> {
    db.apply_staff_action(payment, &action, now()).await
}

fn applied(outcome: StaffActionOutcome) -> Payment {
    match outcome {
        StaffActionOutcome::Applied(payment) => payment,
        other => panic!("expected Applied, got {other:?}"),
    }
}

async fn balance_of(db: &TestDatabase, organization: &Organization) -> Money {
    db.find_organization(organization.id)
        .await
        .unwrap()
        .unwrap()
        .balance
}

async fn status_of(db: &TestDatabase, payment: PaymentId) -> PaymentStatus {
    db.find_payment(payment)
        .await
        .unwrap()
        .unwrap()
        .payment
        .status
}

/// Balance, payment rows, log rows and invoice statuses: what "nothing changed" compares.
async fn ledger_state(db: &TestDatabase, organization: &Organization) -> (Money, i64, i64, String) {
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

fn page(page: u32, page_size: u32) -> PageRequest {
    PageRequest { page, page_size }
}

// ---------------------------------------------------------------------------------------------
// Users, tokens and organizations

pub async fn users_and_tokens_take_role_and_organization_from_the_user(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let created = now();
    let member = User::new(Role::Member, Some(organization.id), "Anna", created).unwrap();
    let staff = User::new(Role::Staff, None, "Operator", created).unwrap();
    let member_token = NewToken::mint([1; 32], &member, created);
    let staff_token = NewToken::mint([2; 32], &staff, created);
    db.insert_user_with_token(&member, &member_token.record)
        .await
        .unwrap();
    db.insert_user_with_token(&staff, &staff_token.record)
        .await
        .unwrap();

    // A second user presenting a taken hash is refused, and rolled back with its token.
    let intruder = User::new(Role::Staff, None, "Intruder", created).unwrap();
    let mut clash = NewToken::mint([3; 32], &intruder, created).record;
    clash.hash = member_token.record.hash.clone();
    assert!(db.insert_user_with_token(&intruder, &clash).await.is_err());
    assert_eq!(db.count_rows("users"), 2, "the refused user is rolled back");
    assert_eq!(db.count_rows("api_tokens"), 2);

    let found = db
        .find_token(&TokenHash::of(&member_token.plaintext))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, member_token.record);
    assert_eq!(found.role, Role::Member);
    assert_eq!(found.organization_id, Some(organization.id));
    assert_eq!(found.user_id, member.id);
    let found = db
        .find_token(&staff_token.record.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.role, found.organization_id), (Role::Staff, None));
    assert_eq!(
        db.find_token(&TokenHash::of("pay_nope")).await.unwrap(),
        None
    );

    // A user row that breaks the member ⇔ organization rule is refused by the database.
    assert!(db
        .execute_sql(&format!(
            "INSERT INTO users (id, role, organization_id, name) \
             VALUES ('{}', 'staff', '{}', 'x')",
            Uuid::new_v4(),
            organization.id
        ))
        .is_err());

    let first = created + Duration::minutes(1);
    assert!(db
        .revoke_token(member_token.record.id, first)
        .await
        .unwrap());
    assert!(db
        .revoke_token(member_token.record.id, first + Duration::minutes(1))
        .await
        .unwrap());
    let revoked = db
        .find_token(&member_token.record.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        revoked.revoked_at,
        Some(first),
        "first revocation time kept"
    );
    let untouched = db
        .find_token(&staff_token.record.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.revoked_at, None);
    assert!(!db
        .revoke_token(TokenId(Uuid::new_v4()), first)
        .await
        .unwrap());
}

pub async fn organizations_are_created_once_per_inn(db: &TestDatabase) {
    let first = organization(db, "1234567890").await;
    assert_eq!(
        db.find_organization(first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        db.find_by_inn(&first.inn).await.unwrap(),
        Some(first.clone())
    );
    let mut twin = first.clone();
    twin.id = OrganizationId::new_random();
    twin.name = "Another".into();
    assert_eq!(
        db.create_organization(&twin).await,
        Err(CreateOrganizationError::InnTaken)
    );
    assert_eq!(db.count_rows("organizations"), 1);
    assert_eq!(
        db.find_organization(OrganizationId::new_random())
            .await
            .unwrap(),
        None
    );
}

pub async fn organizations_are_listed_newest_first_with_a_total(db: &TestDatabase) {
    let base = now();
    let mut created = Vec::new();
    for i in 0..5 {
        let at = base + Duration::seconds(i);
        created.push(organization_at(db, &format!("{:010}", 1_000_000_000 + i), at).await);
    }
    let first = db.list_organizations(page(1, 2)).await.unwrap();
    assert_eq!(first.total, 5);
    assert!(first.has_next());
    let ids: Vec<_> = first.items.iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![created[4].id, created[3].id]);
    let last = db.list_organizations(page(3, 2)).await.unwrap();
    assert_eq!(last.items, vec![created[0].clone()]);
    assert!(!last.has_next());
    assert!(db
        .list_organizations(page(4, 2))
        .await
        .unwrap()
        .items
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// Invoices and payment queries

pub async fn invoices_are_created_found_and_listed_by_status(db: &TestDatabase) {
    let ours = organization(db, "1234567890").await;
    let theirs = organization(db, "0987654321").await;
    let base = now();
    let mut pending = new_invoice(&ours, "139.00", "INV-2026/001");
    pending.created_at = base;
    let mut paid = new_invoice(&ours, "10.50", "INV-2026/002");
    paid.status = InvoiceStatus::Paid;
    paid.paid_at = Some(base);
    paid.due_date = None;
    paid.created_at = base + Duration::seconds(1);
    let mut draft = new_invoice(&ours, "1.00", "INV-2026/003");
    draft.status = InvoiceStatus::Draft;
    draft.created_at = base + Duration::seconds(2);
    let other = new_invoice(&theirs, "5.00", "INV-2026/004");
    for invoice in [&pending, &paid, &draft, &other] {
        db.create_invoice(invoice).await.unwrap();
    }
    let mut duplicate = new_invoice(&theirs, "7.00", "INV-2026/001");
    duplicate.id = InvoiceId(Uuid::new_v4());
    assert_eq!(
        db.create_invoice(&duplicate).await,
        Err(CreateInvoiceError::NumberTaken)
    );

    assert_eq!(
        db.find_invoice(pending.id).await.unwrap(),
        Some(pending.clone())
    );
    assert_eq!(db.find_invoice(paid.id).await.unwrap(), Some(paid.clone()));
    assert_eq!(
        db.find_invoice(InvoiceId(Uuid::new_v4())).await.unwrap(),
        None
    );

    let listed = db
        .list_invoices(
            &InvoiceFilter {
                organization_id: Some(ours.id),
                statuses: vec![InvoiceStatus::Pending, InvoiceStatus::Draft],
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(listed.total, 2);
    assert_eq!(listed.items, vec![draft.clone(), pending.clone()]);
    let all_ours = db
        .list_invoices(
            &InvoiceFilter {
                organization_id: Some(ours.id),
                statuses: vec![],
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(all_ours.total, 3);
    let everyone = db
        .list_invoices(&InvoiceFilter::default(), page(1, 2))
        .await
        .unwrap();
    assert_eq!((everyone.total, everyone.items.len()), (4, 2));
}

pub async fn payments_are_listed_with_filters_newest_first(db: &TestDatabase) {
    let ours = organization(db, "1234567890").await;
    let theirs = organization(db, "0987654321").await;
    // A bank-webhook payment (no invoice) and manual payments at increasing times.
    let RecordOutcome::Recorded {
        payment_id: bank_id,
        ..
    } = db
        .record_bank_payment(&bank_payment("3.00", "1234567890"), now())
        .await
        .unwrap()
    else {
        panic!("expected Recorded");
    };
    let base = now() + Duration::seconds(10);
    let first_invoice = invoice(db, &ours, "100.00").await;
    let second_invoice = invoice(db, &ours, "200.00").await;
    let their_invoice = invoice(db, &theirs, "300.00").await;
    let mut manual = Vec::new();
    for (i, (organization, invoice, method)) in [
        (&ours, &first_invoice, BankTransfer),
        (&ours, &second_invoice, LocalWallet),
        (&theirs, &their_invoice, BankTransfer),
    ]
    .into_iter()
    .enumerate()
    {
        let at = base + Duration::seconds(i as i64);
        let submission =
            submission(db, organization, request(invoice, method, "REF"), None, at).await;
        manual.push(created(
            db.submit_manual_payment(&submission).await.unwrap(),
        ));
    }
    // The first manual payment is approved, so two statuses are in play.
    applied(act(db, manual[0].id, approve()).await.unwrap());

    let list = |filter: PaymentFilter| async move {
        db.list_payments(&filter, PageRequest::default())
            .await
            .unwrap()
    };
    let ours_all = list(PaymentFilter {
        organization_id: Some(ours.id),
        ..Default::default()
    })
    .await;
    let ids: Vec<PaymentId> = ours_all.items.iter().map(|v| v.payment.id).collect();
    assert_eq!(
        ids,
        vec![manual[1].id, manual[0].id, bank_id],
        "newest first"
    );
    assert_eq!(ours_all.total, 3);
    assert_eq!(
        ours_all.items[0].invoice_number.as_deref(),
        Some(second_invoice.number.as_str())
    );
    assert_eq!(ours_all.items[2].invoice_number, None);
    assert!(ours_all.items[2].payment.bank.is_some());

    let succeeded = list(PaymentFilter {
        organization_id: Some(ours.id),
        statuses: vec![PaymentStatus::Succeeded],
        ..Default::default()
    })
    .await;
    let ids: Vec<PaymentId> = succeeded.items.iter().map(|v| v.payment.id).collect();
    assert_eq!(ids, vec![manual[0].id, bank_id]);

    let waiting_or_done = list(PaymentFilter {
        statuses: vec![PaymentStatus::PendingApproval, PaymentStatus::Succeeded],
        ..Default::default()
    })
    .await;
    assert_eq!(
        waiting_or_done.total, 4,
        "every organization, both statuses"
    );

    let wallets = list(PaymentFilter {
        method: Some(LocalWallet),
        ..Default::default()
    })
    .await;
    assert_eq!(wallets.items.len(), 1);
    assert_eq!(wallets.items[0].payment.id, manual[1].id);

    let by_invoice = list(PaymentFilter {
        invoice_id: Some(their_invoice.id.0),
        ..Default::default()
    })
    .await;
    assert_eq!(by_invoice.items.len(), 1);
    assert_eq!(by_invoice.items[0].payment.organization_id, theirs.id);
    let cross_tenant = list(PaymentFilter {
        organization_id: Some(ours.id),
        invoice_id: Some(their_invoice.id.0),
        ..Default::default()
    })
    .await;
    assert_eq!(cross_tenant.total, 0);

    let everyone = db
        .list_payments(&PaymentFilter::default(), page(2, 3))
        .await
        .unwrap();
    assert_eq!(everyone.total, 4);
    assert_eq!(everyone.items.len(), 1);
    assert_eq!(everyone.items[0].payment.id, bank_id, "the oldest is last");

    let found = db.find_payment(manual[0].id).await.unwrap().unwrap();
    assert_eq!(
        found.invoice_number.as_deref(),
        Some(first_invoice.number.as_str())
    );
    assert_eq!(found.payment.status, PaymentStatus::Succeeded);
    assert_eq!(
        db.find_payment(PaymentId::new_random()).await.unwrap(),
        None
    );
}

pub async fn the_balance_log_is_listed_newest_first(db: &TestDatabase) {
    let mut organization_id = None;
    for amount in ["1.00", "2.00", "3.00"] {
        if let RecordOutcome::Recorded {
            organization_id: id,
            ..
        } = db
            .record_bank_payment(&bank_payment(amount, "1234567890"), now())
            .await
            .unwrap()
        {
            organization_id = Some(id);
        }
    }
    let organization_id = organization_id.unwrap();
    let first = db
        .list_balance_log(organization_id, page(1, 2))
        .await
        .unwrap();
    assert_eq!(first.total, 3);
    let deltas: Vec<i64> = first.items.iter().map(|e| e.delta_minor_units).collect();
    assert_eq!(deltas, vec![300, 200]);
    let second = db
        .list_balance_log(organization_id, page(2, 2))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].delta_minor_units, 100);
    let other = db
        .list_balance_log(OrganizationId::new_random(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!((other.total, other.items.len()), (0, 0));
}

// ---------------------------------------------------------------------------------------------
// Catalogue

pub async fn the_default_catalogue_is_seeded(db: &TestDatabase) {
    let configs = db.list_configs().await.unwrap();
    let mut rows: Vec<(String, PaymentMethod, String, bool)> = configs
        .iter()
        .map(|c| {
            (
                c.country.to_string(),
                c.method,
                c.display_name.clone(),
                c.enabled,
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            ("*".into(), BankTransfer, "Bank transfer".into(), true),
            ("KZ".into(), LocalWallet, "Kaspi".into(), true),
            ("RU".into(), BankTransfer, "Банковский перевод".into(), true),
            ("RU".into(), LocalWallet, "СБП / ЮMoney".into(), true),
        ]
    );
    let ru_bank = configs
        .iter()
        .find(|c| c.country.as_str() == "RU" && c.method == BankTransfer)
        .unwrap();
    assert_eq!(ru_bank.details["bik"], json!("044525000"));
    assert_eq!(ru_bank.details["example"], json!(true));
    assert!(ru_bank.instructions.contains("Переведите"));
    for config in &configs {
        assert!(config.details.is_object());
        assert!(config.sort_order > 0);
    }
    // What a Russian organization is offered on a fresh installation.
    let organization = organization(db, "1234567890").await;
    let offered: Vec<(PaymentMethod, String)> = available(db, &organization)
        .await
        .into_iter()
        .map(|m| (m.method, m.display_name))
        .collect();
    assert_eq!(
        offered,
        vec![
            (BankTransfer, "Банковский перевод".to_string()),
            (LocalWallet, "СБП / ЮMoney".to_string()),
        ]
    );
}

fn config(country: &str, method: PaymentMethod) -> PaymentMethodConfig {
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

pub async fn catalogue_configs_are_created_updated_and_deleted(db: &TestDatabase) {
    let card = config("DE", PaymentMethod::Card);
    db.create_config(&card).await.unwrap();
    assert_eq!(db.find_config(card.id).await.unwrap(), Some(card.clone()));
    assert_eq!(db.list_configs().await.unwrap().len(), 5);

    let mut twin = config("DE", PaymentMethod::Card);
    twin.display_name = "twin".into();
    assert_eq!(
        db.create_config(&twin).await,
        Err(CatalogueError::Duplicate)
    );

    let mut changed = card.clone();
    changed.enabled = false;
    changed.details = json!({"iban": "DE11"});
    changed.sort_order = -3;
    changed.updated_at = now() + Duration::minutes(5);
    db.update_config(&changed).await.unwrap();
    assert_eq!(
        db.find_config(card.id).await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(
        db.list_configs().await.unwrap()[0].id,
        card.id,
        "sort order"
    );

    // Moving it onto a taken (country, method) pair is a duplicate; an unknown id not found.
    let mut onto_taken = changed.clone();
    onto_taken.country = CountryScope::Any;
    onto_taken.method = BankTransfer;
    assert_eq!(
        db.update_config(&onto_taken).await,
        Err(CatalogueError::Duplicate)
    );
    let mut ghost = changed.clone();
    ghost.id = Uuid::new_v4();
    assert_eq!(
        db.update_config(&ghost).await,
        Err(CatalogueError::NotFound)
    );

    db.delete_config(card.id).await.unwrap();
    assert_eq!(db.find_config(card.id).await.unwrap(), None);
    assert_eq!(
        db.delete_config(card.id).await,
        Err(CatalogueError::NotFound)
    );
    // A details value that is not an object is refused by the database itself.
    assert!(db
        .execute_sql("UPDATE payment_method_configs SET details = '[1]' WHERE country_code = '*'")
        .is_err());
}

fn setting(
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

pub async fn overrides_are_replaced_and_the_default_moves(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let other = organization_at(db, "0987654321", now()).await;
    db.upsert_override(&setting(&other, BankTransfer, true, true))
        .await
        .unwrap();

    let bank = setting(&organization, BankTransfer, true, true);
    db.upsert_override(&bank).await.unwrap();
    assert_eq!(
        db.list_overrides(organization.id).await.unwrap(),
        vec![bank.clone()]
    );

    // Marking the wallet default clears the bank transfer's flag, not the other tenant's.
    let wallet = setting(&organization, LocalWallet, true, true);
    db.upsert_override(&wallet).await.unwrap();
    let listed = db.list_overrides(organization.id).await.unwrap();
    let defaults: Vec<(PaymentMethod, bool)> =
        listed.iter().map(|o| (o.method, o.is_default)).collect();
    assert_eq!(defaults, vec![(BankTransfer, false), (LocalWallet, true)]);
    assert!(db.list_overrides(other.id).await.unwrap()[0].is_default);

    // Upserting again replaces the row (keeping its creation time).
    let mut wallet_off = setting(&organization, LocalWallet, false, false);
    wallet_off.updated_at = now() + Duration::minutes(1);
    db.upsert_override(&wallet_off).await.unwrap();
    let listed = db.list_overrides(organization.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[1],
        AccountPaymentMethod {
            created_at: wallet.created_at,
            ..wallet_off.clone()
        }
    );
    let offered: Vec<PaymentMethod> = available(db, &organization)
        .await
        .into_iter()
        .map(|m| m.method)
        .collect();
    assert_eq!(offered, vec![BankTransfer], "the wallet is switched off");

    db.delete_override(organization.id, LocalWallet)
        .await
        .unwrap();
    assert_eq!(
        db.delete_override(organization.id, LocalWallet).await,
        Err(CatalogueError::NotFound)
    );
    assert_eq!(db.list_overrides(organization.id).await.unwrap().len(), 1);
    // An override of an unknown organization is a storage error, not a silent insert.
    let ghost = Organization {
        id: OrganizationId::new_random(),
        ..organization.clone()
    };
    assert!(db
        .upsert_override(&setting(&ghost, BankTransfer, true, false))
        .await
        .is_err());
}

// ---------------------------------------------------------------------------------------------
// Manual payments

pub async fn a_manual_payment_is_pending_approval_for_the_invoice_amount(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let invoice = invoice(db, &organization, "139.00").await;
    let at = now();
    let submission = submission(
        db,
        &organization,
        request(&invoice, LocalWallet, "SBP-42"),
        None,
        at,
    )
    .await;
    let payment = created(db.submit_manual_payment(&submission).await.unwrap());
    assert_eq!(payment.status, PaymentStatus::PendingApproval);
    assert_eq!(payment.amount, rub("139.00"));
    assert_eq!(payment.method, LocalWallet);
    assert_eq!(payment.invoice_id, Some(invoice.id.0));
    assert_eq!(payment.organization_id, organization.id);
    assert_eq!(payment.transaction_reference.as_deref(), Some("SBP-42"));
    assert_eq!(payment.created_at, at);
    assert_eq!(payment.processed_at, None);
    let view = db.find_payment(payment.id).await.unwrap().unwrap();
    assert_eq!(view.payment, payment, "what was returned is what is stored");
    assert_eq!(
        view.invoice_number.as_deref(),
        Some(invoice.number.as_str())
    );
    assert_eq!(
        balance_of(db, &organization).await,
        rub("0.00"),
        "no credit yet"
    );
    assert_eq!(db.count_rows("balance_log"), 0);
}

pub async fn manual_payments_refused_by_the_rules_write_nothing(db: &TestDatabase) {
    let ours = organization(db, "1234567890").await;
    let theirs = organization(db, "0987654321").await;
    let their_invoice = invoice(db, &theirs, "10.00").await;
    let mut paid = new_invoice(&ours, "10.00", "INV-PAID");
    paid.status = InvoiceStatus::Paid;
    paid.paid_at = Some(now());
    db.create_invoice(&paid).await.unwrap();
    let payable = invoice(db, &ours, "10.00").await;
    // The organization switched the wallet off.
    db.upsert_override(&setting(&ours, LocalWallet, false, false))
        .await
        .unwrap();
    let before = (db.count_rows("payments"), db.count_rows("idempotency_keys"));

    let refused = |result: Result<SubmitOutcome, SubmitError>| match result {
        Err(SubmitError::Rule(error)) => error,
        other => panic!("expected a rule refusal, got {other:?}"),
    };
    assert_eq!(
        refused(
            submit(
                db,
                &ours,
                request(&their_invoice, BankTransfer, "R"),
                Some("k1")
            )
            .await
        ),
        ManualPaymentError::InvoiceNotFound
    );
    let mut missing = request(&payable, BankTransfer, "R");
    missing.invoice_id = InvoiceId(Uuid::new_v4());
    assert_eq!(
        refused(submit(db, &ours, missing, Some("k2")).await),
        ManualPaymentError::InvoiceNotFound
    );
    assert_eq!(
        refused(submit(db, &ours, request(&paid, BankTransfer, "R"), Some("k3")).await),
        ManualPaymentError::InvoiceNotPayable(InvoiceStatus::Paid)
    );
    assert_eq!(
        refused(submit(db, &ours, request(&payable, LocalWallet, "R"), Some("k4")).await),
        ManualPaymentError::MethodNotAvailable(LocalWallet)
    );
    assert_eq!(
        refused(submit(db, &ours, request(&payable, PaymentMethod::Card, "R"), None).await),
        ManualPaymentError::MethodNotAvailable(PaymentMethod::Card)
    );
    assert_eq!(
        (db.count_rows("payments"), db.count_rows("idempotency_keys")),
        before,
        "refusals roll back, keys included"
    );
    // A refused key is free again: the same key now pays the payable invoice.
    created(
        submit(db, &ours, request(&payable, BankTransfer, "R"), Some("k1"))
            .await
            .unwrap(),
    );
}

pub async fn a_second_pending_payment_of_an_invoice_is_refused(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (invoice, first) = pending_payment(db, &organization, "50.00").await;
    let second = submit(
        db,
        &organization,
        request(&invoice, LocalWallet, "another"),
        Some("second"),
    )
    .await;
    assert_eq!(
        second,
        Err(SubmitError::Rule(ManualPaymentError::PendingPaymentExists))
    );
    assert_eq!(db.count_rows("payments"), 1);
    assert_eq!(db.count_rows("idempotency_keys"), 0);
    // The database itself refuses a second waiting payment, whoever writes it.
    let sql = format!(
        "INSERT INTO payments (id, organization_id, invoice_id, amount_minor, currency, \
         payment_method, status) VALUES ('{}', '{}', '{}', 5000, 'RUB', 'manual', \
         'pending_approval')",
        Uuid::new_v4(),
        organization.id,
        invoice.id
    );
    assert!(db.execute_sql(&sql).is_err());
    assert_eq!(
        status_of(db, first.id).await,
        PaymentStatus::PendingApproval
    );
}

pub async fn an_idempotency_key_replays_or_refuses(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let other = organization_at(db, "0987654321", now()).await;
    let invoice = invoice(db, &organization, "75.00").await;
    let their_invoice = self::invoice(db, &other, "75.00").await;
    let original = request(&invoice, BankTransfer, "PP-7");
    let first = created(
        submit(db, &organization, original.clone(), Some("key-1"))
            .await
            .unwrap(),
    );
    let again = submit(db, &organization, original.clone(), Some("key-1"))
        .await
        .unwrap();
    assert_eq!(again, SubmitOutcome::Replayed(first.clone()));
    assert_eq!(db.count_rows("payments"), 1);

    let mut altered = original.clone();
    altered.transaction_reference = "PP-8".into();
    assert_eq!(
        submit(db, &organization, altered, Some("key-1")).await,
        Err(SubmitError::Rule(ManualPaymentError::IdempotencyKeyReused))
    );
    // Keys are per organization: another tenant may use the same text.
    created(
        submit(
            db,
            &other,
            request(&their_invoice, BankTransfer, "PP-7"),
            Some("key-1"),
        )
        .await
        .unwrap(),
    );
    assert_eq!(db.count_rows("payments"), 2);
    assert_eq!(db.count_rows("idempotency_keys"), 2);
    // A replay answers with the payment as it is now, even after approval.
    applied(act(db, first.id, approve()).await.unwrap());
    match submit(db, &organization, original, Some("key-1"))
        .await
        .unwrap()
    {
        SubmitOutcome::Replayed(payment) => {
            assert_eq!(payment.id, first.id);
            assert_eq!(payment.status, PaymentStatus::Succeeded);
        }
        other => panic!("expected Replayed, got {other:?}"),
    }
}

pub async fn concurrent_submissions_with_one_key_create_one_payment(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let invoice = invoice(db, &organization, "990.00").await;
    let submission = submission(
        db,
        &organization,
        request(&invoice, BankTransfer, "PP-1"),
        Some("double-click"),
        now(),
    )
    .await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let database = db.database().clone();
            let submission = submission.clone();
            tokio::spawn(async move { database.submit_manual_payment(&submission).await })
        })
        .collect();
    let mut created_ids = Vec::new();
    let mut replayed_ids = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            SubmitOutcome::Created(payment) => created_ids.push(payment.id),
            SubmitOutcome::Replayed(payment) => replayed_ids.push(payment.id),
        }
    }
    eprintln!(
        "TIMING {}: 10 concurrent submissions with one idempotency key in {:?}",
        db.backend_name(),
        started.elapsed()
    );
    assert_eq!(created_ids.len(), 1);
    assert_eq!(replayed_ids.len(), 9);
    assert!(replayed_ids.iter().all(|id| *id == created_ids[0]));
    assert_eq!(db.count_rows("payments"), 1);
    assert_eq!(db.count_rows("idempotency_keys"), 1);
}

// ---------------------------------------------------------------------------------------------
// Staff actions

pub async fn approval_credits_once_marks_the_invoice_paid_and_logs(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (invoice, payment) = pending_payment(db, &organization, "139.00").await;
    let at = now() + Duration::seconds(5);
    let approved = applied(
        db.apply_staff_action(payment.id, &approve(), at)
            .await
            .unwrap(),
    );
    assert_eq!(approved.status, PaymentStatus::Succeeded);
    assert_eq!(approved.processed_at, Some(at));
    assert_eq!(
        approved.admin_notes.as_deref(),
        Some("seen on the statement")
    );
    assert_eq!(
        db.find_payment(payment.id).await.unwrap().unwrap().payment,
        approved
    );
    let paid = db.find_invoice(invoice.id).await.unwrap().unwrap();
    assert_eq!((paid.status, paid.paid_at), (InvoiceStatus::Paid, Some(at)));
    assert_eq!(balance_of(db, &organization).await, rub("139.00"));
    let log = db.balance_log(organization.id).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].payment_id, payment.id);
    assert_eq!(log[0].delta_minor_units, 13_900);
    assert_eq!(log[0].created_at, at);

    let before = ledger_state(db, &organization).await;
    let again = act(db, payment.id, approve()).await.unwrap();
    assert_eq!(again, StaffActionOutcome::AlreadyDone(approved));
    assert_eq!(ledger_state(db, &organization).await, before);
}

pub async fn concurrent_approvals_credit_once(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (_, payment) = pending_payment(db, &organization, "500.00").await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let database = db.database().clone();
            tokio::spawn(async move {
                database
                    .apply_staff_action(payment.id, &approve(), now())
                    .await
            })
        })
        .collect();
    let (mut applied_count, mut already) = (0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap() {
            StaffActionOutcome::Applied(_) => applied_count += 1,
            StaffActionOutcome::AlreadyDone(p) => {
                assert_eq!(p.status, PaymentStatus::Succeeded);
                already += 1;
            }
        }
    }
    eprintln!(
        "TIMING {}: 20 concurrent approvals of one payment in {:?}",
        db.backend_name(),
        started.elapsed()
    );
    assert_eq!((applied_count, already), (1, 19));
    assert_eq!(balance_of(db, &organization).await, rub("500.00"));
    assert_eq!(db.count_rows("balance_log"), 1);
}

pub async fn approvals_racing_rejections_let_the_first_win(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (invoice, payment) = pending_payment(db, &organization, "42.00").await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let database = db.database().clone();
            let action = if i % 2 == 0 { approve() } else { reject() };
            let is_approval = i % 2 == 0;
            tokio::spawn(async move {
                let result = database
                    .apply_staff_action(payment.id, &action, now())
                    .await;
                (is_approval, result)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    eprintln!(
        "TIMING {}: 10 approvals racing 10 rejections in {:?}",
        db.backend_name(),
        started.elapsed()
    );
    let winners: Vec<bool> = outcomes
        .iter()
        .filter(|(_, r)| matches!(r, Ok(StaffActionOutcome::Applied(_))))
        .map(|(is_approval, _)| *is_approval)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one action applies");
    let approval_won = winners[0];
    for (is_approval, result) in &outcomes {
        match result {
            Ok(StaffActionOutcome::Applied(_)) => {}
            // Same action as the winner: a repeat.
            Ok(StaffActionOutcome::AlreadyDone(_)) => assert_eq!(*is_approval, approval_won),
            // The other action: the state machine refuses it.
            Err(StaffActionStoreError::Rule(StaffActionError::InvalidTransition(refusal))) => {
                assert_ne!(*is_approval, approval_won);
                let winner_status = if approval_won {
                    PaymentStatus::Succeeded
                } else {
                    PaymentStatus::Failed
                };
                assert_eq!(refusal.current, winner_status);
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    let invoice = db.find_invoice(invoice.id).await.unwrap().unwrap();
    if approval_won {
        assert_eq!(status_of(db, payment.id).await, PaymentStatus::Succeeded);
        assert_eq!(balance_of(db, &organization).await, rub("42.00"));
        assert_eq!(invoice.status, InvoiceStatus::Paid);
        assert_eq!(db.count_rows("balance_log"), 1);
    } else {
        assert_eq!(status_of(db, payment.id).await, PaymentStatus::Failed);
        assert_eq!(balance_of(db, &organization).await, rub("0.00"));
        assert_eq!(invoice.status, InvoiceStatus::Pending);
        assert_eq!(db.count_rows("balance_log"), 0);
    }
}

pub async fn rejection_keeps_the_invoice_pending(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (invoice, payment) = pending_payment(db, &organization, "20.00").await;
    let rejected = applied(act(db, payment.id, reject()).await.unwrap());
    assert_eq!(rejected.status, PaymentStatus::Failed);
    assert_eq!(rejected.failure_reason.as_deref(), Some("no such transfer"));
    assert!(rejected.processed_at.is_some());
    assert_eq!(
        db.find_payment(payment.id).await.unwrap().unwrap().payment,
        rejected
    );
    assert_eq!(
        db.find_invoice(invoice.id).await.unwrap().unwrap().status,
        InvoiceStatus::Pending
    );
    assert_eq!(balance_of(db, &organization).await, rub("0.00"));
    assert_eq!(db.count_rows("balance_log"), 0);
    // Approving a rejected payment is refused; the invoice can take a new payment.
    assert!(matches!(
        act(db, payment.id, approve()).await,
        Err(StaffActionStoreError::Rule(
            StaffActionError::InvalidTransition(_)
        ))
    ));
    created(
        submit(
            db,
            &organization,
            request(&invoice, LocalWallet, "retry"),
            None,
        )
        .await
        .unwrap(),
    );
}

pub async fn refunds_debit_with_a_log_entry(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (_, payment) = pending_payment(db, &organization, "30.00").await;
    applied(act(db, payment.id, approve()).await.unwrap());
    // A bank-webhook payment of the same organization is refundable the same way.
    let RecordOutcome::Recorded {
        payment_id: bank_id,
        ..
    } = db
        .record_bank_payment(&bank_payment("12.50", "1234567890"), now())
        .await
        .unwrap()
    else {
        panic!("expected Recorded");
    };
    assert_eq!(balance_of(db, &organization).await, rub("42.50"));

    let refunded = applied(act(db, payment.id, refund()).await.unwrap());
    assert_eq!(refunded.status, PaymentStatus::Refunded);
    assert_eq!(balance_of(db, &organization).await, rub("12.50"));
    let bank_refunded = applied(act(db, bank_id, refund()).await.unwrap());
    assert_eq!(bank_refunded.status, PaymentStatus::Refunded);
    assert!(bank_refunded.bank.is_some());
    assert_eq!(balance_of(db, &organization).await, rub("0.00"));

    let log = db.balance_log(organization.id).await.unwrap();
    let deltas: Vec<i64> = log.iter().map(|e| e.delta_minor_units).collect();
    assert_eq!(deltas, vec![3000, 1250, -3000, -1250]);
    verify_log_chain(rub("0.00"), &log).unwrap();
    // Refunding again is a repeat.
    assert!(matches!(
        act(db, bank_id, refund()).await,
        Ok(StaffActionOutcome::AlreadyDone(_))
    ));
}

pub async fn a_refund_below_zero_is_refused_and_changes_nothing(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (_, payment) = pending_payment(db, &organization, "100.00").await;
    applied(act(db, payment.id, approve()).await.unwrap());
    // Money spent outside this service (no debit port exists yet) lowers the balance.
    db.execute_sql("UPDATE organizations SET balance_minor = 50")
        .unwrap();
    let before = ledger_state(db, &organization).await;
    assert_eq!(
        act(db, payment.id, refund()).await,
        Err(StaffActionStoreError::Rule(StaffActionError::Ledger(
            LedgerError::InsufficientBalance {
                balance: rub("0.50"),
                requested: rub("100.00"),
            }
        )))
    );
    assert_eq!(ledger_state(db, &organization).await, before);
    assert_eq!(status_of(db, payment.id).await, PaymentStatus::Succeeded);
}

pub async fn approving_a_payment_of_an_invoice_paid_by_another_is_refused(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (invoice, first) = pending_payment(db, &organization, "60.00").await;
    // The first payment moved on to processing (as a card payment would), which frees the
    // invoice for a second manual payment; the second is approved and pays the invoice.
    db.execute_sql(&format!(
        "UPDATE payments SET status = 'processing' WHERE id = '{}'",
        first.id
    ))
    .unwrap();
    let second = created(
        submit(
            db,
            &organization,
            request(&invoice, LocalWallet, "R2"),
            None,
        )
        .await
        .unwrap(),
    );
    applied(act(db, second.id, approve()).await.unwrap());
    let before = ledger_state(db, &organization).await;
    assert_eq!(
        act(db, first.id, approve()).await,
        Err(StaffActionStoreError::Rule(
            StaffActionError::InvoiceAlreadyPaid(invoice.number.to_string())
        ))
    );
    assert_eq!(ledger_state(db, &organization).await, before);
    assert_eq!(status_of(db, first.id).await, PaymentStatus::Processing);
}

pub async fn staff_actions_on_an_unknown_payment_are_not_found(db: &TestDatabase) {
    for action in [approve(), reject(), refund()] {
        assert_eq!(
            act(db, PaymentId::new_random(), action).await,
            Err(StaffActionStoreError::Rule(
                StaffActionError::PaymentNotFound
            ))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Ledger audit

pub async fn the_ledger_audit_passes_and_catches_tampering(db: &TestDatabase) {
    let ours = organization(db, "1234567890").await;
    let theirs = organization(db, "0987654321").await;
    // A mix: bank payments, approvals, a rejection, a refund, a pending payment.
    for amount in ["10.00", "0.01"] {
        db.record_bank_payment(&bank_payment(amount, "1234567890"), now())
            .await
            .unwrap();
    }
    let (_, approved) = pending_payment(db, &ours, "100.00").await;
    applied(act(db, approved.id, approve()).await.unwrap());
    let (_, refunded) = pending_payment(db, &ours, "40.00").await;
    applied(act(db, refunded.id, approve()).await.unwrap());
    applied(act(db, refunded.id, refund()).await.unwrap());
    let (_, rejected) = pending_payment(db, &theirs, "7.00").await;
    applied(act(db, rejected.id, reject()).await.unwrap());
    pending_payment(db, &theirs, "8.00").await;

    let inputs = db.ledger_audit_inputs().await.unwrap();
    assert_eq!(inputs.len(), 2);
    for input in &inputs {
        audit_organization(input).unwrap();
    }
    let our_input = inputs
        .iter()
        .find(|i| i.organization_id == ours.id)
        .unwrap();
    assert_eq!(our_input.balance, rub("110.01"));
    assert_eq!(our_input.succeeded_minor_units, 11_001);
    assert_eq!(our_input.log.len(), 5);
    assert_eq!(our_input.inn, "1234567890");

    db.execute_sql(&format!(
        "UPDATE organizations SET balance_minor = balance_minor + 1 WHERE id = '{}'",
        ours.id
    ))
    .unwrap();
    let inputs = db.ledger_audit_inputs().await.unwrap();
    for input in &inputs {
        let verdict = audit_organization(input);
        if input.organization_id == ours.id {
            let failure = verdict.unwrap_err();
            assert_eq!(failure.inn, "1234567890");
        } else {
            verdict.unwrap();
        }
    }
}
