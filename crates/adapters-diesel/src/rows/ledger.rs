//! `balance_log`.

use super::{money, Corrupt};
use crate::schema::balance_log;
use crate::sql_types::{SqlTimestamp, SqlUuid};
use diesel::prelude::*;
use payments_domain::ledger::BalanceLogEntry;
use payments_domain::{OrganizationId, PaymentId};

#[derive(Insertable)]
#[diesel(table_name = balance_log)]
pub(crate) struct NewLogEntry {
    pub(crate) id: SqlUuid,
    pub(crate) organization_id: SqlUuid,
    pub(crate) payment_id: SqlUuid,
    pub(crate) previous_balance_minor: i64,
    pub(crate) new_balance_minor: i64,
    pub(crate) delta_minor: i64,
    pub(crate) created_at: SqlTimestamp,
}

#[derive(Debug, Queryable)]
pub(crate) struct LogRow {
    pub(crate) id: SqlUuid,
    pub(crate) organization_id: SqlUuid,
    pub(crate) payment_id: SqlUuid,
    pub(crate) previous_balance_minor: i64,
    pub(crate) new_balance_minor: i64,
    pub(crate) delta_minor: i64,
    pub(crate) created_at: SqlTimestamp,
    pub(crate) currency: String,
}

impl LogRow {
    pub(crate) fn into_domain(self) -> Result<BalanceLogEntry, Corrupt> {
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

pub(crate) fn log_entries(rows: Vec<LogRow>) -> Result<Vec<BalanceLogEntry>, Corrupt> {
    rows.into_iter().map(LogRow::into_domain).collect()
}
