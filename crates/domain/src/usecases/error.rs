//! The one error of the billing use cases.
//!
//! Every billing capability ([`super::MemberPayments`], [`super::StaffActions`], ...) fails with
//! this enum. One enum rather than one per capability: the capabilities fail in the same few
//! ways (the caller's role, something missing, a conflict, invalid input, storage), and callers
//! map each way to one answer, so per-capability enums would repeat the same variants and the
//! same mapping nine times without telling a caller anything more.

use crate::auth::AccessError;
use crate::billing::{ManualPaymentError, StaffActionError};
use crate::error::{FieldErrors, StorageError};
use crate::ledger::LedgerError;
use crate::payment::InvalidTransition;
use crate::ports::{CatalogueError, CreateInvoiceError, CreateOrganizationError};

/// What a billing request named and did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    Payment,
    Invoice,
    Organization,
    /// A row of the payment-method catalogue.
    Configuration,
    /// An organization's override of one payment method.
    Override,
}

impl Resource {
    /// The name used in messages, e.g. `Payment`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Payment => "Payment",
            Self::Invoice => "Invoice",
            Self::Organization => "Organization",
            Self::Configuration => "Configuration",
            Self::Override => "Override",
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a billing request failed. The `Display` of each variant is the client-facing message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BillingError {
    /// Invalid input, with every reason per field.
    #[error("Invalid data")]
    Invalid(FieldErrors),
    /// The caller's role may not do this.
    #[error(transparent)]
    Forbidden(#[from] AccessError),
    /// Missing, or another organization's (the two are not told apart).
    #[error("{0} not found.")]
    NotFound(Resource),
    /// The payment state machine refuses the action; names the current and required states.
    #[error(transparent)]
    InvalidTransition(InvalidTransition),
    /// Another conflict with the stored state (a taken number, a pending payment, ...).
    #[error("{0}")]
    Conflict(String),
    /// Well formed, but the ledger cannot take it.
    #[error("{0}")]
    Unprocessable(String),
    /// Storage failed; the request may be retried.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One field's reason, as [`BillingError::Invalid`].
pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> BillingError {
    let mut errors = FieldErrors::new();
    errors.add(field, reason);
    BillingError::Invalid(errors)
}

/// A required name of 1 to 255 characters, trimmed, without control characters; the reason
/// is recorded when it is not.
pub(crate) fn required_name(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
) -> Option<String> {
    match value.map(str::trim) {
        Some(name) if !name.is_empty() && name.chars().count() <= 255 => errors.check(
            field,
            crate::text::check_readable_text(name).map(|()| name.to_string()),
        ),
        Some(_) => {
            errors.add(field, "Must be 1 to 255 characters.");
            None
        }
        None => {
            errors.add(field, "This field is required.");
            None
        }
    }
}

impl From<CreateOrganizationError> for BillingError {
    fn from(e: CreateOrganizationError) -> Self {
        match e {
            CreateOrganizationError::Storage(s) => Self::Storage(s),
            taken => Self::Conflict(taken.to_string()),
        }
    }
}

impl From<CreateInvoiceError> for BillingError {
    fn from(e: CreateInvoiceError) -> Self {
        match e {
            CreateInvoiceError::Storage(s) => Self::Storage(s),
            taken => Self::Conflict(taken.to_string()),
        }
    }
}

impl From<CatalogueError> for BillingError {
    fn from(e: CatalogueError) -> Self {
        match e {
            CatalogueError::NotFound => Self::NotFound(Resource::Configuration),
            CatalogueError::Storage(s) => Self::Storage(s),
            duplicate => Self::Conflict(duplicate.to_string()),
        }
    }
}

impl From<ManualPaymentError> for BillingError {
    fn from(e: ManualPaymentError) -> Self {
        match e {
            ManualPaymentError::InvoiceNotFound => Self::NotFound(Resource::Invoice),
            ManualPaymentError::MethodNotAvailable(_) => invalid("payment_method", e.to_string()),
            ManualPaymentError::InvoiceNotPayable(_) => invalid("invoice_id", e.to_string()),
            conflict => Self::Conflict(conflict.to_string()),
        }
    }
}

impl From<StaffActionError> for BillingError {
    fn from(e: StaffActionError) -> Self {
        match e {
            StaffActionError::PaymentNotFound => Self::NotFound(Resource::Payment),
            StaffActionError::InvalidTransition(t) => Self::InvalidTransition(t),
            StaffActionError::Ledger(LedgerError::InsufficientBalance { .. }) => {
                Self::Conflict(e.to_string())
            }
            StaffActionError::Ledger(other) => Self::Unprocessable(other.to_string()),
            conflict => Self::Conflict(conflict.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Money};
    use crate::payment::{PaymentMethod, PaymentStatus};

    #[test]
    fn not_found_names_the_resource() {
        assert_eq!(
            BillingError::NotFound(Resource::Configuration).to_string(),
            "Configuration not found."
        );
    }

    #[test]
    fn manual_payment_refusals_map_to_one_kind_each() {
        let kind = |e: ManualPaymentError| match BillingError::from(e) {
            BillingError::Conflict(_) => "conflict",
            BillingError::NotFound(Resource::Invoice) => "not found",
            BillingError::Invalid(errors) if errors.get("payment_method").is_some() => "method",
            BillingError::Invalid(errors) if errors.get("invoice_id").is_some() => "invoice",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(kind(ManualPaymentError::PendingPaymentExists), "conflict");
        assert_eq!(kind(ManualPaymentError::IdempotencyKeyReused), "conflict");
        assert_eq!(kind(ManualPaymentError::InvoiceNotFound), "not found");
        assert_eq!(
            kind(ManualPaymentError::MethodNotAvailable(PaymentMethod::Card)),
            "method"
        );
        assert_eq!(
            kind(ManualPaymentError::InvoiceNotPayable(
                crate::invoice::InvoiceStatus::Paid
            )),
            "invoice"
        );
    }

    #[test]
    fn an_overdraft_is_a_conflict_and_other_ledger_refusals_are_unprocessable() {
        let overdraft = StaffActionError::Ledger(LedgerError::InsufficientBalance {
            balance: Money::zero(Currency::RUB),
            requested: Money::parse("1", Currency::RUB).unwrap(),
        });
        assert!(matches!(
            BillingError::from(overdraft),
            BillingError::Conflict(_)
        ));
        let overflow = StaffActionError::Ledger(LedgerError::Overflow {
            max: Money::zero(Currency::RUB),
        });
        assert!(matches!(
            BillingError::from(overflow),
            BillingError::Unprocessable(_)
        ));
        let refusal = PaymentStatus::Failed
            .transition_to(PaymentStatus::Succeeded)
            .unwrap_err();
        assert_eq!(
            BillingError::from(StaffActionError::InvalidTransition(refusal.clone())),
            BillingError::InvalidTransition(refusal)
        );
    }
}
