//! Organizations: the account (tenant) that owns payments, invoices and a balance.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::money::{Currency, Money};

/// Taxpayer identification number (ИНН): 10 digits for a company, 12 for an individual.
///
/// Surrounding spaces are trimmed; the check digits are not verified, because the service this
/// one replaces accepted any 10- or 12-digit string and its clients rely on that.
///
/// # Examples
/// ```
/// use payments_domain::Inn;
///
/// assert_eq!(Inn::parse(" 1234567890 ")?.as_str(), "1234567890"); // a company
/// assert!(Inn::parse("123456789012").is_ok()); // an individual
/// assert!(Inn::parse("12345").is_err());
/// assert!(Inn::parse("12345678901").is_err()); // 11 digits
/// assert!(Inn::parse("12345678９0").is_err()); // ASCII digits only
/// # Ok::<(), payments_domain::organization::InvalidInn>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Inn(String);

/// Why an INN was refused. Shown to API clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("INN must be 10 or 12 digits.")]
pub struct InvalidInn;

impl Inn {
    /// Validates and normalizes an INN.
    pub fn parse(text: &str) -> Result<Self, InvalidInn> {
        let trimmed = text.trim_matches(' ');
        let digits_only = trimmed.bytes().all(|b| b.is_ascii_digit());
        if digits_only && matches!(trimmed.len(), 10 | 12) {
            Ok(Self(trimmed.to_string()))
        } else {
            Err(InvalidInn)
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Inn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifier of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrganizationId(pub Uuid);

impl OrganizationId {
    /// A fresh random id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for OrganizationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// ISO 3166-1 alpha-2 country code, upper case (`"RU"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CountryCode(String);

/// Why a country code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Country must be a two-letter ISO 3166-1 code.")]
pub struct InvalidCountry;

impl CountryCode {
    /// Parses a two-letter code, case-insensitive.
    pub fn parse(text: &str) -> Result<Self, InvalidCountry> {
        let upper = text.trim().to_ascii_uppercase();
        if upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(upper))
        } else {
            Err(InvalidCountry)
        }
    }

    /// Russia, the default billing country.
    pub fn russia() -> Self {
        Self("RU".to_string())
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organization as stored.
///
/// The balance is private: it starts at zero ([`Organization::new`],
/// [`Organization::first_seen_in_bank_payment`]) and changes only through the ledger rules
/// ([`crate::ledger`]) inside an adapter's transaction; [`Organization::restore`] rebuilds a
/// stored one. The other fields carry no rule between them and stay public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrganizationId,
    pub inn: Inn,
    pub name: String,
    pub country: CountryCode,
    /// The organization's balance; its currency is the organization's currency.
    balance: Money,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Organization {
    /// A new organization billed in `currency`, balance zero.
    pub fn new(
        id: OrganizationId,
        inn: Inn,
        name: String,
        country: CountryCode,
        currency: Currency,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            inn,
            name,
            country,
            balance: Money::zero(currency),
            created_at: now,
            updated_at: now,
        }
    }

    /// An organization as a store read it back, with the balance the ledger left it at.
    /// For adapters (and tests standing in for one); nothing else should invent a balance.
    pub fn restore(
        id: OrganizationId,
        inn: Inn,
        name: String,
        country: CountryCode,
        balance: Money,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            inn,
            name,
            country,
            balance,
            created_at,
            updated_at,
        }
    }

    /// The balance, in the organization's currency.
    pub fn balance(&self) -> Money {
        self.balance
    }

    /// The currency the organization is billed and credited in.
    pub fn currency(&self) -> Currency {
        self.balance.currency()
    }

    /// The organization a bank payment creates on first sight of an INN: named after the
    /// INN, billed in Russia in roubles, balance zero.
    pub fn first_seen_in_bank_payment(inn: Inn, now: DateTime<Utc>) -> Self {
        let name = format!("INN {inn}");
        Self::new(
            OrganizationId::new_random(),
            inn,
            name,
            CountryCode::russia(),
            Currency::RUB,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inn_accepts_ten_or_twelve_digits_and_trims_spaces() {
        assert_eq!(Inn::parse("1234567890").unwrap().as_str(), "1234567890");
        assert_eq!(
            Inn::parse(" 123456789012 ").unwrap().as_str(),
            "123456789012"
        );
    }

    #[test]
    fn inn_refuses_other_lengths_and_non_ascii_digits() {
        for bad in [
            "",
            "123456789",
            "12345678901",
            "1234567890123",
            "12345abcde",
            "١٢٣٤٥٦٧٨٩٠",
            "12345 67890",
            "\t1234567890",
        ] {
            assert_eq!(Inn::parse(bad), Err(InvalidInn), "{bad:?}");
        }
    }

    #[test]
    fn country_codes_are_two_letters() {
        assert_eq!(CountryCode::parse("ru").unwrap().as_str(), "RU");
        assert!(CountryCode::parse("RUS").is_err());
        assert!(CountryCode::parse("R1").is_err());
    }

    #[test]
    fn organization_first_seen_in_a_bank_payment_starts_at_zero_roubles() {
        let now = Utc::now();
        let org = Organization::first_seen_in_bank_payment(Inn::parse("1234567890").unwrap(), now);
        assert!(org.balance().is_zero());
        assert_eq!(org.currency(), Currency::RUB);
        assert_eq!(org.country.as_str(), "RU");
    }
}
