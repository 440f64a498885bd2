//! Payments, their methods and the status state machine.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::bank::{DocumentDate, DocumentNumber, OperationId};
use crate::money::Money;
use crate::organization::OrganizationId;

/// Identifier of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaymentId(pub Uuid);

impl PaymentId {
    /// A fresh id: a UUID version 7 (a millisecond timestamp, a counter reseeded at random
    /// every millisecond, then random bits). Ids made later in this process sort later, so a
    /// new payment's primary-key entry lands on the index's last page instead of a random one,
    /// and a commit writes fewer index pages.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How the money was (or will be) paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentMethod {
    BankTransfer,
    LocalWallet,
    Card,
    Paypal,
    Manual,
}

impl PaymentMethod {
    /// Every method, in catalogue order.
    pub const ALL: [PaymentMethod; 5] = [
        Self::BankTransfer,
        Self::LocalWallet,
        Self::Card,
        Self::Paypal,
        Self::Manual,
    ];

    /// The wire and storage name (`"bank_transfer"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BankTransfer => "bank_transfer",
            Self::LocalWallet => "local_wallet",
            Self::Card => "card",
            Self::Paypal => "paypal",
            Self::Manual => "manual",
        }
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown payment method or status name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a valid choice.")]
pub struct UnknownName(pub String);

impl FromStr for PaymentMethod {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

/// Where a payment is in its life.
///
/// ```text
/// pending ──► processing ──► succeeded ──► refunded
///    │  └───► pending_approval ──┘ ▲
///    │              │             (processing → succeeded)
///    ├──► failed ◄──┴── (and processing → failed)
///    └──► cancelled ◄── pending_approval
/// ```
/// The balance moves only on entering `succeeded` (credit) and `refunded` (debit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentStatus {
    Pending,
    PendingApproval,
    Processing,
    Succeeded,
    Failed,
    Refunded,
    Cancelled,
}

/// What entering a status does to the organization's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceEffect {
    /// The payment's amount is added.
    Credit,
    /// The payment's amount is taken back.
    Debit,
    /// The balance is untouched.
    None,
}

/// The result of asking for a status change that the state machine allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The status changes; apply `effect` to the balance in the same transaction.
    Apply {
        from: PaymentStatus,
        to: PaymentStatus,
        effect: BalanceEffect,
    },
    /// The payment is already in the requested status: answer as before, change nothing.
    AlreadyDone,
}

/// A status change the state machine refuses (HTTP 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Payment is {current}; this action needs it to be {}.", join_statuses(.required))]
pub struct InvalidTransition {
    /// The payment's status now.
    pub current: PaymentStatus,
    /// The status that was asked for.
    pub requested: PaymentStatus,
    /// The statuses from which `requested` may be entered.
    pub required: Vec<PaymentStatus>,
}

fn join_statuses(statuses: &[PaymentStatus]) -> String {
    let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    names.join(" or ")
}

impl PaymentStatus {
    /// Every status.
    pub const ALL: [PaymentStatus; 7] = [
        Self::Pending,
        Self::PendingApproval,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
        Self::Refunded,
        Self::Cancelled,
    ];

    /// The wire and storage name (`"pending_approval"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::PendingApproval => "pending_approval",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a status as a list filter accepts it: `completed` is the old system's name for
    /// `succeeded`.
    pub fn parse_filter(name: &str) -> Result<Self, UnknownName> {
        match name.trim() {
            "completed" => Ok(Self::Succeeded),
            other => other.parse(),
        }
    }

    /// The statuses this one may move to.
    pub fn allowed_next(self) -> &'static [PaymentStatus] {
        use PaymentStatus::*;
        match self {
            Pending => &[Processing, PendingApproval, Failed, Cancelled],
            PendingApproval => &[Succeeded, Failed, Cancelled],
            Processing => &[Succeeded, Failed],
            Succeeded => &[Refunded],
            Failed | Refunded | Cancelled => &[],
        }
    }

    /// The statuses from which `self` may be entered.
    pub fn allowed_previous(self) -> Vec<PaymentStatus> {
        Self::ALL
            .into_iter()
            .filter(|s| s.allowed_next().contains(&self))
            .collect()
    }

    /// True when no transition leaves this status.
    pub fn is_final(self) -> bool {
        self.allowed_next().is_empty()
    }

    /// The statuses whose payments are in the organization's balance: a payment is credited
    /// on entering one and debited on leaving it. Stores filter on these names when they sum
    /// what the balance should be (the ledger audit).
    pub const COUNTED_IN_BALANCE: [PaymentStatus; 1] = [Self::Succeeded];

    /// True when a payment in this status is part of the balance.
    pub fn counts_towards_balance(self) -> bool {
        Self::COUNTED_IN_BALANCE.contains(&self)
    }

    /// What entering this status does to the balance.
    pub fn balance_effect_on_entry(self) -> BalanceEffect {
        match self {
            Self::Succeeded => BalanceEffect::Credit,
            Self::Refunded => BalanceEffect::Debit,
            _ => BalanceEffect::None,
        }
    }

    /// Decides a requested status change: apply it, acknowledge a repeat, or refuse it.
    ///
    /// # Examples
    /// ```
    /// use payments_domain::payment::{BalanceEffect, Transition};
    /// use payments_domain::PaymentStatus::*;
    ///
    /// // Approving a manual payment credits the balance.
    /// assert_eq!(
    ///     PendingApproval.transition_to(Succeeded),
    ///     Ok(Transition::Apply { from: PendingApproval, to: Succeeded, effect: BalanceEffect::Credit })
    /// );
    /// // Approving it again is acknowledged, with no second credit.
    /// assert_eq!(Succeeded.transition_to(Succeeded), Ok(Transition::AlreadyDone));
    /// // A refund debits; a failed payment cannot be refunded, and the refusal names what it needs.
    /// assert!(matches!(
    ///     Succeeded.transition_to(Refunded),
    ///     Ok(Transition::Apply { effect: BalanceEffect::Debit, .. })
    /// ));
    /// let refused = Failed.transition_to(Refunded).unwrap_err();
    /// assert_eq!((refused.current, &refused.required[..]), (Failed, &[Succeeded][..]));
    /// assert_eq!(refused.to_string(), "Payment is failed; this action needs it to be succeeded.");
    /// ```
    pub fn transition_to(self, requested: PaymentStatus) -> Result<Transition, InvalidTransition> {
        if self == requested {
            return Ok(Transition::AlreadyDone);
        }
        if self.allowed_next().contains(&requested) {
            Ok(Transition::Apply {
                from: self,
                to: requested,
                effect: requested.balance_effect_on_entry(),
            })
        } else {
            Err(InvalidTransition {
                current: self,
                requested,
                required: requested.allowed_previous(),
            })
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PaymentStatus {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

/// Bank-specific facts of a payment that arrived by bank webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankDetails {
    pub operation_id: OperationId,
    pub document_number: DocumentNumber,
    pub document_date: DocumentDate,
}

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub organization_id: OrganizationId,
    pub invoice_id: Option<Uuid>,
    pub amount: Money,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    pub transaction_reference: Option<String>,
    pub notes: Option<String>,
    pub failure_reason: Option<String>,
    pub admin_notes: Option<String>,
    /// Present when the payment came from a bank webhook.
    pub bank: Option<BankDetails>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the payment reached a final outcome (approved, rejected, succeeded on arrival).
    pub processed_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_payment_ids_are_version_7_and_sort_in_the_order_they_were_made() {
        let ids: Vec<PaymentId> = (0..2000).map(|_| PaymentId::generate()).collect();
        assert!(ids.iter().all(|id| id.0.get_version_num() == 7));
        // Many fall in one millisecond: the order must hold within it too.
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn balance_effects_follow_the_statuses_counted_in_the_balance() {
        // Entering a counted status credits, leaving one debits, anything else is neutral:
        // the audit's sum over COUNTED_IN_BALANCE then always equals the balance.
        for from in PaymentStatus::ALL {
            for &to in from.allowed_next() {
                let expected = match (from.counts_towards_balance(), to.counts_towards_balance()) {
                    (false, true) => BalanceEffect::Credit,
                    (true, false) => BalanceEffect::Debit,
                    _ => BalanceEffect::None,
                };
                assert_eq!(to.balance_effect_on_entry(), expected, "{from} -> {to}");
            }
        }
        assert_eq!(
            PaymentStatus::COUNTED_IN_BALANCE,
            [PaymentStatus::Succeeded]
        );
    }

    use super::*;
    use PaymentStatus::*;

    #[test]
    fn allowed_transitions_are_exactly_the_contract() {
        let allowed: Vec<(PaymentStatus, PaymentStatus)> = PaymentStatus::ALL
            .into_iter()
            .flat_map(|from| PaymentStatus::ALL.into_iter().map(move |to| (from, to)))
            .filter(|(from, to)| matches!(from.transition_to(*to), Ok(Transition::Apply { .. })))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Pending, PendingApproval),
                (Pending, Processing),
                (Pending, Failed),
                (Pending, Cancelled),
                (PendingApproval, Succeeded),
                (PendingApproval, Failed),
                (PendingApproval, Cancelled),
                (Processing, Succeeded),
                (Processing, Failed),
                (Succeeded, Refunded),
            ]
        );
    }

    #[test]
    fn repeating_a_transition_is_acknowledged_without_effect() {
        for status in PaymentStatus::ALL {
            assert_eq!(status.transition_to(status), Ok(Transition::AlreadyDone));
        }
    }

    #[test]
    fn refused_transition_names_current_and_required_states() {
        let err = Failed.transition_to(Succeeded).unwrap_err();
        assert_eq!(err.current, Failed);
        assert_eq!(err.required, vec![PendingApproval, Processing]);
        assert_eq!(
            err.to_string(),
            "Payment is failed; this action needs it to be pending_approval or processing."
        );
        let err = Pending.transition_to(Refunded).unwrap_err();
        assert_eq!(err.required, vec![Succeeded]);
    }

    #[test]
    fn only_succeeded_and_refunded_move_the_balance() {
        assert_eq!(
            PendingApproval.transition_to(Succeeded),
            Ok(Transition::Apply {
                from: PendingApproval,
                to: Succeeded,
                effect: BalanceEffect::Credit
            })
        );
        assert_eq!(
            Succeeded.transition_to(Refunded),
            Ok(Transition::Apply {
                from: Succeeded,
                to: Refunded,
                effect: BalanceEffect::Debit
            })
        );
        assert!(matches!(
            PendingApproval.transition_to(Failed),
            Ok(Transition::Apply {
                effect: BalanceEffect::None,
                ..
            })
        ));
    }

    #[test]
    fn final_states_have_no_way_out() {
        let finals: Vec<_> = PaymentStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, vec![Failed, Refunded, Cancelled]);
    }

    #[test]
    fn names_round_trip_and_completed_is_a_filter_alias() {
        for status in PaymentStatus::ALL {
            assert_eq!(status.as_str().parse::<PaymentStatus>(), Ok(status));
        }
        for method in PaymentMethod::ALL {
            assert_eq!(method.as_str().parse::<PaymentMethod>(), Ok(method));
        }
        assert_eq!(PaymentStatus::parse_filter("completed"), Ok(Succeeded));
        assert!("completed".parse::<PaymentStatus>().is_err());
        assert!(PaymentStatus::parse_filter("done").is_err());
    }
}
