//! [`InvoiceStore`]: invoices, unique by number.

use async_trait::async_trait;
use diesel::prelude::*;
use payments_domain::invoice::{Invoice, InvoiceId};
use payments_domain::pagination::{Page, PageRequest};
use payments_domain::ports::{CreateInvoiceError, InvoiceFilter, InvoiceStore};
use payments_domain::StorageError;

use crate::pool::with_connection;
use crate::rows::{limit_offset, page_of, InvoiceRow, NewInvoice};
use crate::schema::invoices;
use crate::sql_types::SqlUuid;
use crate::tx::{for_both_backends, storage, violated_unique_key, UniqueKey};
use crate::Database;

/// The queries of this port, for one connection type.
pub(crate) trait InvoiceQueries {
    fn create_invoice(&mut self, invoice: &Invoice) -> Result<(), CreateInvoiceError>;

    fn find_invoice(&mut self, id: InvoiceId) -> Result<Option<Invoice>, StorageError>;

    fn list_invoices(
        &mut self,
        filter: &InvoiceFilter,
        page: PageRequest,
    ) -> Result<Page<Invoice>, StorageError>;
}

for_both_backends! {
    impl InvoiceQueries {
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
            // Built twice, for the count and for the page, from the same filter.
            let filtered = || {
                let mut query = invoices::table
                    .into_boxed::<<Self as diesel::Connection>::Backend>();
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
                .filter_map(|row| crate::rows::keep_decodable(InvoiceRow::into_domain(row)))
                .collect();
            Ok(page_of(items, total, page))
        }
    }
}

#[async_trait]
impl InvoiceStore for Database {
    async fn create_invoice(&self, invoice: &Invoice) -> Result<(), CreateInvoiceError> {
        let invoice = invoice.clone();
        with_connection!(write: self, |conn| conn.create_invoice(&invoice))
    }

    async fn find_invoice(&self, id: InvoiceId) -> Result<Option<Invoice>, StorageError> {
        with_connection!(self, |conn| conn.find_invoice(id))
    }

    async fn list_invoices(
        &self,
        filter: &InvoiceFilter,
        page: PageRequest,
    ) -> Result<Page<Invoice>, StorageError> {
        let filter = filter.clone();
        with_connection!(self, |conn| conn.list_invoices(&filter, page))
    }
}
