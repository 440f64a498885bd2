//! The queries behind every port, written once and instantiated for `PgConnection` and
//! `SqliteConnection` by [`impl_ledger_connection!`]. Only [`Locking`] differs per backend: how
//! the write transaction starts and how the organization row is locked.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{PgConnection, SqliteConnection};
use payments_domain::auth::{Role, TokenHash, TokenId, TokenRecord};
use payments_domain::ledger::{self, BalanceLogEntry, LedgerError};
use payments_domain::organization::CountryCode;
use payments_domain::ports::{RecordError, RecordOutcome};
use payments_domain::signature::WebhookSecret;
use payments_domain::{
    BankPayment, Currency, DocumentDate, DocumentNumber, Inn, Money, OperationId, Organization,
    OrganizationId, PaymentId, PaymentMethod, PaymentStatus, StorageError,
};
use uuid::Uuid;

use crate::schema::{api_tokens, balance_log, organizations, payments, webhook_secrets};
use crate::sql_types::{SqlTimestamp, SqlUuid};

/// Name of the one webhook secret row.
pub(crate) const DEFAULT_SECRET_NAME: &str = "default";

/// How many times a write transaction is tried when the database reports a transient
/// conflict (PostgreSQL serialization failure or deadlock, SQLite busy).
const MAX_WRITE_ATTEMPTS: u32 = 5;

/// Why the body of a write transaction stopped. Every variant except a committed outcome makes
/// the caller roll back, so nothing of the attempt is written.
#[derive(Debug)]
pub(crate) enum Abort {
    /// The operation_id is taken; the outcome names the first payment.
    AlreadyRecorded(RecordOutcome),
    /// The ledger refused the change.
    Ledger(LedgerError),
    /// A stored row does not convert back into domain types.
    Corrupt(String),
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

/// What differs between the backends: starting the write transaction and locking the balance.
pub(crate) trait Locking: Sized {
    /// Runs `body` in a transaction that may write; commits on `Ok`, rolls back on `Err`.
    fn write_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Abort>,
    ) -> Result<T, Abort>;

    /// Reads the organization with `inn`, locked against every other balance change of it
    /// until the transaction ends.
    fn lock_organization(&mut self, inn: &str) -> QueryResult<OrganizationRow>;
}

impl Locking for PgConnection {
    fn write_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Abort>,
    ) -> Result<T, Abort> {
        // READ COMMITTED plus the row lock below is enough: the only read that decides a write
        // is the balance, and it is read under FOR UPDATE.
        self.transaction(body)
    }

    fn lock_organization(&mut self, inn: &str) -> QueryResult<OrganizationRow> {
        organizations::table
            .filter(organizations::inn.eq(inn))
            .select(OrganizationRow::as_select())
            .for_update()
            .first(self)
    }
}

impl Locking for SqliteConnection {
    fn write_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, Abort>,
    ) -> Result<T, Abort> {
        // BEGIN IMMEDIATE takes the database write lock up front: writers queue on busy_timeout
        // instead of failing later when a read lock would have to be upgraded.
        self.immediate_transaction(body)
    }

    fn lock_organization(&mut self, inn: &str) -> QueryResult<OrganizationRow> {
        // The immediate transaction already excludes every other writer.
        organizations::table
            .filter(organizations::inn.eq(inn))
            .select(OrganizationRow::as_select())
            .first(self)
    }
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
    fn currency(&self) -> Result<Currency, Corrupt> {
        Currency::parse(&self.currency).map_err(|e| corrupt("organization currency", e))
    }

    fn balance(&self) -> Result<Money, Corrupt> {
        Money::from_minor_units(self.balance_minor, self.currency()?)
            .map_err(|e| corrupt("organization balance", e))
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
    operation_id: Option<SqlUuid>,
    document_number: Option<&'a str>,
    document_date: Option<SqlTimestamp>,
    created_at: SqlTimestamp,
    updated_at: SqlTimestamp,
    processed_at: Option<SqlTimestamp>,
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
        let currency =
            Currency::parse(&self.currency).map_err(|e| corrupt("payment currency", e))?;
        let existing = BankPayment {
            operation_id,
            amount: Money::from_minor_units(self.amount_minor, currency)
                .map_err(|e| corrupt("payment amount", e))?,
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

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
struct TokenRow {
    id: SqlUuid,
    token_hash: String,
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
            role: Role::parse(&self.role).ok_or_else(|| corrupt("token role", &self.role))?,
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
        let currency =
            Currency::parse(&self.currency).map_err(|e| corrupt("organization currency", e))?;
        let money = |minor| {
            Money::from_minor_units(minor, currency).map_err(|e| corrupt("balance_log amount", e))
        };
        Ok(BalanceLogEntry {
            id: self.id.0,
            organization_id: OrganizationId(self.organization_id.0),
            payment_id: PaymentId(self.payment_id.0),
            previous_balance: money(self.previous_balance_minor)?,
            new_balance: money(self.new_balance_minor)?,
            delta_minor_units: self.delta_minor,
            created_at: self.created_at.0,
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
        let mut attempt = 1;
        loop {
            let result =
                self.write_transaction(|conn| conn.record_bank_payment_uncommitted(payment, now));
            match result {
                Ok(outcome) | Err(Abort::AlreadyRecorded(outcome)) => return Ok(outcome),
                Err(Abort::Db(error)) if attempt < MAX_WRITE_ATTEMPTS && is_transient(&error) => {
                    tracing::warn!(attempt, %error, "transient conflict recording a bank payment; retrying");
                    std::thread::sleep(Duration::from_millis(5 * u64::from(attempt)));
                    attempt += 1;
                }
                Err(abort) => return Err(abort_to_record_error(abort)),
            }
        }
    }

    fn find_organization(&mut self, inn: &Inn) -> Result<Option<Organization>, StorageError>;
    fn insert_token(&mut self, record: &TokenRecord) -> Result<(), StorageError>;
    fn find_token(&mut self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError>;
    fn revoke_token(&mut self, id: TokenId, now: DateTime<Utc>) -> Result<bool, StorageError>;
    fn load_or_store_secret(
        &mut self,
        candidate: &WebhookSecret,
        now: DateTime<Utc>,
    ) -> Result<WebhookSecret, StorageError>;
    fn balance_log(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<BalanceLogEntry>, StorageError>;
    fn ping(&mut self) -> Result<(), StorageError>;
}

fn abort_to_record_error(abort: Abort) -> RecordError {
    match abort {
        // Only reachable from the fast path's caller; kept total for safety.
        Abort::AlreadyRecorded(_) => {
            RecordError::Storage(StorageError::new("unexpected duplicate outcome"))
        }
        Abort::Ledger(error) => RecordError::Ledger(error),
        Abort::Corrupt(message) => {
            RecordError::Storage(StorageError(format!("corrupt row: {message}")))
        }
        Abort::Db(error) => RecordError::Storage(storage(error)),
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
                    .values(&NewOrganization {
                        id: SqlUuid(fresh.id.0),
                        inn: fresh.inn.as_str(),
                        name: &fresh.name,
                        country: fresh.country.as_str(),
                        currency: fresh.currency().code(),
                        balance_minor: fresh.balance.to_minor_units(),
                        created_at: stamp,
                        updated_at: stamp,
                    })
                    .on_conflict(organizations::inn)
                    .do_nothing()
                    .execute(self)?;

                // 2. Lock the balance row for the rest of the transaction.
                let organization = self.lock_organization(payment.payer_inn.as_str())?;

                // 3. The payment, under the unique key on operation_id: the key, not any earlier
                //    check, decides which of concurrent deliveries is first.
                let payment_id = PaymentId::new_random();
                let inserted = diesel::insert_into(payments::table)
                    .values(&NewPayment {
                        id: SqlUuid(payment_id.0),
                        organization_id: organization.id,
                        invoice_id: None,
                        amount_minor: payment.amount.to_minor_units(),
                        currency: payment.amount.currency().code(),
                        payment_method: PaymentMethod::BankTransfer.as_str(),
                        status: PaymentStatus::Succeeded.as_str(),
                        transaction_reference: Some(payment.document_number.as_str()),
                        operation_id: Some(SqlUuid(payment.operation_id.0)),
                        document_number: Some(payment.document_number.as_str()),
                        document_date: Some(SqlTimestamp(payment.document_date.instant())),
                        created_at: stamp,
                        updated_at: stamp,
                        processed_at: Some(stamp),
                    })
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
                diesel::update(organizations::table.filter(organizations::id.eq(organization.id)))
                    .set((
                        organizations::balance_minor.eq(change.new.to_minor_units()),
                        organizations::updated_at.eq(stamp),
                    ))
                    .execute(self)?;

                // 5. The log entry.
                diesel::insert_into(balance_log::table)
                    .values(&NewLogEntry {
                        id: SqlUuid(Uuid::new_v4()),
                        organization_id: organization.id,
                        payment_id: SqlUuid(payment_id.0),
                        previous_balance_minor: change.previous.to_minor_units(),
                        new_balance_minor: change.new.to_minor_units(),
                        delta_minor: change.delta_minor_units(),
                        created_at: stamp,
                    })
                    .execute(self)?;

                Ok(RecordOutcome::Recorded {
                    payment_id,
                    organization_id: OrganizationId(organization.id.0),
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
                match row {
                    Some(row) => Ok(Some(row.into_domain()?)),
                    None => Ok(None),
                }
            }

            fn insert_token(&mut self, record: &TokenRecord) -> Result<(), StorageError> {
                diesel::insert_into(api_tokens::table)
                    .values((
                        api_tokens::id.eq(SqlUuid(record.id.0)),
                        api_tokens::token_hash.eq(record.hash.as_str()),
                        api_tokens::role.eq(record.role.as_str()),
                        api_tokens::organization_id
                            .eq(record.organization_id.map(|o| SqlUuid(o.0))),
                        api_tokens::created_at.eq(SqlTimestamp(record.created_at)),
                        api_tokens::updated_at.eq(SqlTimestamp(record.created_at)),
                        api_tokens::revoked_at.eq(record.revoked_at.map(SqlTimestamp)),
                    ))
                    .execute(self)
                    .map(|_| ())
                    .map_err(storage)
            }

            fn find_token(
                &mut self,
                hash: &TokenHash,
            ) -> Result<Option<TokenRecord>, StorageError> {
                let row = api_tokens::table
                    .filter(api_tokens::token_hash.eq(hash.as_str()))
                    .select(TokenRow::as_select())
                    .first(self)
                    .optional()
                    .map_err(storage)?;
                match row {
                    Some(row) => Ok(Some(row.into_domain()?)),
                    None => Ok(None),
                }
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
                rows.into_iter()
                    .map(|row| row.into_domain().map_err(StorageError::from))
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
