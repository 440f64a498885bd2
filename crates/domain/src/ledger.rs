//! Ledger rules: how a balance may change, and the append-only log of changes.
//!
//! Adapters call [`credit`] and [`debit`] on the balance they read *under a row lock* (or an
//! exclusive write transaction), inside the transaction that records the payment, and store the
//! returned [`BalanceChange`] verbatim. So the arithmetic and its limits live here, exact, and
//! the database only guarantees that no two changes interleave.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::money::Money;
use crate::organization::OrganizationId;
use crate::payment::PaymentId;

/// A balance change that the rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The new balance would not fit the balance column (13 digits before the point).
    #[error("The payment would take the balance over its maximum of {max}.")]
    Overflow { max: Money },
    /// A debit larger than the balance.
    #[error("Insufficient balance: {balance} available, {requested} requested.")]
    InsufficientBalance { balance: Money, requested: Money },
    /// The amount is in another currency than the balance.
    #[error("The payment is in {payment}, but the balance is kept in {balance}.")]
    CurrencyMismatch {
        balance: crate::money::Currency,
        payment: crate::money::Currency,
    },
}

/// One change of one balance, computed before it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceChange {
    pub previous: Money,
    pub new: Money,
}

impl BalanceChange {
    /// Signed change in minor units: positive for a credit, negative for a debit.
    pub fn delta_minor_units(&self) -> i64 {
        self.new.to_minor_units() - self.previous.to_minor_units()
    }
}

/// Adds `amount` to `balance`.
///
/// # Examples
/// ```
/// use payments_domain::ledger::{credit, LedgerError};
/// use payments_domain::{Currency, Money};
///
/// let rub = |text: &str| Money::parse(text, Currency::RUB).unwrap();
/// let change = credit(rub("100.00"), rub("39.00"))?;
/// assert_eq!((change.previous, change.new), (rub("100.00"), rub("139.00")));
/// assert_eq!(change.delta_minor_units(), 3_900);
///
/// // A balance never outgrows its column (13 digits before the point)...
/// let full = rub("9999999999999.99");
/// assert!(matches!(credit(full, rub("0.01")), Err(LedgerError::Overflow { .. })));
/// // ...and holds one currency.
/// let usd = Money::parse("1", Currency::parse("USD").unwrap()).unwrap();
/// assert!(matches!(credit(rub("0"), usd), Err(LedgerError::CurrencyMismatch { .. })));
/// # Ok::<(), LedgerError>(())
/// ```
pub fn credit(balance: Money, amount: Money) -> Result<BalanceChange, LedgerError> {
    check_currency(balance, amount)?;
    let new = balance
        .checked_add(&amount)
        .map_err(|_| LedgerError::Overflow {
            max: max_balance(balance),
        })?;
    Ok(BalanceChange {
        previous: balance,
        new,
    })
}

/// Takes `amount` from `balance`; a balance never goes below zero.
///
/// # Examples
/// ```
/// use payments_domain::ledger::{debit, LedgerError};
/// use payments_domain::{Currency, Money};
///
/// let rub = |text: &str| Money::parse(text, Currency::RUB).unwrap();
/// let refund = debit(rub("139.00"), rub("39.00"))?;
/// assert_eq!(refund.new, rub("100.00"));
/// assert_eq!(refund.delta_minor_units(), -3_900);
/// assert_eq!(
///     debit(rub("10.00"), rub("10.01")),
///     Err(LedgerError::InsufficientBalance { balance: rub("10.00"), requested: rub("10.01") })
/// );
/// # Ok::<(), LedgerError>(())
/// ```
pub fn debit(balance: Money, amount: Money) -> Result<BalanceChange, LedgerError> {
    check_currency(balance, amount)?;
    let new = balance
        .checked_sub(&amount)
        .map_err(|_| LedgerError::InsufficientBalance {
            balance,
            requested: amount,
        })?;
    Ok(BalanceChange {
        previous: balance,
        new,
    })
}

fn check_currency(balance: Money, amount: Money) -> Result<(), LedgerError> {
    if balance.currency() == amount.currency() {
        Ok(())
    } else {
        Err(LedgerError::CurrencyMismatch {
            balance: balance.currency(),
            payment: amount.currency(),
        })
    }
}

fn max_balance(balance: Money) -> Money {
    let currency = balance.currency();
    // max_minor_units is in range by construction.
    Money::from_minor_units(currency.max_minor_units(), currency).unwrap_or(balance)
}

/// One stored entry of the append-only balance log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceLogEntry {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub payment_id: PaymentId,
    pub previous_balance: Money,
    pub new_balance: Money,
    /// Signed change in minor units.
    pub delta_minor_units: i64,
    pub created_at: DateTime<Utc>,
}

/// A break of the ledger invariant found by [`verify_log_chain`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerViolation {
    #[error("log entry {entry} starts at {found} but the previous entry ended at {expected}")]
    BrokenChain {
        entry: Uuid,
        expected: Money,
        found: Money,
    },
    #[error(
        "log entry {entry} records delta {delta} but moves the balance from {previous} to {new}"
    )]
    WrongDelta {
        entry: Uuid,
        delta: i64,
        previous: Money,
        new: Money,
    },
    #[error("balance is {balance} but the log ends at {log_end}")]
    BalanceDiffersFromLog { balance: Money, log_end: Money },
}

/// Checks that `entries` (oldest first) form an unbroken chain from zero to `balance`, each
/// entry's delta matching its previous and new balances.
pub fn verify_log_chain(
    balance: Money,
    entries: &[BalanceLogEntry],
) -> Result<(), LedgerViolation> {
    let mut running = Money::zero(balance.currency());
    for entry in entries {
        if entry.previous_balance != running {
            return Err(LedgerViolation::BrokenChain {
                entry: entry.id,
                expected: running,
                found: entry.previous_balance,
            });
        }
        let moved = entry.new_balance.to_minor_units() - entry.previous_balance.to_minor_units();
        if moved != entry.delta_minor_units {
            return Err(LedgerViolation::WrongDelta {
                entry: entry.id,
                delta: entry.delta_minor_units,
                previous: entry.previous_balance,
                new: entry.new_balance,
            });
        }
        running = entry.new_balance;
    }
    if running != balance {
        return Err(LedgerViolation::BalanceDiffersFromLog {
            balance,
            log_end: running,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn rub(text: &str) -> Money {
        Money::parse(text, Currency::RUB).unwrap()
    }

    #[test]
    fn credit_adds_exactly() {
        let change = credit(rub("0.10"), rub("0.20")).unwrap();
        assert_eq!(change.new, rub("0.30"));
        assert_eq!(change.previous, rub("0.10"));
        assert_eq!(change.delta_minor_units(), 20);
    }

    #[test]
    fn credit_over_the_column_limit_is_refused() {
        let err = credit(rub("9999999999999.99"), rub("0.01")).unwrap_err();
        assert_eq!(
            err,
            LedgerError::Overflow {
                max: rub("9999999999999.99")
            }
        );
    }

    #[test]
    fn debit_never_goes_below_zero() {
        assert_eq!(debit(rub("5"), rub("5")).unwrap().new, rub("0"));
        assert_eq!(debit(rub("5"), rub("2")).unwrap().delta_minor_units(), -200);
        assert!(matches!(
            debit(rub("5"), rub("5.01")),
            Err(LedgerError::InsufficientBalance { .. })
        ));
    }

    #[test]
    fn currencies_never_mix() {
        let usd = Money::parse("1", Currency::parse("USD").unwrap()).unwrap();
        assert!(matches!(
            credit(rub("1"), usd),
            Err(LedgerError::CurrencyMismatch { .. })
        ));
        assert!(matches!(
            debit(rub("1"), usd),
            Err(LedgerError::CurrencyMismatch { .. })
        ));
    }

    fn entry(previous: &str, new: &str, delta: i64) -> BalanceLogEntry {
        BalanceLogEntry {
            id: Uuid::new_v4(),
            organization_id: OrganizationId::new_random(),
            payment_id: PaymentId::generate(),
            previous_balance: rub(previous),
            new_balance: rub(new),
            delta_minor_units: delta,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn an_unbroken_log_verifies() {
        let log = [entry("0", "10", 1000), entry("10", "4", -600)];
        assert_eq!(verify_log_chain(rub("4"), &log), Ok(()));
        assert_eq!(verify_log_chain(rub("0"), &[]), Ok(()));
    }

    #[test]
    fn each_kind_of_break_is_named() {
        let gap = [entry("0", "10", 1000), entry("11", "12", 100)];
        assert!(matches!(
            verify_log_chain(rub("12"), &gap),
            Err(LedgerViolation::BrokenChain { .. })
        ));
        let wrong_delta = [entry("0", "10", 999)];
        assert!(matches!(
            verify_log_chain(rub("10"), &wrong_delta),
            Err(LedgerViolation::WrongDelta { .. })
        ));
        let drifted = [entry("0", "10", 1000)];
        assert!(matches!(
            verify_log_chain(rub("10.01"), &drifted),
            Err(LedgerViolation::BalanceDiffersFromLog { .. })
        ));
    }
}
