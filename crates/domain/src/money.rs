//! Exact money: a decimal amount that always fits its currency's scale.
//!
//! No floating point anywhere: amounts are parsed from text into [`rust_decimal::Decimal`] and
//! stored as integer minor units (kopecks, cents), the way Stripe and TigerBeetle do, so that every
//! backend adds them exactly.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// The most digits allowed before the decimal point, in an amount and in a balance
/// (the old service's `DecimalField(max_digits=15, decimal_places=2)`).
pub const MAX_INTEGER_DIGITS: u32 = 13;

/// An ISO 4217 currency with a known number of decimal places.
///
/// # Examples
/// ```
/// use payments_domain::Currency;
///
/// let rub = Currency::parse("rub")?; // case-insensitive ISO 4217
/// assert_eq!((rub, rub.code(), rub.scale()), (Currency::RUB, "RUB", 2));
/// assert_eq!(Currency::parse("JPY")?.scale(), 0);
/// assert_eq!(Currency::parse("KWD")?.scale(), 3);
/// assert!(Currency::parse("XAU").is_err()); // gold has no minor unit: it cannot hold money here
/// assert!(Currency::parse("ZZZ").is_err());
/// # Ok::<(), payments_domain::MoneyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Russian rouble, the currency of bank webhooks and of new organizations.
    pub const RUB: Currency = Currency(iso_currency::Currency::RUB);

    /// Parses a three-letter ISO 4217 code (`"RUB"`, case-insensitive). Currencies without
    /// decimal places defined (funds, metals) are refused: they cannot hold money here.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        let currency = iso_currency::Currency::from_code(&upper)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))?;
        currency
            .exponent()
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))?;
        Ok(Self(currency))
    }

    /// The ISO code, e.g. `"RUB"`.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Decimal places of the minor unit (2 for RUB, 0 for JPY, 3 for KWD).
    pub fn scale(self) -> u32 {
        u32::from(self.0.exponent().unwrap_or(2))
    }

    /// The largest amount, in minor units, that an amount or balance may hold.
    pub fn max_minor_units(self) -> i64 {
        10_i64.pow(MAX_INTEGER_DIGITS + self.scale()) - 1
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Why an amount or currency was refused. Messages are shown to API clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    #[error("A valid number is required.")]
    NotANumber,
    #[error("Ensure this value is greater than 0.")]
    NotPositive,
    #[error("Ensure this value is greater than or equal to 0.")]
    Negative,
    #[error("Ensure that there are no more than {0} decimal places.")]
    TooManyDecimals(u32),
    #[error(
        "Ensure that there are no more than {MAX_INTEGER_DIGITS} digits before the decimal point."
    )]
    TooManyDigits,
    #[error("Unknown currency code: {0}.")]
    UnknownCurrency(String),
    #[error("Currency mismatch: expected {expected}, got {actual}.")]
    CurrencyMismatch {
        expected: Currency,
        actual: Currency,
    },
}

/// An exact, non-negative amount of one currency, at that currency's scale.
///
/// Invariants, checked by every constructor: `0 <= amount`, the amount has at most
/// [`MAX_INTEGER_DIGITS`] digits before the point, and it is rescaled to exactly
/// `currency.scale()` decimals (so `"139"` RUB is held and printed as `139.00`).
///
/// # Examples
/// ```
/// use payments_domain::{Currency, Money, MoneyError};
///
/// let rub = Currency::RUB;
/// let price = Money::parse("139", rub)?;
/// assert_eq!(price.to_string(), "139.00"); // held at the currency's scale
/// assert_eq!(price.to_minor_units(), 13_900); // stored as integer kopecks
///
/// // The written scale counts, and nothing goes through a float.
/// assert_eq!(Money::parse("1.50", rub)?.to_minor_units(), 150);
/// assert_eq!(Money::parse("1.500", rub), Err(MoneyError::TooManyDecimals(2)));
/// assert_eq!(Money::parse("0.005", rub), Err(MoneyError::TooManyDecimals(2)));
/// assert_eq!(Money::parse("-1", rub), Err(MoneyError::Negative));
/// assert_eq!(Money::parse_positive("0", rub), Err(MoneyError::NotPositive));
/// assert_eq!(Money::parse("12345678901234", rub), Err(MoneyError::TooManyDigits)); // 14 digits
///
/// // Arithmetic is checked and stays in one currency.
/// let total = price.checked_add(&Money::parse("0.10", rub)?)?;
/// assert_eq!(total, Money::from_minor_units(13_910, rub)?);
/// assert!(price.checked_add(&Money::zero(Currency::parse("USD")?)).is_err());
/// # Ok::<(), MoneyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Parses an amount written as text (a JSON number's literal or a numeric string).
    ///
    /// The written scale counts: `"1.50"` is fine for RUB but `"1.500"` is refused, as the
    /// bank-webhook contract demands. Exponent notation (`"1.5e3"`) is accepted when the value
    /// it denotes fits. Zero is allowed here; use [`Money::parse_positive`] for payments.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let text = text.trim();
        let valid_chars = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
        if !valid_chars {
            return Err(MoneyError::NotANumber);
        }
        let parsed = if text.contains(['e', 'E']) {
            Decimal::from_scientific(text)
        } else {
            Decimal::from_str_exact(text)
        };
        let amount = match parsed {
            Ok(amount) => amount,
            // A literal too long for a 96-bit mantissa is far over the digit limit anyway;
            // tell the client which limit it broke when the text is a plain number.
            Err(_) if is_plain_number(text) => {
                return Err(integer_digits_error(text).unwrap_or(MoneyError::NotANumber))
            }
            Err(_) => return Err(MoneyError::NotANumber),
        };
        Self::from_decimal(amount, currency)
    }

    /// Like [`Money::parse`], but refuses zero: a payment moves a positive amount.
    pub fn parse_positive(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let money = Self::parse(text, currency)?;
        if money.amount.is_zero() {
            return Err(MoneyError::NotPositive);
        }
        Ok(money)
    }

    /// Builds money from a decimal, refusing more decimals than the currency has.
    pub fn from_decimal(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative);
        }
        if amount.scale() > currency.scale() {
            return Err(MoneyError::TooManyDecimals(currency.scale()));
        }
        let mut amount = amount;
        amount.rescale(currency.scale());
        amount.set_sign_positive(true);
        let money = Self { amount, currency };
        if money.to_minor_units() > currency.max_minor_units() {
            return Err(MoneyError::TooManyDigits);
        }
        Ok(money)
    }

    /// Zero of `currency`.
    pub fn zero(currency: Currency) -> Self {
        let mut amount = Decimal::ZERO;
        amount.rescale(currency.scale());
        Self { amount, currency }
    }

    /// Builds money from integer minor units (as stored). Fails on negative or oversized values.
    pub fn from_minor_units(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        if minor > currency.max_minor_units() {
            return Err(MoneyError::TooManyDigits);
        }
        Ok(Self {
            amount: Decimal::new(minor, currency.scale()),
            currency,
        })
    }

    /// The amount in minor units (`145000.00` RUB is `14500000`).
    pub fn to_minor_units(&self) -> i64 {
        // The invariant bounds the mantissa by 10^(13+scale) < 2^63, and scale equals the
        // currency's, so the mantissa is exactly the minor-unit count.
        self.amount.mantissa() as i64
    }

    /// The decimal amount, with exactly the currency's number of decimals.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// `self + other`, refusing a sum over the digit limit or of different currencies.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .to_minor_units()
            .checked_add(other.to_minor_units())
            .ok_or(MoneyError::TooManyDigits)?;
        Self::from_minor_units(sum, self.currency)
    }

    /// `self - other`, refusing a negative result or different currencies.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Self::from_minor_units(
            self.to_minor_units() - other.to_minor_units(),
            self.currency,
        )
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                expected: self.currency,
                actual: other.currency,
            })
        }
    }
}

impl fmt::Display for Money {
    /// The amount with the currency's decimals, without the code: `"139.00"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.amount)
    }
}

fn is_plain_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let int_ok = parts
        .next()
        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    let frac_ok = parts
        .next()
        .is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()));
    int_ok && frac_ok
}

/// For a plain number too long to parse, says which limit it breaks.
fn integer_digits_error(text: &str) -> Option<MoneyError> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let integer_part = digits.split('.').next()?.trim_start_matches('0');
    if integer_part.len() > MAX_INTEGER_DIGITS as usize {
        Some(MoneyError::TooManyDigits)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn rub(text: &str) -> Result<Money, MoneyError> {
        Money::parse_positive(text, Currency::RUB)
    }

    #[test]
    fn integers_and_two_decimals_are_accepted_and_rescaled() {
        assert_eq!(rub("145000").unwrap().to_string(), "145000.00");
        assert_eq!(rub("1.5").unwrap().to_string(), "1.50");
        assert_eq!(rub("1.50").unwrap().amount(), dec!(1.50));
        assert_eq!(rub("0.01").unwrap().to_minor_units(), 1);
    }

    #[test]
    fn written_scale_over_the_currency_is_refused_even_when_trailing_zero() {
        assert_eq!(rub("0.005"), Err(MoneyError::TooManyDecimals(2)));
        assert_eq!(rub("1.500"), Err(MoneyError::TooManyDecimals(2)));
    }

    #[test]
    fn zero_and_negative_are_refused_for_payments() {
        assert_eq!(rub("0"), Err(MoneyError::NotPositive));
        assert_eq!(rub("0.00"), Err(MoneyError::NotPositive));
        assert_eq!(rub("-1"), Err(MoneyError::Negative));
        assert!(Money::parse("0", Currency::RUB).is_ok());
    }

    #[test]
    fn at_most_thirteen_integer_digits() {
        assert_eq!(
            rub("9999999999999.99").unwrap().to_minor_units(),
            999_999_999_999_999
        );
        assert_eq!(rub("10000000000000"), Err(MoneyError::TooManyDigits));
        assert_eq!(
            rub("123456789012345678901234567890123"),
            Err(MoneyError::TooManyDigits)
        );
    }

    #[test]
    fn garbage_is_not_a_number() {
        for text in [
            "", "abc", "1,5", "NaN", "Infinity", "1.2.3", " ", "0x10", "1e",
        ] {
            assert_eq!(rub(text), Err(MoneyError::NotANumber), "{text:?}");
        }
    }

    #[test]
    fn exponent_notation_is_read_exactly() {
        assert_eq!(rub("1.5e3").unwrap().to_string(), "1500.00");
        assert_eq!(rub("1e-3"), Err(MoneyError::TooManyDecimals(2)));
    }

    #[test]
    fn currency_scale_drives_validation() {
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(jpy.scale(), 0);
        assert_eq!(
            Money::parse("1.5", jpy),
            Err(MoneyError::TooManyDecimals(0))
        );
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::parse("1.125", kwd).unwrap().to_minor_units(), 1125);
        assert!(matches!(
            Currency::parse("XXX1"),
            Err(MoneyError::UnknownCurrency(_))
        ));
    }

    #[test]
    fn minor_units_round_trip() {
        let money = Money::from_minor_units(1234, Currency::RUB).unwrap();
        assert_eq!(money.to_string(), "12.34");
        assert_eq!(money.to_minor_units(), 1234);
        assert!(Money::from_minor_units(-1, Currency::RUB).is_err());
    }

    #[test]
    fn hundred_dimes_make_exactly_ten() {
        let dime = rub("0.10").unwrap();
        let mut total = Money::zero(Currency::RUB);
        for _ in 0..100 {
            total = total.checked_add(&dime).unwrap();
        }
        assert_eq!(total.amount(), dec!(10.00));
        assert_eq!(total.to_string(), "10.00");
    }

    #[test]
    fn arithmetic_refuses_overflow_underflow_and_mixed_currencies() {
        let max = rub("9999999999999.99").unwrap();
        let cent = rub("0.01").unwrap();
        assert_eq!(max.checked_add(&cent), Err(MoneyError::TooManyDigits));
        assert_eq!(cent.checked_sub(&max), Err(MoneyError::Negative));
        let usd = Money::parse("1", Currency::parse("USD").unwrap()).unwrap();
        assert!(matches!(
            cent.checked_add(&usd),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }
}
