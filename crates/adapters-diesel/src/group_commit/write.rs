//! One batch, one transaction: the statements of the group commit, for both backends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{PgConnection, SqliteConnection};
use payments_domain::bank_batch::{inns_to_lock, plan_batch, BatchPlan, LockedBalance};
use payments_domain::ports::{RecordError, RecordOutcome};
use payments_domain::{BankPayment, Organization, StorageError};
use uuid::Uuid;

use super::prepared::CachedSql;
use crate::bank::{record, BankQueries};
use crate::rows::{NewLogEntry, NewOrganization, NewPayment, OrganizationRow, StoredBankPayment};
use crate::schema::{balance_log, organizations, payments};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use crate::tx::{is_transient, storage};

/// Attempts of one batch before its items are written one by one.
const MAX_BATCH_ATTEMPTS: u32 = 4;

/// Writes `payments` in one transaction, planned again when a concurrent writer got in the
/// way; falls back to one transaction per payment when a statement fails.
pub(super) fn write_batch<C: BatchConnection>(
    conn: &mut C,
    payments: &[BankPayment],
    now: DateTime<Utc>,
) -> Vec<Result<RecordOutcome, RecordError>> {
    let mut attempt = 1;
    // On PostgreSQL most batches pay organizations that exist already: lock them first and
    // insert only when one is missing (then the attempt rolls back and starts over with the
    // inserts, so that rows are still locked in one order).
    let mut insert_organizations = C::INSERT_ORGANIZATIONS_FIRST;
    loop {
        match conn.write_batch_once(payments, now, insert_organizations) {
            Ok(answers) => return answers,
            Err(BatchAbort::NewOrganizations) if !insert_organizations => {
                insert_organizations = true;
            }
            Err(BatchAbort::Retry(reason)) if attempt < MAX_BATCH_ATTEMPTS => {
                tracing::debug!(attempt, %reason, "bank payment batch planned again");
                std::thread::sleep(Duration::from_millis(u64::from(attempt)));
                attempt += 1;
            }
            Err(BatchAbort::NewOrganizations) => {
                // Cannot happen after the inserts; treated as any refused statement.
                let reason = "organizations missing after their insert".to_string();
                tracing::warn!(%reason, items = payments.len(), "bank payment batch failed; writing its items one by one");
                return payments.iter().map(|p| record(conn, p, now)).collect();
            }
            Err(BatchAbort::Retry(reason)) | Err(BatchAbort::Statement(reason)) => {
                // Nothing of the batch was written: each payment gets its own transaction, so
                // a bad one fails alone.
                tracing::warn!(%reason, items = payments.len(), "bank payment batch failed; writing its items one by one");
                return payments.iter().map(|p| record(conn, p, now)).collect();
            }
            Err(BatchAbort::Unknown(error)) => {
                return vec![Err(RecordError::Storage(error)); payments.len()]
            }
        }
    }
}

/// Why one attempt at a batch stopped. Every variant rolled the transaction back, except that
/// `Unknown` may also mean the commit's fate is unknown.
#[derive(Debug)]
pub(super) enum BatchAbort {
    /// A concurrent writer or a transient conflict: plan again.
    Retry(String),
    /// A statement was refused; nothing was written.
    Statement(String),
    /// Storage is failing, or the outcome is unknown: answer 503 to everyone (a retry of a
    /// webhook is safe).
    Unknown(StorageError),
    /// An organization of the batch does not exist yet: start over, inserting first.
    NewOrganizations,
}

impl From<DieselError> for BatchAbort {
    fn from(error: DieselError) -> Self {
        if is_transient(&error) {
            return Self::Retry(error.to_string());
        }
        match &error {
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                Self::Unknown(storage(error))
            }
            // A statement timeout would only repeat for each item; answer 503 at once.
            DieselError::DatabaseError(_, info)
                if info.message().contains("canceling statement") =>
            {
                Self::Unknown(storage(error))
            }
            DieselError::DatabaseError(_, _) => Self::Statement(error.to_string()),
            _ => Self::Unknown(storage(error)),
        }
    }
}

/// The statements of a batch, per backend. PostgreSQL writes the plan in one statement of
/// data-modifying CTEs. SQLite gets one statement per row: diesel writes SQLite batches with
/// optional columns or `ON CONFLICT` row by row anyway, and in-process statements cost little
/// next to the commit, which stays one per batch.
pub(super) trait BatchStatements {
    /// Inserts the organizations whose INN is not taken yet, in the order given.
    fn insert_organizations(&mut self, rows: Vec<NewOrganization<'_>>) -> QueryResult<()>;
    /// Locks the balance rows of the organizations with these INNs, in organization-id order,
    /// and reads the payments stored under these operation ids, each with its organization's
    /// INN.
    fn lock_and_find(
        &mut self,
        inns: &[&str],
        operation_ids: &[SqlUuid],
    ) -> QueryResult<(Vec<OrganizationRow>, Vec<StoredRow>)>;
    /// The plan's writes (`payments` is never empty): inserts the payments whose
    /// operation_id is not taken yet and, only if that was all of them, stores the new
    /// balances (organization id, balance in minor units) and inserts the log rows in the
    /// order given. Returns how many payments it inserted; fewer than given means nothing else
    /// was written and the caller must roll back.
    fn write_plan(
        &mut self,
        payments: Vec<NewPayment<'_>>,
        balances: &[(Uuid, i64)],
        log: Vec<NewLogEntry>,
        stamp: SqlTimestamp,
    ) -> QueryResult<usize>;
}

/// One field of every row, as the array PostgreSQL unnests.
fn column<R, T>(rows: &[R], field: impl Fn(&R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}

/// The plan's writes in one statement (see [`BatchStatements::write_plan`]).
const WRITE_PLAN_SQL: &str = "WITH p AS (\
       INSERT INTO payments (id, organization_id, invoice_id, amount_minor, currency, \
         payment_method, status, transaction_reference, notes, failure_reason, \
         admin_notes, operation_id, document_number, document_date, created_at, \
         updated_at, processed_at) \
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], \
         $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
         $11::text[], $12::uuid[], $13::text[], $14::timestamptz[], \
         $15::timestamptz[], $16::timestamptz[], $17::timestamptz[]) \
       ON CONFLICT (operation_id) DO NOTHING RETURNING 1), \
     n AS (SELECT count(*) AS inserted, count(*) = $18 AS complete FROM p), \
     b AS (\
       UPDATE organizations AS o SET balance_minor = v.balance, updated_at = $19 \
       FROM unnest($20::uuid[], $21::bigint[]) AS v(id, balance), n \
       WHERE o.id = v.id AND n.complete), \
     l AS (\
       INSERT INTO balance_log (id, organization_id, payment_id, \
         previous_balance_minor, new_balance_minor, delta_minor, created_at) \
       SELECT v.id, v.organization_id, v.payment_id, v.previous, v.new, v.delta, \
         v.created_at \
       FROM unnest($22::uuid[], $23::uuid[], $24::uuid[], $25::bigint[], \
         $26::bigint[], $27::bigint[], $28::timestamptz[]) WITH ORDINALITY \
         AS v(id, organization_id, payment_id, previous, new, delta, created_at, k), n \
       WHERE n.complete ORDER BY v.k) \
     SELECT inserted FROM n";

/// The lock and the look-up in one statement (see [`BatchStatements::lock_and_find`]).
const LOCK_AND_FIND_SQL: &str = "WITH locked AS MATERIALIZED (\
       SELECT id, inn, name, country, currency, balance_minor, created_at, updated_at \
       FROM organizations WHERE inn = ANY($1) ORDER BY id FOR NO KEY UPDATE) \
     SELECT false AS is_payment, id, inn, currency, balance_minor AS amount_minor, \
       name, country, created_at, updated_at, NULL::uuid AS operation_id, \
       NULL::text AS document_number, NULL::timestamptz AS document_date \
     FROM locked \
     UNION ALL \
     SELECT true, p.id, o.inn, p.currency, p.amount_minor, NULL, NULL, NULL, NULL, \
       p.operation_id, p.document_number, p.document_date \
     FROM payments AS p JOIN organizations AS o ON o.id = p.organization_id \
     WHERE p.operation_id = ANY($2)";

impl BatchStatements for PgConnection {
    /// One statement, one round trip (three before): the rows go as arrays. The balances and
    /// the log are written only when every payment was inserted (`expected`); otherwise a
    /// concurrent writer took an operation id and the caller rolls back and plans again.
    fn write_plan(
        &mut self,
        payments: Vec<NewPayment<'_>>,
        balances: &[(Uuid, i64)],
        log: Vec<NewLogEntry>,
        stamp: SqlTimestamp,
    ) -> QueryResult<usize> {
        use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as U};
        #[derive(QueryableByName)]
        struct Inserted {
            #[diesel(sql_type = BigInt)]
            inserted: i64,
        }
        let expected = payments.len() as i64;
        let uuid = |id: SqlUuid| id.0;
        let time = |t: SqlTimestamp| t.0;
        let row = CachedSql::new(WRITE_PLAN_SQL)
            .bind::<Array<U>, _>(column(&payments, |p| uuid(p.id)))
            .bind::<Array<U>, _>(column(&payments, |p| uuid(p.organization_id)))
            .bind::<Array<Nullable<U>>, _>(column(&payments, |p| p.invoice_id.map(uuid)))
            .bind::<Array<BigInt>, _>(column(&payments, |p| p.amount_minor))
            .bind::<Array<Text>, _>(column(&payments, |p| p.currency))
            .bind::<Array<Text>, _>(column(&payments, |p| p.payment_method))
            .bind::<Array<Text>, _>(column(&payments, |p| p.status))
            .bind::<Array<Nullable<Text>>, _>(column(&payments, |p| p.transaction_reference))
            .bind::<Array<Nullable<Text>>, _>(column(&payments, |p| p.notes))
            .bind::<Array<Nullable<Text>>, _>(column(&payments, |p| p.failure_reason))
            .bind::<Array<Nullable<Text>>, _>(column(&payments, |p| p.admin_notes))
            .bind::<Array<Nullable<U>>, _>(column(&payments, |p| p.operation_id.map(uuid)))
            .bind::<Array<Nullable<Text>>, _>(column(&payments, |p| p.document_number))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(&payments, |p| {
                p.document_date.map(time)
            }))
            .bind::<Array<Timestamptz>, _>(column(&payments, |p| time(p.created_at)))
            .bind::<Array<Timestamptz>, _>(column(&payments, |p| time(p.updated_at)))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(&payments, |p| {
                p.processed_at.map(time)
            }))
            .bind::<BigInt, _>(expected)
            .bind::<Timestamptz, _>(stamp.0)
            .bind::<Array<U>, _>(column(balances, |b| b.0))
            .bind::<Array<BigInt>, _>(column(balances, |b| b.1))
            .bind::<Array<U>, _>(column(&log, |e| uuid(e.id)))
            .bind::<Array<U>, _>(column(&log, |e| uuid(e.organization_id)))
            .bind::<Array<U>, _>(column(&log, |e| uuid(e.payment_id)))
            .bind::<Array<BigInt>, _>(column(&log, |e| e.previous_balance_minor))
            .bind::<Array<BigInt>, _>(column(&log, |e| e.new_balance_minor))
            .bind::<Array<BigInt>, _>(column(&log, |e| e.delta_minor))
            .bind::<Array<Timestamptz>, _>(column(&log, |e| time(e.created_at)))
            .get_result::<Inserted>(self)?;
        // `inserted` never exceeds the rows given.
        Ok(usize::try_from(row.inserted).unwrap_or(0))
    }

    fn insert_organizations(&mut self, rows: Vec<NewOrganization<'_>>) -> QueryResult<()> {
        diesel::insert_into(organizations::table)
            .values(rows)
            .on_conflict(organizations::inn)
            .do_nothing()
            .execute(self)
            .map(drop)
    }

    /// One statement, one round trip (two before): the lock first, then the look-up. Both
    /// read the statement's snapshot, so a payment committed by a transaction this one waited
    /// for is not seen; the plan then credits it again, its insert finds the key taken and the
    /// batch is planned again (see `write_plan`). Prepared once per connection, with the
    /// generic plan [`BATCH_SETTINGS`] makes safe.
    fn lock_and_find(
        &mut self,
        inns: &[&str],
        operation_ids: &[SqlUuid],
    ) -> QueryResult<(Vec<OrganizationRow>, Vec<StoredRow>)> {
        use diesel::sql_types::{Array, Text, Uuid as U};
        let ids: Vec<Uuid> = operation_ids.iter().map(|id| id.0).collect();
        let rows: Vec<LockedOrStored> = CachedSql::new(LOCK_AND_FIND_SQL)
            .bind::<Array<Text>, _>(inns)
            .bind::<Array<U>, _>(ids)
            .load(self)?;
        let (mut locked, mut stored) = (Vec::new(), Vec::new());
        for row in rows {
            if row.is_payment {
                stored.push(row.into_stored());
            } else {
                locked.push(row.into_organization()?);
            }
        }
        Ok((locked, stored))
    }
}

/// A row of [`BatchStatements::lock_and_find`] on PostgreSQL: a locked organization or a stored
/// payment (`is_payment`), the columns the other kind lacks NULL.
#[derive(QueryableByName)]
struct LockedOrStored {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    is_payment: bool,
    /// The organization's id, or the payment's.
    #[diesel(sql_type = crate::sql_types::DbUuid)]
    id: SqlUuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    inn: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    currency: String,
    /// The organization's balance, or the payment's amount.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    amount_minor: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    name: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    country: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<crate::sql_types::DbTimestamp>)]
    created_at: Option<SqlTimestamp>,
    #[diesel(sql_type = diesel::sql_types::Nullable<crate::sql_types::DbTimestamp>)]
    updated_at: Option<SqlTimestamp>,
    #[diesel(sql_type = diesel::sql_types::Nullable<crate::sql_types::DbUuid>)]
    operation_id: Option<SqlUuid>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    document_number: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<crate::sql_types::DbTimestamp>)]
    document_date: Option<SqlTimestamp>,
}

impl LockedOrStored {
    fn into_stored(self) -> StoredRow {
        let payment = StoredBankPayment {
            id: self.id,
            amount_minor: self.amount_minor,
            currency: self.currency,
            inn: self.inn,
            document_number: self.document_number,
            document_date: self.document_date,
        };
        (self.operation_id, payment)
    }

    /// The organization; its columns are NOT NULL in the table, so a NULL here is a
    /// deserialization error like any other row that does not fit.
    fn into_organization(self) -> QueryResult<OrganizationRow> {
        let missing = |column: &str| {
            DieselError::DeserializationError(
                format!("locked organization without {column}").into(),
            )
        };
        Ok(OrganizationRow {
            id: self.id,
            inn: self.inn,
            name: self.name.ok_or_else(|| missing("name"))?,
            country: self.country.ok_or_else(|| missing("country"))?,
            currency: self.currency,
            balance_minor: self.amount_minor,
            created_at: self.created_at.ok_or_else(|| missing("created_at"))?,
            updated_at: self.updated_at.ok_or_else(|| missing("updated_at"))?,
        })
    }
}

impl BatchStatements for SqliteConnection {
    fn insert_organizations(&mut self, rows: Vec<NewOrganization<'_>>) -> QueryResult<()> {
        for row in rows {
            diesel::insert_into(organizations::table)
                .values(row)
                .on_conflict(organizations::inn)
                .do_nothing()
                .execute(self)?;
        }
        Ok(())
    }

    fn write_plan(
        &mut self,
        payments: Vec<NewPayment<'_>>,
        balances: &[(Uuid, i64)],
        log: Vec<NewLogEntry>,
        stamp: SqlTimestamp,
    ) -> QueryResult<usize> {
        let expected = payments.len();
        let mut inserted = 0;
        for row in payments {
            inserted += diesel::insert_into(payments::table)
                .values(row)
                .on_conflict(payments::operation_id)
                .do_nothing()
                .execute(self)?;
        }
        if inserted != expected {
            return Ok(inserted);
        }
        for &(id, balance) in balances {
            diesel::update(organizations::table.find(SqlUuid(id)))
                .set((
                    organizations::balance_minor.eq(balance),
                    organizations::updated_at.eq(stamp),
                ))
                .execute(self)?;
        }
        diesel::insert_into(balance_log::table)
            .values(log)
            .execute(self)?;
        Ok(inserted)
    }

    /// SQLite's `BEGIN IMMEDIATE` already excludes every other writer: the read is the lock.
    fn lock_and_find(
        &mut self,
        inns: &[&str],
        operation_ids: &[SqlUuid],
    ) -> QueryResult<(Vec<OrganizationRow>, Vec<StoredRow>)> {
        let locked = organizations::table
            .filter(organizations::inn.eq_any(inns))
            .order(organizations::id)
            .select(OrganizationRow::as_select())
            .load(self)?;
        let stored = payments::table
            .inner_join(organizations::table)
            .filter(payments::operation_id.eq_any(operation_ids))
            .select((payments::operation_id, StoredBankPayment::as_select()))
            .load(self)?;
        Ok((locked, stored))
    }
}

/// The batch statements of one backend.
pub(super) trait BatchConnection: BankQueries + BatchStatements {
    /// Whether a batch inserts its organizations before locking them on its first attempt.
    /// PostgreSQL skips the insert (a round trip and index probes per row) until an
    /// organization is missing; on SQLite the insert costs no round trip, and a batch of new
    /// organizations is not worth a second transaction.
    const INSERT_ORGANIZATIONS_FIRST: bool;

    fn write_batch_once(
        &mut self,
        payments: &[BankPayment],
        now: DateTime<Utc>,
        insert_organizations: bool,
    ) -> Result<Vec<Result<RecordOutcome, RecordError>>, BatchAbort>;
}

/// The batch's two statements are kept prepared ([`CachedSql`]) and run with one generic plan
/// each: PostgreSQL would otherwise plan them again on every call (their custom plans look
/// cheaper, knowing the arrays' lengths), 0.25 ms each. Sequential scans are off for the
/// transaction so that a generic plan made while a table is still small (the first minute of
/// a new database, before it is analyzed) still uses the indexes it needs once the table has
/// grown: every row these statements touch is reached by a unique index.
const BATCH_SETTINGS: &str =
    "SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off";

/// A stored bank payment under its operation id.
type StoredRow = (Option<SqlUuid>, StoredBankPayment);

/// What the plan changes, as rows.
fn log_rows(plan: &BatchPlan, stamp: SqlTimestamp) -> Vec<NewLogEntry> {
    plan.log
        .iter()
        .map(|entry| NewLogEntry {
            // Time-ordered, like payment ids: appended to the end of the id index.
            id: SqlUuid(Uuid::now_v7()),
            organization_id: SqlUuid(entry.organization_id.0),
            payment_id: SqlUuid(entry.payment_id.0),
            previous_balance_minor: entry.change.previous.to_minor_units(),
            new_balance_minor: entry.change.new.to_minor_units(),
            delta_minor: entry.change.delta_minor_units(),
            created_at: stamp,
        })
        .collect()
}

/// A stored row that does not convert (or a plan the rows cannot satisfy): it concerns some
/// items only, so the batch is written one by one and only those fail.
fn bad_row(what: impl std::fmt::Debug) -> BatchAbort {
    BatchAbort::Statement(format!("{what:?}"))
}

macro_rules! impl_batch_connection {
    ($conn:ty, insert_first: $insert_first:expr, transaction: |$tconn:ident, $tbody:ident| $transaction:expr $(,)?) => {
        impl BatchConnection for $conn {
            const INSERT_ORGANIZATIONS_FIRST: bool = $insert_first;

            fn write_batch_once(
                &mut self,
                payments: &[BankPayment],
                now: DateTime<Utc>,
                insert_organizations: bool,
            ) -> Result<Vec<Result<RecordOutcome, RecordError>>, BatchAbort> {
                let stamp = SqlTimestamp(now);
                let body = |conn: &mut $conn| -> Result<_, BatchAbort> {
                    // 1. Organizations on first sight, in INN order (when asked: see
                    //    `write_batch`).
                    let inns = inns_to_lock(payments);
                    let fresh: Vec<Organization> = if insert_organizations {
                        inns.iter()
                            .map(|inn| Organization::first_seen_in_bank_payment(inn.clone(), now))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    if !fresh.is_empty() {
                        conn.insert_organizations(fresh.iter().map(NewOrganization::of).collect())?;
                    }

                    // 2. Their balance rows, locked in id order, and 3. what is stored under
                    //    the batch's operation ids.
                    let inn_texts: Vec<&str> = inns.iter().map(|i| i.as_str()).collect();
                    let ids: Vec<SqlUuid> =
                        payments.iter().map(|p| SqlUuid(p.operation_id.0)).collect();
                    let (rows, stored) = conn.lock_and_find(&inn_texts, &ids)?;
                    if !insert_organizations && rows.len() < inns.len() {
                        return Err(BatchAbort::NewOrganizations);
                    }
                    let mut locked = Vec::with_capacity(rows.len());
                    for row in rows {
                        let organization = row.into_domain().map_err(bad_row)?;
                        locked.push(LockedBalance {
                            organization_id: organization.id,
                            balance: organization.balance(),
                            inn: organization.inn,
                        });
                    }
                    let mut recorded = Vec::with_capacity(stored.len());
                    for (operation_id, row) in stored {
                        let operation_id = payments_domain::OperationId(
                            operation_id
                                .ok_or_else(|| bad_row("bank payment without operation_id"))?
                                .0,
                        );
                        recorded.push(row.into_domain(operation_id).map_err(bad_row)?);
                    }

                    // 4. The domain's plan.
                    let plan = plan_batch(payments, &recorded, &locked, now).map_err(bad_row)?;

                    // 5. Exactly the plan.
                    // An organization is ours when it carries the id we generated for it.
                    let unused: Vec<SqlUuid> = fresh
                        .iter()
                        .filter(|o| locked.iter().any(|l| l.organization_id == o.id))
                        .filter(|o| !plan.credits(o.id))
                        .map(|o| SqlUuid(o.id.0))
                        .collect();
                    if !unused.is_empty() {
                        diesel::delete(
                            organizations::table.filter(organizations::id.eq_any(&unused)),
                        )
                        .execute(conn)?;
                    }
                    let mut new_payments: Vec<_> = plan.new_payments().collect();
                    // In operation-id order, so concurrent batches wait on each other's keys
                    // in one order.
                    new_payments.sort_by_key(|p| p.bank.as_ref().map(|b| b.operation_id));
                    // Nothing new (every item a duplicate, conflict or refusal): the plan
                    // credits nothing, so no balance or log row either.
                    if !new_payments.is_empty() {
                        let balances: Vec<(Uuid, i64)> = plan
                            .balances
                            .iter()
                            .map(|b| (b.organization_id.0, b.new.to_minor_units()))
                            .collect();
                        let inserted = conn.write_plan(
                            new_payments.iter().map(|p| NewPayment::of(p)).collect(),
                            &balances,
                            log_rows(&plan, stamp),
                            stamp,
                        )?;
                        if inserted != new_payments.len() {
                            return Err(BatchAbort::Retry(
                                "a concurrent writer recorded one of the operation ids".into(),
                            ));
                        }
                    }
                    Ok(plan.items.iter().map(|item| item.outcome()).collect())
                };
                let ($tconn, $tbody) = (self, body);
                $transaction
            }
        }
    };
}

impl_batch_connection!(
    PgConnection,
    insert_first: false,
    // Bounded by the earliest request deadline of the batch (see `crate::deadline`): the
    // server cancels statements and lock waits when it runs out, and a batch whose body ends
    // late rolls back instead of committing (its callers get 503, which is then true).
    transaction: |conn, body| crate::deadline::pg_transaction(conn, BATCH_SETTINGS, |conn| {
        let done = body(conn)?;
        crate::deadline::check().map_err(BatchAbort::Unknown)?;
        Ok(done)
    }),
);

impl_batch_connection!(
    SqliteConnection,
    insert_first: true,
    transaction: |conn, body| conn.immediate_transaction(|conn| {
        let done = body(conn)?;
        crate::deadline::check().map_err(BatchAbort::Unknown)?;
        Ok(done)
    }),
);

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use super::super::prepared::pieces;
    use super::{BATCH_SETTINGS, LOCK_AND_FIND_SQL, WRITE_PLAN_SQL};
    use crate::test_support::fresh_postgres;

    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }

    fn generic_plan(conn: &mut PgConnection, name: &str, sql: &str) -> String {
        let parameters = pieces(sql).expect("numbered placeholders").len() - 1;
        let nulls = vec!["NULL"; parameters].join(", ");
        let lines = diesel::sql_query(format!("EXPLAIN EXECUTE {name}({nulls})"))
            .load::<PlanLine>(conn)
            .unwrap_or_else(|e| panic!("explaining {name}: {e}"));
        lines
            .into_iter()
            .map(|l| l.line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A new database is the case where a sequential scan looks cheapest, and the plan made
    /// then is kept until the tables are analyzed: it must still reach every row by index.
    #[test]
    fn the_batch_statements_have_generic_plans_that_use_indexes_on_a_new_database() {
        let Some(db) = fresh_postgres() else { return };
        let mut conn = PgConnection::establish(db.url()).expect("connect");
        conn.batch_execute(&format!(
            "BEGIN; {BATCH_SETTINGS}; \
             PREPARE lock_and_find AS {LOCK_AND_FIND_SQL}; PREPARE write_plan AS {WRITE_PLAN_SQL}"
        ))
        .expect("prepare the batch statements");
        for (name, sql) in [
            ("lock_and_find", LOCK_AND_FIND_SQL),
            ("write_plan", WRITE_PLAN_SQL),
        ] {
            let plan = generic_plan(&mut conn, name, sql);
            if name == "lock_and_find" {
                // A custom plan would show the NULLs given, not the parameter.
                assert!(plan.contains("$1"), "{name} is not a generic plan:\n{plan}");
            }
            assert!(!plan.contains("Seq Scan"), "{name} scans a table:\n{plan}");
            assert!(plan.contains("Index"), "{name} uses no index:\n{plan}");
        }
        conn.batch_execute("ROLLBACK").expect("rollback");
    }
}
