//! Property tests of every parser a client reaches: amounts, INNs, dates, the signature header
//! and the webhook body. Each parser must never panic, must accept what it documents and must
//! give back exactly what it accepted. (That the accepted values also read back unchanged from
//! both databases is checked by `crates/adapters-diesel/tests/roundtrip.rs`.)

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use payments_domain::bank::{storable_year, DocumentDate, RawBankPayment, RawField};
use payments_domain::invoice::parse_due_date;
use payments_domain::signature::{self, WebhookSecret, MAX_CANDIDATES};
use payments_domain::{BankPayment, Currency, Inn, Money};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(512),
        ..ProptestConfig::default()
    }
}

/// Any instant both backends store: years 1 to 9999, microsecond precision.
fn storable_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let first = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap().timestamp();
    let last = Utc
        .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .unwrap()
        .timestamp();
    (first..=last, 0u32..1_000_000)
        .prop_map(|(secs, micros)| Utc.timestamp_opt(secs, micros * 1000).unwrap())
}

/// Defect 2: what a backend could not store and read back exactly is refused.
#[test]
fn document_dates_outside_what_both_backends_store_are_refused() {
    for bad in [
        "+10000-01-01",
        "-0001-01-01",
        "0000-12-31",
        "+10000-01-01T00:00:00",
        "9999-12-31T23:00:00-05:00",
        "0001-01-01T00:30:00+01:00",
    ] {
        assert_eq!(
            DocumentDate::parse(bad),
            Err(payments_domain::bank::BankFieldError::DateOutOfRange),
            "{bad:?}"
        );
    }
    for leap in [
        "2016-12-31T23:59:60Z",
        "2016-12-31T23:59:60.5Z",
        "2016-12-31 23:59:60",
    ] {
        assert_eq!(
            DocumentDate::parse(leap),
            Err(payments_domain::bank::BankFieldError::LeapSecond),
            "{leap:?}"
        );
    }
    assert!(DocumentDate::parse("0001-01-01").is_ok());
    assert!(DocumentDate::parse("9999-12-31T23:59:59.999999Z").is_ok());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn amounts_never_panic_and_accepted_ones_round_trip(text in "\\PC{0,40}") {
        if let Ok(money) = Money::parse(&text, Currency::RUB) {
            let again = Money::parse(&money.to_string(), Currency::RUB).unwrap();
            prop_assert_eq!(again, money);
            prop_assert_eq!(
                Money::from_minor_units(money.to_minor_units(), Currency::RUB).unwrap(),
                money
            );
        }
    }

    #[test]
    fn amounts_with_up_to_two_decimals_are_exact(
        units in 0i64..10_000_000_000_000,
        cents in 0i64..100,
        form in 0u8..3,
    ) {
        let text = match form {
            0 => format!("{units}.{cents:02}"),
            1 => format!("{units}.{}", cents / 10),
            _ => units.to_string(),
        };
        let money = Money::parse(&text, Currency::RUB).unwrap();
        let expected = match form {
            0 => units * 100 + cents,
            1 => units * 100 + cents / 10 * 10,
            _ => units * 100,
        };
        prop_assert_eq!(money.to_minor_units(), expected);
        if form == 0 {
            // A third decimal is refused, never rounded.
            let three = format!("{}1", text);
            prop_assert!(Money::parse(&three, Currency::RUB).is_err());
        }
    }

    #[test]
    fn inns_are_exactly_ten_or_twelve_digits(text in "[0-9 a-z\\-]{0,14}") {
        let trimmed = text.trim_matches(' ');
        let valid = matches!(trimmed.len(), 10 | 12) && trimmed.bytes().all(|b| b.is_ascii_digit());
        match Inn::parse(&text) {
            Ok(inn) => {
                prop_assert!(valid, "{:?} accepted", text);
                prop_assert_eq!(inn.as_str(), trimmed);
                prop_assert_eq!(Inn::parse(inn.as_str()).unwrap(), inn);
            }
            Err(_) => prop_assert!(!valid, "{:?} refused", text),
        }
    }

    #[test]
    fn document_dates_never_panic_and_accept_only_storable_instants(text in "\\PC{0,40}") {
        if let Ok(date) = DocumentDate::parse(&text) {
            prop_assert!(storable_year(date.instant().year()));
            prop_assert!(date.instant().nanosecond() < 1_000_000_000);
        }
    }

    #[test]
    fn document_dates_in_any_form_round_trip(
        instant in storable_instant(),
        offset_minutes in -(14 * 60)..=(14 * 60i32),
        form in 0u8..4,
    ) {
        let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let text = match form {
            0 => instant.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            1 => instant.with_timezone(&offset).to_rfc3339(),
            2 => instant.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            _ => instant.format("%Y-%m-%d").to_string(),
        };
        let local_year = instant.with_timezone(&offset).year();
        match DocumentDate::parse(&text) {
            Ok(parsed) => {
                let expected = if form == 3 {
                    instant.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc()
                } else {
                    instant
                };
                prop_assert_eq!(parsed.instant(), expected, "{}", text);
                prop_assert_eq!(DocumentDate::from_utc(parsed.instant()), parsed);
            }
            // Only an offset that carries the local year out of range may refuse it.
            Err(e) => prop_assert!(form == 1 && !storable_year(local_year), "{}: {}", text, e),
        }
    }

    #[test]
    fn due_dates_accept_exactly_years_1_to_9999(
        year in -20_000i32..20_000,
        month in 1u32..=12,
        day in 1u32..=28,
    ) {
        let text = if (0..=9999).contains(&year) {
            format!("{year:04}-{month:02}-{day:02}")
        } else {
            format!("{year:+}-{month:02}-{day:02}")
        };
        match parse_due_date(&text) {
            Ok(date) => {
                prop_assert!(storable_year(year), "{}", text);
                prop_assert_eq!(parse_due_date(&date.format("%Y-%m-%d").to_string()), Ok(date));
            }
            Err(_) => prop_assert!(!storable_year(year), "{}", text),
        }
    }

    #[test]
    fn signature_headers_never_panic(header in "\\PC{0,200}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let secret = WebhookSecret::new("s").unwrap();
        let _ = signature::verify(&[secret], Some(&header), &body, 1_700_000_000);
    }

    #[test]
    fn a_signed_body_verifies_among_other_candidates(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        others in proptest::collection::vec("[0-9a-f]{64}", 0..MAX_CANDIDATES),
        position in 0usize..MAX_CANDIDATES,
        secret in "[ -~]{1,40}",
    ) {
        let secret = WebhookSecret::new(secret).unwrap();
        let now = 1_700_000_000;
        let header = signature::sign(&secret, now, &body);
        let good = header.split(",v1=").nth(1).unwrap().to_string();
        let mut candidates = others;
        candidates.insert(position.min(candidates.len()), good);
        let header = format!("t={now},v1={}", candidates.join(",v1="));
        prop_assert_eq!(signature::verify(std::slice::from_ref(&secret), Some(&header), &body, now), Ok(()));
        let mut tampered = body.clone();
        tampered.push(b'x');
        prop_assert!(signature::verify(&[secret], Some(&header), &tampered, now).is_err());
    }

    #[test]
    fn webhook_bodies_never_panic_and_valid_ones_are_accepted(
        operation_id in prop_oneof![Just(None), "\\PC{0,40}".prop_map(Some), Just(Some(uuid::Uuid::new_v4().to_string()))],
        amount in prop_oneof!["\\PC{0,20}", "[0-9]{1,13}(\\.[0-9]{1,2})?"],
        inn in prop_oneof!["\\PC{0,14}", "[0-9]{10}", "[0-9]{12}"],
        number in "\\PC{0,60}",
        instant in storable_instant(),
        date_noise in proptest::option::of("\\PC{0,30}"),
    ) {
        let text = |t: &str| RawField::Text(t.to_string());
        let raw = RawBankPayment {
            operation_id: operation_id.as_deref().map_or(RawField::Missing, text),
            amount: RawField::Number(amount.clone()),
            payer_inn: text(&inn),
            document_number: text(&number),
            document_date: text(&date_noise.clone().unwrap_or_else(|| instant.to_rfc3339())),
        };
        match BankPayment::from_raw(&raw) {
            Ok(payment) => {
                // What was accepted compares equal to itself sent again: a retry is a duplicate.
                let again = BankPayment::from_raw(&raw).unwrap();
                prop_assert_eq!(again.compare(&payment), payments_domain::bank::Dedup::Duplicate);
                prop_assert!(payment.amount.to_minor_units() > 0);
            }
            Err(errors) => prop_assert!(!errors.is_empty()),
        }
    }
}
