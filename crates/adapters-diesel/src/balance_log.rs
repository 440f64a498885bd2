//! The balance and its append-only log: storing a change the domain computed, and reading
//! the log back. Shared by the bank, staff-action, query and audit modules.

use diesel::prelude::*;
use payments_domain::ledger::{BalanceChange, BalanceLogEntry};
use payments_domain::pagination::{Page, PageRequest};
use payments_domain::{OrganizationId, PaymentId, StorageError};
use uuid::Uuid;

use crate::rows::{limit_offset, log_entries, page_of, LogRow, NewLogEntry};
use crate::schema::{balance_log, organizations};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use crate::tx::{for_both_backends, storage, Abort};

/// The balance queries, for one connection type.
pub(crate) trait BalanceLogQueries {
    /// Stores a balance change of a locked organization and its log entry, exactly as the
    /// domain computed it.
    fn apply_balance_change(
        &mut self,
        organization_id: SqlUuid,
        payment_id: PaymentId,
        change: &BalanceChange,
        stamp: SqlTimestamp,
    ) -> Result<(), Abort>;

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
}

for_both_backends! {
    impl BalanceLogQueries {
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
                    // Time-ordered, like payment ids: appended to the end of the id index.
                    id: SqlUuid(Uuid::now_v7()),
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

        fn balance_log(
            &mut self,
            organization_id: OrganizationId,
        ) -> Result<Vec<BalanceLogEntry>, StorageError> {
            let rows = balance_log::table
                .inner_join(organizations::table)
                .filter(balance_log::organization_id.eq(SqlUuid(organization_id.0)))
                .order(balance_log::seq.asc())
                .select(LOG_COLUMNS)
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
                .select(LOG_COLUMNS)
                .load::<LogRow>(self)
                .map_err(storage)?;
            Ok(page_of(log_entries(rows)?, total, page))
        }
    }
}

/// The columns of a [`LogRow`]: the entry and its organization's currency.
const LOG_COLUMNS: (
    balance_log::id,
    balance_log::organization_id,
    balance_log::payment_id,
    balance_log::previous_balance_minor,
    balance_log::new_balance_minor,
    balance_log::delta_minor,
    balance_log::created_at,
    organizations::currency,
) = (
    balance_log::id,
    balance_log::organization_id,
    balance_log::payment_id,
    balance_log::previous_balance_minor,
    balance_log::new_balance_minor,
    balance_log::delta_minor,
    balance_log::created_at,
    organizations::currency,
);
