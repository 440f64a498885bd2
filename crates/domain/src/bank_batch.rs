//! Planning a batch of bank payments written in one transaction (group commit).
//!
//! The adapter gathers concurrent webhooks, locks the balance rows of their organizations, reads
//! what is already stored under their operation ids, and asks [`plan_batch`] what to write. The
//! plan is exactly what recording the same payments one by one, in arrival order, would do:
//! - each item is credited, a duplicate or a conflict by the dedup rule
//!   ([`BankPayment::compare`]), against the stored payment or against an earlier item of the
//!   same batch (so a duplicate inside one batch is credited once);
//! - each credit goes through [`crate::ledger::credit`] on the organization's running balance, and a
//!   refusal affects only that item (the running balance stays where it was);
//! - the log rows follow arrival order, each starting where the previous one of its
//!   organization ended.
//!
//! Each item is planned by the one-by-one rule, [`plan_bank_payment`], on the running balance
//! and with what came before it: the batch is that rule folded over arrival order, and a batch
//! of one is exactly the one-by-one path. The adapter executes a plan verbatim; it never
//! decides.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

pub use crate::bank::RecordedBankPayment;
use crate::bank::{plan_bank_payment, BankPayment, BankPaymentPlan, Dedup, OperationId};
use crate::ledger::{BalanceChange, LedgerError};
use crate::money::Money;
use crate::organization::{Inn, OrganizationId};
use crate::payment::{Payment, PaymentId};
use crate::ports::{RecordError, RecordOutcome};

/// An organization whose balance row the adapter holds locked until the batch commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedBalance {
    pub organization_id: OrganizationId,
    pub inn: Inn,
    pub balance: Money,
}

/// What happens to one item of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemPlan {
    /// New operation: store `payment` and credit its organization by `change`.
    Credit {
        payment: Payment,
        change: BalanceChange,
    },
    /// Same operation, same contents as `first` (stored before, or earlier in this batch).
    Duplicate {
        payment_id: PaymentId,
        first: BankPayment,
    },
    /// Same operation id as `first`, other contents.
    Conflict {
        payment_id: PaymentId,
        first: BankPayment,
    },
    /// The ledger refused the credit; nothing is written for this item.
    Refused(LedgerError),
}

impl ItemPlan {
    /// The answer of the [`crate::ports::BankPaymentStore`] port for this item: duplicates and
    /// conflicts are both `AlreadyRecorded` with the first payment, for the use case's dedup
    /// rule to judge (it reaches the same verdict).
    pub fn outcome(&self) -> Result<RecordOutcome, RecordError> {
        match self {
            ItemPlan::Credit { payment, change } => Ok(RecordOutcome::Recorded {
                payment_id: payment.id,
                organization_id: payment.organization_id,
                change: *change,
            }),
            ItemPlan::Duplicate { payment_id, first }
            | ItemPlan::Conflict { payment_id, first } => Ok(RecordOutcome::AlreadyRecorded {
                payment_id: *payment_id,
                existing: first.clone(),
            }),
            ItemPlan::Refused(refusal) => Err(RecordError::Ledger(refusal.clone())),
        }
    }
}

/// The new balance of one organization after the whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceUpdate {
    pub organization_id: OrganizationId,
    /// The balance read under the lock.
    pub previous: Money,
    /// The balance to store.
    pub new: Money,
}

/// One balance-log row to append, in the order the rows must be appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedLogEntry {
    pub organization_id: OrganizationId,
    pub payment_id: PaymentId,
    pub change: BalanceChange,
}

/// Everything one batch writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    /// One per input payment, in arrival order.
    pub items: Vec<ItemPlan>,
    /// One per credited organization, ordered by organization id (the lock order).
    pub balances: Vec<BalanceUpdate>,
    /// In arrival order.
    pub log: Vec<PlannedLogEntry>,
}

impl BatchPlan {
    /// The payments to insert, in arrival order.
    pub fn new_payments(&self) -> impl Iterator<Item = &Payment> {
        self.items.iter().filter_map(|item| match item {
            ItemPlan::Credit { payment, .. } => Some(payment),
            _ => None,
        })
    }

    /// True when the plan credits `organization_id`.
    pub fn credits(&self, organization_id: OrganizationId) -> bool {
        self.balances
            .iter()
            .any(|b| b.organization_id == organization_id)
    }
}

/// The adapter did not lock an organization the batch needs: a bug, never a client error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no locked balance for INN {0}")]
pub struct UnlockedOrganization(pub String);

/// Plans `payments` (validated, in arrival order) given what is `recorded` under their
/// operation ids and the `locked` balances of every organization they name.
pub fn plan_batch(
    payments: &[BankPayment],
    recorded: &[RecordedBankPayment],
    locked: &[LockedBalance],
    now: DateTime<Utc>,
) -> Result<BatchPlan, UnlockedOrganization> {
    // The first payment of each operation id: stored before, or credited earlier in the batch.
    let mut first: HashMap<OperationId, RecordedBankPayment> = recorded
        .iter()
        .map(|r| (r.payment.operation_id, r.clone()))
        .collect();
    let organizations: HashMap<&Inn, &LockedBalance> = locked.iter().map(|l| (&l.inn, l)).collect();
    // Running balance per organization, keyed by id so the output is in lock order.
    let mut running: BTreeMap<OrganizationId, (Money, Money)> = BTreeMap::new();
    let mut items = Vec::with_capacity(payments.len());
    let mut log = Vec::new();

    for payment in payments {
        let organization = organizations
            .get(&payment.payer_inn)
            .ok_or_else(|| UnlockedOrganization(payment.payer_inn.as_str().to_string()))?;
        let (_, balance) = running
            .entry(organization.organization_id)
            .or_insert((organization.balance, organization.balance));
        // The one-by-one rule, applied in arrival order on the running balance.
        let plan = plan_bank_payment(
            payment,
            first.get(&payment.operation_id),
            organization.organization_id,
            *balance,
            now,
        );
        match plan {
            Ok(BankPaymentPlan::AlreadyRecorded { recorded, verdict }) => {
                let (payment_id, first) = (recorded.payment_id, recorded.payment);
                items.push(match verdict {
                    Dedup::Duplicate => ItemPlan::Duplicate { payment_id, first },
                    Dedup::Conflict => ItemPlan::Conflict { payment_id, first },
                });
            }
            Ok(BankPaymentPlan::Credit {
                payment: stored,
                change,
            }) => {
                *balance = change.new;
                first.insert(
                    payment.operation_id,
                    RecordedBankPayment {
                        payment_id: stored.id,
                        payment: payment.clone(),
                    },
                );
                log.push(PlannedLogEntry {
                    organization_id: organization.organization_id,
                    payment_id: stored.id,
                    change,
                });
                items.push(ItemPlan::Credit {
                    payment: stored,
                    change,
                });
            }
            // A refused item writes nothing: the same operation id may come again, later in
            // this batch or in another, and is judged afresh.
            Err(refusal) => items.push(ItemPlan::Refused(refusal)),
        }
    }

    let balances = running
        .into_iter()
        .filter(|(_, (previous, new))| previous != new)
        .map(|(organization_id, (previous, new))| BalanceUpdate {
            organization_id,
            previous,
            new,
        })
        .collect();
    Ok(BatchPlan {
        items,
        balances,
        log,
    })
}

/// The INNs whose balances a batch of `payments` may change, sorted and unique: the
/// organizations the adapter creates (on first sight) and locks before planning.
pub fn inns_to_lock(payments: &[BankPayment]) -> Vec<Inn> {
    let mut inns: Vec<Inn> = payments.iter().map(|p| p.payer_inn.clone()).collect();
    inns.sort();
    inns.dedup();
    inns
}

#[cfg(test)]
#[path = "bank_batch_tests.rs"]
mod tests;
