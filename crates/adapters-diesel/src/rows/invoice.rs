//! `invoices`.

use super::{corrupt, money, Corrupt};
use crate::schema::invoices;
use crate::sql_types::{SqlDate, SqlTimestamp, SqlUuid};
use diesel::prelude::*;
use payments_domain::invoice::{Invoice, InvoiceId, InvoiceNumber, InvoiceStatus};
use payments_domain::OrganizationId;

/// A stored invoice.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = invoices)]
pub(crate) struct InvoiceRow {
    pub(crate) id: SqlUuid,
    pub(crate) organization_id: SqlUuid,
    pub(crate) number: String,
    pub(crate) amount_minor: i64,
    pub(crate) currency: String,
    pub(crate) status: String,
    pub(crate) due_date: Option<SqlDate>,
    pub(crate) paid_at: Option<SqlTimestamp>,
    pub(crate) created_at: SqlTimestamp,
    pub(crate) updated_at: SqlTimestamp,
}

impl InvoiceRow {
    pub(crate) fn into_domain(self) -> Result<Invoice, Corrupt> {
        let id = self.id.0;
        self.decode().map_err(|e| e.of_row("invoices", id))
    }

    fn decode(self) -> Result<Invoice, Corrupt> {
        Ok(Invoice {
            id: InvoiceId(self.id.0),
            organization_id: OrganizationId(self.organization_id.0),
            number: InvoiceNumber::parse(&self.number).map_err(|e| corrupt("invoice number", e))?,
            amount: money(self.amount_minor, &self.currency, "invoice amount")?,
            status: self
                .status
                .parse::<InvoiceStatus>()
                .map_err(|e| corrupt("invoice status", e))?,
            due_date: self.due_date.map(|d| d.0),
            paid_at: self.paid_at.map(|t| t.0),
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = invoices)]
pub(crate) struct NewInvoice<'a> {
    pub(crate) id: SqlUuid,
    pub(crate) organization_id: SqlUuid,
    pub(crate) number: &'a str,
    pub(crate) amount_minor: i64,
    pub(crate) currency: &'a str,
    pub(crate) status: &'a str,
    pub(crate) due_date: Option<SqlDate>,
    pub(crate) paid_at: Option<SqlTimestamp>,
    pub(crate) created_at: SqlTimestamp,
    pub(crate) updated_at: SqlTimestamp,
}

impl<'a> NewInvoice<'a> {
    pub(crate) fn of(invoice: &'a Invoice) -> Self {
        Self {
            id: SqlUuid(invoice.id.0),
            organization_id: SqlUuid(invoice.organization_id.0),
            number: invoice.number.as_str(),
            amount_minor: invoice.amount.to_minor_units(),
            currency: invoice.amount.currency().code(),
            status: invoice.status.as_str(),
            due_date: invoice.due_date.map(SqlDate),
            paid_at: invoice.paid_at.map(SqlTimestamp),
            created_at: SqlTimestamp(invoice.created_at),
            updated_at: SqlTimestamp(invoice.updated_at),
        }
    }
}
