//! [`BankPaymentStore`]: the bank webhook's payment, recorded once per operation id.
//!
//! The order (organization, its lock, the plan, the insert under the unique key, the
//! balance) is written once in [`record_uncommitted`], for both backends; only the queries
//! it calls are per connection type.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payments_domain::bank::{plan_bank_payment, BankPaymentPlan, RecordedBankPayment};
use payments_domain::payment::Payment;
use payments_domain::ports::{BankPaymentStore, RecordError, RecordOutcome};
use payments_domain::{BankPayment, OperationId, Organization, OrganizationId};

use crate::balance_log::BalanceLogQueries;
use crate::group_commit::Backend;
use crate::pool::with_connection;
use crate::rows::{NewOrganization, NewPayment, StoredBankPayment};
use crate::schema::{organizations, payments};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use crate::tx::{for_both_backends, with_retries, Abort, Locking};
use crate::Database;

/// The queries of a bank payment, for one connection type.
pub(crate) trait BankQueries: Locking + BalanceLogQueries {
    /// Inserts `organization` unless one with its INN exists. A concurrent creator makes
    /// this a no-op (PostgreSQL waits for it to commit or roll back first).
    fn insert_organization_if_new(&mut self, organization: &Organization) -> QueryResult<()>;

    /// Inserts `payment` unless its operation id is taken; `false` when it was. The unique
    /// key, not any earlier read, decides which of concurrent deliveries is first.
    fn insert_bank_payment(&mut self, payment: &Payment) -> QueryResult<bool>;

    /// The payment stored under `operation_id`, with its organization's INN.
    fn find_bank_payment(
        &mut self,
        operation_id: OperationId,
    ) -> Result<Option<RecordedBankPayment>, Abort>;
}

for_both_backends! {
    impl BankQueries {
        fn insert_organization_if_new(&mut self, organization: &Organization) -> QueryResult<()> {
            diesel::insert_into(organizations::table)
                .values(&NewOrganization::of(organization))
                .on_conflict(organizations::inn)
                .do_nothing()
                .execute(self)
                .map(|_| ())
        }

        fn insert_bank_payment(&mut self, payment: &Payment) -> QueryResult<bool> {
            let inserted = diesel::insert_into(payments::table)
                .values(&NewPayment::of(payment))
                .on_conflict(payments::operation_id)
                .do_nothing()
                .returning(payments::id)
                .get_result::<SqlUuid>(self)
                .optional()?;
            Ok(inserted.is_some())
        }

        fn find_bank_payment(
            &mut self,
            operation_id: OperationId,
        ) -> Result<Option<RecordedBankPayment>, Abort> {
            let row = payments::table
                .inner_join(organizations::table)
                .filter(payments::operation_id.eq(SqlUuid(operation_id.0)))
                .select(StoredBankPayment::as_select())
                .first::<StoredBankPayment>(self)
                .optional()?;
            Ok(row.map(|row| row.into_domain(operation_id)).transpose()?)
        }
    }
}

/// Records one bank payment WITHOUT owning the transaction: the caller runs it inside a write
/// transaction ([`Locking::write_transaction`]) and rolls back on every `Err`, including
/// [`Abort::AlreadyRecorded`], so that a refused or duplicate payment writes nothing (not
/// even the organization). A group-commit layer can wrap several calls in one transaction,
/// each in a savepoint.
pub(crate) fn record_uncommitted<C: BankQueries>(
    conn: &mut C,
    payment: &BankPayment,
    now: DateTime<Utc>,
) -> Result<RecordOutcome, Abort> {
    // 1. The organization, on first sight of the INN.
    let fresh = Organization::first_seen_in_bank_payment(payment.payer_inn.clone(), now);
    conn.insert_organization_if_new(&fresh)?;
    // 2. Its balance, locked for the rest of the transaction.
    let organization = conn.lock_organization(payment.payer_inn.as_str())?;
    let organization_id = OrganizationId(organization.id.0);
    let balance = organization.balance()?;
    // 3. The plan, from what the caller found under the operation id: nothing.
    let plan =
        plan_bank_payment(payment, None, organization_id, balance, now).map_err(Abort::Ledger)?;
    let (stored, change) = match plan {
        BankPaymentPlan::Credit { payment, change } => (payment, change),
        BankPaymentPlan::AlreadyRecorded { recorded, .. } => {
            return Err(Abort::AlreadyRecorded(recorded))
        }
    };
    // 4. The insert, under the unique key. Losing to it means another delivery won: plan
    //    again with the winner, which can only say "already recorded".
    if !conn.insert_bank_payment(&stored)? {
        let recorded = conn
            .find_bank_payment(payment.operation_id)?
            .ok_or_else(|| {
                Abort::Corrupt("operation_id conflicted but no payment has it".into())
            })?;
        return match plan_bank_payment(payment, Some(&recorded), organization_id, balance, now) {
            Ok(BankPaymentPlan::AlreadyRecorded { recorded, .. }) => {
                Err(Abort::AlreadyRecorded(recorded))
            }
            other => Err(Abort::Corrupt(format!(
                "a taken operation_id planned as {other:?}"
            ))),
        };
    }
    // 5. The balance change, exactly as planned; the row lock makes it race-free.
    conn.apply_balance_change(organization.id, stored.id, &change, SqlTimestamp(now))?;
    Ok(RecordOutcome::Recorded {
        payment_id: stored.id,
        organization_id: stored.organization_id,
        change,
    })
}

/// Records one bank payment in its own write transaction, retrying transient conflicts.
pub(crate) fn record<C: BankQueries>(
    conn: &mut C,
    payment: &BankPayment,
    now: DateTime<Utc>,
) -> Result<RecordOutcome, RecordError> {
    // Fast path for retries of an old delivery: no write lock taken. Correctness does not
    // depend on it; the unique key inside the transaction decides races.
    match conn.find_bank_payment(payment.operation_id) {
        Ok(Some(recorded)) => return Ok(already_recorded(recorded)),
        Ok(None) => {}
        Err(abort) => return Err(record_error(abort)),
    }
    let result = with_retries(conn, "record bank payment", |conn| {
        record_uncommitted(conn, payment, now)
    });
    match result {
        Ok(outcome) => Ok(outcome),
        Err(Abort::AlreadyRecorded(recorded)) => Ok(already_recorded(recorded)),
        Err(abort) => Err(record_error(abort)),
    }
}

/// The port's answer for a taken operation id; the use case applies the dedup rule.
fn already_recorded(recorded: RecordedBankPayment) -> RecordOutcome {
    RecordOutcome::AlreadyRecorded {
        payment_id: recorded.payment_id,
        existing: recorded.payment,
    }
}

fn record_error(abort: Abort) -> RecordError {
    match abort {
        Abort::Ledger(error) => RecordError::Ledger(error),
        other => RecordError::Storage(other.into_storage()),
    }
}

#[async_trait]
impl BankPaymentStore for Database {
    async fn record_bank_payment(
        &self,
        payment: &BankPayment,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        if let Some(group_commit) = &self.group_commit {
            let backend = Backend {
                pools: self.pools.clone(),
                waits: self.waits.clone(),
                sqlite_writer: self.sqlite_writer.clone(),
            };
            return group_commit.record(&backend, payment, now).await;
        }
        let payment = payment.clone();
        with_connection!(write: self, |conn| record(conn, &payment, now))
    }
}
