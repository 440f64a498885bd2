//! `payments`, and a bank payment as its dedup rule needs it.

use super::{corrupt, money, Corrupt};
use crate::schema::{organizations, payments};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use diesel::prelude::*;
use payments_domain::bank::RecordedBankPayment;
use payments_domain::payment::{BankDetails, Payment};
use payments_domain::ports::PaymentView;
use payments_domain::{
    BankPayment, DocumentDate, DocumentNumber, Inn, OperationId, OrganizationId, PaymentId,
    PaymentMethod, PaymentStatus,
};

/// A stored payment of any method.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = payments)]
pub(crate) struct PaymentRow {
    pub(crate) id: SqlUuid,
    pub(crate) organization_id: SqlUuid,
    pub(crate) invoice_id: Option<SqlUuid>,
    pub(crate) amount_minor: i64,
    pub(crate) currency: String,
    pub(crate) payment_method: String,
    pub(crate) status: String,
    pub(crate) transaction_reference: Option<String>,
    pub(crate) notes: Option<String>,
    pub(crate) failure_reason: Option<String>,
    pub(crate) admin_notes: Option<String>,
    pub(crate) operation_id: Option<SqlUuid>,
    pub(crate) document_number: Option<String>,
    pub(crate) document_date: Option<SqlTimestamp>,
    pub(crate) created_at: SqlTimestamp,
    pub(crate) updated_at: SqlTimestamp,
    pub(crate) processed_at: Option<SqlTimestamp>,
}

impl PaymentRow {
    pub(crate) fn into_domain(self) -> Result<Payment, Corrupt> {
        let id = self.id.0;
        self.decode().map_err(|e| e.of_row("payments", id))
    }

    fn decode(self) -> Result<Payment, Corrupt> {
        let bank = match (self.operation_id, self.document_number, self.document_date) {
            (None, _, _) => None,
            (Some(operation_id), Some(number), Some(date)) => Some(BankDetails {
                operation_id: OperationId(operation_id.0),
                document_number: DocumentNumber::parse(&number)
                    .map_err(|e| corrupt("payment document_number", e))?,
                document_date: DocumentDate::from_utc(date.0),
            }),
            (Some(_), _, _) => {
                return Err(corrupt("bank payment", "document number or date is NULL"))
            }
        };
        Ok(Payment {
            id: PaymentId(self.id.0),
            organization_id: OrganizationId(self.organization_id.0),
            invoice_id: self.invoice_id.map(|id| id.0),
            amount: money(self.amount_minor, &self.currency, "payment amount")?,
            method: self
                .payment_method
                .parse::<PaymentMethod>()
                .map_err(|e| corrupt("payment method", e))?,
            status: self
                .status
                .parse::<PaymentStatus>()
                .map_err(|e| corrupt("payment status", e))?,
            transaction_reference: self.transaction_reference,
            notes: self.notes,
            failure_reason: self.failure_reason,
            admin_notes: self.admin_notes,
            bank,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            processed_at: self.processed_at.map(|t| t.0),
        })
    }
}

pub(crate) fn payment_view(row: (PaymentRow, Option<String>)) -> Result<PaymentView, Corrupt> {
    Ok(PaymentView {
        payment: row.0.into_domain()?,
        invoice_number: row.1,
    })
}

#[derive(Insertable)]
#[diesel(table_name = payments)]
pub(crate) struct NewPayment<'a> {
    pub(crate) id: SqlUuid,
    pub(crate) organization_id: SqlUuid,
    pub(crate) invoice_id: Option<SqlUuid>,
    pub(crate) amount_minor: i64,
    pub(crate) currency: &'a str,
    pub(crate) payment_method: &'a str,
    pub(crate) status: &'a str,
    pub(crate) transaction_reference: Option<&'a str>,
    pub(crate) notes: Option<&'a str>,
    pub(crate) failure_reason: Option<&'a str>,
    pub(crate) admin_notes: Option<&'a str>,
    pub(crate) operation_id: Option<SqlUuid>,
    pub(crate) document_number: Option<&'a str>,
    pub(crate) document_date: Option<SqlTimestamp>,
    pub(crate) created_at: SqlTimestamp,
    pub(crate) updated_at: SqlTimestamp,
    pub(crate) processed_at: Option<SqlTimestamp>,
}

impl<'a> NewPayment<'a> {
    pub(crate) fn of(payment: &'a Payment) -> Self {
        let bank = payment.bank.as_ref();
        Self {
            id: SqlUuid(payment.id.0),
            organization_id: SqlUuid(payment.organization_id.0),
            invoice_id: payment.invoice_id.map(SqlUuid),
            amount_minor: payment.amount.to_minor_units(),
            currency: payment.amount.currency().code(),
            payment_method: payment.method.as_str(),
            status: payment.status.as_str(),
            transaction_reference: payment.transaction_reference.as_deref(),
            notes: payment.notes.as_deref(),
            failure_reason: payment.failure_reason.as_deref(),
            admin_notes: payment.admin_notes.as_deref(),
            operation_id: bank.map(|b| SqlUuid(b.operation_id.0)),
            document_number: bank.map(|b| b.document_number.as_str()),
            document_date: bank.map(|b| SqlTimestamp(b.document_date.instant())),
            created_at: SqlTimestamp(payment.created_at),
            updated_at: SqlTimestamp(payment.updated_at),
            processed_at: payment.processed_at.map(SqlTimestamp),
        }
    }
}

/// A stored bank payment joined with its organization's INN (select it from `payments`
/// inner-joined with `organizations`).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = payments)]
pub(crate) struct StoredBankPayment {
    pub(crate) id: SqlUuid,
    pub(crate) amount_minor: i64,
    pub(crate) currency: String,
    #[diesel(select_expression = organizations::inn)]
    pub(crate) inn: String,
    pub(crate) document_number: Option<String>,
    pub(crate) document_date: Option<SqlTimestamp>,
}

impl StoredBankPayment {
    pub(crate) fn into_domain(
        self,
        operation_id: OperationId,
    ) -> Result<RecordedBankPayment, Corrupt> {
        let payment = BankPayment {
            operation_id,
            amount: money(self.amount_minor, &self.currency, "payment amount")?,
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
        Ok(RecordedBankPayment {
            payment_id: PaymentId(self.id.0),
            payment,
        })
    }
}
