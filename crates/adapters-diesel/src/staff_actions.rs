//! [`StaffActionStore`]: approve, reject or refund a payment.
//!
//! The order (invoice, payment, organization, each locked; the plan; the writes) is written
//! once in [`apply_uncommitted`]; the rules are [`plan_staff_action`]'s.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payments_domain::billing::{plan_staff_action, StaffAction, StaffActionError, StaffActionPlan};
use payments_domain::invoice::Invoice;
use payments_domain::payment::Payment;
use payments_domain::ports::{StaffActionOutcome, StaffActionStore, StaffActionStoreError};
use payments_domain::PaymentId;

use crate::balance_log::BalanceLogQueries;
use crate::pool::with_connection;
use crate::rows::micros;
use crate::schema::{invoices, payments};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use crate::tx::{for_both_backends, with_retries, Abort, Locking};
use crate::Database;

/// The queries of a staff action, for one connection type.
pub(crate) trait StaffActionQueries: Locking + BalanceLogQueries {
    /// The invoice of a payment (`Some(None)`: the payment has none; `None`: no payment),
    /// read without a lock: a payment's invoice never changes.
    fn invoice_of_payment(&mut self, id: SqlUuid) -> QueryResult<Option<Option<SqlUuid>>>;

    /// Stores the planned payment's status, notes and times.
    fn update_payment(&mut self, payment: &Payment) -> QueryResult<()>;

    /// Stores the planned invoice's status, `paid_at` and `updated_at`.
    fn update_invoice_payment(&mut self, invoice: &Invoice) -> QueryResult<()>;
}

for_both_backends! {
    impl StaffActionQueries {
        fn invoice_of_payment(&mut self, id: SqlUuid) -> QueryResult<Option<Option<SqlUuid>>> {
            payments::table
                .find(id)
                .select(payments::invoice_id)
                .first(self)
                .optional()
        }

        fn update_payment(&mut self, payment: &Payment) -> QueryResult<()> {
            diesel::update(payments::table.find(SqlUuid(payment.id.0)))
                .set((
                    payments::status.eq(payment.status.as_str()),
                    payments::failure_reason.eq(payment.failure_reason.as_deref()),
                    payments::admin_notes.eq(payment.admin_notes.as_deref()),
                    payments::updated_at.eq(SqlTimestamp(payment.updated_at)),
                    payments::processed_at.eq(payment.processed_at.map(SqlTimestamp)),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn update_invoice_payment(&mut self, invoice: &Invoice) -> QueryResult<()> {
            diesel::update(invoices::table.find(SqlUuid(invoice.id.0)))
                .set((
                    invoices::status.eq(invoice.status.as_str()),
                    invoices::paid_at.eq(invoice.paid_at.map(SqlTimestamp)),
                    invoices::updated_at.eq(SqlTimestamp(invoice.updated_at)),
                ))
                .execute(self)
                .map(|_| ())
        }
    }
}

/// The steps of [`StaffActionStore::apply_staff_action`], inside the caller's write
/// transaction.
pub(crate) fn apply_uncommitted<C: StaffActionQueries>(
    conn: &mut C,
    payment_id: PaymentId,
    action: &StaffAction,
    now: DateTime<Utc>,
) -> Result<StaffActionOutcome, Abort> {
    let now = micros(now);
    let id = SqlUuid(payment_id.0);
    let not_found = || Abort::StaffAction(StaffActionError::PaymentNotFound);

    // 1. Which invoice: its lock must come before the payment's.
    let invoice_id = conn.invoice_of_payment(id)?.ok_or_else(not_found)?;
    // 2-4. Invoice, payment, organization, locked in that order.
    let invoice = match invoice_id {
        Some(invoice_id) => Some(
            conn.lock_invoice(invoice_id)?
                .ok_or_else(|| Abort::Corrupt("payment's invoice is missing".into()))?
                .into_domain()?,
        ),
        None => None,
    };
    let payment = conn
        .lock_payment(id)?
        .ok_or_else(not_found)?
        .into_domain()?;
    let organization = conn
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
    let (updated, balance_change, paid_invoice) = match plan {
        StaffActionPlan::AlreadyDone => return Ok(StaffActionOutcome::AlreadyDone(payment)),
        StaffActionPlan::Apply {
            payment,
            balance_change,
            paid_invoice,
        } => (payment, balance_change, paid_invoice),
    };
    conn.update_payment(&updated)?;
    if let Some(change) = &balance_change {
        conn.apply_balance_change(organization.id, payment_id, change, SqlTimestamp(now))?;
    }
    if let Some(invoice) = &paid_invoice {
        conn.update_invoice_payment(invoice)?;
    }
    Ok(StaffActionOutcome::Applied(updated))
}

#[async_trait]
impl StaffActionStore for Database {
    async fn apply_staff_action(
        &self,
        payment_id: PaymentId,
        action: &StaffAction,
        now: DateTime<Utc>,
    ) -> Result<StaffActionOutcome, StaffActionStoreError> {
        let action = action.clone();
        with_connection!(write: self, |conn| {
            with_retries(conn, "apply staff action", |conn| {
                apply_uncommitted(conn, payment_id, &action, now)
            })
            .map_err(|abort| match abort {
                Abort::StaffAction(error) => StaffActionStoreError::Rule(error),
                Abort::Ledger(error) => {
                    StaffActionStoreError::Rule(StaffActionError::Ledger(error))
                }
                other => StaffActionStoreError::Storage(other.into_storage()),
            })
        })
    }
}
