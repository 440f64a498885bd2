//! Payments announced by the bank's webhook: validation at the edge and the dedup rule.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SubsecRound, Timelike, Utc};
use uuid::Uuid;

use crate::error::FieldErrors;
use crate::ledger::{self, BalanceChange, LedgerError};
use crate::money::{Currency, Money};
use crate::organization::{Inn, OrganizationId};
use crate::payment::{BankDetails, Payment, PaymentId, PaymentMethod, PaymentStatus};

/// Currency of every amount the bank webhook sends.
pub const BANK_CURRENCY: Currency = Currency::RUB;

/// Longest accepted document number, in characters.
pub const MAX_DOCUMENT_NUMBER_CHARS: usize = 50;

/// The bank's id of one operation: the dedup key, one payment per id, forever.
///
/// # Examples
/// ```
/// use payments_domain::OperationId;
///
/// let lower = OperationId::parse("ccf0a86d-041b-4991-bcf7-e2352f7b8a4a")?;
/// let upper = OperationId::parse("CCF0A86D-041B-4991-BCF7-E2352F7B8A4A")?;
/// assert_eq!(lower, upper); // one operation, whatever the case
/// assert!(OperationId::parse("ccf0a86d041b4991bcf7e2352f7b8a4a").is_err()); // dashes required
/// # Ok::<(), payments_domain::bank::BankFieldError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperationId(pub Uuid);

impl OperationId {
    /// Parses a UUID written with dashes, in any case.
    pub fn parse(text: &str) -> Result<Self, BankFieldError> {
        let text = text.trim();
        if text.len() != 36 {
            return Err(BankFieldError::InvalidUuid);
        }
        Uuid::try_parse(text)
            .map(Self)
            .map_err(|_| BankFieldError::InvalidUuid)
    }
}

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The number of the bank's payment document: 1 to 50 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentNumber(String);

impl DocumentNumber {
    /// Validates a document number; surrounding whitespace is trimmed.
    pub fn parse(text: &str) -> Result<Self, BankFieldError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(BankFieldError::Blank);
        }
        if trimmed.chars().count() > MAX_DOCUMENT_NUMBER_CHARS {
            return Err(BankFieldError::TooLong(MAX_DOCUMENT_NUMBER_CHARS));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(BankFieldError::ControlCharacters);
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocumentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The date of the bank's payment document, as an instant in UTC with microsecond precision
/// (what every backend stores, so a stored date compares equal to a re-sent one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentDate(DateTime<Utc>);

impl DocumentDate {
    /// Accepts an RFC 3339 date-time, a naive date-time (read as UTC) or a plain date
    /// (midnight UTC), when the instant is one every backend stores and reads back exactly:
    /// years 1 to 9999 in UTC and no leap second (PostgreSQL would store `23:59:60` as the next
    /// day, so an identical retry would no longer compare equal).
    pub fn parse(text: &str) -> Result<Self, BankFieldError> {
        let text = text.trim();
        let instant = Self::parse_instant(text).ok_or(BankFieldError::InvalidDate)?;
        if !storable_year(instant.year()) {
            return Err(BankFieldError::DateOutOfRange);
        }
        if instant.nanosecond() >= 1_000_000_000 {
            return Err(BankFieldError::LeapSecond);
        }
        Ok(Self::from_utc(instant))
    }

    fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
        if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
            return Some(instant.with_timezone(&Utc));
        }
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
                return Some(naive.and_utc());
            }
        }
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        Some(date.and_hms_opt(0, 0, 0)?.and_utc())
    }

    /// Wraps an instant, truncated to microseconds.
    pub fn from_utc(instant: DateTime<Utc>) -> Self {
        Self(instant.trunc_subsecs(6))
    }

    /// The instant.
    pub fn instant(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Why one webhook field was refused. Shown to API clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BankFieldError {
    #[error("This field is required.")]
    Required,
    #[error("This field may not be null.")]
    Null,
    #[error("Not a valid string.")]
    NotAString,
    #[error("This field may not be blank.")]
    Blank,
    #[error("Must be a valid UUID.")]
    InvalidUuid,
    #[error("Ensure this field has no more than {0} characters.")]
    TooLong(usize),
    #[error("Control characters are not allowed.")]
    ControlCharacters,
    #[error(
        "Datetime has wrong format. Use RFC 3339, e.g. 2024-04-27T21:00:00Z, or a date 2024-04-27."
    )]
    InvalidDate,
    #[error("Date must be between years 1 and 9999 (in UTC).")]
    DateOutOfRange,
    #[error("Leap seconds (:60) are not accepted.")]
    LeapSecond,
}

/// Years every backend stores and reads back unchanged (SQLite keeps four-digit text).
pub fn storable_year(year: i32) -> bool {
    (1..=9999).contains(&year)
}

/// One field of a webhook body as the transport received it, before any validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RawField {
    /// The key was absent.
    #[default]
    Missing,
    /// `null`.
    Null,
    /// A string's contents.
    Text(String),
    /// A number, as its literal text (never converted through a float).
    Number(String),
    /// A boolean, array or object.
    Other,
}

/// A webhook body split into its fields, as the transport found them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawBankPayment {
    pub operation_id: RawField,
    pub amount: RawField,
    pub payer_inn: RawField,
    pub document_number: RawField,
    pub document_date: RawField,
}

/// A validated incoming bank payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankPayment {
    pub operation_id: OperationId,
    pub amount: Money,
    pub payer_inn: Inn,
    pub document_number: DocumentNumber,
    pub document_date: DocumentDate,
}

/// How a payment compares with the one already recorded under its operation_id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// Same operation, same contents: a retry. Answer as before, change nothing.
    Duplicate,
    /// Same operation id, other contents: refuse (409), change nothing.
    Conflict,
}

impl BankPayment {
    /// Validates every field and reports all problems at once, keyed by field name.
    ///
    /// # Examples
    /// The transport splits the JSON body into [`RawField`]s (numbers as their literal text); this
    /// validates them all, and [`BankPayment::compare`] is the dedup rule a store's answer goes
    /// through when the operation id was seen before.
    /// ```
    /// use payments_domain::bank::{Dedup, RawBankPayment, RawField};
    /// use payments_domain::BankPayment;
    ///
    /// let raw = |amount: &str| RawBankPayment {
    ///     operation_id: RawField::Text("ccf0a86d-041b-4991-bcf7-e2352f7b8a4a".into()),
    ///     amount: RawField::Number(amount.into()),
    ///     payer_inn: RawField::Text("1234567890".into()),
    ///     document_number: RawField::Text("PAY-328".into()),
    ///     document_date: RawField::Text("2024-04-27T21:00:00Z".into()),
    /// };
    /// let first = BankPayment::from_raw(&raw("145000"))?;
    /// assert_eq!(first.amount.to_string(), "145000.00");
    ///
    /// // Delivered again with the amount written differently: the same payment, a duplicate.
    /// let retry = BankPayment::from_raw(&raw("145000.00"))?;
    /// assert_eq!(retry.compare(&first), Dedup::Duplicate);
    /// // The same operation id with other contents: a conflict.
    /// let changed = BankPayment::from_raw(&raw("1.00"))?;
    /// assert_eq!(changed.compare(&first), Dedup::Conflict);
    ///
    /// // Every bad field is reported at once, keyed by its name.
    /// let errors = BankPayment::from_raw(&RawBankPayment {
    ///     amount: RawField::Number("0.005".into()),
    ///     ..RawBankPayment::default()
    /// })
    /// .unwrap_err();
    /// assert_eq!(
    ///     errors.get("amount"),
    ///     Some(&["Ensure that there are no more than 2 decimal places.".to_string()][..])
    /// );
    /// assert_eq!(errors.get("payer_inn"), Some(&["This field is required.".to_string()][..]));
    /// # Ok::<(), payments_domain::FieldErrors>(())
    /// ```
    pub fn from_raw(raw: &RawBankPayment) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let operation_id = errors.check(
            "operation_id",
            string_only(&raw.operation_id).and_then(OperationId::parse),
        );
        let amount = errors.check("amount", amount_of(&raw.amount));
        let payer_inn = errors.check(
            "payer_inn",
            string_or_number(&raw.payer_inn)
                .and_then(|text| Inn::parse(text).map_err(|e| e.to_string())),
        );
        let document_number = errors.check(
            "document_number",
            string_or_number(&raw.document_number)
                .and_then(|text| DocumentNumber::parse(text).map_err(|e| e.to_string())),
        );
        let document_date = errors.check(
            "document_date",
            string_only(&raw.document_date).and_then(DocumentDate::parse),
        );
        match (
            operation_id,
            amount,
            payer_inn,
            document_number,
            document_date,
        ) {
            (
                Some(operation_id),
                Some(amount),
                Some(payer_inn),
                Some(document_number),
                Some(document_date),
            ) if errors.is_empty() => Ok(Self {
                operation_id,
                amount,
                payer_inn,
                document_number,
                document_date,
            }),
            _ => Err(errors),
        }
    }

    /// The payment a bank operation becomes: a `bank_transfer` that has already `succeeded`
    /// (the money is in the account), referenced by the bank's document number.
    pub fn to_payment(&self, organization_id: OrganizationId, now: DateTime<Utc>) -> Payment {
        Payment {
            id: PaymentId::generate(),
            organization_id,
            invoice_id: None,
            amount: self.amount,
            method: PaymentMethod::BankTransfer,
            status: PaymentStatus::Succeeded,
            transaction_reference: Some(self.document_number.as_str().to_string()),
            notes: None,
            failure_reason: None,
            admin_notes: None,
            bank: Some(BankDetails {
                operation_id: self.operation_id,
                document_number: self.document_number.clone(),
                document_date: self.document_date,
            }),
            created_at: now,
            updated_at: now,
            processed_at: Some(now),
        }
    }

    /// The dedup rule: `self` arrived under the operation id of `recorded`. Amounts compare by
    /// value (`145000` equals `145000.00`), dates as instants.
    pub fn compare(&self, recorded: &BankPayment) -> Dedup {
        debug_assert_eq!(self.operation_id, recorded.operation_id);
        let same = self.amount == recorded.amount
            && self.payer_inn == recorded.payer_inn
            && self.document_number == recorded.document_number
            && self.document_date == recorded.document_date;
        if same {
            Dedup::Duplicate
        } else {
            Dedup::Conflict
        }
    }
}

/// A bank payment as a store holds it under its operation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedBankPayment {
    pub payment_id: PaymentId,
    pub payment: BankPayment,
}

/// What recording one bank payment writes.
// One plan per payment, moved once: boxing the payment would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankPaymentPlan {
    /// Insert `payment` under the unique key on its operation id, store `change.new` as the
    /// organization's balance and append a log entry for `change`.
    Credit {
        payment: Payment,
        change: BalanceChange,
    },
    /// The operation id is taken: write nothing (roll back, the organization too) and
    /// answer with the recorded payment; `verdict` is the dedup rule's.
    AlreadyRecorded {
        recorded: RecordedBankPayment,
        verdict: Dedup,
    },
}

/// Plans recording `payment`, given what the store holds under its operation id and the
/// balance of the payer's organization read under its lock.
///
/// The store calls it inside its transaction after locking the organization. If the insert
/// then loses a race on the operation id's unique key, the store reads the winner and plans
/// again with it: the key decides, this function only says what follows.
pub fn plan_bank_payment(
    payment: &BankPayment,
    recorded: Option<&RecordedBankPayment>,
    organization_id: OrganizationId,
    balance: Money,
    now: DateTime<Utc>,
) -> Result<BankPaymentPlan, LedgerError> {
    if let Some(recorded) = recorded {
        return Ok(BankPaymentPlan::AlreadyRecorded {
            verdict: payment.compare(&recorded.payment),
            recorded: recorded.clone(),
        });
    }
    let change = ledger::credit(balance, payment.amount)?;
    Ok(BankPaymentPlan::Credit {
        payment: payment.to_payment(organization_id, now),
        change,
    })
}

fn present(field: &RawField) -> Result<(), BankFieldError> {
    match field {
        RawField::Missing => Err(BankFieldError::Required),
        RawField::Null => Err(BankFieldError::Null),
        _ => Ok(()),
    }
}

fn string_only(field: &RawField) -> Result<&str, BankFieldError> {
    present(field)?;
    match field {
        RawField::Text(text) => Ok(text),
        _ => Err(BankFieldError::NotAString),
    }
}

/// Text fields also take a JSON number, as the old Django `CharField` did.
fn string_or_number(field: &RawField) -> Result<&str, String> {
    present(field).map_err(|e| e.to_string())?;
    match field {
        RawField::Text(text) | RawField::Number(text) => Ok(text),
        _ => Err(BankFieldError::NotAString.to_string()),
    }
}

fn amount_of(field: &RawField) -> Result<Money, String> {
    present(field).map_err(|e| e.to_string())?;
    match field {
        RawField::Text(text) | RawField::Number(text) => {
            Money::parse_positive(text, BANK_CURRENCY).map_err(|e| e.to_string())
        }
        _ => Err(crate::money::MoneyError::NotANumber.to_string()),
    }
}

#[cfg(test)]
mod tests {

    mod plan {
        use super::super::*;

        fn rub(text: &str) -> Money {
            Money::parse(text, Currency::RUB).unwrap()
        }

        fn payment(amount: &str) -> BankPayment {
            BankPayment {
                operation_id: OperationId(Uuid::from_u128(42)),
                amount: rub(amount),
                payer_inn: Inn::parse("1234567890").unwrap(),
                document_number: DocumentNumber::parse("PAY-328").unwrap(),
                document_date: DocumentDate::parse("2024-04-27").unwrap(),
            }
        }

        #[test]
        fn a_new_operation_is_credited_as_a_succeeded_bank_transfer() {
            let org = OrganizationId::new_random();
            let now = Utc::now();
            let plan = plan_bank_payment(&payment("100.50"), None, org, rub("10"), now).unwrap();
            let BankPaymentPlan::Credit {
                payment: stored,
                change,
            } = plan
            else {
                panic!("expected a credit, got {plan:?}");
            };
            assert_eq!((change.previous, change.new), (rub("10"), rub("110.50")));
            assert_eq!(stored.organization_id, org);
            assert_eq!(stored.status, PaymentStatus::Succeeded);
            assert_eq!(stored.method, PaymentMethod::BankTransfer);
            assert_eq!(stored.amount, rub("100.50"));
            assert_eq!(stored.processed_at, Some(now));
            assert_eq!(
                stored.bank.map(|b| b.operation_id),
                Some(OperationId(Uuid::from_u128(42)))
            );
        }

        #[test]
        fn a_recorded_operation_writes_nothing_and_carries_the_dedup_verdict() {
            let recorded = RecordedBankPayment {
                payment_id: PaymentId::generate(),
                payment: payment("100"),
            };
            let org = OrganizationId::new_random();
            let same = plan_bank_payment(
                &payment("100.00"),
                Some(&recorded),
                org,
                rub("0"),
                Utc::now(),
            );
            assert_eq!(
                same,
                Ok(BankPaymentPlan::AlreadyRecorded {
                    recorded: recorded.clone(),
                    verdict: Dedup::Duplicate
                })
            );
            let other =
                plan_bank_payment(&payment("99"), Some(&recorded), org, rub("0"), Utc::now());
            assert!(matches!(
                other,
                Ok(BankPaymentPlan::AlreadyRecorded {
                    verdict: Dedup::Conflict,
                    ..
                })
            ));
        }

        #[test]
        fn a_recorded_operation_wins_over_a_ledger_refusal() {
            // A duplicate must be answered as such even when a new credit would overflow.
            let recorded = RecordedBankPayment {
                payment_id: PaymentId::generate(),
                payment: payment("1"),
            };
            let full = rub("9999999999999.99");
            let org = OrganizationId::new_random();
            assert!(plan_bank_payment(&payment("1"), None, org, full, Utc::now()).is_err());
            assert!(matches!(
                plan_bank_payment(&payment("1"), Some(&recorded), org, full, Utc::now()),
                Ok(BankPaymentPlan::AlreadyRecorded { .. })
            ));
        }
    }

    use super::*;

    fn text(value: &str) -> RawField {
        RawField::Text(value.to_string())
    }

    fn valid_raw() -> RawBankPayment {
        RawBankPayment {
            operation_id: text("ccf0a86d-041b-4991-bcf7-e2352f7b8a4a"),
            amount: RawField::Number("145000".into()),
            payer_inn: text("1234567890"),
            document_number: text("PAY-328"),
            document_date: text("2024-04-27T21:00:00Z"),
        }
    }

    #[test]
    fn a_valid_body_becomes_a_bank_payment() {
        let payment = BankPayment::from_raw(&valid_raw()).unwrap();
        assert_eq!(payment.amount.to_string(), "145000.00");
        assert_eq!(payment.payer_inn.as_str(), "1234567890");
        assert_eq!(payment.document_number.as_str(), "PAY-328");
        assert_eq!(
            payment.document_date.instant().to_rfc3339(),
            "2024-04-27T21:00:00+00:00"
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let raw = RawBankPayment {
            operation_id: text("not-a-uuid"),
            amount: RawField::Number("0.005".into()),
            payer_inn: RawField::Missing,
            document_number: RawField::Null,
            document_date: text("yesterday"),
        };
        let errors = BankPayment::from_raw(&raw).unwrap_err();
        assert_eq!(
            errors.get("operation_id").unwrap(),
            ["Must be a valid UUID."]
        );
        assert_eq!(
            errors.get("amount").unwrap(),
            ["Ensure that there are no more than 2 decimal places."]
        );
        assert_eq!(
            errors.get("payer_inn").unwrap(),
            ["This field is required."]
        );
        assert_eq!(
            errors.get("document_number").unwrap(),
            ["This field may not be null."]
        );
        assert!(errors.get("document_date").is_some());
    }

    #[test]
    fn amount_may_be_a_numeric_string_but_not_a_boolean() {
        let mut raw = valid_raw();
        raw.amount = text("1.50");
        assert_eq!(
            BankPayment::from_raw(&raw).unwrap().amount.to_minor_units(),
            150
        );
        raw.amount = RawField::Other;
        assert!(BankPayment::from_raw(&raw)
            .unwrap_err()
            .get("amount")
            .is_some());
        raw.amount = RawField::Number("-5".into());
        assert!(BankPayment::from_raw(&raw)
            .unwrap_err()
            .get("amount")
            .is_some());
    }

    #[test]
    fn operation_id_must_be_a_dashed_uuid_in_any_case() {
        assert!(OperationId::parse("CCF0A86D-041B-4991-BCF7-E2352F7B8A4A").is_ok());
        assert!(OperationId::parse("ccf0a86d041b4991bcf7e2352f7b8a4a").is_err());
        assert!(OperationId::parse("{ccf0a86d-041b-4991-bcf7-e2352f7b8a4}").is_err());
        let mut raw = valid_raw();
        raw.operation_id = RawField::Number("12".into());
        assert_eq!(
            BankPayment::from_raw(&raw)
                .unwrap_err()
                .get("operation_id")
                .unwrap(),
            ["Not a valid string."]
        );
    }

    #[test]
    fn document_number_rules() {
        assert!(DocumentNumber::parse("").is_err());
        assert!(DocumentNumber::parse("   ").is_err());
        assert!(DocumentNumber::parse(&"x".repeat(50)).is_ok());
        assert!(DocumentNumber::parse(&"ж".repeat(50)).is_ok());
        assert!(DocumentNumber::parse(&"x".repeat(51)).is_err());
        assert_eq!(
            DocumentNumber::parse("A\u{0}B"),
            Err(BankFieldError::ControlCharacters)
        );
        assert_eq!(DocumentNumber::parse(" PAY-1 ").unwrap().as_str(), "PAY-1");
    }

    #[test]
    fn document_date_forms() {
        let midnight = DocumentDate::parse("2024-04-27").unwrap();
        assert_eq!(midnight.instant().to_rfc3339(), "2024-04-27T00:00:00+00:00");
        let naive = DocumentDate::parse("2024-04-27T21:00:00").unwrap();
        let zoned = DocumentDate::parse("2024-04-28T00:00:00+03:00").unwrap();
        assert_eq!(naive, zoned);
        let nanos = DocumentDate::parse("2024-04-27T21:00:00.123456789Z").unwrap();
        assert_eq!(
            nanos,
            DocumentDate::parse("2024-04-27T21:00:00.123456Z").unwrap()
        );
        for bad in ["", "27.04.2024", "2024-13-01", "2024-04-27T25:00:00Z"] {
            assert_eq!(
                DocumentDate::parse(bad),
                Err(BankFieldError::InvalidDate),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_bank_payment_becomes_a_succeeded_bank_transfer_referenced_by_its_document() {
        let bank = BankPayment::from_raw(&valid_raw()).unwrap();
        let organization = OrganizationId::new_random();
        let now = Utc::now();
        let payment = bank.to_payment(organization, now);
        assert_eq!(payment.status, PaymentStatus::Succeeded);
        assert_eq!(payment.method, PaymentMethod::BankTransfer);
        assert_eq!(payment.transaction_reference.as_deref(), Some("PAY-328"));
        assert_eq!(payment.organization_id, organization);
        assert_eq!(payment.amount, bank.amount);
        assert_eq!(payment.processed_at, Some(now));
        assert_eq!(payment.bank.unwrap().operation_id, bank.operation_id);
    }

    #[test]
    fn dedup_same_contents_is_duplicate_other_contents_conflict() {
        let recorded = BankPayment::from_raw(&valid_raw()).unwrap();
        let mut same = valid_raw();
        same.amount = text("145000.00");
        same.document_date = text("2024-04-28T00:00:00+03:00");
        same.operation_id = text("CCF0A86D-041B-4991-BCF7-E2352F7B8A4A");
        let same = BankPayment::from_raw(&same).unwrap();
        assert_eq!(same.compare(&recorded), Dedup::Duplicate);

        let variants: [fn(&mut RawBankPayment); 4] = [
            |r| r.amount = RawField::Number("145000.01".into()),
            |r| r.payer_inn = text("0987654321"),
            |r| r.document_number = text("PAY-329"),
            |r| r.document_date = text("2024-04-27"),
        ];
        for change in variants {
            let mut raw = valid_raw();
            change(&mut raw);
            let other = BankPayment::from_raw(&raw).unwrap();
            assert_eq!(other.compare(&recorded), Dedup::Conflict);
        }
    }
}
