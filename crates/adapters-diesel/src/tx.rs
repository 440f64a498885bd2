//! Transactions, retries and error mapping, shared by every port module.
//!
//! Only [`Locking`] differs per backend (how transactions start and how rows are locked); the
//! port modules write their queries once and stamp them for both connection types with
//! [`for_both_backends!`].

use std::time::Duration;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{PgConnection, SqliteConnection};
use payments_domain::billing::{ManualPaymentError, StaffActionError};
use payments_domain::ledger::LedgerError;
use payments_domain::StorageError;

use crate::rows::{Corrupt, InvoiceRow, OrganizationRow, PaymentRow};
use crate::schema::{invoices, organizations, payments};
use crate::sql_types::SqlUuid;

/// Stamps one `impl Trait { ... }` block for `PgConnection` and for `SqliteConnection`.
///
/// The block is ordinary Rust: inside it `Self` is the connection type, and diesel resolves
/// the SQL dialect from it. Each port module uses it once, for its own queries.
macro_rules! for_both_backends {
    (impl $port:path { $($body:tt)* }) => {
        impl $port for diesel::PgConnection { $($body)* }
        impl $port for diesel::SqliteConnection { $($body)* }
    };
}
pub(crate) use for_both_backends;

/// How many times a write transaction is tried when the database reports a transient
/// conflict (PostgreSQL serialization failure or deadlock, SQLite busy).
const MAX_WRITE_ATTEMPTS: u32 = 5;

/// Why the body of a write transaction stopped. Every `Err` makes the caller roll back, so
/// nothing of the attempt is written.
#[derive(Debug)]
pub(crate) enum Abort {
    /// The operation_id is taken; nothing of this payment may be written.
    AlreadyRecorded(payments_domain::bank::RecordedBankPayment),
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
    pub(crate) fn into_storage(self) -> StorageError {
        match self {
            Abort::Corrupt(message) => Corrupt(message).into(),
            Abort::Storage(error) => error,
            Abort::Db(error) => storage(error),
            other => StorageError::new(format!("unexpected outcome: {other:?}")),
        }
    }
}

/// Turns an unexpected SQL error into the domain's storage error, keeping it as the source.
pub(crate) fn storage(error: DieselError) -> StorageError {
    match error {
        // A stored value the column type cannot read (e.g. a date out of range): a corrupt
        // row, not a passing fault.
        DieselError::DeserializationError(cause) => {
            Corrupt(format!("undecodable value: {cause}")).into()
        }
        error => StorageError::with_source("database error", error),
    }
}

/// True for errors a retry of the whole transaction can cure.
pub(crate) fn is_transient(error: &DieselError) -> bool {
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
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::OrganizationInn => "organizations_inn_key",
            Self::InvoiceNumber => "invoices_number_key",
            Self::OnePendingApprovalPerInvoice => "payments_one_pending_approval_per_invoice",
            Self::ConfigCountryMethod => "payment_method_configs_country_code_payment_method_key",
        }
    }

    /// SQLite names no constraint, only the columns: `UNIQUE constraint failed: <these>`.
    /// Each of these column lists has exactly one unique key in the schema.
    pub(crate) fn sqlite_columns(self) -> &'static str {
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

/// PostgreSQL: READ COMMITTED plus row locks is enough, because every read that decides a
/// write is made under a lock, and a locked read returns the newest committed version.
/// `FOR NO KEY UPDATE` excludes every other locker and writer of the row, but not the KEY
/// SHARE locks that foreign-key checks take, so inserting an invoice or payment of an
/// organization does not queue behind a balance change.
impl Locking for PgConnection {
    fn write_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Abort>,
    ) -> Result<T, Abort> {
        // Bounded by the request's deadline: statements and lock waits by the server, the
        // COMMIT by the check after the body (a late transaction rolls back instead).
        crate::deadline::pg_transaction(self, "", |conn| {
            let done = body(conn)?;
            crate::deadline::check().map_err(Abort::Storage)?;
            Ok(done)
        })
    }

    fn read_snapshot<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Abort>,
    ) -> Result<T, Abort> {
        self.build_transaction()
            .repeatable_read()
            .read_only()
            .run(body)
    }

    fn lock_organization(&mut self, inn: &str) -> QueryResult<OrganizationRow> {
        organizations::table
            .filter(organizations::inn.eq(inn))
            .select(OrganizationRow::as_select())
            .for_no_key_update()
            .first(self)
    }

    fn lock_organization_by_id(&mut self, id: SqlUuid) -> QueryResult<Option<OrganizationRow>> {
        organizations::table
            .find(id)
            .select(OrganizationRow::as_select())
            .for_no_key_update()
            .first(self)
            .optional()
    }

    fn lock_invoice(&mut self, id: SqlUuid) -> QueryResult<Option<InvoiceRow>> {
        invoices::table
            .find(id)
            .select(InvoiceRow::as_select())
            .for_no_key_update()
            .first(self)
            .optional()
    }

    fn lock_payment(&mut self, id: SqlUuid) -> QueryResult<Option<PaymentRow>> {
        payments::table
            .find(id)
            .select(PaymentRow::as_select())
            .for_no_key_update()
            .first(self)
            .optional()
    }
}

/// SQLite: `BEGIN IMMEDIATE` takes the database write lock up front, so writers queue on
/// `busy_timeout` instead of failing later when a read lock would have to be upgraded, and
/// no row needs a lock of its own. A deferred transaction reads one WAL snapshot.
impl Locking for SqliteConnection {
    fn write_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Abort>,
    ) -> Result<T, Abort> {
        // A late transaction rolls back instead of committing (see the PostgreSQL variant).
        self.immediate_transaction(|conn| {
            let done = body(conn)?;
            crate::deadline::check().map_err(Abort::Storage)?;
            Ok(done)
        })
    }

    fn read_snapshot<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Abort>,
    ) -> Result<T, Abort> {
        self.transaction(body)
    }

    fn lock_organization(&mut self, inn: &str) -> QueryResult<OrganizationRow> {
        organizations::table
            .filter(organizations::inn.eq(inn))
            .select(OrganizationRow::as_select())
            .first(self)
    }

    fn lock_organization_by_id(&mut self, id: SqlUuid) -> QueryResult<Option<OrganizationRow>> {
        organizations::table
            .find(id)
            .select(OrganizationRow::as_select())
            .first(self)
            .optional()
    }

    fn lock_invoice(&mut self, id: SqlUuid) -> QueryResult<Option<InvoiceRow>> {
        invoices::table
            .find(id)
            .select(InvoiceRow::as_select())
            .first(self)
            .optional()
    }

    fn lock_payment(&mut self, id: SqlUuid) -> QueryResult<Option<PaymentRow>> {
        payments::table
            .find(id)
            .select(PaymentRow::as_select())
            .first(self)
            .optional()
    }
}

/// Runs `body` in a write transaction, retrying transient conflicts with a short backoff.
pub(crate) fn with_retries<C: Locking, T>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn storage_errors_keep_the_diesel_error_as_source() {
        let error = storage(DieselError::NotFound);
        assert_eq!(
            error.to_string(),
            "storage failure: database error: Record not found"
        );
        let source = error.source().expect("the diesel error is kept");
        assert!(matches!(
            source.downcast_ref::<DieselError>(),
            Some(DieselError::NotFound)
        ));
    }
}
