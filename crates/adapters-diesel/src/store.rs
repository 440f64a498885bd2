//! The queries behind every port, written once and instantiated for `PgConnection` and
//! `SqliteConnection` by [`impl_ledger_connection!`]. Only [`Locking`] differs per backend: how
//! transactions start and how rows are locked.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::upsert::excluded;
use diesel::{PgConnection, SqliteConnection};
use payments_domain::auth::{Role, TokenHash, TokenId, TokenRecord, User, UserId};
use payments_domain::billing::{
    plan_manual_payment, plan_staff_action, LedgerAuditInput, ManualPaymentError, StaffAction,
    StaffActionError, StaffActionPlan,
};
use payments_domain::catalogue::{AccountPaymentMethod, CountryScope, PaymentMethodConfig};
use payments_domain::invoice::{Invoice, InvoiceId, InvoiceNumber, InvoiceStatus};
use payments_domain::ledger::{self, BalanceChange, BalanceLogEntry, LedgerError};
use payments_domain::organization::CountryCode;
use payments_domain::pagination::{Page, PageRequest};
use payments_domain::payment::{BankDetails, Payment};
use payments_domain::ports::{
    CatalogueError, CreateInvoiceError, CreateOrganizationError, InvoiceFilter, ManualSubmission,
    PaymentFilter, PaymentView, RecordError, RecordOutcome, StaffActionOutcome,
    StaffActionStoreError, SubmitError, SubmitOutcome,
};
use payments_domain::signature::WebhookSecret;
use payments_domain::{
    BankPayment, Currency, DocumentDate, DocumentNumber, Inn, Money, OperationId, Organization,
    OrganizationId, PaymentId, PaymentMethod, PaymentStatus, StorageError,
};
use uuid::Uuid;

use crate::schema::{
    account_payment_methods, api_tokens, balance_log, idempotency_keys, invoices, organizations,
    payment_method_configs, payments, users, webhook_secrets,
};
use crate::sql_types::{SqlDate, SqlJson, SqlTimestamp, SqlUuid};

/// Name of the one webhook secret row.
pub(crate) const DEFAULT_SECRET_NAME: &str = "default";

/// How many times a write transaction is tried when the database reports a transient
/// conflict (PostgreSQL serialization failure or deadlock, SQLite busy).
const MAX_WRITE_ATTEMPTS: u32 = 5;

/// Why the body of a write transaction stopped. Every `Err` makes the caller roll back, so
/// nothing of the attempt is written.
#[derive(Debug)]
pub(crate) enum Abort {
    /// The operation_id is taken; the outcome names the first payment.
    AlreadyRecorded(RecordOutcome),
    /// The ledger refused the change.
    Ledger(LedgerError),
    /// The manual-payment rules refused the submission.
    ManualPayment(ManualPaymentError),
    /// The staff-action rules refused the action.
    StaffAction(StaffActionError),
    /// A stored row does not convert back into domain types.
    Corrupt(String),
    /// A failed read of a helper that already speaks the domain's error type.
    Storage(StorageError),
    /// A database error.
    Db(DieselError),
}

impl From<DieselError> for Abort {
    fn from(error: DieselError) -> Self {
        Self::Db(error)
    }
}

impl From<Corrupt> for Abort {
    fn from(error: Corrupt) -> Self {
        Self::Corrupt(error.0)
    }
}

impl Abort {
    /// The storage error for an abort the caller's port has no variant for.
    fn into_storage(self) -> StorageError {
        match self {
            Abort::Corrupt(message) => StorageError(format!("corrupt row: {message}")),
            Abort::Storage(error) => error,
            Abort::Db(error) => storage(error),
            other => StorageError(format!("unexpected outcome: {other:?}")),
        }
    }
}

/// A row that does not convert back into domain types.
#[derive(Debug)]
pub(crate) struct Corrupt(String);

impl From<Corrupt> for StorageError {
    fn from(error: Corrupt) -> Self {
        StorageError(format!("corrupt row: {}", error.0))
    }
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> Corrupt {
    Corrupt(format!("{what}: {detail}"))
}

/// Turns an unexpected SQL error into the domain's storage error (message for logs).
pub(crate) fn storage(error: DieselError) -> StorageError {
    StorageError(format!("database error: {error}"))
}

/// True for errors a retry of the whole transaction can cure.
fn is_transient(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            // PostgreSQL 40P01 has no DatabaseErrorKind of its own; SQLite reports BUSY by text.
            message.contains("deadlock detected") || message.contains("database is locked")
        }
        _ => false,
    }
}

/// The unique keys whose violation means something to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UniqueKey {
    OrganizationInn,
    InvoiceNumber,
    OnePendingApprovalPerInvoice,
    ConfigCountryMethod,
}

impl UniqueKey {
    const ALL: [UniqueKey; 4] = [
        Self::OrganizationInn,
        Self::InvoiceNumber,
        Self::OnePendingApprovalPerInvoice,
        Self::ConfigCountryMethod,
    ];

    /// The constraint or index name, as PostgreSQL reports it.
    fn name(self) -> &'static str {
        match self {
            Self::OrganizationInn => "organizations_inn_key",
            Self::InvoiceNumber => "invoices_number_key",
            Self::OnePendingApprovalPerInvoice => "payments_one_pending_approval_per_invoice",
            Self::ConfigCountryMethod => "payment_method_configs_country_code_payment_method_key",
        }
    }

    /// SQLite names no constraint, only the columns: `UNIQUE constraint failed: <these>`.
    /// Each of these column lists has exactly one unique key in the schema.
    fn sqlite_columns(self) -> &'static str {
        match self {
            Self::OrganizationInn => "organizations.inn",
            Self::InvoiceNumber => "invoices.number",
            Self::OnePendingApprovalPerInvoice => "payments.invoice_id",
            Self::ConfigCountryMethod => {
                "payment_method_configs.country_code, payment_method_configs.payment_method"
            }
        }
    }
}

/// Which known unique key `error` violates, if any. The one place that maps constraint
/// violations to meanings, for both backends.
pub(crate) fn violated_unique_key(error: &DieselError) -> Option<UniqueKey> {
    let DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = error else {
        return None;
    };
    let sqlite_columns = info.message().strip_prefix("UNIQUE constraint failed: ");
    UniqueKey::ALL
        .into_iter()
        .find(|key| match info.constraint_name() {
            Some(name) => name == key.name(),
            None => sqlite_columns == Some(key.sqlite_columns()),
        })
}

/// What differs between the backends: starting transactions and locking rows.
///
/// Lock order, everywhere: idempotency key → invoice → payment → organization. Taking locks
/// in one order means concurrent operations queue instead of deadlocking.
pub(crate) trait Locking: Sized {
    /// Runs `body` in a transaction that may write; commits on `Ok`, rolls back on `Err`.
    fn write_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Abort>,
    ) -> Result<T, Abort>;

    /// Runs `body` in a read-only transaction that sees one consistent snapshot.
    fn read_snapshot<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Abort>,
    ) -> Result<T, Abort>;

    /// Reads the organization with `inn`, locked against every other balance change of it
    /// until the transaction ends.
    fn lock_organization(&mut self, inn: &str) -> QueryResult<OrganizationRow>;

    /// Reads the organization with `id`, locked like [`Locking::lock_organization`].
    fn lock_organization_by_id(&mut self, id: SqlUuid) -> QueryResult<Option<OrganizationRow>>;

    /// Reads an invoice, locked until the transaction ends.
    fn lock_invoice(&mut self, id: SqlUuid) -> QueryResult<Option<InvoiceRow>>;

    /// Reads a payment, locked until the transaction ends.
    fn lock_payment(&mut self, id: SqlUuid) -> QueryResult<Option<PaymentRow>>;
}

/// Implements [`Locking`] for one backend: how its transactions start, and `$lock` applied
/// to every row-locking query.
macro_rules! impl_locking {
    (
        $conn:ty,
        write_transaction: |$wconn:ident, $wbody:ident| $write:expr,
        read_snapshot: |$rconn:ident, $rbody:ident| $read:expr,
        lock_rows: |$query:ident| $lock:expr $(,)?
    ) => {
        impl Locking for $conn {
            fn write_transaction<T>(
                &mut self,
                body: impl FnOnce(&mut Self) -> Result<T, Abort>,
            ) -> Result<T, Abort> {
                let ($wconn, $wbody) = (self, body);
                $write
            }

            fn read_snapshot<T>(
                &mut self,
                body: impl FnOnce(&mut Self) -> Result<T, Abort>,
            ) -> Result<T, Abort> {
                let ($rconn, $rbody) = (self, body);
                $read
            }

            fn lock_organization(&mut self, inn: &str) -> QueryResult<OrganizationRow> {
                let $query = organizations::table
                    .filter(organizations::inn.eq(inn))
                    .select(OrganizationRow::as_select());
                $lock.first(self)
            }

            fn lock_organization_by_id(
                &mut self,
                id: SqlUuid,
            ) -> QueryResult<Option<OrganizationRow>> {
                let $query = organizations::table
                    .find(id)
                    .select(OrganizationRow::as_select());
                $lock.first(self).optional()
            }

            fn lock_invoice(&mut self, id: SqlUuid) -> QueryResult<Option<InvoiceRow>> {
                let $query = invoices::table.find(id).select(InvoiceRow::as_select());
                $lock.first(self).optional()
            }

            fn lock_payment(&mut self, id: SqlUuid) -> QueryResult<Option<PaymentRow>> {
                let $query = payments::table.find(id).select(PaymentRow::as_select());
                $lock.first(self).optional()
            }
        }
    };
}

impl_locking!(
    PgConnection,
    // READ COMMITTED plus row locks is enough: every read that decides a write is made under
    // a lock, and a locked read returns the newest committed version of the row.
    write_transaction: |conn, body| conn.transaction(body),
    read_snapshot: |conn, body| conn
        .build_transaction()
        .repeatable_read()
        .read_only()
        .run(body),
    // NO KEY UPDATE excludes every other locker and writer of the row, but not the KEY SHARE
    // locks that foreign-key checks take, so inserting an invoice or payment of an
    // organization does not queue behind a balance change.
    lock_rows: |query| query.for_no_key_update(),
);

impl_locking!(
    SqliteConnection,
    // BEGIN IMMEDIATE takes the database write lock up front: writers queue on busy_timeout
    // instead of failing later when a read lock would have to be upgraded.
    write_transaction: |conn, body| conn.immediate_transaction(body),
    // A deferred transaction reads one WAL snapshot from its first read to its end.
    read_snapshot: |conn, body| conn.transaction(body),
    // The immediate transaction already excludes every other writer.
    lock_rows: |query| query,
);

/// Runs `body` in a write transaction, retrying transient conflicts with a short backoff.
fn with_retries<C: Locking, T>(
    conn: &mut C,
    what: &'static str,
    mut body: impl FnMut(&mut C) -> Result<T, Abort>,
) -> Result<T, Abort> {
    let mut attempt = 1;
    loop {
        match conn.write_transaction(&mut body) {
            Err(Abort::Db(error)) if attempt < MAX_WRITE_ATTEMPTS && is_transient(&error) => {
                tracing::warn!(attempt, %error, what, "transient database conflict; retrying");
                std::thread::sleep(Duration::from_millis(5 * u64::from(attempt)));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A page request as SQL `LIMIT` and `OFFSET`.
fn limit_offset(page: PageRequest) -> (i64, i64) {
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    (clamp(page.limit()), clamp(page.offset()))
}

fn page_of<T>(items: Vec<T>, total: i64, request: PageRequest) -> Page<T> {
    Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
        request,
    }
}

/// Instants are stored with microsecond precision: rounding first makes the values the
/// adapter returns equal to what a later read returns.
fn micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.trunc_subsecs(6)
}

fn money(minor: i64, currency: &str, what: &str) -> Result<Money, Corrupt> {
    let currency = Currency::parse(currency).map_err(|e| corrupt(what, e))?;
    Money::from_minor_units(minor, currency).map_err(|e| corrupt(what, e))
}

/// A stored organization.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub(crate) struct OrganizationRow {
    id: SqlUuid,
    inn: String,
    name: String,
    country: String,
    currency: String,
    balance_minor: i64,
    created_at: SqlTimestamp,
    updated_at: SqlTimestamp,
}

impl OrganizationRow {
    fn balance(&self) -> Result<Money, Corrupt> {
        money(self.balance_minor, &self.currency, "organization balance")
    }

    fn into_domain(self) -> Result<Organization, Corrupt> {
        Ok(Organization {
            id: OrganizationId(self.id.0),
            inn: Inn::parse(&self.inn).map_err(|e| corrupt("organization inn", e))?,
            country: CountryCode::parse(&self.country)
                .map_err(|e| corrupt("organization country", e))?,
            balance: self.balance()?,
            name: self.name,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = organizations)]
struct NewOrganization<'a> {
    id: SqlUuid,
    inn: &'a str,
    name: &'a str,
    country: &'a str,
    currency: &'a str,
    balance_minor: i64,
    created_at: SqlTimestamp,
    updated_at: SqlTimestamp,
}

impl<'a> NewOrganization<'a> {
    fn of(organization: &'a Organization) -> Self {
        Self {
            id: SqlUuid(organization.id.0),
            inn: organization.inn.as_str(),
            name: &organization.name,
            country: organization.country.as_str(),
            currency: organization.currency().code(),
            balance_minor: organization.balance.to_minor_units(),
            created_at: SqlTimestamp(organization.created_at),
            updated_at: SqlTimestamp(organization.updated_at),
        }
    }
}

/// A stored invoice.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = invoices)]
pub(crate) struct InvoiceRow {
    id: SqlUuid,
    organization_id: SqlUuid,
    number: String,
    amount_minor: i64,
    currency: String,
    status: String,
    due_date: Option<SqlDate>,
    paid_at: Option<SqlTimestamp>,
    created_at: SqlTimestamp,
    updated_at: SqlTimestamp,
}

impl InvoiceRow {
    fn into_domain(self) -> Result<Invoice, Corrupt> {
        Ok(Invoice {
            id: InvoiceId(self.id.0),
            organization_id: OrganizationId(self.organization_id.0),
            number: InvoiceNumber::parse(&self.number).map_err(|e| corrupt("invoice number", e))?,
            amount: money(self.amount_minor, &self.currency, "invoice amount")?,
            status: self
                .status
                .parse::<InvoiceStatus>()
                .map_err(|e| corrupt("invoice status", e))?,
            due_date: self.due_date.map(|d| d.0),
            paid_at: self.paid_at.map(|t| t.0),
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = invoices)]
struct NewInvoice<'a> {
    id: SqlUuid,
    organization_id: SqlUuid,
    number: &'a str,
    amount_minor: i64,
    currency: &'a str,
    status: &'a str,
    due_date: Option<SqlDate>,
    paid_at: Option<SqlTimestamp>,
    created_at: SqlTimestamp,
    updated_at: SqlTimestamp,
}

impl<'a> NewInvoice<'a> {
    fn of(invoice: &'a Invoice) -> Self {
        Self {
            id: SqlUuid(invoice.id.0),
            organization_id: SqlUuid(invoice.organization_id.0),
            number: invoice.number.as_str(),
            amount_minor: invoice.amount.to_minor_units(),
            currency: invoice.amount.currency().code(),
            status: invoice.status.as_str(),
            due_date: invoice.due_date.map(SqlDate),
            paid_at: invoice.paid_at.map(SqlTimestamp),
            created_at: SqlTimestamp(invoice.created_at),
            updated_at: SqlTimestamp(invoice.updated_at),
        }
    }
}

/// A stored payment of any method.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = payments)]
pub(crate) struct PaymentRow {
    id: SqlUuid,
    organization_id: SqlUuid,
    invoice_id: Option<SqlUuid>,
    amount_minor: i64,
    currency: String,
    payment_method: String,
    status: String,
    transaction_reference: Option<String>,
    notes: Option<String>,
    failure_reason: Option<String>,
    admin_notes: Option<String>,
    operation_id: Option<SqlUuid>,
    document_number: Option<String>,
    document_date: Option<SqlTimestamp>,
    created_at: SqlTimestamp,
    updated_at: SqlTimestamp,
    processed_at: Option<SqlTimestamp>,
}

impl PaymentRow {
    fn into_domain(self) -> Result<Payment, Corrupt> {
        let bank = match (self.operation_id, self.document_number, self.document_date) {
            (None, _, _) => None,
            (Some(operation_id), Some(number), Some(date)) => Some(BankDetails {
                operation_id: OperationId(operation_id.0),
                document_number: DocumentNumber::parse(&number)
                    .map_err(|e| corrupt("payment document_number", e))?,
                document_date: DocumentDate::from_utc(date.0),
            }),
            (Some(_), _, _) => {
                return Err(corrupt("bank payment", "document number or date is NULL"))
            }
        };
        Ok(Payment {
            id: PaymentId(self.id.0),
            organization_id: OrganizationId(self.organization_id.0),
            invoice_id: self.invoice_id.map(|id| id.0),
            amount: money(self.amount_minor, &self.currency, "payment amount")?,
            method: self
                .payment_method
                .parse::<PaymentMethod>()
                .map_err(|e| corrupt("payment method", e))?,
            status: self
                .status
                .parse::<PaymentStatus>()
                .map_err(|e| corrupt("payment status", e))?,
            transaction_reference: self.transaction_reference,
            notes: self.notes,
            failure_reason: self.failure_reason,
            admin_notes: self.admin_notes,
            bank,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            processed_at: self.processed_at.map(|t| t.0),
        })
    }
}

fn payment_view(row: (PaymentRow, Option<String>)) -> Result<PaymentView, Corrupt> {
    Ok(PaymentView {
        payment: row.0.into_domain()?,
        invoice_number: row.1,
    })
}

#[derive(Insertable)]
#[diesel(table_name = payments)]
struct NewPayment<'a> {
    id: SqlUuid,
    organization_id: SqlUuid,
    invoice_id: Option<SqlUuid>,
    amount_minor: i64,
    currency: &'a str,
    payment_method: &'a str,
    status: &'a str,
    transaction_reference: Option<&'a str>,
    notes: Option<&'a str>,
    failure_reason: Option<&'a str>,
    admin_notes: Option<&'a str>,
    operation_id: Option<SqlUuid>,
    document_number: Option<&'a str>,
    document_date: Option<SqlTimestamp>,
    created_at: SqlTimestamp,
    updated_at: SqlTimestamp,
    processed_at: Option<SqlTimestamp>,
}

impl<'a> NewPayment<'a> {
    fn of(payment: &'a Payment) -> Self {
        let bank = payment.bank.as_ref();
        Self {
            id: SqlUuid(payment.id.0),
            organization_id: SqlUuid(payment.organization_id.0),
            invoice_id: payment.invoice_id.map(SqlUuid),
            amount_minor: payment.amount.to_minor_units(),
            currency: payment.amount.currency().code(),
            payment_method: payment.method.as_str(),
            status: payment.status.as_str(),
            transaction_reference: payment.transaction_reference.as_deref(),
            notes: payment.notes.as_deref(),
            failure_reason: payment.failure_reason.as_deref(),
            admin_notes: payment.admin_notes.as_deref(),
            operation_id: bank.map(|b| SqlUuid(b.operation_id.0)),
            document_number: bank.map(|b| b.document_number.as_str()),
            document_date: bank.map(|b| SqlTimestamp(b.document_date.instant())),
            created_at: SqlTimestamp(payment.created_at),
            updated_at: SqlTimestamp(payment.updated_at),
            processed_at: payment.processed_at.map(SqlTimestamp),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = balance_log)]
struct NewLogEntry {
    id: SqlUuid,
    organization_id: SqlUuid,
    payment_id: SqlUuid,
    previous_balance_minor: i64,
    new_balance_minor: i64,
    delta_minor: i64,
    created_at: SqlTimestamp,
}

/// A stored bank payment joined with its organization's INN.
#[derive(Debug, Queryable)]
struct StoredBankPayment {
    id: SqlUuid,
    amount_minor: i64,
    currency: String,
    inn: String,
    document_number: Option<String>,
    document_date: Option<SqlTimestamp>,
}

impl StoredBankPayment {
    fn into_outcome(self, operation_id: OperationId) -> Result<RecordOutcome, Corrupt> {
        let existing = BankPayment {
            operation_id,
            amount: money(self.amount_minor, &self.currency, "payment amount")?,
            payer_inn: Inn::parse(&self.inn).map_err(|e| corrupt("organization inn", e))?,
            document_number: DocumentNumber::parse(
                self.document_number
                    .as_deref()
                    .ok_or_else(|| corrupt("bank payment", "document_number is NULL"))?,
            )
            .map_err(|e| corrupt("payment document_number", e))?,
            document_date: DocumentDate::from_utc(
                self.document_date
                    .ok_or_else(|| corrupt("bank payment", "document_date is NULL"))?
                    .0,
            ),
        };
        Ok(RecordOutcome::AlreadyRecorded {
            payment_id: PaymentId(self.id.0),
            existing,
        })
    }
}

/// A token joined with its user's role and organization.
#[derive(Debug, Queryable)]
struct TokenRow {
    id: SqlUuid,
    token_hash: String,
    user_id: SqlUuid,
    role: String,
    organization_id: Option<SqlUuid>,
    created_at: SqlTimestamp,
    revoked_at: Option<SqlTimestamp>,
}

impl TokenRow {
    fn into_domain(self) -> Result<TokenRecord, Corrupt> {
        Ok(TokenRecord {
            id: TokenId(self.id.0),
            hash: TokenHash::from_stored(self.token_hash),
            user_id: UserId(self.user_id.0),
            role: Role::parse(&self.role).ok_or_else(|| corrupt("user role", &self.role))?,
            organization_id: self.organization_id.map(|id| OrganizationId(id.0)),
            created_at: self.created_at.0,
            revoked_at: self.revoked_at.map(|t| t.0),
        })
    }
}

#[derive(Debug, Queryable)]
struct LogRow {
    id: SqlUuid,
    organization_id: SqlUuid,
    payment_id: SqlUuid,
    previous_balance_minor: i64,
    new_balance_minor: i64,
    delta_minor: i64,
    created_at: SqlTimestamp,
    currency: String,
}

impl LogRow {
    fn into_domain(self) -> Result<BalanceLogEntry, Corrupt> {
        Ok(BalanceLogEntry {
            id: self.id.0,
            organization_id: OrganizationId(self.organization_id.0),
            payment_id: PaymentId(self.payment_id.0),
            previous_balance: money(
                self.previous_balance_minor,
                &self.currency,
                "balance_log amount",
            )?,
            new_balance: money(self.new_balance_minor, &self.currency, "balance_log amount")?,
            delta_minor_units: self.delta_minor,
            created_at: self.created_at.0,
        })
    }
}

fn log_entries(rows: Vec<LogRow>) -> Result<Vec<BalanceLogEntry>, Corrupt> {
    rows.into_iter().map(LogRow::into_domain).collect()
}

/// A stored catalogue row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = payment_method_configs)]
struct ConfigRow {
    id: SqlUuid,
    country_code: String,
    payment_method: String,
    enabled: bool,
    display_name: String,
    instructions: String,
    details: SqlJson,
    sort_order: i32,
    created_at: SqlTimestamp,
    updated_at: SqlTimestamp,
}

impl ConfigRow {
    fn into_domain(self) -> Result<PaymentMethodConfig, Corrupt> {
        Ok(PaymentMethodConfig {
            id: self.id.0,
            country: CountryScope::parse(&self.country_code)
                .map_err(|e| corrupt("catalogue country_code", e))?,
            method: self
                .payment_method
                .parse::<PaymentMethod>()
                .map_err(|e| corrupt("catalogue payment_method", e))?,
            enabled: self.enabled,
            display_name: self.display_name,
            instructions: self.instructions,
            details: self.details.0,
            sort_order: self.sort_order,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = payment_method_configs)]
struct NewConfig<'a> {
    country_code: &'a str,
    payment_method: &'a str,
    enabled: bool,
    display_name: &'a str,
    instructions: &'a str,
    details: SqlJson,
    sort_order: i32,
    updated_at: SqlTimestamp,
}

impl<'a> NewConfig<'a> {
    fn of(config: &'a PaymentMethodConfig) -> Self {
        Self {
            country_code: config.country.as_str(),
            payment_method: config.method.as_str(),
            enabled: config.enabled,
            display_name: &config.display_name,
            instructions: &config.instructions,
            details: SqlJson(config.details.clone()),
            sort_order: config.sort_order,
            updated_at: SqlTimestamp(config.updated_at),
        }
    }
}

/// A stored per-organization override.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = account_payment_methods)]
struct OverrideRow {
    organization_id: SqlUuid,
    payment_method: String,
    is_enabled: bool,
    is_default: bool,
    created_at: SqlTimestamp,
    updated_at: SqlTimestamp,
}

impl OverrideRow {
    fn into_domain(self) -> Result<AccountPaymentMethod, Corrupt> {
        Ok(AccountPaymentMethod {
            organization_id: OrganizationId(self.organization_id.0),
            method: self
                .payment_method
                .parse::<PaymentMethod>()
                .map_err(|e| corrupt("override payment_method", e))?,
            is_enabled: self.is_enabled,
            is_default: self.is_default,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

/// Everything the ports need from one connection. Implemented for both backends by
/// [`impl_ledger_connection!`], from one body of code.
pub(crate) trait LedgerConnection: Locking {
    /// Records one bank payment WITHOUT owning the transaction: the caller must run it inside a
    /// write transaction ([`Locking::write_transaction`]) and roll back on every `Err`,
    /// including [`Abort::AlreadyRecorded`], so that a refused or duplicate payment writes
    /// nothing. A group-commit layer can wrap N calls in one transaction, each in a savepoint.
    fn record_bank_payment_uncommitted(
        &mut self,
        payment: &BankPayment,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, Abort>;

    /// The payment already stored under `operation_id`, as an `AlreadyRecorded` outcome.
    fn find_bank_payment(
        &mut self,
        operation_id: OperationId,
    ) -> Result<Option<RecordOutcome>, Abort>;

    /// Records one bank payment in its own write transaction, retrying transient conflicts.
    fn record_bank_payment(
        &mut self,
        payment: &BankPayment,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        // Fast path for retries of an old delivery: no write lock taken. Correctness does not
        // depend on it; the unique key inside the transaction decides races.
        match self.find_bank_payment(payment.operation_id) {
            Ok(Some(outcome)) => return Ok(outcome),
            Ok(None) => {}
            Err(abort) => return Err(abort_to_record_error(abort)),
        }
        let result = with_retries(self, "record bank payment", |conn| {
            conn.record_bank_payment_uncommitted(payment, now)
        });
        match result {
            Ok(outcome) | Err(Abort::AlreadyRecorded(outcome)) => Ok(outcome),
            Err(abort) => Err(abort_to_record_error(abort)),
        }
    }

    /// Stores a balance change of a locked organization and its log entry.
    fn apply_balance_change(
        &mut self,
        organization_id: SqlUuid,
        payment_id: PaymentId,
        change: &BalanceChange,
        stamp: SqlTimestamp,
    ) -> Result<(), Abort>;

    /// The manual-payment steps of [`payments_domain::ports::ManualPaymentStore`], inside the
    /// caller's write transaction.
    fn submit_manual_payment_uncommitted(
        &mut self,
        submission: &ManualSubmission,
    ) -> Result<SubmitOutcome, Abort>;

    fn submit_manual_payment(
        &mut self,
        submission: &ManualSubmission,
    ) -> Result<SubmitOutcome, SubmitError> {
        with_retries(self, "submit manual payment", |conn| {
            conn.submit_manual_payment_uncommitted(submission)
        })
        .map_err(|abort| match abort {
            Abort::ManualPayment(error) => SubmitError::Rule(error),
            other => SubmitError::Storage(other.into_storage()),
        })
    }

    /// The staff-action steps of [`payments_domain::ports::StaffActionStore`], inside the
    /// caller's write transaction.
    fn apply_staff_action_uncommitted(
        &mut self,
        payment_id: PaymentId,
        action: &StaffAction,
        now: DateTime<Utc>,
    ) -> Result<StaffActionOutcome, Abort>;

    fn apply_staff_action(
        &mut self,
        payment_id: PaymentId,
        action: &StaffAction,
        now: DateTime<Utc>,
    ) -> Result<StaffActionOutcome, StaffActionStoreError> {
        with_retries(self, "apply staff action", |conn| {
            conn.apply_staff_action_uncommitted(payment_id, action, now)
        })
        .map_err(|abort| match abort {
            Abort::StaffAction(error) => StaffActionStoreError::Rule(error),
            Abort::Ledger(error) => StaffActionStoreError::Rule(StaffActionError::Ledger(error)),
            other => StaffActionStoreError::Storage(other.into_storage()),
        })
    }

    fn find_organization(&mut self, inn: &Inn) -> Result<Option<Organization>, StorageError>;
    fn find_organization_by_id(
        &mut self,
        id: OrganizationId,
    ) -> Result<Option<Organization>, StorageError>;
    fn create_organization(
        &mut self,
        organization: &Organization,
    ) -> Result<(), CreateOrganizationError>;
    fn list_organizations(&mut self, page: PageRequest)
        -> Result<Page<Organization>, StorageError>;

    fn insert_user_with_token(
        &mut self,
        user: &User,
        token: &TokenRecord,
    ) -> Result<(), StorageError>;
    fn find_token(&mut self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError>;
    fn revoke_token(&mut self, id: TokenId, now: DateTime<Utc>) -> Result<bool, StorageError>;
    fn load_or_store_secret(
        &mut self,
        candidate: &WebhookSecret,
        now: DateTime<Utc>,
    ) -> Result<WebhookSecret, StorageError>;

    fn create_invoice(&mut self, invoice: &Invoice) -> Result<(), CreateInvoiceError>;
    fn find_invoice(&mut self, id: InvoiceId) -> Result<Option<Invoice>, StorageError>;
    fn list_invoices(
        &mut self,
        filter: &InvoiceFilter,
        page: PageRequest,
    ) -> Result<Page<Invoice>, StorageError>;

    fn find_payment(&mut self, id: PaymentId) -> Result<Option<PaymentView>, StorageError>;
    fn list_payments(
        &mut self,
        filter: &PaymentFilter,
        page: PageRequest,
    ) -> Result<Page<PaymentView>, StorageError>;

    /// An organization's whole log, oldest first.
    fn balance_log(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<BalanceLogEntry>, StorageError>;
    /// One page of an organization's log, newest first.
    fn list_balance_log(
        &mut self,
        organization_id: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<BalanceLogEntry>, StorageError>;

    fn list_configs(&mut self) -> Result<Vec<PaymentMethodConfig>, StorageError>;
    fn find_config(&mut self, id: Uuid) -> Result<Option<PaymentMethodConfig>, StorageError>;
    fn create_config(&mut self, config: &PaymentMethodConfig) -> Result<(), CatalogueError>;
    fn update_config(&mut self, config: &PaymentMethodConfig) -> Result<(), CatalogueError>;
    fn delete_config(&mut self, id: Uuid) -> Result<(), CatalogueError>;
    fn list_overrides(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<AccountPaymentMethod>, StorageError>;
    fn upsert_override(&mut self, setting: &AccountPaymentMethod) -> Result<(), StorageError>;
    fn delete_override(
        &mut self,
        organization_id: OrganizationId,
        method: PaymentMethod,
    ) -> Result<(), CatalogueError>;

    /// One organization's audit numbers; the caller provides the snapshot.
    fn ledger_audit_input(&mut self, id: SqlUuid) -> Result<LedgerAuditInput, Abort>;
    fn ledger_audit_inputs(&mut self) -> Result<Vec<LedgerAuditInput>, StorageError>;

    fn ping(&mut self) -> Result<(), StorageError>;
}

fn abort_to_record_error(abort: Abort) -> RecordError {
    match abort {
        Abort::Ledger(error) => RecordError::Ledger(error),
        other => RecordError::Storage(other.into_storage()),
    }
}

/// Maps a failed catalogue write: a known unique key → `Duplicate`, anything else storage.
fn catalogue_error(error: DieselError) -> CatalogueError {
    match violated_unique_key(&error) {
        Some(UniqueKey::ConfigCountryMethod) => CatalogueError::Duplicate,
        _ => CatalogueError::Storage(storage(error)),
    }
}

/// `NotFound` when a write by primary key touched no row.
fn found(changed: usize) -> Result<(), CatalogueError> {
    if changed == 0 {
        Err(CatalogueError::NotFound)
    } else {
        Ok(())
    }
}

/// Instantiates [`LedgerConnection`] for one connection type. The body is identical for every
/// backend; diesel resolves the SQL dialect from the connection type.
macro_rules! impl_ledger_connection {
    ($conn:ty) => {
        impl LedgerConnection for $conn {
            fn record_bank_payment_uncommitted(
                &mut self,
                payment: &BankPayment,
                now: DateTime<Utc>,
            ) -> Result<RecordOutcome, Abort> {
                let stamp = SqlTimestamp(now);
                // 1. The organization, on first sight of the INN. A concurrent creator makes
                //    this a no-op (PostgreSQL waits for it to commit or roll back first).
                let fresh =
                    Organization::first_seen_in_bank_payment(payment.payer_inn.clone(), now);
                diesel::insert_into(organizations::table)
                    .values(&NewOrganization::of(&fresh))
                    .on_conflict(organizations::inn)
                    .do_nothing()
                    .execute(self)?;

                // 2. Lock the balance row for the rest of the transaction.
                let organization = self.lock_organization(payment.payer_inn.as_str())?;

                // 3. The payment, under the unique key on operation_id: the key, not any earlier
                //    check, decides which of concurrent deliveries is first.
                let stored = payment.to_payment(OrganizationId(organization.id.0), now);
                let inserted = diesel::insert_into(payments::table)
                    .values(&NewPayment::of(&stored))
                    .on_conflict(payments::operation_id)
                    .do_nothing()
                    .returning(payments::id)
                    .get_result::<SqlUuid>(self)
                    .optional()?;
                if inserted.is_none() {
                    // Carried out as an error so the caller rolls back (the organization too).
                    let outcome =
                        self.find_bank_payment(payment.operation_id)?
                            .ok_or_else(|| {
                                Abort::Corrupt(
                                    "operation_id conflicted but no payment has it".into(),
                                )
                            })?;
                    return Err(Abort::AlreadyRecorded(outcome));
                }

                // 4. The domain computes the new balance; the row lock makes it race-free.
                let change = ledger::credit(organization.balance()?, payment.amount)
                    .map_err(Abort::Ledger)?;
                self.apply_balance_change(organization.id, stored.id, &change, stamp)?;

                Ok(RecordOutcome::Recorded {
                    payment_id: stored.id,
                    organization_id: stored.organization_id,
                    change,
                })
            }

            fn find_bank_payment(
                &mut self,
                operation_id: OperationId,
            ) -> Result<Option<RecordOutcome>, Abort> {
                let row = payments::table
                    .inner_join(organizations::table)
                    .filter(payments::operation_id.eq(SqlUuid(operation_id.0)))
                    .select((
                        payments::id,
                        payments::amount_minor,
                        payments::currency,
                        organizations::inn,
                        payments::document_number,
                        payments::document_date,
                    ))
                    .first::<StoredBankPayment>(self)
                    .optional()?;
                match row {
                    Some(row) => Ok(Some(row.into_outcome(operation_id)?)),
                    None => Ok(None),
                }
            }

            fn apply_balance_change(
                &mut self,
                organization_id: SqlUuid,
                payment_id: PaymentId,
                change: &BalanceChange,
                stamp: SqlTimestamp,
            ) -> Result<(), Abort> {
                diesel::update(organizations::table.find(organization_id))
                    .set((
                        organizations::balance_minor.eq(change.new.to_minor_units()),
                        organizations::updated_at.eq(stamp),
                    ))
                    .execute(self)?;
                diesel::insert_into(balance_log::table)
                    .values(&NewLogEntry {
                        id: SqlUuid(Uuid::new_v4()),
                        organization_id,
                        payment_id: SqlUuid(payment_id.0),
                        previous_balance_minor: change.previous.to_minor_units(),
                        new_balance_minor: change.new.to_minor_units(),
                        delta_minor: change.delta_minor_units(),
                        created_at: stamp,
                    })
                    .execute(self)?;
                Ok(())
            }

            fn submit_manual_payment_uncommitted(
                &mut self,
                submission: &ManualSubmission,
            ) -> Result<SubmitOutcome, Abort> {
                let now = micros(submission.now);
                let stamp = SqlTimestamp(now);
                let organization_id = SqlUuid(submission.organization_id.0);
                let fingerprint = submission.request.fingerprint();

                // 1. Claim the key first. A concurrent owner's uncommitted claim makes this
                //    INSERT wait (PostgreSQL) or was serialized before us (SQLite); afterwards
                //    an unclaimed key means the committed row is there to compare with.
                if let Some(key) = &submission.idempotency_key {
                    let claimed = diesel::insert_into(idempotency_keys::table)
                        .values((
                            idempotency_keys::organization_id.eq(organization_id),
                            idempotency_keys::key.eq(key.as_str()),
                            idempotency_keys::request_fingerprint.eq(&fingerprint),
                            idempotency_keys::payment_id.eq(None::<SqlUuid>),
                            idempotency_keys::created_at.eq(stamp),
                            idempotency_keys::updated_at.eq(stamp),
                        ))
                        .on_conflict((idempotency_keys::organization_id, idempotency_keys::key))
                        .do_nothing()
                        .execute(self)?;
                    if claimed == 0 {
                        // Keys are never deleted, and their owners commit them together with
                        // the payment, so a plain read sees the finished row.
                        let (stored_fingerprint, payment_id) = idempotency_keys::table
                            .find((organization_id, key.as_str()))
                            .select((
                                idempotency_keys::request_fingerprint,
                                idempotency_keys::payment_id,
                            ))
                            .first::<(String, Option<SqlUuid>)>(self)?;
                        if stored_fingerprint != fingerprint {
                            return Err(Abort::ManualPayment(
                                ManualPaymentError::IdempotencyKeyReused,
                            ));
                        }
                        let payment_id = payment_id.ok_or_else(|| {
                            Abort::Corrupt("committed idempotency key without payment".into())
                        })?;
                        let payment = payments::table
                            .find(payment_id)
                            .select(PaymentRow::as_select())
                            .first(self)?
                            .into_domain()?;
                        return Ok(SubmitOutcome::Replayed(payment));
                    }
                }

                // 2. The invoice, locked, and the rules.
                let invoice = self
                    .lock_invoice(SqlUuid(submission.request.invoice_id.0))?
                    .map(InvoiceRow::into_domain)
                    .transpose()?;
                let payment = plan_manual_payment(
                    &submission.request,
                    submission.organization_id,
                    invoice.as_ref(),
                    &submission.available,
                    now,
                )
                .map_err(Abort::ManualPayment)?;

                // 3. The payment; the partial unique index refuses a second waiting one.
                let inserted = diesel::insert_into(payments::table)
                    .values(&NewPayment::of(&payment))
                    .execute(self);
                match inserted {
                    Err(error)
                        if violated_unique_key(&error)
                            == Some(UniqueKey::OnePendingApprovalPerInvoice) =>
                    {
                        return Err(Abort::ManualPayment(
                            ManualPaymentError::PendingPaymentExists,
                        ));
                    }
                    other => other?,
                };

                // 4. The key now names its payment.
                if let Some(key) = &submission.idempotency_key {
                    diesel::update(idempotency_keys::table.find((organization_id, key.as_str())))
                        .set((
                            idempotency_keys::payment_id.eq(Some(SqlUuid(payment.id.0))),
                            idempotency_keys::updated_at.eq(stamp),
                        ))
                        .execute(self)?;
                }
                Ok(SubmitOutcome::Created(payment))
            }

            fn apply_staff_action_uncommitted(
                &mut self,
                payment_id: PaymentId,
                action: &StaffAction,
                now: DateTime<Utc>,
            ) -> Result<StaffActionOutcome, Abort> {
                let now = micros(now);
                let stamp = SqlTimestamp(now);
                let id = SqlUuid(payment_id.0);
                let not_found = || Abort::StaffAction(StaffActionError::PaymentNotFound);

                // 1. Which invoice, read without a lock: a payment's invoice never changes, and
                //    the invoice lock must come before the payment's.
                let invoice_id: Option<SqlUuid> = payments::table
                    .find(id)
                    .select(payments::invoice_id)
                    .first(self)
                    .optional()?
                    .ok_or_else(not_found)?;
                // 2-4. Invoice, payment, organization, locked in that order.
                let invoice = match invoice_id {
                    Some(invoice_id) => Some(
                        self.lock_invoice(invoice_id)?
                            .ok_or_else(|| Abort::Corrupt("payment's invoice is missing".into()))?
                            .into_domain()?,
                    ),
                    None => None,
                };
                let payment = self
                    .lock_payment(id)?
                    .ok_or_else(not_found)?
                    .into_domain()?;
                let organization = self
                    .lock_organization_by_id(SqlUuid(payment.organization_id.0))?
                    .ok_or_else(|| Abort::Corrupt("payment's organization is missing".into()))?;

                // 5. The rules decide; write exactly the plan.
                let plan = plan_staff_action(
                    action,
                    &payment,
                    invoice.as_ref(),
                    organization.balance()?,
                    now,
                )
                .map_err(Abort::StaffAction)?;
                let (updated, balance_change, mark_invoice_paid) = match plan {
                    StaffActionPlan::AlreadyDone => {
                        return Ok(StaffActionOutcome::AlreadyDone(payment))
                    }
                    StaffActionPlan::Apply {
                        payment,
                        balance_change,
                        mark_invoice_paid,
                    } => (payment, balance_change, mark_invoice_paid),
                };
                diesel::update(payments::table.find(id))
                    .set((
                        payments::status.eq(updated.status.as_str()),
                        payments::failure_reason.eq(updated.failure_reason.as_deref()),
                        payments::admin_notes.eq(updated.admin_notes.as_deref()),
                        payments::updated_at.eq(SqlTimestamp(updated.updated_at)),
                        payments::processed_at.eq(updated.processed_at.map(SqlTimestamp)),
                    ))
                    .execute(self)?;
                if let Some(change) = &balance_change {
                    self.apply_balance_change(organization.id, payment_id, change, stamp)?;
                }
                if let Some(invoice_id) = mark_invoice_paid {
                    diesel::update(invoices::table.find(SqlUuid(invoice_id.0)))
                        .set((
                            invoices::status.eq(InvoiceStatus::Paid.as_str()),
                            invoices::paid_at
                                .eq(Some(SqlTimestamp(updated.processed_at.unwrap_or(now)))),
                            invoices::updated_at.eq(stamp),
                        ))
                        .execute(self)?;
                }
                Ok(StaffActionOutcome::Applied(updated))
            }

            fn find_organization(
                &mut self,
                inn: &Inn,
            ) -> Result<Option<Organization>, StorageError> {
                let row = organizations::table
                    .filter(organizations::inn.eq(inn.as_str()))
                    .select(OrganizationRow::as_select())
                    .first(self)
                    .optional()
                    .map_err(storage)?;
                Ok(row.map(OrganizationRow::into_domain).transpose()?)
            }

            fn find_organization_by_id(
                &mut self,
                id: OrganizationId,
            ) -> Result<Option<Organization>, StorageError> {
                let row = organizations::table
                    .find(SqlUuid(id.0))
                    .select(OrganizationRow::as_select())
                    .first(self)
                    .optional()
                    .map_err(storage)?;
                Ok(row.map(OrganizationRow::into_domain).transpose()?)
            }

            fn create_organization(
                &mut self,
                organization: &Organization,
            ) -> Result<(), CreateOrganizationError> {
                // The unique key decides, so two concurrent creators cannot both succeed.
                diesel::insert_into(organizations::table)
                    .values(&NewOrganization::of(organization))
                    .execute(self)
                    .map(|_| ())
                    .map_err(|error| match violated_unique_key(&error) {
                        Some(UniqueKey::OrganizationInn) => CreateOrganizationError::InnTaken,
                        _ => CreateOrganizationError::Storage(storage(error)),
                    })
            }

            fn list_organizations(
                &mut self,
                page: PageRequest,
            ) -> Result<Page<Organization>, StorageError> {
                let (limit, offset) = limit_offset(page);
                let total: i64 = organizations::table
                    .count()
                    .get_result(self)
                    .map_err(storage)?;
                let rows = organizations::table
                    .order((organizations::created_at.desc(), organizations::id.desc()))
                    .limit(limit)
                    .offset(offset)
                    .select(OrganizationRow::as_select())
                    .load(self)
                    .map_err(storage)?;
                let items = rows
                    .into_iter()
                    .map(OrganizationRow::into_domain)
                    .collect::<Result<_, _>>()?;
                Ok(page_of(items, total, page))
            }

            fn insert_user_with_token(
                &mut self,
                user: &User,
                token: &TokenRecord,
            ) -> Result<(), StorageError> {
                if token.user_id != user.id {
                    return Err(StorageError::new("the token belongs to another user"));
                }
                let stamp = SqlTimestamp(user.created_at);
                with_retries(self, "insert user with token", |conn| {
                    diesel::insert_into(users::table)
                        .values((
                            users::id.eq(SqlUuid(user.id.0)),
                            users::role.eq(user.role.as_str()),
                            users::organization_id.eq(user.organization_id.map(|o| SqlUuid(o.0))),
                            users::name.eq(&user.name),
                            users::created_at.eq(stamp),
                            users::updated_at.eq(stamp),
                        ))
                        .execute(conn)?;
                    diesel::insert_into(api_tokens::table)
                        .values((
                            api_tokens::id.eq(SqlUuid(token.id.0)),
                            api_tokens::user_id.eq(SqlUuid(user.id.0)),
                            api_tokens::token_hash.eq(token.hash.as_str()),
                            api_tokens::created_at.eq(SqlTimestamp(token.created_at)),
                            api_tokens::updated_at.eq(SqlTimestamp(token.created_at)),
                            api_tokens::revoked_at.eq(token.revoked_at.map(SqlTimestamp)),
                        ))
                        .execute(conn)?;
                    Ok(())
                })
                .map_err(Abort::into_storage)
            }

            fn find_token(
                &mut self,
                hash: &TokenHash,
            ) -> Result<Option<TokenRecord>, StorageError> {
                let row = api_tokens::table
                    .inner_join(users::table)
                    .filter(api_tokens::token_hash.eq(hash.as_str()))
                    .select((
                        api_tokens::id,
                        api_tokens::token_hash,
                        api_tokens::user_id,
                        users::role,
                        users::organization_id,
                        api_tokens::created_at,
                        api_tokens::revoked_at,
                    ))
                    .first::<TokenRow>(self)
                    .optional()
                    .map_err(storage)?;
                Ok(row.map(TokenRow::into_domain).transpose()?)
            }

            fn revoke_token(
                &mut self,
                id: TokenId,
                now: DateTime<Utc>,
            ) -> Result<bool, StorageError> {
                // Only a live token changes, so a second revocation keeps the first time.
                let changed = diesel::update(
                    api_tokens::table
                        .filter(api_tokens::id.eq(SqlUuid(id.0)))
                        .filter(api_tokens::revoked_at.is_null()),
                )
                .set((
                    api_tokens::revoked_at.eq(Some(SqlTimestamp(now))),
                    api_tokens::updated_at.eq(SqlTimestamp(now)),
                ))
                .execute(self)
                .map_err(storage)?;
                if changed > 0 {
                    return Ok(true);
                }
                let count: i64 = api_tokens::table
                    .filter(api_tokens::id.eq(SqlUuid(id.0)))
                    .count()
                    .get_result(self)
                    .map_err(storage)?;
                Ok(count > 0)
            }

            fn load_or_store_secret(
                &mut self,
                candidate: &WebhookSecret,
                now: DateTime<Utc>,
            ) -> Result<WebhookSecret, StorageError> {
                let text = std::str::from_utf8(candidate.expose())
                    .map_err(|_| StorageError::new("webhook secret is not UTF-8 text"))?;
                // The primary key lets exactly one of concurrent first calls insert.
                diesel::insert_into(webhook_secrets::table)
                    .values((
                        webhook_secrets::name.eq(DEFAULT_SECRET_NAME),
                        webhook_secrets::secret.eq(text),
                        webhook_secrets::created_at.eq(SqlTimestamp(now)),
                        webhook_secrets::updated_at.eq(SqlTimestamp(now)),
                    ))
                    .on_conflict(webhook_secrets::name)
                    .do_nothing()
                    .execute(self)
                    .map_err(storage)?;
                let stored: String = webhook_secrets::table
                    .filter(webhook_secrets::name.eq(DEFAULT_SECRET_NAME))
                    .select(webhook_secrets::secret)
                    .first(self)
                    .map_err(storage)?;
                WebhookSecret::new(stored.into_bytes())
                    .ok_or_else(|| StorageError::new("stored webhook secret is empty"))
            }

            fn create_invoice(&mut self, invoice: &Invoice) -> Result<(), CreateInvoiceError> {
                diesel::insert_into(invoices::table)
                    .values(&NewInvoice::of(invoice))
                    .execute(self)
                    .map(|_| ())
                    .map_err(|error| match violated_unique_key(&error) {
                        Some(UniqueKey::InvoiceNumber) => CreateInvoiceError::NumberTaken,
                        _ => CreateInvoiceError::Storage(storage(error)),
                    })
            }

            fn find_invoice(&mut self, id: InvoiceId) -> Result<Option<Invoice>, StorageError> {
                let row = invoices::table
                    .find(SqlUuid(id.0))
                    .select(InvoiceRow::as_select())
                    .first(self)
                    .optional()
                    .map_err(storage)?;
                Ok(row.map(InvoiceRow::into_domain).transpose()?)
            }

            fn list_invoices(
                &mut self,
                filter: &InvoiceFilter,
                page: PageRequest,
            ) -> Result<Page<Invoice>, StorageError> {
                type Backend = <$conn as diesel::Connection>::Backend;
                // Built twice, for the count and for the page, from the same filter.
                let filtered = || {
                    let mut query = invoices::table.into_boxed::<Backend>();
                    if let Some(organization) = filter.organization_id {
                        query = query.filter(invoices::organization_id.eq(SqlUuid(organization.0)));
                    }
                    if !filter.statuses.is_empty() {
                        let names: Vec<&'static str> =
                            filter.statuses.iter().map(|s| s.as_str()).collect();
                        query = query.filter(invoices::status.eq_any(names));
                    }
                    query
                };
                let (limit, offset) = limit_offset(page);
                let total: i64 = filtered().count().get_result(self).map_err(storage)?;
                let rows = filtered()
                    .order((invoices::created_at.desc(), invoices::id.desc()))
                    .limit(limit)
                    .offset(offset)
                    .select(InvoiceRow::as_select())
                    .load(self)
                    .map_err(storage)?;
                let items = rows
                    .into_iter()
                    .map(InvoiceRow::into_domain)
                    .collect::<Result<_, _>>()?;
                Ok(page_of(items, total, page))
            }

            fn find_payment(&mut self, id: PaymentId) -> Result<Option<PaymentView>, StorageError> {
                let row = payments::table
                    .left_join(invoices::table)
                    .filter(payments::id.eq(SqlUuid(id.0)))
                    .select((PaymentRow::as_select(), invoices::number.nullable()))
                    .first::<(PaymentRow, Option<String>)>(self)
                    .optional()
                    .map_err(storage)?;
                Ok(row.map(payment_view).transpose()?)
            }

            fn list_payments(
                &mut self,
                filter: &PaymentFilter,
                page: PageRequest,
            ) -> Result<Page<PaymentView>, StorageError> {
                type Backend = <$conn as diesel::Connection>::Backend;
                let filtered = || {
                    let mut query = payments::table
                        .left_join(invoices::table)
                        .into_boxed::<Backend>();
                    if let Some(organization) = filter.organization_id {
                        query = query.filter(payments::organization_id.eq(SqlUuid(organization.0)));
                    }
                    if !filter.statuses.is_empty() {
                        let names: Vec<&'static str> =
                            filter.statuses.iter().map(|s| s.as_str()).collect();
                        query = query.filter(payments::status.eq_any(names));
                    }
                    if let Some(method) = filter.method {
                        query = query.filter(payments::payment_method.eq(method.as_str()));
                    }
                    if let Some(invoice_id) = filter.invoice_id {
                        query = query.filter(payments::invoice_id.eq(SqlUuid(invoice_id)));
                    }
                    query
                };
                let (limit, offset) = limit_offset(page);
                let total: i64 = filtered().count().get_result(self).map_err(storage)?;
                let rows = filtered()
                    .order((payments::created_at.desc(), payments::id.desc()))
                    .limit(limit)
                    .offset(offset)
                    .select((PaymentRow::as_select(), invoices::number.nullable()))
                    .load::<(PaymentRow, Option<String>)>(self)
                    .map_err(storage)?;
                let items = rows
                    .into_iter()
                    .map(payment_view)
                    .collect::<Result<_, _>>()?;
                Ok(page_of(items, total, page))
            }

            fn balance_log(
                &mut self,
                organization_id: OrganizationId,
            ) -> Result<Vec<BalanceLogEntry>, StorageError> {
                let rows = balance_log::table
                    .inner_join(organizations::table)
                    .filter(balance_log::organization_id.eq(SqlUuid(organization_id.0)))
                    .order(balance_log::seq.asc())
                    .select((
                        balance_log::id,
                        balance_log::organization_id,
                        balance_log::payment_id,
                        balance_log::previous_balance_minor,
                        balance_log::new_balance_minor,
                        balance_log::delta_minor,
                        balance_log::created_at,
                        organizations::currency,
                    ))
                    .load::<LogRow>(self)
                    .map_err(storage)?;
                Ok(log_entries(rows)?)
            }

            fn list_balance_log(
                &mut self,
                organization_id: OrganizationId,
                page: PageRequest,
            ) -> Result<Page<BalanceLogEntry>, StorageError> {
                let id = SqlUuid(organization_id.0);
                let (limit, offset) = limit_offset(page);
                let total: i64 = balance_log::table
                    .filter(balance_log::organization_id.eq(id))
                    .count()
                    .get_result(self)
                    .map_err(storage)?;
                let rows = balance_log::table
                    .inner_join(organizations::table)
                    .filter(balance_log::organization_id.eq(id))
                    .order(balance_log::seq.desc())
                    .limit(limit)
                    .offset(offset)
                    .select((
                        balance_log::id,
                        balance_log::organization_id,
                        balance_log::payment_id,
                        balance_log::previous_balance_minor,
                        balance_log::new_balance_minor,
                        balance_log::delta_minor,
                        balance_log::created_at,
                        organizations::currency,
                    ))
                    .load::<LogRow>(self)
                    .map_err(storage)?;
                Ok(page_of(log_entries(rows)?, total, page))
            }

            fn list_configs(&mut self) -> Result<Vec<PaymentMethodConfig>, StorageError> {
                let rows = payment_method_configs::table
                    .order((
                        payment_method_configs::sort_order.asc(),
                        payment_method_configs::payment_method.asc(),
                        payment_method_configs::country_code.asc(),
                    ))
                    .select(ConfigRow::as_select())
                    .load(self)
                    .map_err(storage)?;
                Ok(rows
                    .into_iter()
                    .map(ConfigRow::into_domain)
                    .collect::<Result<_, _>>()?)
            }

            fn find_config(
                &mut self,
                id: Uuid,
            ) -> Result<Option<PaymentMethodConfig>, StorageError> {
                let row = payment_method_configs::table
                    .find(SqlUuid(id))
                    .select(ConfigRow::as_select())
                    .first(self)
                    .optional()
                    .map_err(storage)?;
                Ok(row.map(ConfigRow::into_domain).transpose()?)
            }

            fn create_config(
                &mut self,
                config: &PaymentMethodConfig,
            ) -> Result<(), CatalogueError> {
                diesel::insert_into(payment_method_configs::table)
                    .values((
                        payment_method_configs::id.eq(SqlUuid(config.id)),
                        NewConfig::of(config),
                        payment_method_configs::created_at.eq(SqlTimestamp(config.created_at)),
                    ))
                    .execute(self)
                    .map(|_| ())
                    .map_err(catalogue_error)
            }

            fn update_config(
                &mut self,
                config: &PaymentMethodConfig,
            ) -> Result<(), CatalogueError> {
                // created_at stays as first stored.
                let changed =
                    diesel::update(payment_method_configs::table.find(SqlUuid(config.id)))
                        .set(NewConfig::of(config))
                        .execute(self)
                        .map_err(catalogue_error)?;
                found(changed)
            }

            fn delete_config(&mut self, id: Uuid) -> Result<(), CatalogueError> {
                let changed = diesel::delete(payment_method_configs::table.find(SqlUuid(id)))
                    .execute(self)
                    .map_err(catalogue_error)?;
                found(changed)
            }

            fn list_overrides(
                &mut self,
                organization_id: OrganizationId,
            ) -> Result<Vec<AccountPaymentMethod>, StorageError> {
                let rows = account_payment_methods::table
                    .filter(account_payment_methods::organization_id.eq(SqlUuid(organization_id.0)))
                    .order(account_payment_methods::payment_method.asc())
                    .select(OverrideRow::as_select())
                    .load(self)
                    .map_err(storage)?;
                Ok(rows
                    .into_iter()
                    .map(OverrideRow::into_domain)
                    .collect::<Result<_, _>>()?)
            }

            fn upsert_override(
                &mut self,
                setting: &AccountPaymentMethod,
            ) -> Result<(), StorageError> {
                let organization_id = SqlUuid(setting.organization_id.0);
                let stamp = SqlTimestamp(setting.updated_at);
                with_retries(self, "upsert payment-method override", |conn| {
                    // Serializes the overrides of one organization, so two concurrent
                    // "make X the default" calls cannot both keep theirs.
                    conn.lock_organization_by_id(organization_id)?
                        .ok_or_else(|| Abort::Corrupt("no organization with this id".into()))?;
                    if setting.is_default {
                        diesel::update(
                            account_payment_methods::table
                                .filter(
                                    account_payment_methods::organization_id.eq(organization_id),
                                )
                                .filter(
                                    account_payment_methods::payment_method
                                        .ne(setting.method.as_str()),
                                )
                                .filter(account_payment_methods::is_default.eq(true)),
                        )
                        .set((
                            account_payment_methods::is_default.eq(false),
                            account_payment_methods::updated_at.eq(stamp),
                        ))
                        .execute(conn)?;
                    }
                    diesel::insert_into(account_payment_methods::table)
                        .values((
                            account_payment_methods::organization_id.eq(organization_id),
                            account_payment_methods::payment_method.eq(setting.method.as_str()),
                            account_payment_methods::is_enabled.eq(setting.is_enabled),
                            account_payment_methods::is_default.eq(setting.is_default),
                            account_payment_methods::created_at
                                .eq(SqlTimestamp(setting.created_at)),
                            account_payment_methods::updated_at.eq(stamp),
                        ))
                        .on_conflict((
                            account_payment_methods::organization_id,
                            account_payment_methods::payment_method,
                        ))
                        .do_update()
                        .set((
                            account_payment_methods::is_enabled
                                .eq(excluded(account_payment_methods::is_enabled)),
                            account_payment_methods::is_default
                                .eq(excluded(account_payment_methods::is_default)),
                            account_payment_methods::updated_at
                                .eq(excluded(account_payment_methods::updated_at)),
                        ))
                        .execute(conn)?;
                    Ok(())
                })
                .map_err(Abort::into_storage)
            }

            fn delete_override(
                &mut self,
                organization_id: OrganizationId,
                method: PaymentMethod,
            ) -> Result<(), CatalogueError> {
                let changed = diesel::delete(
                    account_payment_methods::table
                        .find((SqlUuid(organization_id.0), method.as_str())),
                )
                .execute(self)
                .map_err(|e| CatalogueError::Storage(storage(e)))?;
                found(changed)
            }

            fn ledger_audit_input(&mut self, id: SqlUuid) -> Result<LedgerAuditInput, Abort> {
                let organization = organizations::table
                    .find(id)
                    .select(OrganizationRow::as_select())
                    .first(self)?;
                let log = self
                    .balance_log(OrganizationId(id.0))
                    .map_err(Abort::Storage)?;
                // Summed here rather than with SUM(): PostgreSQL's SUM(bigint) is numeric.
                let amounts: Vec<i64> = payments::table
                    .filter(payments::organization_id.eq(id))
                    .filter(payments::status.eq(PaymentStatus::Succeeded.as_str()))
                    .select(payments::amount_minor)
                    .load(self)?;
                let succeeded_minor_units =
                    amounts
                        .into_iter()
                        .try_fold(0_i64, i64::checked_add)
                        .ok_or_else(|| Abort::Corrupt("succeeded payments overflow i64".into()))?;
                Ok(LedgerAuditInput {
                    organization_id: OrganizationId(id.0),
                    balance: organization.balance()?,
                    inn: organization.inn,
                    log,
                    succeeded_minor_units,
                })
            }

            fn ledger_audit_inputs(&mut self) -> Result<Vec<LedgerAuditInput>, StorageError> {
                let ids: Vec<SqlUuid> = organizations::table
                    .order((organizations::created_at.asc(), organizations::id.asc()))
                    .select(organizations::id)
                    .load(self)
                    .map_err(storage)?;
                // One snapshot per organization: consistent where it matters (balance, log
                // and payments of one organization) without one long transaction over all.
                ids.into_iter()
                    .map(|id| {
                        self.read_snapshot(|conn| conn.ledger_audit_input(id))
                            .map_err(Abort::into_storage)
                    })
                    .collect()
            }

            fn ping(&mut self) -> Result<(), StorageError> {
                diesel::sql_query("SELECT 1")
                    .execute(self)
                    .map(|_| ())
                    .map_err(storage)
            }
        }
    };
}

impl_ledger_connection!(PgConnection);
impl_ledger_connection!(SqliteConnection);
