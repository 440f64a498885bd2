//! The traits adapters implement, each with the guarantees every implementation MUST give.
//!
//! The `adapters-diesel` crate implements all of them for PostgreSQL and SQLite and runs one
//! contract test suite against both. Mocks of every port (`MockBankPaymentStore`, ...) are
//! generated with `mockall` for unit tests, and exported with the `mocks` feature.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[cfg(any(test, feature = "mocks"))]
use mockall::automock;

use crate::auth::{TokenHash, TokenId, TokenRecord, User};
use crate::bank::BankPayment;
use crate::billing::{
    IdempotencyKey, LedgerAuditInput, ManualPaymentError, ManualPaymentRequest, StaffAction,
    StaffActionError,
};
use crate::catalogue::{AccountPaymentMethod, AvailableMethod, PaymentMethodConfig};
use crate::error::StorageError;
use crate::invoice::{Invoice, InvoiceId, InvoiceStatus};
use crate::ledger::BalanceLogEntry;
use crate::ledger::{BalanceChange, LedgerError};
use crate::organization::{Inn, Organization, OrganizationId};
use crate::pagination::{Page, PageRequest};
use crate::payment::PaymentId;
use crate::payment::{Payment, PaymentMethod, PaymentStatus};
use crate::signature::WebhookSecret;
use uuid::Uuid;

/// What recording a bank payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// A new payment was stored and credited.
    Recorded {
        payment_id: PaymentId,
        organization_id: OrganizationId,
        change: BalanceChange,
    },
    /// A payment with this operation_id already exists; nothing was written. `existing` is
    /// that payment as first recorded, for the caller's dedup rule to judge.
    AlreadyRecorded {
        payment_id: PaymentId,
        existing: BankPayment,
    },
}

/// Why a bank payment was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A ledger rule refused the credit (overflow, currency). Nothing was written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Stores bank payments and credits balances.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait BankPaymentStore: Send + Sync {
    /// Records `payment` exactly once per `operation_id`.
    ///
    /// The adapter MUST, in one database transaction:
    /// 1. create the organization with `payment.payer_inn` if none exists
    ///    ([`Organization::first_seen_in_bank_payment`]);
    /// 2. lock the organization's row against every other balance change of it until commit,
    ///    and read its balance;
    /// 3. call [`crate::bank::plan_bank_payment`] with what it holds for the `operation_id`
    ///    and that balance, and write exactly the plan: for
    ///    [`BankPaymentPlan::Credit`](crate::bank::BankPaymentPlan::Credit), insert the
    ///    payment under a unique key on `operation_id`, store the new balance and append a
    ///    balance-log entry with the previous and new balance; if the insert loses to the
    ///    unique key, read the payment that won and plan again.
    ///
    /// It MUST return [`RecordOutcome::AlreadyRecorded`] with the first payment's contents,
    /// having written nothing (not even the organization), whenever a payment with this
    /// `operation_id` exists, including when concurrent calls race: the unique key decides,
    /// never a check before the insert. When the ledger refuses the credit it MUST return
    /// [`RecordError::Ledger`] and write nothing. It MUST NOT return success before the
    /// transaction has committed.
    async fn record_bank_payment(
        &self,
        payment: &BankPayment,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError>;
}

/// Why an organization could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CreateOrganizationError {
    /// Another organization has this INN (HTTP 409).
    #[error("An organization with this INN already exists.")]
    InnTaken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Stores and reads organizations.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait OrganizationStore: Send + Sync {
    /// The organization with this INN, with its committed balance, or `None`.
    async fn find_by_inn(&self, inn: &Inn) -> Result<Option<Organization>, StorageError>;

    /// The organization with this id, or `None`.
    async fn find_organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<Organization>, StorageError>;

    /// Stores a new organization (balance zero). MUST report a taken INN as
    /// [`CreateOrganizationError::InnTaken`], decided by the unique key on `inn`.
    async fn create_organization(
        &self,
        organization: &Organization,
    ) -> Result<(), CreateOrganizationError>;

    /// Organizations, newest first.
    async fn list_organizations(
        &self,
        page: PageRequest,
    ) -> Result<Page<Organization>, StorageError>;
}

/// Stores users and their API tokens (hashes only).
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new user and its first token in one transaction. The hash MUST be unique.
    async fn insert_user_with_token(
        &self,
        user: &User,
        token: &TokenRecord,
    ) -> Result<(), StorageError>;

    /// The record whose hash equals `hash`, revoked or not, with its user's role and
    /// organization, or `None`.
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError>;

    /// What [`TokenStore::find_token`] and [`OrganizationStore::find_by_inn`] return, read in
    /// one storage call (one connection, one round trip where the backend allows): a balance
    /// read needs both, on every request. Nothing is cached; the token is read fresh, so a
    /// revocation takes effect on the next request. When no token has `hash`, the
    /// organization may be left unread (`None`): such a caller is refused anyway.
    async fn find_token_and_organization(
        &self,
        hash: &TokenHash,
        inn: &Inn,
    ) -> Result<(Option<TokenRecord>, Option<Organization>), StorageError>;

    /// Marks a token revoked at `now`. Returns `false` when no token has this id. Revoking
    /// twice keeps the first revocation time.
    async fn revoke_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<bool, StorageError>;
}

/// Keeps the webhook secret a fresh installation generates for itself.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait WebhookSecretStore: Send + Sync {
    /// Returns the stored secret; if none is stored yet, stores `candidate` and returns it.
    /// Concurrent first calls (several instances starting at once) MUST all get the same
    /// secret: the first insert wins by a unique key.
    async fn load_or_store_secret(
        &self,
        candidate: &WebhookSecret,
    ) -> Result<WebhookSecret, StorageError>;
}

/// Which invoices to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    /// `None` only for staff listings across organizations.
    pub organization_id: Option<OrganizationId>,
    /// Any of these statuses; empty means all.
    pub statuses: Vec<InvoiceStatus>,
}

/// Why an invoice could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CreateInvoiceError {
    /// Another invoice has this number (HTTP 409).
    #[error("An invoice with this number already exists.")]
    NumberTaken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Stores and reads invoices.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait InvoiceStore: Send + Sync {
    /// Stores a new invoice. MUST report a taken number as [`CreateInvoiceError::NumberTaken`]
    /// (unique key on `number`).
    async fn create_invoice(&self, invoice: &Invoice) -> Result<(), CreateInvoiceError>;

    /// The invoice with this id, or `None`.
    async fn find_invoice(&self, id: InvoiceId) -> Result<Option<Invoice>, StorageError>;

    /// Invoices matching `filter`, newest first.
    async fn list_invoices(
        &self,
        filter: &InvoiceFilter,
        page: PageRequest,
    ) -> Result<Page<Invoice>, StorageError>;
}

/// A payment with the number of its invoice, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    pub payment: Payment,
    pub invoice_number: Option<String>,
}

/// Which payments to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    /// `None` only for staff listings across organizations.
    pub organization_id: Option<OrganizationId>,
    /// Any of these statuses; empty means all.
    pub statuses: Vec<PaymentStatus>,
    pub method: Option<PaymentMethod>,
    pub invoice_id: Option<Uuid>,
    /// Created at or after this instant.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before this instant.
    pub created_before: Option<DateTime<Utc>>,
    /// Newest first (the default) or oldest first.
    pub order: ListOrder,
}

/// The order of a payment list, by creation time (then id, so that pages never overlap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// The newest payment first, as the billing API lists them.
    #[default]
    NewestFirst,
    /// The oldest payment first, as a queue is worked through.
    OldestFirst,
}

/// Reads payments and the balance log.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait PaymentQueries: Send + Sync {
    /// The payment with this id, or `None`.
    async fn find_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StorageError>;

    /// Payments matching `filter`, in the filter's order.
    async fn list_payments(
        &self,
        filter: &PaymentFilter,
        page: PageRequest,
    ) -> Result<Page<PaymentView>, StorageError>;

    /// An organization's balance log, newest first.
    async fn list_balance_log(
        &self,
        organization_id: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<BalanceLogEntry>, StorageError>;
}

/// Why a catalogue row or override could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// A row for this country and method exists already (HTTP 409).
    #[error("A configuration for this country and method already exists.")]
    Duplicate,
    /// No such row (HTTP 404).
    #[error("Not found.")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The payment-method catalogue and per-organization overrides.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait CatalogueStore: Send + Sync {
    /// Every catalogue row, by sort order.
    async fn list_configs(&self) -> Result<Vec<PaymentMethodConfig>, StorageError>;

    /// One catalogue row.
    async fn find_config(&self, id: Uuid) -> Result<Option<PaymentMethodConfig>, StorageError>;

    /// Stores a new row; (country, method) MUST be unique ([`CatalogueError::Duplicate`]).
    async fn create_config(&self, config: &PaymentMethodConfig) -> Result<(), CatalogueError>;

    /// Replaces the row with `config.id` ([`CatalogueError::NotFound`] when absent).
    async fn update_config(&self, config: &PaymentMethodConfig) -> Result<(), CatalogueError>;

    /// Deletes a row ([`CatalogueError::NotFound`] when absent).
    async fn delete_config(&self, id: Uuid) -> Result<(), CatalogueError>;

    /// An organization's overrides.
    async fn list_overrides(
        &self,
        organization_id: OrganizationId,
    ) -> Result<Vec<AccountPaymentMethod>, StorageError>;

    /// Creates or replaces the organization's override for `setting.method`. In one
    /// transaction the adapter MUST lock the organization's row (serializing its overrides),
    /// read its overrides, call [`crate::catalogue::plan_override`] and write exactly the
    /// plan, so that at most one method stays the default.
    async fn upsert_override(&self, setting: &AccountPaymentMethod) -> Result<(), StorageError>;

    /// Deletes an override ([`CatalogueError::NotFound`] when absent).
    async fn delete_override(
        &self,
        organization_id: OrganizationId,
        method: PaymentMethod,
    ) -> Result<(), CatalogueError>;
}

/// A manual payment to record, with everything the rules need.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualSubmission {
    pub organization_id: OrganizationId,
    pub request: ManualPaymentRequest,
    /// The methods available to the organization, computed just before.
    pub available: Vec<AvailableMethod>,
    pub idempotency_key: Option<IdempotencyKey>,
    pub now: DateTime<Utc>,
}

/// What submitting a manual payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// A new `pending_approval` payment.
    Created(Payment),
    /// The idempotency key was used before with the same request: the payment it created.
    Replayed(Payment),
}

/// Why a manual payment was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    #[error(transparent)]
    Rule(#[from] ManualPaymentError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Records manual payments.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait ManualPaymentStore: Send + Sync {
    /// In one transaction, the adapter MUST:
    /// 1. when a key is given, claim `(organization, key)` under a unique key FIRST; if it is
    ///    already claimed, wait for its owner to commit, read what the key holds and follow
    ///    [`crate::idempotency::decide`]: `Replay` → return [`SubmitOutcome::Replayed`] with
    ///    that payment; `Reused` → [`ManualPaymentError::IdempotencyKeyReused`]; either way
    ///    write nothing else;
    /// 2. read the invoice under a row lock and call
    ///    [`crate::billing::plan_manual_payment`]; on refusal, roll back and return it;
    /// 3. insert the payment; a second `pending_approval` payment of one invoice MUST be
    ///    refused by a unique (partial) index and reported as
    ///    [`ManualPaymentError::PendingPaymentExists`];
    /// 4. store the payment id with the key, and commit.
    async fn submit_manual_payment(
        &self,
        submission: &ManualSubmission,
    ) -> Result<SubmitOutcome, SubmitError>;
}

/// What a staff action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffActionOutcome {
    /// The payment changed (and the balance, if the transition moves it).
    Applied(Payment),
    /// The payment was already there; nothing changed.
    AlreadyDone(Payment),
}

/// Applies staff actions to payments.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait StaffActionStore: Send + Sync {
    /// In one transaction the adapter MUST lock the payment's invoice (if any), the payment and
    /// its organization, in that order (the order every write path uses, so concurrent
    /// actions and submissions cannot deadlock), call
    /// [`crate::billing::plan_staff_action`], and write exactly the plan: the payment, the
    /// balance and a balance-log entry when the plan has a change, and the paid invoice (its
    /// status and `paid_at`, from [`crate::invoice::Invoice::paid`]) when it has one. Concurrent actions on one payment MUST serialize on the row lock, so
    /// that 20 concurrent approvals credit once and an approval racing a rejection lets one
    /// win and the other see the new status (and get [`StaffActionError::InvalidTransition`]).
    async fn apply_staff_action(
        &self,
        payment_id: PaymentId,
        action: &StaffAction,
        now: DateTime<Utc>,
    ) -> Result<StaffActionOutcome, StaffActionStoreError>;
}

/// Why a staff action was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StaffActionStoreError {
    #[error(transparent)]
    Rule(#[from] StaffActionError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Reads everything the ledger audit needs.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait LedgerAuditSource: Send + Sync {
    /// For every organization: its balance, its whole log (oldest first) and the sum of its
    /// payments in a status [counted in the balance](PaymentStatus::COUNTED_IN_BALANCE), read
    /// in one consistent snapshot per organization.
    async fn ledger_audit_inputs(&self) -> Result<Vec<LedgerAuditInput>, StorageError>;
}

/// The first answer given under an idempotency key, replayed byte for byte to its repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// The body exactly as sent (UTF-8 JSON).
    pub body: String,
}

/// Keeps the first answer of each idempotency key, and forgets keys past their retention.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The answer stored with the organization's key, if one was.
    async fn find_response(
        &self,
        organization_id: OrganizationId,
        key: &IdempotencyKey,
    ) -> Result<Option<StoredResponse>, StorageError>;

    /// Stores the first answer of a key the organization committed. MUST keep an answer
    /// already stored (the first one wins) and MUST NOT create a key.
    async fn store_response(
        &self,
        organization_id: OrganizationId,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<(), StorageError>;

    /// Deletes every key created before `created_before`; returns how many.
    async fn delete_expired(&self, created_before: DateTime<Utc>) -> Result<u64, StorageError>;
}
