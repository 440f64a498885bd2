//! [`PaymentQueries`]: payments with their invoice numbers, and the balance log.

use async_trait::async_trait;
use diesel::prelude::*;
use payments_domain::ledger::BalanceLogEntry;
use payments_domain::pagination::{Page, PageRequest};
use payments_domain::ports::{ListOrder, PaymentFilter, PaymentQueries, PaymentView};
use payments_domain::{OrganizationId, PaymentId, StorageError};

use crate::balance_log::BalanceLogQueries;
use crate::pool::with_connection;
use crate::rows::{limit_offset, page_of, payment_view, PaymentRow};
use crate::schema::{invoices, payments};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use crate::tx::{for_both_backends, storage};
use crate::Database;

/// The queries of this port, for one connection type.
pub(crate) trait PaymentViewQueries {
    fn find_payment(&mut self, id: PaymentId) -> Result<Option<PaymentView>, StorageError>;

    fn list_payments(
        &mut self,
        filter: &PaymentFilter,
        page: PageRequest,
    ) -> Result<Page<PaymentView>, StorageError>;
}

for_both_backends! {
    impl PaymentViewQueries {
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
                        let filtered = || {
                let mut query = payments::table
                    .left_join(invoices::table)
                    .into_boxed::<<Self as diesel::Connection>::Backend>();
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
                if let Some(from) = filter.created_from {
                    query = query.filter(payments::created_at.ge(SqlTimestamp(from)));
                }
                if let Some(before) = filter.created_before {
                    query = query.filter(payments::created_at.lt(SqlTimestamp(before)));
                }
                query
            };
            let (limit, offset) = limit_offset(page);
            let total: i64 = filtered().count().get_result(self).map_err(storage)?;
            let ordered = match filter.order {
                ListOrder::NewestFirst => {
                    filtered().order((payments::created_at.desc(), payments::id.desc()))
                }
                ListOrder::OldestFirst => {
                    filtered().order((payments::created_at.asc(), payments::id.asc()))
                }
            };
            let rows = ordered
                .limit(limit)
                .offset(offset)
                .select((PaymentRow::as_select(), invoices::number.nullable()))
                .load::<(PaymentRow, Option<String>)>(self)
                .map_err(storage)?;
            let items = rows
                .into_iter()
                .filter_map(|row| crate::rows::keep_decodable(payment_view(row)))
                .collect();
            Ok(page_of(items, total, page))
        }
    }
}

#[async_trait]
impl PaymentQueries for Database {
    async fn find_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StorageError> {
        with_connection!(self, |conn| conn.find_payment(id))
    }

    async fn list_payments(
        &self,
        filter: &PaymentFilter,
        page: PageRequest,
    ) -> Result<Page<PaymentView>, StorageError> {
        let filter = filter.clone();
        with_connection!(self, |conn| conn.list_payments(&filter, page))
    }

    async fn list_balance_log(
        &self,
        organization_id: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<BalanceLogEntry>, StorageError> {
        with_connection!(self, |conn| conn.list_balance_log(organization_id, page))
    }
}
