//! Billing fixtures: the mocked ports of the billing use cases, tokens of each role, domain
//! objects shaped like the OpenAPI examples, and request builders.

use actix_web::http::header;
use actix_web::test::TestRequest;
use chrono::{NaiveDate, Utc};
use payments_api_actix::{BillingPorts, BillingUseCases};
use payments_domain::auth::{NewToken, Role};
use payments_domain::catalogue::{AccountPaymentMethod, CountryScope, PaymentMethodConfig};
use payments_domain::invoice::{Invoice, InvoiceId, InvoiceNumber, InvoiceStatus};
use payments_domain::ledger::BalanceLogEntry;
use payments_domain::organization::CountryCode;
use payments_domain::pagination::{Page, PageRequest};
use payments_domain::payment::Payment;
use payments_domain::ports::{
    CatalogueError, CreateInvoiceError, CreateOrganizationError, MockCatalogueStore,
    MockInvoiceStore, MockManualPaymentStore, MockOrganizationStore, MockPaymentQueries,
    MockStaffActionStore, PaymentView, StaffActionStoreError, SubmitError,
};
use payments_domain::{
    Inn, Organization, OrganizationId, PaymentId, PaymentMethod, PaymentStatus, StorageError,
};
use std::sync::Arc;
use uuid::Uuid;

use super::{mint, rub};

pub const BILLING: &str = "/api/v1/billing";

/// The ports of the billing use cases; a mock without expectations fails the test on any
/// call.
#[derive(Default)]
pub struct BillingMocks {
    pub organizations: MockOrganizationStore,
    pub invoices: MockInvoiceStore,
    pub payments: MockPaymentQueries,
    pub catalogue: MockCatalogueStore,
    pub manual: MockManualPaymentStore,
    pub staff: MockStaffActionStore,
}

impl BillingMocks {
    pub fn billing(self) -> BillingUseCases {
        BillingUseCases::new(BillingPorts {
            organizations: Arc::new(self.organizations),
            invoices: Arc::new(self.invoices),
            payments: Arc::new(self.payments),
            catalogue: Arc::new(self.catalogue),
            manual: Arc::new(self.manual),
            staff: Arc::new(self.staff),
        })
    }

    /// Every storage call fails.
    pub fn down() -> Self {
        let down = || StorageError::new("connection refused");
        let mut mocks = Self::default();
        mocks
            .organizations
            .expect_find_by_inn()
            .returning(move |_| Err(down()));
        mocks
            .organizations
            .expect_find_organization()
            .returning(move |_| Err(down()));
        mocks
            .organizations
            .expect_create_organization()
            .returning(move |_| Err(CreateOrganizationError::Storage(down())));
        mocks
            .organizations
            .expect_list_organizations()
            .returning(move |_| Err(down()));
        mocks
            .invoices
            .expect_create_invoice()
            .returning(move |_| Err(CreateInvoiceError::Storage(down())));
        mocks
            .invoices
            .expect_find_invoice()
            .returning(move |_| Err(down()));
        mocks
            .invoices
            .expect_list_invoices()
            .returning(move |_, _| Err(down()));
        mocks
            .payments
            .expect_find_payment()
            .returning(move |_| Err(down()));
        mocks
            .payments
            .expect_list_payments()
            .returning(move |_, _| Err(down()));
        mocks
            .payments
            .expect_list_balance_log()
            .returning(move |_, _| Err(down()));
        mocks
            .catalogue
            .expect_list_configs()
            .returning(move || Err(down()));
        mocks
            .catalogue
            .expect_find_config()
            .returning(move |_| Err(down()));
        mocks
            .catalogue
            .expect_create_config()
            .returning(move |_| Err(CatalogueError::Storage(down())));
        mocks
            .catalogue
            .expect_update_config()
            .returning(move |_| Err(CatalogueError::Storage(down())));
        mocks
            .catalogue
            .expect_delete_config()
            .returning(move |_| Err(CatalogueError::Storage(down())));
        mocks
            .catalogue
            .expect_list_overrides()
            .returning(move |_| Err(down()));
        mocks
            .catalogue
            .expect_upsert_override()
            .returning(move |_| Err(down()));
        mocks
            .catalogue
            .expect_delete_override()
            .returning(move |_, _| Err(CatalogueError::Storage(down())));
        mocks
            .manual
            .expect_submit_manual_payment()
            .returning(move |_| Err(SubmitError::Storage(down())));
        mocks
            .staff
            .expect_apply_staff_action()
            .returning(move |_, _, _| Err(StaffActionStoreError::Storage(down())));
        mocks
    }

    /// The organization store knows `organization` by id (and nothing else).
    pub fn knowing(mut self, organization: &Organization) -> Self {
        let known = organization.clone();
        self.organizations
            .expect_find_organization()
            .returning(move |id| Ok((id == known.id).then(|| known.clone())));
        self
    }

    /// The invoice store knows `invoice()` (number INV-2026-001), as answers to writes read
    /// the invoice's number from it.
    pub fn with_invoice(mut self) -> Self {
        self.invoices
            .expect_find_invoice()
            .returning(|id| Ok((id.0 == invoice_id()).then(|| invoice(InvoiceStatus::Pending))));
        self
    }

    /// The catalogue offers `config()` and the organization has no overrides.
    pub fn with_catalogue(mut self) -> Self {
        self.catalogue
            .expect_list_configs()
            .returning(|| Ok(vec![config()]));
        self.catalogue
            .expect_list_overrides()
            .returning(|_| Ok(vec![]));
        self
    }
}

/// The member's organization: Acme, INN 7701234567, Russia, 139.00 RUB.
pub fn acme() -> Organization {
    let now = Utc::now();
    Organization::restore(
        OrganizationId(Uuid::from_u128(0x9d3c4c02_53a4_4b57_8c52_0f5d8b7e1a20)),
        Inn::parse("7701234567").unwrap(),
        "Acme".into(),
        CountryCode::russia(),
        rub("139"),
        now,
        now,
    )
}

pub fn member_of(organization: &Organization) -> NewToken {
    mint(5, Role::Member, Some(organization.id))
}

pub fn staff() -> NewToken {
    mint(6, Role::Staff, None)
}

pub fn invoice_id() -> Uuid {
    Uuid::from_u128(0x5b0f8f47_2f7e_4e0c_9a43_51f1b7d35a9e)
}

/// A manual payment of Acme's invoice in `status`, with every optional field as the examples
/// show it: processed unless still waiting, failure reason only when failed.
pub fn payment(status: PaymentStatus) -> Payment {
    let now = Utc::now();
    let waiting = matches!(
        status,
        PaymentStatus::Pending | PaymentStatus::PendingApproval | PaymentStatus::Processing
    );
    Payment {
        id: PaymentId(Uuid::from_u128(0x0b6f1c2e_6a3b_4a53_9d2a_3f1f0c8e5b7d)),
        organization_id: acme().id,
        invoice_id: Some(invoice_id()),
        amount: rub("139"),
        method: PaymentMethod::BankTransfer,
        status,
        transaction_reference: Some("TX-1".into()),
        notes: Some("Paid from our account at Sberbank".into()),
        failure_reason: (status == PaymentStatus::Failed).then(|| "no transfer found".into()),
        admin_notes: Some("seen on the statement".into()),
        bank: None,
        created_at: now,
        updated_at: now,
        processed_at: (!waiting).then_some(now),
    }
}

pub fn view(status: PaymentStatus) -> PaymentView {
    PaymentView {
        payment: payment(status),
        invoice_number: Some("INV-2026-001".into()),
    }
}

pub fn invoice(status: InvoiceStatus) -> Invoice {
    let now = Utc::now();
    Invoice {
        id: InvoiceId(invoice_id()),
        organization_id: acme().id,
        number: InvoiceNumber::parse("INV-2026-001").unwrap(),
        amount: rub("139"),
        status,
        due_date: NaiveDate::from_ymd_opt(2026, 12, 31),
        paid_at: (status == InvoiceStatus::Paid).then(Utc::now),
        created_at: now,
        updated_at: now,
    }
}

pub fn config() -> PaymentMethodConfig {
    let now = Utc::now();
    PaymentMethodConfig {
        id: Uuid::from_u128(0x2a7e9c41_0f3b_4d8e_b5a6_7c9d1e2f3a4b),
        country: CountryScope::parse("RU").unwrap(),
        method: PaymentMethod::BankTransfer,
        enabled: true,
        display_name: "Bank transfer".into(),
        instructions: "Use the invoice number as the payment reference".into(),
        details: serde_json::json!({"account": "40702810900000012345"}),
        sort_order: 1,
        created_at: now,
        updated_at: now,
    }
}

pub fn override_of(organization: &Organization) -> AccountPaymentMethod {
    let now = Utc::now();
    AccountPaymentMethod {
        organization_id: organization.id,
        method: PaymentMethod::LocalWallet,
        is_enabled: false,
        is_default: false,
        created_at: now,
        updated_at: now,
    }
}

pub fn log_entry(previous: &str, new: &str) -> BalanceLogEntry {
    let (previous, new) = (rub(previous), rub(new));
    BalanceLogEntry {
        id: Uuid::new_v4(),
        organization_id: acme().id,
        payment_id: payment(PaymentStatus::Succeeded).id,
        previous_balance: previous,
        new_balance: new,
        delta_minor_units: new.to_minor_units() - previous.to_minor_units(),
        created_at: Utc::now(),
    }
}

/// A page of `items` out of `total`, answering the page asked for.
pub fn page<T>(items: Vec<T>, total: u64, request: PageRequest) -> Page<T> {
    Page {
        items,
        total,
        request,
    }
}

/// A billing request: `path` is relative to `/api/v1/billing`, the body (if any) is JSON.
pub fn billing(
    method: &str,
    path: &str,
    token: Option<&NewToken>,
    body: Option<&str>,
) -> TestRequest {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = TestRequest::default()
        .method(method)
        .uri(&format!("{BILLING}{path}"));
    if let Some(token) = token {
        request =
            request.insert_header((header::AUTHORIZATION, format!("Bearer {}", token.plaintext)));
    }
    if let Some(body) = body {
        request = request
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload(body.to_string());
    }
    request
}

pub fn manual_body() -> String {
    serde_json::json!({"invoice_id": invoice_id(), "payment_method": "bank_transfer",
                       "transaction_reference": "TX-1"})
    .to_string()
}
