//! [`LedgerAuditSource`]: what the ledger audit checks, one snapshot per organization.

use async_trait::async_trait;
use diesel::prelude::*;
use payments_domain::billing::{AuditedPayment, LedgerAuditInput};
use payments_domain::ports::LedgerAuditSource;
use payments_domain::{OrganizationId, PaymentId, PaymentStatus, StorageError};

use crate::balance_log::BalanceLogQueries;
use crate::pool::with_connection;
use crate::rows::OrganizationRow;
use crate::schema::{organizations, payments};
use crate::sql_types::SqlUuid;
use crate::tx::{for_both_backends, storage, Abort, Locking};
use crate::Database;

/// The queries of the audit, for one connection type.
pub(crate) trait AuditQueries: Locking + BalanceLogQueries {
    /// Every organization's id, oldest first.
    fn organization_ids(&mut self) -> QueryResult<Vec<SqlUuid>>;

    /// One organization.
    fn organization_row(&mut self, id: SqlUuid) -> QueryResult<OrganizationRow>;

    /// The amounts of an organization's payments in one of `statuses`, in minor units.
    fn payment_amounts(&mut self, id: SqlUuid, statuses: &[PaymentStatus])
        -> QueryResult<Vec<i64>>;

    /// Every payment of an organization: id, amount in minor units, status.
    fn payment_facts(&mut self, id: SqlUuid) -> QueryResult<Vec<(SqlUuid, i64, String)>>;
}

for_both_backends! {
    impl AuditQueries {
        fn organization_ids(&mut self) -> QueryResult<Vec<SqlUuid>> {
            organizations::table
                .order((organizations::created_at.asc(), organizations::id.asc()))
                .select(organizations::id)
                .load(self)
        }

        fn organization_row(&mut self, id: SqlUuid) -> QueryResult<OrganizationRow> {
            organizations::table
                .find(id)
                .select(OrganizationRow::as_select())
                .first(self)
        }

        fn payment_amounts(
            &mut self,
            id: SqlUuid,
            statuses: &[PaymentStatus],
        ) -> QueryResult<Vec<i64>> {
            let names: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
            payments::table
                .filter(payments::organization_id.eq(id))
                .filter(payments::status.eq_any(names))
                .select(payments::amount_minor)
                .load(self)
        }

        fn payment_facts(&mut self, id: SqlUuid) -> QueryResult<Vec<(SqlUuid, i64, String)>> {
            payments::table
                .filter(payments::organization_id.eq(id))
                .select((payments::id, payments::amount_minor, payments::status))
                .load(self)
        }
    }
}

/// One organization's audit numbers; the caller provides the snapshot.
fn audit_input<C: AuditQueries>(conn: &mut C, id: SqlUuid) -> Result<LedgerAuditInput, Abort> {
    let organization = conn.organization_row(id)?;
    let log = conn
        .balance_log(OrganizationId(id.0))
        .map_err(Abort::Storage)?;
    // Which statuses count is the domain's rule. Summed here rather than with SUM():
    // PostgreSQL's SUM(bigint) is numeric.
    let amounts = conn.payment_amounts(id, &PaymentStatus::COUNTED_IN_BALANCE)?;
    let succeeded_minor_units = amounts
        .into_iter()
        .try_fold(0_i64, i64::checked_add)
        .ok_or_else(|| Abort::Corrupt("succeeded payments overflow i64".into()))?;
    // Each payment, for the domain to tie the log entries to.
    let payments = conn
        .payment_facts(id)?
        .into_iter()
        .map(|(payment_id, amount_minor_units, status)| {
            let status = status.parse().map_err(|_| {
                Abort::Corrupt(format!(
                    "payments row {}: unknown status {status:?}",
                    payment_id.0
                ))
            })?;
            Ok(AuditedPayment {
                id: PaymentId(payment_id.0),
                amount_minor_units,
                status,
            })
        })
        .collect::<Result<_, Abort>>()?;
    Ok(LedgerAuditInput {
        organization_id: OrganizationId(id.0),
        balance: organization.balance()?,
        inn: organization.inn,
        log,
        succeeded_minor_units,
        payments,
    })
}

/// Every organization's audit numbers.
fn audit_inputs<C: AuditQueries>(conn: &mut C) -> Result<Vec<LedgerAuditInput>, StorageError> {
    let ids = conn.organization_ids().map_err(storage)?;
    // One snapshot per organization: consistent where it matters (balance, log and payments
    // of one organization) without one long transaction over all.
    ids.into_iter()
        .map(|id| {
            conn.read_snapshot(|conn| audit_input(conn, id))
                .map_err(Abort::into_storage)
        })
        .collect()
}

#[async_trait]
impl LedgerAuditSource for Database {
    async fn ledger_audit_inputs(&self) -> Result<Vec<LedgerAuditInput>, StorageError> {
        with_connection!(self, |conn| audit_inputs(conn))
    }
}
