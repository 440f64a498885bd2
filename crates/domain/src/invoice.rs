//! Invoices: what an organization owes; manual payments are made against them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::money::Money;
use crate::organization::OrganizationId;
use crate::payment::UnknownName;

/// Identifier of an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InvoiceId(pub Uuid);

impl fmt::Display for InvoiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where an invoice is in its life. Only `pending` invoices accept payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvoiceStatus {
    Draft,
    Pending,
    Paid,
    Void,
    Uncollectible,
}

impl InvoiceStatus {
    pub const ALL: [InvoiceStatus; 5] = [
        Self::Draft,
        Self::Pending,
        Self::Paid,
        Self::Void,
        Self::Uncollectible,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Void => "void",
            Self::Uncollectible => "uncollectible",
        }
    }
}

impl fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InvoiceStatus {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

/// Parses an invoice's `due_date` (`YYYY-MM-DD`), refusing years that a backend could not
/// read back (see [`crate::bank::storable_year`]).
pub fn parse_due_date(text: &str) -> Result<NaiveDate, &'static str> {
    use chrono::Datelike;
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| "Date has wrong format. Use YYYY-MM-DD.")?;
    if crate::bank::storable_year(date.year()) {
        Ok(date)
    } else {
        Err("Date must be between years 1 and 9999.")
    }
}

/// An invoice number: 1 to 64 characters of letters, digits, `-`, `_`, `/` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InvoiceNumber(String);

/// Why an invoice number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invoice number must be 1 to 64 letters, digits, '-', '_', '/' or '.'.")]
pub struct InvalidInvoiceNumber;

impl InvoiceNumber {
    pub fn parse(text: &str) -> Result<Self, InvalidInvoiceNumber> {
        let text = text.trim();
        let valid = (1..=64).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.'));
        if valid {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidInvoiceNumber)
        }
    }

    /// A number for an invoice issued without one: `INV-` and the id's first 12 hex digits,
    /// unique in practice and checked by the database's unique key anyway.
    pub fn generated(id: InvoiceId) -> Self {
        let hex = id.0.simple().to_string().to_ascii_uppercase();
        Self(format!("INV-{}", &hex[..12]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An invoice as stored. Its currency is its amount's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub id: InvoiceId,
    pub organization_id: OrganizationId,
    pub number: InvoiceNumber,
    pub amount: Money,
    pub status: InvoiceStatus,
    pub due_date: Option<NaiveDate>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Invoice {
    /// The invoice after a payment settled it at `at`: status `paid`, `paid_at` and
    /// `updated_at` both `at`. Whether it may be paid is the payment's rule
    /// ([`crate::billing::plan_staff_action`]).
    pub fn paid(&self, at: DateTime<Utc>) -> Invoice {
        Invoice {
            status: InvoiceStatus::Paid,
            paid_at: Some(at),
            updated_at: at,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn a_paid_invoice_is_paid_at_the_given_instant() {
        let created = DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = created + chrono::Duration::days(3);
        let invoice = Invoice {
            id: InvoiceId(Uuid::nil()),
            organization_id: OrganizationId(Uuid::nil()),
            number: InvoiceNumber::parse("INV-1").unwrap(),
            amount: Money::parse("10", Currency::RUB).unwrap(),
            status: InvoiceStatus::Pending,
            due_date: None,
            paid_at: None,
            created_at: created,
            updated_at: created,
        };
        let paid = invoice.paid(at);
        assert_eq!(paid.status, InvoiceStatus::Paid);
        assert_eq!(paid.paid_at, Some(at));
        assert_eq!(paid.updated_at, at);
        assert_eq!(
            (paid.id, paid.amount, paid.created_at),
            (invoice.id, invoice.amount, created)
        );
    }

    #[test]
    fn invoice_numbers() {
        assert!(InvoiceNumber::parse("INV-2026/001.a_b").is_ok());
        assert!(InvoiceNumber::parse("").is_err());
        assert!(InvoiceNumber::parse("with space").is_err());
        assert!(InvoiceNumber::parse(&"x".repeat(65)).is_err());
        let generated = InvoiceNumber::generated(InvoiceId(Uuid::nil()));
        assert_eq!(generated.as_str(), "INV-000000000000");
    }

    #[test]
    fn due_dates_are_refused_outside_years_1_to_9999() {
        assert!(parse_due_date("2026-01-31").is_ok());
        assert!(parse_due_date("0001-01-01").is_ok());
        assert!(parse_due_date("9999-12-31").is_ok());
        for bad in [
            "+10000-01-01",
            "-0001-01-01",
            "0000-06-01",
            "2026-02-30",
            "x",
        ] {
            assert!(parse_due_date(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in InvoiceStatus::ALL {
            assert_eq!(status.as_str().parse::<InvoiceStatus>(), Ok(status));
        }
        assert!("open".parse::<InvoiceStatus>().is_err());
    }
}
