//! The billing API's use cases: one method per endpoint, each checking the caller's role and
//! tenancy first. Members work on their own organization only; staff use the admin methods.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{AccessError, Principal};
use crate::billing::{
    audit_organization, IdempotencyKey, LedgerAuditFailure, ManualPaymentError,
    ManualPaymentRequest, RawManualPayment, StaffAction, StaffActionError,
};
use crate::catalogue::{
    available_methods, AccountPaymentMethod, AvailableMethod, CountryScope, PaymentMethodConfig,
};
use crate::error::{FieldErrors, StorageError};
use crate::invoice::{Invoice, InvoiceId, InvoiceNumber, InvoiceStatus};
use crate::ledger::{BalanceLogEntry, LedgerError};
use crate::money::{Currency, Money};
use crate::organization::{CountryCode, Inn, Organization, OrganizationId};
use crate::pagination::{Page, PageRequest};
use crate::payment::{InvalidTransition, PaymentId, PaymentMethod, PaymentStatus};
use crate::ports::{
    CatalogueError, CatalogueStore, CreateInvoiceError, CreateOrganizationError, InvoiceFilter,
    InvoiceStore, LedgerAuditSource, ManualPaymentStore, ManualSubmission, OrganizationStore,
    PaymentFilter, PaymentQueries, PaymentView, StaffActionOutcome, StaffActionStore,
    StaffActionStoreError, SubmitError, SubmitOutcome,
};

/// Why a billing request failed; each variant is one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    /// 400, with per-field reasons.
    #[error("Invalid data")]
    Invalid(FieldErrors),
    /// 400 without a field (a rule about the request as a whole).
    #[error("{0}")]
    BadRequest(String),
    /// 403: the caller's role may not do this.
    #[error(transparent)]
    Forbidden(#[from] AccessError),
    /// 404: missing, or another organization's.
    #[error("{0} not found.")]
    NotFound(&'static str),
    /// 409 from the state machine, naming current and required states.
    #[error(transparent)]
    InvalidTransition(InvalidTransition),
    /// 409 for other conflicts.
    #[error("{0}")]
    Conflict(String),
    /// 422: well-formed, but the ledger cannot take it.
    #[error("{0}")]
    Unprocessable(String),
    /// 503: storage failed; retry.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn invalid(field: &str, reason: impl Into<String>) -> BillingError {
    let mut errors = FieldErrors::new();
    errors.add(field, reason);
    BillingError::Invalid(errors)
}

impl From<CreateOrganizationError> for BillingError {
    fn from(e: CreateOrganizationError) -> Self {
        match e {
            CreateOrganizationError::InnTaken => Self::Conflict(e.to_string()),
            CreateOrganizationError::Storage(s) => Self::Storage(s),
        }
    }
}

impl From<CreateInvoiceError> for BillingError {
    fn from(e: CreateInvoiceError) -> Self {
        match e {
            CreateInvoiceError::NumberTaken => Self::Conflict(e.to_string()),
            CreateInvoiceError::Storage(s) => Self::Storage(s),
        }
    }
}

impl From<CatalogueError> for BillingError {
    fn from(e: CatalogueError) -> Self {
        match e {
            CatalogueError::Duplicate => Self::Conflict(e.to_string()),
            CatalogueError::NotFound => Self::NotFound("Configuration"),
            CatalogueError::Storage(s) => Self::Storage(s),
        }
    }
}

impl From<ManualPaymentError> for BillingError {
    fn from(e: ManualPaymentError) -> Self {
        match e {
            ManualPaymentError::InvoiceNotFound => Self::NotFound("Invoice"),
            ManualPaymentError::MethodNotAvailable(_) => invalid("payment_method", e.to_string()),
            ManualPaymentError::InvoiceNotPayable(_) => invalid("invoice_id", e.to_string()),
            ManualPaymentError::PendingPaymentExists | ManualPaymentError::IdempotencyKeyReused => {
                Self::Conflict(e.to_string())
            }
        }
    }
}

impl From<StaffActionError> for BillingError {
    fn from(e: StaffActionError) -> Self {
        match e {
            StaffActionError::PaymentNotFound => Self::NotFound("Payment"),
            StaffActionError::InvalidTransition(t) => Self::InvalidTransition(t),
            StaffActionError::InvoiceAlreadyPaid(_) => Self::Conflict(e.to_string()),
            StaffActionError::Ledger(LedgerError::InsufficientBalance { .. }) => {
                Self::Conflict(e.to_string())
            }
            StaffActionError::Ledger(other) => Self::Unprocessable(other.to_string()),
        }
    }
}

/// Query parameters of the payment lists, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PaymentListQuery {
    pub status: Option<String>,
    pub payment_method: Option<String>,
    pub invoice_id: Option<String>,
    /// Staff only: an organization id or INN.
    pub organization: Option<String>,
}

/// Query parameters of the invoice lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct InvoiceListQuery {
    pub status: Option<String>,
}

/// Body of `POST /admin/organizations/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NewOrganizationInput {
    pub inn: Option<String>,
    pub name: Option<String>,
    pub country: Option<String>,
    pub currency: Option<String>,
}

/// Body of `POST /admin/invoices/`. `amount` is the literal text of the JSON number or string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewInvoiceInput {
    pub organization_id: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub due_date: Option<String>,
    pub number: Option<String>,
}

/// Body of the catalogue endpoints (create and full update).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ConfigInput {
    pub country_code: Option<String>,
    pub payment_method: Option<String>,
    pub enabled: Option<bool>,
    pub display_name: Option<String>,
    pub instructions: Option<String>,
    pub details: Option<serde_json::Value>,
    pub sort_order: Option<i32>,
}

/// Body of `POST /admin/organizations/{id}/payment-methods/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OverrideInput {
    pub payment_method: Option<String>,
    pub is_enabled: Option<bool>,
    pub is_default: Option<bool>,
}

/// What a manual submission answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualPaymentReceipt {
    /// The payment with its invoice's number.
    pub payment: PaymentView,
    /// False when an idempotent repeat returned the first answer.
    pub created: bool,
}

/// What a staff action answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffActionReceipt {
    /// The payment after the action, with its invoice's number.
    pub payment: PaymentView,
    /// False when the payment was already where the action leads (nothing changed).
    pub applied: bool,
}

fn parse_statuses<T>(
    field: &str,
    text: Option<&str>,
    parse: impl Fn(&str) -> Result<T, crate::payment::UnknownName>,
) -> Result<Vec<T>, BillingError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|part| parse(part.trim()).map_err(|e| invalid(field, e.to_string())))
        .collect()
}

/// A required name of 1 to 255 characters, trimmed; the reason is recorded when it is not.
fn required_name(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<String> {
    match value.map(str::trim) {
        Some(name) if !name.is_empty() && name.chars().count() <= 255 => Some(name.to_string()),
        Some(_) => {
            errors.add(field, "Must be 1 to 255 characters.");
            None
        }
        None => {
            errors.add(field, "This field is required.");
            None
        }
    }
}

fn parse_uuid(field: &str, text: &str) -> Result<Uuid, BillingError> {
    Uuid::try_parse(text.trim()).map_err(|_| invalid(field, "Must be a valid UUID."))
}

/// Every billing use case, over the ports.
#[derive(Clone)]
pub struct Billing {
    organizations: Arc<dyn OrganizationStore>,
    invoices: Arc<dyn InvoiceStore>,
    payments: Arc<dyn PaymentQueries>,
    catalogue: Arc<dyn CatalogueStore>,
    manual: Arc<dyn ManualPaymentStore>,
    staff: Arc<dyn StaffActionStore>,
    audit: Arc<dyn LedgerAuditSource>,
}

/// The ports [`Billing`] works on (one adapter usually implements them all).
pub struct BillingPorts {
    pub organizations: Arc<dyn OrganizationStore>,
    pub invoices: Arc<dyn InvoiceStore>,
    pub payments: Arc<dyn PaymentQueries>,
    pub catalogue: Arc<dyn CatalogueStore>,
    pub manual: Arc<dyn ManualPaymentStore>,
    pub staff: Arc<dyn StaffActionStore>,
    pub audit: Arc<dyn LedgerAuditSource>,
}

impl Billing {
    pub fn new(ports: BillingPorts) -> Self {
        Self {
            organizations: ports.organizations,
            invoices: ports.invoices,
            payments: ports.payments,
            catalogue: ports.catalogue,
            manual: ports.manual,
            staff: ports.staff,
            audit: ports.audit,
        }
    }

    /// One implementation of every port.
    pub fn from_adapter<A>(adapter: Arc<A>) -> Self
    where
        A: OrganizationStore
            + InvoiceStore
            + PaymentQueries
            + CatalogueStore
            + ManualPaymentStore
            + StaffActionStore
            + LedgerAuditSource
            + 'static,
    {
        Self::new(BillingPorts {
            organizations: adapter.clone(),
            invoices: adapter.clone(),
            payments: adapter.clone(),
            catalogue: adapter.clone(),
            manual: adapter.clone(),
            staff: adapter.clone(),
            audit: adapter,
        })
    }

    async fn own_organization(&self, caller: &Principal) -> Result<Organization, BillingError> {
        let id = caller.member_organization()?;
        self.organizations
            .find_organization(id)
            .await?
            .ok_or(BillingError::NotFound("Organization"))
    }

    fn payment_filter(
        &self,
        query: &PaymentListQuery,
        organization_id: Option<OrganizationId>,
    ) -> Result<PaymentFilter, BillingError> {
        let statuses = parse_statuses(
            "status",
            query.status.as_deref(),
            PaymentStatus::parse_filter,
        )?;
        let method = query
            .payment_method
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .map(|m| {
                m.trim()
                    .parse::<PaymentMethod>()
                    .map_err(|e| invalid("payment_method", e.to_string()))
            })
            .transpose()?;
        let invoice_id = query
            .invoice_id
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .map(|text| parse_uuid("invoice_id", text))
            .transpose()?;
        Ok(PaymentFilter {
            organization_id,
            statuses,
            method,
            invoice_id,
        })
    }

    // ---- member endpoints ----

    /// `GET /payments/`: the caller's organization's payments.
    pub async fn list_payments(
        &self,
        caller: &Principal,
        query: &PaymentListQuery,
        page: PageRequest,
    ) -> Result<Page<PaymentView>, BillingError> {
        let organization = caller.member_organization()?;
        let filter = self.payment_filter(query, Some(organization))?;
        Ok(self.payments.list_payments(&filter, page).await?)
    }

    /// `GET /payments/{id}/`: 404 for another organization's payment.
    pub async fn get_payment(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<PaymentView, BillingError> {
        let organization = caller.member_organization()?;
        let id = Uuid::try_parse(id.trim()).map_err(|_| BillingError::NotFound("Payment"))?;
        self.payments
            .find_payment(PaymentId(id))
            .await?
            .filter(|view| view.payment.organization_id == organization)
            .ok_or(BillingError::NotFound("Payment"))
    }

    async fn methods_for(
        &self,
        organization: &Organization,
    ) -> Result<Vec<AvailableMethod>, BillingError> {
        let catalogue = self.catalogue.list_configs().await?;
        let overrides = self.catalogue.list_overrides(organization.id).await?;
        Ok(available_methods(
            &organization.country,
            &catalogue,
            &overrides,
        ))
    }

    /// `GET /payment-methods/available/`: the organization and the methods it may use.
    pub async fn available_methods(
        &self,
        caller: &Principal,
    ) -> Result<(Organization, Vec<AvailableMethod>), BillingError> {
        let organization = self.own_organization(caller).await?;
        let methods = self.methods_for(&organization).await?;
        Ok((organization, methods))
    }

    /// `POST /payments/manual/`.
    pub async fn submit_manual_payment(
        &self,
        caller: &Principal,
        raw: &RawManualPayment,
        idempotency_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ManualPaymentReceipt, BillingError> {
        let organization = self.own_organization(caller).await?;
        let request = ManualPaymentRequest::from_raw(raw).map_err(BillingError::Invalid)?;
        let idempotency_key = idempotency_key
            .map(IdempotencyKey::parse)
            .transpose()
            .map_err(BillingError::Invalid)?;
        let available = self.methods_for(&organization).await?;
        let submission = ManualSubmission {
            organization_id: organization.id,
            request,
            available,
            idempotency_key,
            now,
        };
        let (payment, created) = match self.manual.submit_manual_payment(&submission).await {
            Ok(SubmitOutcome::Created(payment)) => (payment, true),
            Ok(SubmitOutcome::Replayed(payment)) => (payment, false),
            Err(SubmitError::Rule(rule)) => return Err(rule.into()),
            Err(SubmitError::Storage(storage)) => return Err(storage.into()),
        };
        Ok(ManualPaymentReceipt {
            payment: self.with_invoice_number(payment).await?,
            created,
        })
    }

    /// Adds the invoice's number, as lists show it.
    async fn with_invoice_number(
        &self,
        payment: crate::payment::Payment,
    ) -> Result<PaymentView, BillingError> {
        let invoice_number = match payment.invoice_id {
            Some(id) => self
                .invoices
                .find_invoice(InvoiceId(id))
                .await?
                .map(|invoice| invoice.number.to_string()),
            None => None,
        };
        Ok(PaymentView {
            payment,
            invoice_number,
        })
    }

    /// `GET /invoices/`.
    pub async fn list_invoices(
        &self,
        caller: &Principal,
        query: &InvoiceListQuery,
        page: PageRequest,
    ) -> Result<Page<Invoice>, BillingError> {
        let organization = caller.member_organization()?;
        let statuses = parse_statuses("status", query.status.as_deref(), |s| {
            s.parse::<InvoiceStatus>()
        })?;
        let filter = InvoiceFilter {
            organization_id: Some(organization),
            statuses,
        };
        Ok(self.invoices.list_invoices(&filter, page).await?)
    }

    /// `GET /invoices/{id}/`: 404 for another organization's invoice.
    pub async fn get_invoice(&self, caller: &Principal, id: &str) -> Result<Invoice, BillingError> {
        let organization = caller.member_organization()?;
        let id = Uuid::try_parse(id.trim()).map_err(|_| BillingError::NotFound("Invoice"))?;
        self.invoices
            .find_invoice(InvoiceId(id))
            .await?
            .filter(|invoice| invoice.organization_id == organization)
            .ok_or(BillingError::NotFound("Invoice"))
    }

    /// `GET /balance/`.
    pub async fn balance(&self, caller: &Principal) -> Result<Organization, BillingError> {
        self.own_organization(caller).await
    }

    /// `GET /transactions/`: the balance log, newest first.
    pub async fn transactions(
        &self,
        caller: &Principal,
        page: PageRequest,
    ) -> Result<Page<BalanceLogEntry>, BillingError> {
        let organization = caller.member_organization()?;
        Ok(self.payments.list_balance_log(organization, page).await?)
    }

    // ---- staff endpoints ----

    /// `GET /admin/payments/`: every organization's payments; `?organization=` takes an id or
    /// an INN.
    pub async fn admin_list_payments(
        &self,
        caller: &Principal,
        query: &PaymentListQuery,
        page: PageRequest,
    ) -> Result<Page<PaymentView>, BillingError> {
        caller.require_staff()?;
        let organization = match query
            .organization
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            None => None,
            Some(text) => Some(self.resolve_organization(text).await?),
        };
        let filter = self.payment_filter(query, organization)?;
        Ok(self.payments.list_payments(&filter, page).await?)
    }

    async fn resolve_organization(&self, text: &str) -> Result<OrganizationId, BillingError> {
        if let Ok(id) = Uuid::try_parse(text) {
            return Ok(OrganizationId(id));
        }
        let inn = Inn::parse(text)
            .map_err(|_| invalid("organization", "Must be an organization id or INN."))?;
        self.organizations
            .find_by_inn(&inn)
            .await?
            .map(|o| o.id)
            .ok_or_else(|| invalid("organization", "No organization has this INN."))
    }

    /// `POST /admin/payments/{id}/approve|reject|refund/`.
    pub async fn staff_action(
        &self,
        caller: &Principal,
        payment_id: &str,
        action: StaffAction,
        now: DateTime<Utc>,
    ) -> Result<StaffActionReceipt, BillingError> {
        caller.require_staff()?;
        let id =
            Uuid::try_parse(payment_id.trim()).map_err(|_| BillingError::NotFound("Payment"))?;
        let outcome = self
            .staff
            .apply_staff_action(PaymentId(id), &action, now)
            .await;
        let (payment, applied) = match outcome {
            Ok(StaffActionOutcome::Applied(payment)) => (payment, true),
            Ok(StaffActionOutcome::AlreadyDone(payment)) => (payment, false),
            Err(StaffActionStoreError::Rule(rule)) => return Err(rule.into()),
            Err(StaffActionStoreError::Storage(storage)) => return Err(storage.into()),
        };
        Ok(StaffActionReceipt {
            payment: self.with_invoice_number(payment).await?,
            applied,
        })
    }

    /// `POST /admin/organizations/`.
    pub async fn create_organization(
        &self,
        caller: &Principal,
        input: &NewOrganizationInput,
        now: DateTime<Utc>,
    ) -> Result<Organization, BillingError> {
        caller.require_staff()?;
        let mut errors = FieldErrors::new();
        let inn = match input.inn.as_deref() {
            Some(text) => errors.check("inn", Inn::parse(text)),
            None => {
                errors.add("inn", "This field is required.");
                None
            }
        };
        let name = required_name(&mut errors, "name", input.name.as_deref());
        let country = match input.country.as_deref() {
            Some(text) => errors.check("country", CountryCode::parse(text)),
            None => Some(CountryCode::russia()),
        };
        let currency = match input.currency.as_deref() {
            Some(text) => errors.check("currency", Currency::parse(text)),
            None => Some(Currency::RUB),
        };
        let (Some(inn), Some(name), Some(country), Some(currency)) = (inn, name, country, currency)
        else {
            return Err(BillingError::Invalid(errors));
        };
        let organization = Organization::new(
            OrganizationId::new_random(),
            inn,
            name,
            country,
            currency,
            now,
        );
        self.organizations
            .create_organization(&organization)
            .await?;
        Ok(organization)
    }

    /// `GET /admin/organizations/`.
    pub async fn list_organizations(
        &self,
        caller: &Principal,
        page: PageRequest,
    ) -> Result<Page<Organization>, BillingError> {
        caller.require_staff()?;
        Ok(self.organizations.list_organizations(page).await?)
    }

    /// `POST /admin/invoices/`: a `pending` invoice in the organization's currency.
    pub async fn issue_invoice(
        &self,
        caller: &Principal,
        input: &NewInvoiceInput,
        now: DateTime<Utc>,
    ) -> Result<Invoice, BillingError> {
        caller.require_staff()?;
        let organization_id = match input.organization_id.as_deref() {
            Some(text) => parse_uuid("organization_id", text).map(OrganizationId)?,
            None => return Err(invalid("organization_id", "This field is required.")),
        };
        let organization = self
            .organizations
            .find_organization(organization_id)
            .await?
            .ok_or_else(|| invalid("organization_id", "No organization has this id."))?;
        let mut errors = FieldErrors::new();
        let currency = match input.currency.as_deref() {
            None => Some(organization.currency()),
            Some(text) => match Currency::parse(text) {
                Ok(c) if c == organization.currency() => Some(c),
                Ok(c) => {
                    errors.add(
                        "currency",
                        format!(
                            "The organization is billed in {}, not {c}.",
                            organization.currency()
                        ),
                    );
                    None
                }
                Err(e) => {
                    errors.add("currency", e.to_string());
                    None
                }
            },
        };
        let amount = match (input.amount.as_deref(), currency) {
            (Some(text), Some(currency)) => {
                errors.check("amount", Money::parse_positive(text, currency))
            }
            (None, _) => {
                errors.add("amount", "This field is required.");
                None
            }
            _ => None,
        };
        let due_date = match input.due_date.as_deref() {
            Some(text) => errors.check(
                "due_date",
                NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .map_err(|_| "Date has wrong format. Use YYYY-MM-DD."),
            ),
            None => None,
        };
        let id = InvoiceId(Uuid::new_v4());
        let number = match input.number.as_deref() {
            Some(text) => errors.check("number", InvoiceNumber::parse(text)),
            None => Some(InvoiceNumber::generated(id)),
        };
        let (Some(amount), Some(number)) = (amount, number) else {
            return Err(BillingError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(BillingError::Invalid(errors));
        }
        let invoice = Invoice {
            id,
            organization_id,
            number,
            amount,
            status: InvoiceStatus::Pending,
            due_date,
            paid_at: None,
            created_at: now,
            updated_at: now,
        };
        self.invoices.create_invoice(&invoice).await?;
        Ok(invoice)
    }

    /// `GET /admin/payment-method-configs/`.
    pub async fn list_configs(
        &self,
        caller: &Principal,
    ) -> Result<Vec<PaymentMethodConfig>, BillingError> {
        caller.require_staff()?;
        Ok(self.catalogue.list_configs().await?)
    }

    /// `GET /admin/payment-method-configs/{id}/`.
    pub async fn get_config(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<PaymentMethodConfig, BillingError> {
        caller.require_staff()?;
        let id = Uuid::try_parse(id.trim()).map_err(|_| BillingError::NotFound("Configuration"))?;
        self.catalogue
            .find_config(id)
            .await?
            .ok_or(BillingError::NotFound("Configuration"))
    }

    fn validate_config(
        input: &ConfigInput,
        id: Uuid,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PaymentMethodConfig, BillingError> {
        let mut errors = FieldErrors::new();
        let country = match input.country_code.as_deref() {
            Some(text) => errors.check("country_code", CountryScope::parse(text)),
            None => {
                errors.add(
                    "country_code",
                    "This field is required (\"*\" for every country).",
                );
                None
            }
        };
        let method = match input.payment_method.as_deref() {
            Some(text) => errors.check("payment_method", text.trim().parse::<PaymentMethod>()),
            None => {
                errors.add("payment_method", "This field is required.");
                None
            }
        };
        let display_name =
            required_name(&mut errors, "display_name", input.display_name.as_deref());
        let details = input
            .details
            .clone()
            .unwrap_or_else(|| serde_json::json!({}));
        if !details.is_object() {
            errors.add("details", "Must be a JSON object.");
        }
        let (Some(country), Some(method), Some(display_name)) = (country, method, display_name)
        else {
            return Err(BillingError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(BillingError::Invalid(errors));
        }
        Ok(PaymentMethodConfig {
            id,
            country,
            method,
            enabled: input.enabled.unwrap_or(true),
            display_name,
            instructions: input.instructions.clone().unwrap_or_default(),
            details,
            sort_order: input.sort_order.unwrap_or(0),
            created_at,
            updated_at: now,
        })
    }

    /// `POST /admin/payment-method-configs/`.
    pub async fn create_config(
        &self,
        caller: &Principal,
        input: &ConfigInput,
        now: DateTime<Utc>,
    ) -> Result<PaymentMethodConfig, BillingError> {
        caller.require_staff()?;
        let config = Self::validate_config(input, Uuid::new_v4(), now, now)?;
        self.catalogue.create_config(&config).await?;
        Ok(config)
    }

    /// `PUT /admin/payment-method-configs/{id}/`: replaces the row.
    pub async fn update_config(
        &self,
        caller: &Principal,
        id: &str,
        input: &ConfigInput,
        now: DateTime<Utc>,
    ) -> Result<PaymentMethodConfig, BillingError> {
        let existing = self.get_config(caller, id).await?;
        let config = Self::validate_config(input, existing.id, existing.created_at, now)?;
        self.catalogue.update_config(&config).await?;
        Ok(config)
    }

    /// `DELETE /admin/payment-method-configs/{id}/`.
    pub async fn delete_config(&self, caller: &Principal, id: &str) -> Result<(), BillingError> {
        caller.require_staff()?;
        let id = Uuid::try_parse(id.trim()).map_err(|_| BillingError::NotFound("Configuration"))?;
        Ok(self.catalogue.delete_config(id).await?)
    }

    async fn organization_for_staff(
        &self,
        caller: &Principal,
        organization_id: &str,
    ) -> Result<Organization, BillingError> {
        caller.require_staff()?;
        let id = Uuid::try_parse(organization_id.trim())
            .map_err(|_| BillingError::NotFound("Organization"))?;
        self.organizations
            .find_organization(OrganizationId(id))
            .await?
            .ok_or(BillingError::NotFound("Organization"))
    }

    /// `GET /admin/organizations/{id}/payment-methods/`.
    pub async fn list_overrides(
        &self,
        caller: &Principal,
        organization_id: &str,
    ) -> Result<Vec<AccountPaymentMethod>, BillingError> {
        let organization = self.organization_for_staff(caller, organization_id).await?;
        Ok(self.catalogue.list_overrides(organization.id).await?)
    }

    /// `POST /admin/organizations/{id}/payment-methods/`: creates or replaces the override.
    pub async fn upsert_override(
        &self,
        caller: &Principal,
        organization_id: &str,
        input: &OverrideInput,
        now: DateTime<Utc>,
    ) -> Result<AccountPaymentMethod, BillingError> {
        let organization = self.organization_for_staff(caller, organization_id).await?;
        let method = match input.payment_method.as_deref() {
            Some(text) => text
                .trim()
                .parse::<PaymentMethod>()
                .map_err(|e| invalid("payment_method", e.to_string()))?,
            None => return Err(invalid("payment_method", "This field is required.")),
        };
        let is_enabled = input
            .is_enabled
            .ok_or_else(|| invalid("is_enabled", "This field is required."))?;
        let is_default = input.is_default.unwrap_or(false);
        if is_default && !is_enabled {
            return Err(invalid(
                "is_default",
                "A disabled method cannot be the default.",
            ));
        }
        let setting = AccountPaymentMethod {
            organization_id: organization.id,
            method,
            is_enabled,
            is_default,
            created_at: now,
            updated_at: now,
        };
        self.catalogue.upsert_override(&setting).await?;
        Ok(setting)
    }

    /// `DELETE /admin/organizations/{id}/payment-methods/{method}/`.
    pub async fn delete_override(
        &self,
        caller: &Principal,
        organization_id: &str,
        method: &str,
    ) -> Result<(), BillingError> {
        let organization = self.organization_for_staff(caller, organization_id).await?;
        let method = method
            .trim()
            .parse::<PaymentMethod>()
            .map_err(|_| BillingError::NotFound("Override"))?;
        self.catalogue
            .delete_override(organization.id, method)
            .await
            .map_err(|e| match e {
                CatalogueError::NotFound => BillingError::NotFound("Override"),
                other => other.into(),
            })
    }

    /// `payments ledger verify`: every violation of the ledger invariant.
    pub async fn verify_ledger(&self) -> Result<(usize, Vec<LedgerAuditFailure>), StorageError> {
        let inputs = self.audit.ledger_audit_inputs().await?;
        let failures = inputs
            .iter()
            .filter_map(|input| audit_organization(input).err())
            .collect();
        Ok((inputs.len(), failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{NewToken, Role, User};
    use crate::billing::RawField;
    use crate::payment::Payment;
    use crate::ports::{
        MockCatalogueStore, MockInvoiceStore, MockLedgerAuditSource, MockManualPaymentStore,
        MockOrganizationStore, MockPaymentQueries, MockStaffActionStore,
    };

    #[derive(Default)]
    struct Mocks {
        organizations: MockOrganizationStore,
        invoices: MockInvoiceStore,
        payments: MockPaymentQueries,
        catalogue: MockCatalogueStore,
        manual: MockManualPaymentStore,
        staff: MockStaffActionStore,
        audit: MockLedgerAuditSource,
    }

    impl Mocks {
        fn billing(self) -> Billing {
            Billing::new(BillingPorts {
                organizations: Arc::new(self.organizations),
                invoices: Arc::new(self.invoices),
                payments: Arc::new(self.payments),
                catalogue: Arc::new(self.catalogue),
                manual: Arc::new(self.manual),
                staff: Arc::new(self.staff),
                audit: Arc::new(self.audit),
            })
        }
    }

    fn principal(role: Role, organization: Option<OrganizationId>) -> Principal {
        let user = User::new(role, organization, "t", Utc::now()).unwrap();
        Principal::from_record(&NewToken::mint([1; 32], &user, Utc::now()).record).unwrap()
    }

    fn organization() -> Organization {
        Organization::first_seen_in_bank_payment(Inn::parse("1234567890").unwrap(), Utc::now())
    }

    fn payment_of(organization_id: OrganizationId) -> PaymentView {
        PaymentView {
            payment: Payment {
                id: PaymentId::new_random(),
                organization_id,
                invoice_id: None,
                amount: Money::parse("1", Currency::RUB).unwrap(),
                method: PaymentMethod::BankTransfer,
                status: PaymentStatus::Succeeded,
                transaction_reference: None,
                notes: None,
                failure_reason: None,
                admin_notes: None,
                bank: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
                processed_at: None,
            },
            invoice_number: None,
        }
    }

    #[tokio::test]
    async fn tenant_endpoints_refuse_staff_and_admin_endpoints_refuse_members() {
        let billing = Mocks::default().billing();
        let staff = principal(Role::Staff, None);
        let member = principal(Role::Member, Some(OrganizationId::new_random()));
        assert_eq!(
            billing
                .list_payments(&staff, &PaymentListQuery::default(), PageRequest::default())
                .await,
            Err(BillingError::Forbidden(AccessError::MembersOnly))
        );
        assert_eq!(
            billing
                .admin_list_payments(
                    &member,
                    &PaymentListQuery::default(),
                    PageRequest::default()
                )
                .await,
            Err(BillingError::Forbidden(AccessError::StaffOnly))
        );
        assert_eq!(
            billing
                .staff_action(
                    &member,
                    &Uuid::nil().to_string(),
                    StaffAction::Refund { admin_notes: None },
                    Utc::now()
                )
                .await,
            Err(BillingError::Forbidden(AccessError::StaffOnly))
        );
    }

    #[tokio::test]
    async fn members_list_only_their_organization_with_parsed_filters() {
        let own = OrganizationId::new_random();
        let mut mocks = Mocks::default();
        mocks
            .payments
            .expect_list_payments()
            .withf(move |filter, _| {
                filter.organization_id == Some(own)
                    && filter.statuses == [PaymentStatus::Succeeded, PaymentStatus::Failed]
                    && filter.method == Some(PaymentMethod::LocalWallet)
            })
            .times(1)
            .returning(|_, page| {
                Ok(Page {
                    items: vec![],
                    total: 0,
                    request: page,
                })
            });
        let billing = mocks.billing();
        let query = PaymentListQuery {
            status: Some("completed, failed".into()),
            payment_method: Some("local_wallet".into()),
            ..Default::default()
        };
        let member = principal(Role::Member, Some(own));
        billing
            .list_payments(&member, &query, PageRequest::default())
            .await
            .unwrap();

        let bad = PaymentListQuery {
            status: Some("done".into()),
            ..Default::default()
        };
        assert!(matches!(
            billing
                .list_payments(&member, &bad, PageRequest::default())
                .await,
            Err(BillingError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn another_organizations_payment_is_not_found() {
        let own = OrganizationId::new_random();
        let foreign = payment_of(OrganizationId::new_random());
        let foreign_id = foreign.payment.id;
        let mut mocks = Mocks::default();
        mocks
            .payments
            .expect_find_payment()
            .returning(move |_| Ok(Some(foreign.clone())));
        let billing = mocks.billing();
        let member = principal(Role::Member, Some(own));
        assert_eq!(
            billing.get_payment(&member, &foreign_id.to_string()).await,
            Err(BillingError::NotFound("Payment"))
        );
        assert_eq!(
            billing.get_payment(&member, "not-a-uuid").await,
            Err(BillingError::NotFound("Payment"))
        );
    }

    fn member_setup(org: &Organization) -> Mocks {
        let mut mocks = Mocks::default();
        let stored = org.clone();
        mocks
            .organizations
            .expect_find_organization()
            .returning(move |_| Ok(Some(stored.clone())));
        mocks
            .catalogue
            .expect_list_configs()
            .returning(|| Ok(vec![]));
        mocks
            .catalogue
            .expect_list_overrides()
            .returning(|_| Ok(vec![]));
        mocks
    }

    fn manual_body() -> RawManualPayment {
        RawManualPayment {
            invoice_id: RawField::Text(Uuid::new_v4().to_string()),
            payment_method: RawField::Text("bank_transfer".into()),
            transaction_reference: RawField::Text("TX".into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn manual_payment_outcomes_map_to_answers() {
        let org = organization();
        let member = principal(Role::Member, Some(org.id));
        let cases = [
            (ManualPaymentError::PendingPaymentExists, "conflict"),
            (ManualPaymentError::IdempotencyKeyReused, "conflict"),
            (ManualPaymentError::InvoiceNotFound, "not found"),
            (
                ManualPaymentError::MethodNotAvailable(PaymentMethod::BankTransfer),
                "invalid",
            ),
        ];
        for (refusal, expected) in cases {
            let mut mocks = member_setup(&org);
            let returned = refusal.clone();
            mocks
                .manual
                .expect_submit_manual_payment()
                .withf(|s| s.idempotency_key.as_ref().map(|k| k.as_str()) == Some("key-1"))
                .returning(move |_| Err(SubmitError::Rule(returned.clone())));
            let err = mocks
                .billing()
                .submit_manual_payment(&member, &manual_body(), Some("key-1"), Utc::now())
                .await
                .unwrap_err();
            let kind = match err {
                BillingError::Conflict(_) => "conflict",
                BillingError::NotFound(_) => "not found",
                BillingError::Invalid(_) => "invalid",
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(kind, expected, "{refusal:?}");
        }
    }

    #[tokio::test]
    async fn a_replayed_submission_is_reported_as_not_created() {
        let org = organization();
        let member = principal(Role::Member, Some(org.id));
        let mut mocks = member_setup(&org);
        let view = payment_of(org.id);
        mocks
            .manual
            .expect_submit_manual_payment()
            .returning(move |_| Ok(SubmitOutcome::Replayed(view.payment.clone())));
        let receipt = mocks
            .billing()
            .submit_manual_payment(&member, &manual_body(), Some("k"), Utc::now())
            .await
            .unwrap();
        assert!(!receipt.created);
    }

    #[tokio::test]
    async fn invalid_submissions_never_reach_the_store() {
        let org = organization();
        let member = principal(Role::Member, Some(org.id));
        let mut mocks = member_setup(&org);
        mocks.manual.expect_submit_manual_payment().never();
        let billing = mocks.billing();
        assert!(matches!(
            billing
                .submit_manual_payment(&member, &RawManualPayment::default(), None, Utc::now())
                .await,
            Err(BillingError::Invalid(_))
        ));
        assert!(matches!(
            billing
                .submit_manual_payment(&member, &manual_body(), Some("bad key"), Utc::now())
                .await,
            Err(BillingError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn staff_action_refusals_map_to_409_and_422() {
        let staff = principal(Role::Staff, None);
        let cases = [
            (
                StaffActionError::Ledger(LedgerError::InsufficientBalance {
                    balance: Money::zero(Currency::RUB),
                    requested: Money::parse("1", Currency::RUB).unwrap(),
                }),
                409,
            ),
            (
                StaffActionError::Ledger(LedgerError::Overflow {
                    max: Money::zero(Currency::RUB),
                }),
                422,
            ),
            (
                StaffActionError::InvalidTransition(
                    PaymentStatus::Failed
                        .transition_to(PaymentStatus::Succeeded)
                        .unwrap_err(),
                ),
                409,
            ),
            (StaffActionError::PaymentNotFound, 404),
        ];
        for (refusal, status) in cases {
            let mut mocks = Mocks::default();
            let returned = refusal.clone();
            mocks
                .staff
                .expect_apply_staff_action()
                .returning(move |_, _, _| Err(StaffActionStoreError::Rule(returned.clone())));
            let err = mocks
                .billing()
                .staff_action(
                    &staff,
                    &Uuid::new_v4().to_string(),
                    StaffAction::Refund { admin_notes: None },
                    Utc::now(),
                )
                .await
                .unwrap_err();
            let got = match err {
                BillingError::Conflict(_) | BillingError::InvalidTransition(_) => 409,
                BillingError::Unprocessable(_) => 422,
                BillingError::NotFound(_) => 404,
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(got, status, "{refusal:?}");
        }
    }

    #[tokio::test]
    async fn organizations_are_validated_and_default_to_russia_in_roubles() {
        let staff = principal(Role::Staff, None);
        let mut mocks = Mocks::default();
        mocks
            .organizations
            .expect_create_organization()
            .withf(|o| {
                o.country.as_str() == "RU" && o.currency() == Currency::RUB && o.balance().is_zero()
            })
            .times(1)
            .returning(|_| Ok(()));
        let billing = mocks.billing();
        let input = NewOrganizationInput {
            inn: Some("7701234567".into()),
            name: Some("Acme".into()),
            ..Default::default()
        };
        billing
            .create_organization(&staff, &input, Utc::now())
            .await
            .unwrap();
        let bad = NewOrganizationInput {
            inn: Some("12".into()),
            name: None,
            country: Some("Russia".into()),
            currency: Some("XYZ1".into()),
        };
        let Err(BillingError::Invalid(errors)) =
            billing.create_organization(&staff, &bad, Utc::now()).await
        else {
            panic!("expected validation errors")
        };
        for field in ["inn", "name", "country", "currency"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[tokio::test]
    async fn invoices_are_in_the_organizations_currency() {
        let staff = principal(Role::Staff, None);
        let org = organization();
        let mut mocks = Mocks::default();
        let stored = org.clone();
        mocks
            .organizations
            .expect_find_organization()
            .returning(move |_| Ok(Some(stored.clone())));
        mocks
            .invoices
            .expect_create_invoice()
            .withf(|i| {
                i.status == InvoiceStatus::Pending
                    && i.amount.to_string() == "139.00"
                    && i.number.as_str().starts_with("INV-")
            })
            .times(1)
            .returning(|_| Ok(()));
        let billing = mocks.billing();
        let input = NewInvoiceInput {
            organization_id: Some(org.id.to_string()),
            amount: Some("139".into()),
            ..Default::default()
        };
        billing
            .issue_invoice(&staff, &input, Utc::now())
            .await
            .unwrap();
        let usd = NewInvoiceInput {
            currency: Some("USD".into()),
            ..input
        };
        assert!(matches!(
            billing.issue_invoice(&staff, &usd, Utc::now()).await,
            Err(BillingError::Invalid(e)) if e.get("currency").is_some()
        ));
    }

    #[tokio::test]
    async fn ledger_verification_reports_each_failing_organization() {
        let mut mocks = Mocks::default();
        mocks.audit.expect_ledger_audit_inputs().returning(|| {
            let balance = Money::parse("5", Currency::RUB).unwrap();
            Ok(vec![crate::billing::LedgerAuditInput {
                organization_id: OrganizationId::new_random(),
                inn: "1234567890".into(),
                balance,
                log: vec![],
                succeeded_minor_units: 500,
            }])
        });
        let (checked, failures) = mocks.billing().verify_ledger().await.unwrap();
        assert_eq!(checked, 1);
        assert_eq!(
            failures.len(),
            1,
            "a balance without log entries breaks the chain"
        );
    }
}
