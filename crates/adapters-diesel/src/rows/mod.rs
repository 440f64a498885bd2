//! Row types and their conversions to and from domain types, one module per table group.
//!
//! A row that does not convert back (an unknown status, a currency the domain does not know)
//! is [`Corrupt`]: the database holds something the service never writes.

mod catalogue;
mod invoice;
mod ledger;
mod organization;
mod payment;
mod token;

pub(crate) use catalogue::{ConfigRow, NewConfig, OverrideRow};
pub(crate) use invoice::{InvoiceRow, NewInvoice};
pub(crate) use ledger::{log_entries, LogRow, NewLogEntry};
pub(crate) use organization::{NewOrganization, OrganizationRow};
pub(crate) use payment::{payment_view, NewPayment, PaymentRow, StoredBankPayment};
pub(crate) use token::TokenRow;

use chrono::{DateTime, SubsecRound, Utc};
use payments_domain::pagination::{Page, PageRequest};
use payments_domain::{Currency, Money, StorageError};

/// A row that does not convert back into domain types.
#[derive(Debug)]
pub(crate) struct Corrupt(pub(crate) String);

/// Rows that did not decode since start, in this process (exported as a metric).
pub(crate) static CORRUPT_ROWS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl From<Corrupt> for StorageError {
    /// Counted here; logged once, where the request's error is answered (500).
    fn from(error: Corrupt) -> Self {
        CORRUPT_ROWS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        StorageError::corrupt(error.0)
    }
}

impl Corrupt {
    /// Names the row: its table and id go into the log line.
    pub(crate) fn of_row(self, table: &str, id: uuid::Uuid) -> Self {
        Corrupt(format!("{table} row {id}: {}", self.0))
    }
}

/// For lists: a row that does not decode is left out, logged with its id and counted, so one
/// corrupt row does not take down every list that contains it. Reading it directly answers 500.
pub(crate) fn keep_decodable<T>(decoded: Result<T, Corrupt>) -> Option<T> {
    match decoded {
        Ok(value) => Some(value),
        Err(Corrupt(problem)) => {
            CORRUPT_ROWS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(%problem, "a stored row does not decode; left out of the list");
            None
        }
    }
}

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Corrupt {
    Corrupt(format!("{what}: {detail}"))
}

/// A page request as SQL `LIMIT` and `OFFSET`.
pub(crate) fn limit_offset(page: PageRequest) -> (i64, i64) {
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    (clamp(page.limit()), clamp(page.offset()))
}

pub(crate) fn page_of<T>(items: Vec<T>, total: i64, request: PageRequest) -> Page<T> {
    Page {
        items,
        total: u64::try_from(total).unwrap_or(0),
        request,
    }
}

/// Instants are stored with microsecond precision: rounding first makes the values the
/// adapter returns equal to what a later read returns.
pub(crate) fn micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.trunc_subsecs(6)
}

pub(crate) fn money(minor: i64, currency: &str, what: &str) -> Result<Money, Corrupt> {
    let currency = Currency::parse(currency).map_err(|e| corrupt(what, e))?;
    Money::from_minor_units(minor, currency).map_err(|e| corrupt(what, e))
}
