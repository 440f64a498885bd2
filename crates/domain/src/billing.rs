//! Billing rules: manual payments against invoices, staff approval, rejection and refund.
//!
//! Adapters call [`plan_manual_payment`] and [`plan_staff_action`] inside their transaction,
//! on rows they hold locked, and write exactly what the returned plan says.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::catalogue::AvailableMethod;
use crate::error::FieldErrors;
use crate::invoice::{Invoice, InvoiceId, InvoiceStatus};
use crate::ledger::{self, BalanceChange, LedgerError};
use crate::money::Money;
use crate::organization::OrganizationId;
use crate::payment::{
    BalanceEffect, InvalidTransition, Payment, PaymentId, PaymentMethod, PaymentStatus, Transition,
};

/// Longest transaction reference accepted.
pub const MAX_REFERENCE_CHARS: usize = 255;
/// Longest notes accepted.
pub const MAX_NOTES_CHARS: usize = 2000;

/// A field of a request body as the transport found it (see [`crate::bank::RawField`]).
pub use crate::bank::RawField;

/// A validated manual-payment submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualPaymentRequest {
    pub invoice_id: InvoiceId,
    pub method: PaymentMethod,
    pub transaction_reference: String,
    pub notes: Option<String>,
}

/// The body of `POST /payments/manual/`, field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawManualPayment {
    pub invoice_id: RawField,
    pub payment_method: RawField,
    pub transaction_reference: RawField,
    /// The old system's alias of `transaction_reference`.
    pub reference: RawField,
    pub notes: RawField,
}

fn text_of(field: &RawField) -> Result<Option<&str>, &'static str> {
    match field {
        RawField::Missing | RawField::Null => Ok(None),
        RawField::Text(text) => Ok(Some(text)),
        _ => Err("Not a valid string."),
    }
}

fn bounded_text(text: &str, max: usize) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("This field may not be blank.".into());
    }
    if trimmed.chars().count() > max {
        return Err(format!(
            "Ensure this field has no more than {max} characters."
        ));
    }
    crate::text::check_readable_text(trimmed)?;
    Ok(trimmed.to_string())
}

impl ManualPaymentRequest {
    /// Validates a submission; every problem is reported at once.
    pub fn from_raw(raw: &RawManualPayment) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let invoice_id = match text_of(&raw.invoice_id) {
            Ok(Some(text)) => errors.check(
                "invoice_id",
                Uuid::try_parse(text.trim())
                    .map(InvoiceId)
                    .map_err(|_| "Must be a valid UUID."),
            ),
            Ok(None) => {
                errors.add("invoice_id", "This field is required.");
                None
            }
            Err(reason) => {
                errors.add("invoice_id", reason);
                None
            }
        };
        let method = match text_of(&raw.payment_method) {
            Ok(Some(text)) => match text.trim().parse::<PaymentMethod>() {
                Ok(m @ (PaymentMethod::BankTransfer | PaymentMethod::LocalWallet)) => Some(m),
                _ => {
                    errors.add(
                        "payment_method",
                        format!(
                            "\"{}\" is not a valid choice; use bank_transfer or local_wallet.",
                            text.trim()
                        ),
                    );
                    None
                }
            },
            Ok(None) => {
                errors.add("payment_method", "This field is required.");
                None
            }
            Err(reason) => {
                errors.add("payment_method", reason);
                None
            }
        };
        // `transaction_reference` wins over its alias `reference` when both are sent.
        let reference_field = match (&raw.transaction_reference, &raw.reference) {
            (RawField::Missing | RawField::Null, alias) => alias,
            (primary, _) => primary,
        };
        let transaction_reference = match text_of(reference_field) {
            Ok(Some(text)) => errors.check(
                "transaction_reference",
                bounded_text(text, MAX_REFERENCE_CHARS),
            ),
            Ok(None) => {
                errors.add("transaction_reference", "This field is required.");
                None
            }
            Err(reason) => {
                errors.add("transaction_reference", reason);
                None
            }
        };
        let notes = match text_of(&raw.notes) {
            Ok(Some(text)) if text.trim().is_empty() => None,
            Ok(Some(text)) => errors.check("notes", bounded_text(text, MAX_NOTES_CHARS)),
            Ok(None) => None,
            Err(reason) => {
                errors.add("notes", reason);
                None
            }
        };
        match (invoice_id, method, transaction_reference) {
            (Some(invoice_id), Some(method), Some(transaction_reference)) if errors.is_empty() => {
                Ok(Self {
                    invoice_id,
                    method,
                    transaction_reference,
                    notes,
                })
            }
            _ => Err(errors),
        }
    }

    /// A digest of the request's meaning, stored with an idempotency key: a repeat with the
    /// same key must carry the same fingerprint.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for part in [
            self.invoice_id.to_string().as_str(),
            self.method.as_str(),
            self.transaction_reference.as_str(),
            self.notes.as_deref().unwrap_or(""),
        ] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// A client-chosen `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(text: &str) -> Result<Self, FieldErrors> {
        let valid = (1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(text.to_string()))
        } else {
            let mut errors = FieldErrors::new();
            errors.add(
                "Idempotency-Key",
                "Must be 1 to 255 visible ASCII characters.",
            );
            Err(errors)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a manual payment was refused by the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManualPaymentError {
    /// The invoice does not exist or belongs to another organization (HTTP 404).
    #[error("Invoice not found.")]
    InvoiceNotFound,
    /// The method is not offered to the organization (HTTP 400).
    #[error("Payment method {0} is not available for this organization.")]
    MethodNotAvailable(PaymentMethod),
    /// The invoice cannot take a payment in its status (HTTP 400).
    #[error("Invoice is {0}; only pending invoices can be paid.")]
    InvoiceNotPayable(InvoiceStatus),
    /// Another payment of this invoice awaits approval (HTTP 409).
    #[error("This invoice already has a payment waiting for approval.")]
    PendingPaymentExists,
    /// The idempotency key was used with another request (HTTP 409).
    #[error("Idempotency-Key was already used with a different request.")]
    IdempotencyKeyReused,
}

/// Builds the `pending_approval` payment a submission creates, or says why not. Called by the
/// adapter with the invoice row locked; amount and currency come from the invoice.
pub fn plan_manual_payment(
    request: &ManualPaymentRequest,
    organization_id: OrganizationId,
    invoice: Option<&Invoice>,
    available: &[AvailableMethod],
    now: DateTime<Utc>,
) -> Result<Payment, ManualPaymentError> {
    let invoice = invoice
        .filter(|invoice| invoice.organization_id == organization_id)
        .ok_or(ManualPaymentError::InvoiceNotFound)?;
    if !available.iter().any(|m| m.method == request.method) {
        return Err(ManualPaymentError::MethodNotAvailable(request.method));
    }
    if invoice.status != InvoiceStatus::Pending {
        return Err(ManualPaymentError::InvoiceNotPayable(invoice.status));
    }
    Ok(Payment {
        id: PaymentId::generate(),
        organization_id,
        invoice_id: Some(invoice.id.0),
        amount: invoice.amount,
        method: request.method,
        status: PaymentStatus::PendingApproval,
        transaction_reference: Some(request.transaction_reference.clone()),
        notes: request.notes.clone(),
        failure_reason: None,
        admin_notes: None,
        bank: None,
        created_at: now,
        updated_at: now,
        processed_at: None,
    })
}

/// What staff can do to a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffAction {
    /// pending_approval → succeeded: credit the balance, mark the invoice paid.
    Approve { admin_notes: Option<String> },
    /// pending_approval → failed, with the reason; the invoice stays pending.
    Reject { reason: String },
    /// succeeded → refunded: debit the balance (never below zero).
    Refund { admin_notes: Option<String> },
}

impl StaffAction {
    /// The only status the contract lets this action start from. The state machine allows
    /// more ways into the target (`processing → succeeded` for automated methods,
    /// `pending → failed`), but staff approve and reject only what awaits their approval.
    pub fn source(&self) -> PaymentStatus {
        match self {
            Self::Approve { .. } | Self::Reject { .. } => PaymentStatus::PendingApproval,
            Self::Refund { .. } => PaymentStatus::Succeeded,
        }
    }

    /// The status the action leads to.
    pub fn target(&self) -> PaymentStatus {
        match self {
            Self::Approve { .. } => PaymentStatus::Succeeded,
            Self::Reject { .. } => PaymentStatus::Failed,
            Self::Refund { .. } => PaymentStatus::Refunded,
        }
    }

    /// Builds an approval; blank notes are the same as none.
    pub fn approve(admin_notes: Option<&str>) -> Result<Self, FieldErrors> {
        Ok(Self::Approve {
            admin_notes: optional_admin_notes(admin_notes)?,
        })
    }

    /// Builds a refund; blank notes are the same as none.
    pub fn refund(admin_notes: Option<&str>) -> Result<Self, FieldErrors> {
        Ok(Self::Refund {
            admin_notes: optional_admin_notes(admin_notes)?,
        })
    }

    /// The same action with its notes checked as the constructors check them (trimmed, blank
    /// is none, at most [`MAX_NOTES_CHARS`], no control characters but newline and tab).
    pub fn validated(self) -> Result<Self, FieldErrors> {
        match self {
            Self::Approve { admin_notes } => Self::approve(admin_notes.as_deref()),
            Self::Refund { admin_notes } => Self::refund(admin_notes.as_deref()),
            Self::Reject { reason } => Self::reject(Some(&reason)),
        }
    }

    /// Builds a rejection; its notes are required.
    pub fn reject(admin_notes: Option<&str>) -> Result<Self, FieldErrors> {
        match optional_admin_notes(admin_notes)? {
            Some(reason) => Ok(Self::Reject { reason }),
            None => {
                let mut errors = FieldErrors::new();
                errors.add("admin_notes", "A reason is required to reject a payment.");
                Err(errors)
            }
        }
    }
}

/// `admin_notes`: trimmed, blank is none, at most [`MAX_NOTES_CHARS`], readable text only.
fn optional_admin_notes(notes: Option<&str>) -> Result<Option<String>, FieldErrors> {
    match notes.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(notes) => {
            let mut errors = FieldErrors::new();
            match bounded_text(notes, MAX_NOTES_CHARS) {
                Ok(notes) => Ok(Some(notes)),
                Err(reason) => {
                    errors.add("admin_notes", reason);
                    Err(errors)
                }
            }
        }
    }
}

impl fmt::Display for StaffAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Approve { .. } => "approve",
            Self::Reject { .. } => "reject",
            Self::Refund { .. } => "refund",
        })
    }
}

/// Why a staff action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StaffActionError {
    /// No such payment (HTTP 404).
    #[error("Payment not found.")]
    PaymentNotFound,
    /// The state machine refuses the change (HTTP 409).
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// The invoice was paid by another payment meanwhile (HTTP 409).
    #[error("Invoice {0} is already paid by another payment.")]
    InvoiceAlreadyPaid(String),
    /// The invoice is no longer payable: draft, void or uncollectible (HTTP 409).
    #[error("Invoice {number} is {status}; only pending invoices can be paid.")]
    InvoiceNotPayable {
        number: String,
        status: InvoiceStatus,
    },
    /// The ledger refuses the balance change: refund below zero (409), overflow (422).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What the adapter must write for a staff action.
// One plan per request, moved once: boxing the payment would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffActionPlan {
    /// The payment is already where the action leads: write nothing, answer with it.
    AlreadyDone,
    /// Store `payment`; apply `balance_change` with a log entry when present; store
    /// `paid_invoice` (status `paid`, its `paid_at`) when present.
    Apply {
        payment: Payment,
        balance_change: Option<BalanceChange>,
        paid_invoice: Option<Invoice>,
    },
}

/// Decides a staff action on a payment, given the rows the adapter holds locked: the payment,
/// its invoice (if any) and its organization's balance.
pub fn plan_staff_action(
    action: &StaffAction,
    payment: &Payment,
    invoice: Option<&Invoice>,
    balance: Money,
    now: DateTime<Utc>,
) -> Result<StaffActionPlan, StaffActionError> {
    if payment.status != action.target() && payment.status != action.source() {
        return Err(StaffActionError::InvalidTransition(InvalidTransition {
            current: payment.status,
            requested: action.target(),
            required: vec![action.source()],
        }));
    }
    let (from, to, effect) = match payment.status.transition_to(action.target())? {
        Transition::AlreadyDone => return Ok(StaffActionPlan::AlreadyDone),
        Transition::Apply { from, to, effect } => (from, to, effect),
    };
    debug_assert_eq!(from, payment.status);
    let mut updated = payment.clone();
    updated.status = to;
    updated.updated_at = now;
    let mut paid_invoice = None;
    match action {
        StaffAction::Approve { admin_notes } => {
            updated.processed_at = Some(now);
            updated.admin_notes = admin_notes.clone().or(updated.admin_notes);
            if let Some(invoice) = invoice {
                match invoice.status {
                    // Paid when the payment was processed: the approval instant.
                    InvoiceStatus::Pending => paid_invoice = Some(invoice.paid(now)),
                    InvoiceStatus::Paid => {
                        return Err(StaffActionError::InvoiceAlreadyPaid(
                            invoice.number.to_string(),
                        ))
                    }
                    status @ (InvoiceStatus::Draft
                    | InvoiceStatus::Void
                    | InvoiceStatus::Uncollectible) => {
                        return Err(StaffActionError::InvoiceNotPayable {
                            number: invoice.number.to_string(),
                            status,
                        })
                    }
                }
            }
        }
        StaffAction::Reject { reason } => {
            updated.processed_at = Some(now);
            updated.failure_reason = Some(reason.clone());
            updated.admin_notes = Some(reason.clone());
        }
        StaffAction::Refund { admin_notes } => {
            updated.admin_notes = admin_notes.clone().or(updated.admin_notes);
        }
    }
    let balance_change = match effect {
        BalanceEffect::Credit => Some(ledger::credit(balance, payment.amount)?),
        BalanceEffect::Debit => Some(ledger::debit(balance, payment.amount)?),
        BalanceEffect::None => None,
    };
    Ok(StaffActionPlan::Apply {
        payment: updated,
        balance_change,
        paid_invoice,
    })
}

/// The numbers [`audit_organization`] checks for one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAuditInput {
    pub organization_id: OrganizationId,
    pub inn: String,
    pub balance: Money,
    /// The organization's log, oldest first.
    pub log: Vec<ledger::BalanceLogEntry>,
    /// Sum of the amounts of its payments now in status `succeeded`, in minor units.
    pub succeeded_minor_units: i64,
    /// Every payment of the organization, to tie each log entry to one.
    pub payments: Vec<AuditedPayment>,
}

/// What the audit needs of one payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedPayment {
    pub id: PaymentId,
    pub amount_minor_units: i64,
    pub status: PaymentStatus,
}

/// A violation of the ledger invariant, naming the organization.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("organization {inn} ({organization_id}): {problem}")]
pub struct LedgerAuditFailure {
    pub organization_id: OrganizationId,
    pub inn: String,
    pub problem: String,
}

/// The ledger invariant: the log is an unbroken chain from zero to the balance; the balance
/// equals the sum of payments that succeeded and were not refunded; and the log is tied to the
/// payments: every succeeded payment has exactly one credit entry of its amount, every
/// refunded one that credit and exactly one debit of its amount, no other payment has an
/// entry, and no entry lacks its payment. (Sums alone miss errors that cancel out: one payment
/// credited twice and another of the same amount never.)
pub fn audit_organization(input: &LedgerAuditInput) -> Result<(), LedgerAuditFailure> {
    let fail = |problem: String| LedgerAuditFailure {
        organization_id: input.organization_id,
        inn: input.inn.clone(),
        problem,
    };
    ledger::verify_log_chain(input.balance, &input.log).map_err(|v| fail(v.to_string()))?;
    if input.balance.to_minor_units() != input.succeeded_minor_units {
        return Err(fail(format!(
            "balance is {} but succeeded payments sum to {} minor units",
            input.balance, input.succeeded_minor_units
        )));
    }
    let problems = log_payment_mismatches(&input.log, &input.payments);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(problems.join("; ")))
    }
}

/// Each way the log and the payments disagree, in words.
fn log_payment_mismatches(
    log: &[ledger::BalanceLogEntry],
    payments: &[AuditedPayment],
) -> Vec<String> {
    use std::collections::BTreeMap;
    // Per payment: its credits and its debits, in minor units (debits as positive numbers).
    let mut entries: BTreeMap<PaymentId, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    for entry in log {
        let (credits, debits) = entries.entry(entry.payment_id).or_default();
        if entry.delta_minor_units >= 0 {
            credits.push(entry.delta_minor_units);
        } else {
            debits.push(entry.delta_minor_units.saturating_neg());
        }
    }
    let mut problems = Vec::new();
    for payment in payments {
        let (credits, debits) = entries.remove(&payment.id).unwrap_or_default();
        let amount = payment.amount_minor_units;
        let (want_credits, want_debits): (&[i64], &[i64]) = match payment.status {
            PaymentStatus::Succeeded => (&[amount], &[]),
            PaymentStatus::Refunded => (&[amount], &[amount]),
            _ => (&[], &[]),
        };
        if credits != want_credits || debits != want_debits {
            problems.push(format!(
                "payment {} ({}, {amount} minor units) has credits {credits:?} and debits \
                 {debits:?} in the log, expected {want_credits:?} and {want_debits:?}",
                payment.id, payment.status
            ));
        }
    }
    for payment_id in entries.keys() {
        problems.push(format!(
            "the log has entries for payment {payment_id}, which is not one of its payments"
        ));
    }
    problems
}

#[cfg(test)]
mod tests;
