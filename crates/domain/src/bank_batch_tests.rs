//! Tests of the batch planner: examples, the port answers through the use case with a mocked
//! store, and properties against an in-memory model of the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::bank::{DocumentDate, DocumentNumber};
use crate::money::Currency;
use crate::ports::MockBankPaymentStore;
use crate::usecases::{BankPaymentReceipt, ReceiveBankPayment, ReceiveError};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 5, 0, 0).unwrap()
}

fn rub(minor: i64) -> Money {
    Money::from_minor_units(minor, Currency::RUB).unwrap()
}

fn inn(n: u64) -> Inn {
    Inn::parse(&format!("{:010}", 1_000_000_000 + n)).unwrap()
}

fn op(n: u128) -> OperationId {
    OperationId(Uuid::from_u128(n + 1))
}

fn payment(operation: u128, payer: u64, amount: i64) -> BankPayment {
    BankPayment {
        operation_id: op(operation),
        amount: rub(amount),
        payer_inn: inn(payer),
        document_number: DocumentNumber::parse("PAY-1").unwrap(),
        document_date: DocumentDate::from_utc(now()),
    }
}

fn locked(payer: u64, balance: Money) -> LockedBalance {
    LockedBalance {
        organization_id: OrganizationId(Uuid::from_u128(u128::from(payer) + 1000)),
        inn: inn(payer),
        balance,
    }
}

fn kinds(plan: &BatchPlan) -> Vec<&'static str> {
    plan.items
        .iter()
        .map(|item| match item {
            ItemPlan::Credit { .. } => "credit",
            ItemPlan::Duplicate { .. } => "duplicate",
            ItemPlan::Conflict { .. } => "conflict",
            ItemPlan::Refused(_) => "refused",
        })
        .collect()
}

#[test]
fn new_payments_are_credited_in_arrival_order_with_one_balance_update_per_organization() {
    let batch = [payment(1, 1, 100), payment(2, 2, 50), payment(3, 1, 25)];
    let plan = plan_batch(
        &batch,
        &[],
        &[locked(1, rub(1000)), locked(2, rub(0))],
        now(),
    )
    .unwrap();
    assert_eq!(kinds(&plan), ["credit", "credit", "credit"]);
    let changes: Vec<(i64, i64)> = plan
        .log
        .iter()
        .map(|l| {
            (
                l.change.previous.to_minor_units(),
                l.change.new.to_minor_units(),
            )
        })
        .collect();
    assert_eq!(changes, [(1000, 1100), (0, 50), (1100, 1125)]);
    assert_eq!(plan.balances.len(), 2);
    let org1 = locked(1, rub(0)).organization_id;
    let update = plan
        .balances
        .iter()
        .find(|b| b.organization_id == org1)
        .unwrap();
    assert_eq!((update.previous, update.new), (rub(1000), rub(1125)));
    // Lock order: by organization id.
    assert!(plan
        .balances
        .windows(2)
        .all(|w| w[0].organization_id < w[1].organization_id));
    // Each credit's payment is the bank transfer of its organization, logged under its id.
    let ids: Vec<PaymentId> = plan.new_payments().map(|p| p.id).collect();
    assert_eq!(
        ids,
        plan.log.iter().map(|l| l.payment_id).collect::<Vec<_>>()
    );
}

#[test]
fn a_duplicate_inside_one_batch_is_credited_once() {
    let batch = [payment(1, 1, 100), payment(1, 1, 100), payment(1, 1, 100)];
    let plan = plan_batch(&batch, &[], &[locked(1, rub(0))], now()).unwrap();
    assert_eq!(kinds(&plan), ["credit", "duplicate", "duplicate"]);
    let ItemPlan::Credit { payment: first, .. } = &plan.items[0] else {
        panic!("first is credited")
    };
    assert_eq!(
        plan.items[1].outcome().unwrap(),
        RecordOutcome::AlreadyRecorded {
            payment_id: first.id,
            existing: batch[0].clone()
        }
    );
    assert_eq!(plan.balances[0].new, rub(100));
    assert_eq!(plan.log.len(), 1);
}

#[test]
fn a_conflicting_reuse_inside_one_batch_is_a_conflict_and_changes_nothing() {
    let batch = [payment(1, 1, 100), payment(1, 1, 999), payment(1, 2, 100)];
    let plan = plan_batch(&batch, &[], &[locked(1, rub(0)), locked(2, rub(0))], now()).unwrap();
    assert_eq!(kinds(&plan), ["credit", "conflict", "conflict"]);
    assert_eq!(plan.balances.len(), 1);
    assert!(!plan.credits(locked(2, rub(0)).organization_id));
}

#[test]
fn stored_payments_decide_duplicates_and_conflicts() {
    let stored = RecordedBankPayment {
        payment_id: PaymentId::generate(),
        payment: payment(7, 1, 100),
    };
    let batch = [payment(7, 1, 100), payment(7, 1, 101)];
    let plan = plan_batch(
        &batch,
        std::slice::from_ref(&stored),
        &[locked(1, rub(100))],
        now(),
    )
    .unwrap();
    assert_eq!(kinds(&plan), ["duplicate", "conflict"]);
    assert!(plan.balances.is_empty() && plan.log.is_empty());
    assert_eq!(
        plan.items[1],
        ItemPlan::Conflict {
            payment_id: stored.payment_id,
            first: stored.payment
        }
    );
}

#[test]
fn a_ledger_refusal_affects_only_its_item() {
    let max = Currency::RUB.max_minor_units();
    let batch = [
        payment(1, 1, 10),
        payment(2, 1, 1_000),
        payment(3, 1, 5),
        payment(4, 2, 7),
    ];
    let plan = plan_batch(
        &batch,
        &[],
        &[locked(1, rub(max - 20)), locked(2, rub(0))],
        now(),
    )
    .unwrap();
    assert_eq!(kinds(&plan), ["credit", "refused", "credit", "credit"]);
    assert!(matches!(
        plan.items[1].outcome(),
        Err(RecordError::Ledger(LedgerError::Overflow { .. }))
    ));
    let org1 = locked(1, rub(0)).organization_id;
    let update = plan
        .balances
        .iter()
        .find(|b| b.organization_id == org1)
        .unwrap();
    assert_eq!(update.new, rub(max - 5));
}

#[test]
fn a_refused_operation_is_judged_afresh_when_it_comes_again() {
    let euros = Money::from_minor_units(0, Currency::parse("EUR").unwrap()).unwrap();
    let batch = [payment(1, 1, 10), payment(1, 2, 10)];
    let plan = plan_batch(&batch, &[], &[locked(1, euros), locked(2, rub(0))], now()).unwrap();
    assert!(matches!(
        plan.items[0],
        ItemPlan::Refused(LedgerError::CurrencyMismatch { .. })
    ));
    assert_eq!(kinds(&plan)[1], "credit");
}

#[test]
fn an_organization_the_adapter_did_not_lock_is_an_error() {
    let err = plan_batch(&[payment(1, 3, 10)], &[], &[locked(1, rub(0))], now()).unwrap_err();
    assert_eq!(err, UnlockedOrganization(inn(3).as_str().to_string()));
}

#[test]
fn inns_to_lock_are_sorted_and_unique() {
    let batch = [payment(1, 3, 1), payment(2, 1, 1), payment(3, 3, 1)];
    assert_eq!(inns_to_lock(&batch), [inn(1), inn(3)]);
}

/// The use case reaches the same receipts through the port answers a plan gives, with a
/// mocked store standing in for the adapter.
#[tokio::test]
async fn the_use_case_answers_from_the_plan_through_a_mocked_store() {
    let batch = vec![payment(1, 1, 100), payment(1, 1, 100), payment(1, 1, 50)];
    let plan = plan_batch(&batch, &[], &[locked(1, rub(0))], now()).unwrap();
    let answers: HashMap<usize, Result<RecordOutcome, RecordError>> = plan
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| (i, item.outcome()))
        .collect();
    let next = Arc::new(Mutex::new(0usize));
    let mut store = MockBankPaymentStore::new();
    store
        .expect_record_bank_payment()
        .times(3)
        .returning(move |_, _| {
            let mut i = next.lock().unwrap();
            let answer = answers[&*i].clone();
            *i += 1;
            answer
        });
    let use_case = ReceiveBankPayment::new(Arc::new(store));
    let first = use_case.record(&batch[0], now()).await.unwrap();
    assert!(matches!(first, BankPaymentReceipt::Credited { .. }));
    let again = use_case.record(&batch[1], now()).await.unwrap();
    assert_eq!(
        again,
        BankPaymentReceipt::Duplicate {
            payment_id: first.payment_id()
        }
    );
    let reuse = use_case.record(&batch[2], now()).await.unwrap_err();
    assert_eq!(
        reuse,
        ReceiveError::Conflict {
            payment_id: first.payment_id()
        }
    );
}

/// An in-memory database that executes plans the way the adapter does.
#[derive(Default)]
struct Model {
    organizations: HashMap<Inn, LockedBalance>,
    payments: HashMap<OperationId, RecordedBankPayment>,
    log: HashMap<OrganizationId, Vec<BalanceChange>>,
}

/// What a run did, comparable between runs (payment ids are random, so items are described
/// by kind and balance change).
#[derive(Debug, PartialEq, Eq)]
struct Trace {
    items: Vec<(&'static str, Option<(i64, i64)>)>,
    balances: Vec<(Inn, i64)>,
    log: Vec<(Inn, Vec<(i64, i64)>)>,
}

impl Model {
    fn new() -> Self {
        let mut model = Self::default();
        // Two organizations that exist before: one near the column limit, one in euros.
        let max = Currency::RUB.max_minor_units();
        model
            .organizations
            .insert(inn(0), locked(0, rub(max - 1_000_000)));
        let euros = Money::zero(Currency::parse("EUR").unwrap());
        model.organizations.insert(inn(1), locked(1, euros));
        model
    }

    fn execute(&mut self, batch: &[BankPayment]) -> Vec<ItemPlan> {
        let locked: Vec<LockedBalance> = inns_to_lock(batch)
            .into_iter()
            .map(|inn| {
                self.organizations
                    .entry(inn.clone())
                    .or_insert_with(|| LockedBalance {
                        organization_id: OrganizationId::new_random(),
                        inn,
                        balance: Money::zero(Currency::RUB),
                    })
                    .clone()
            })
            .collect();
        let recorded: Vec<RecordedBankPayment> = batch
            .iter()
            .filter_map(|p| self.payments.get(&p.operation_id).cloned())
            .collect();
        let plan = plan_batch(batch, &recorded, &locked, now()).unwrap();
        for (item, payment) in plan.items.iter().zip(batch) {
            if let ItemPlan::Credit {
                payment: stored, ..
            } = item
            {
                let fresh = self.payments.insert(
                    payment.operation_id,
                    RecordedBankPayment {
                        payment_id: stored.id,
                        payment: payment.clone(),
                    },
                );
                assert!(
                    fresh.is_none(),
                    "the unique key would refuse a second insert"
                );
            }
        }
        for update in &plan.balances {
            let organization = self
                .organizations
                .values_mut()
                .find(|o| o.organization_id == update.organization_id)
                .unwrap();
            assert_eq!(organization.balance, update.previous);
            organization.balance = update.new;
        }
        for entry in &plan.log {
            let chain = self.log.entry(entry.organization_id).or_default();
            if let Some(last) = chain.last() {
                assert_eq!(last.new, entry.change.previous, "the log chain is unbroken");
            }
            chain.push(entry.change);
        }
        plan.items
    }

    fn run(deliveries: &[BankPayment], chunks: &[usize]) -> Trace {
        let mut model = Self::new();
        let mut items = Vec::new();
        let mut rest = deliveries;
        let mut sizes = chunks.iter().cycle();
        while !rest.is_empty() {
            let size = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
            let (batch, tail) = rest.split_at(size);
            items.extend(model.execute(batch));
            rest = tail;
        }
        let change = |c: &BalanceChange| (c.previous.to_minor_units(), c.new.to_minor_units());
        let mut balances: Vec<(Inn, i64)> = model
            .organizations
            .values()
            .map(|o| (o.inn.clone(), o.balance.to_minor_units()))
            .collect();
        balances.sort();
        let mut log: Vec<(Inn, Vec<(i64, i64)>)> = model
            .organizations
            .values()
            .map(|o| {
                let chain = model
                    .log
                    .get(&o.organization_id)
                    .cloned()
                    .unwrap_or_default();
                (o.inn.clone(), chain.iter().map(change).collect())
            })
            .collect();
        log.sort();
        Trace {
            items: items
                .iter()
                .map(|item| match item {
                    ItemPlan::Credit { change: c, .. } => ("credit", Some(change(c))),
                    ItemPlan::Duplicate { .. } => ("duplicate", None),
                    ItemPlan::Conflict { .. } => ("conflict", None),
                    ItemPlan::Refused(_) => ("refused", None),
                })
                .collect(),
            balances,
            log,
        }
    }
}

/// A delivery: which operation, and whether its contents were altered (a conflicting reuse).
fn delivery(operations: &[(u64, i64)], index: usize, altered: bool) -> BankPayment {
    let (payer, amount) = operations[index % operations.len()];
    let amount = if altered { amount + 1 } else { amount };
    payment(index as u128, payer, amount)
}

/// Operations as (payer, amount). INN 0 is near its limit (big amounts overflow it, so which
/// one is refused depends on the order), INN 1 is in euros (always refused).
fn operations(payers: std::ops::Range<u64>) -> impl Strategy<Value = Vec<(u64, i64)>> {
    prop::collection::vec(
        (payers, prop_oneof![1i64..100_000, 400_000i64..700_000]),
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any split into batches gives exactly the one-by-one result: same answer per item, same
    /// balances, same log chains. Includes duplicates, conflicting reuses and refusals.
    #[test]
    fn batches_give_the_one_by_one_result(
        operations in operations(0..6),
        picks in prop::collection::vec((0usize..12, prop::bool::weighted(0.15)), 1..40),
        chunks in prop::collection::vec(1usize..10, 1..6),
    ) {
        let deliveries: Vec<BankPayment> = picks
            .iter()
            .map(|&(i, altered)| delivery(&operations, i % operations.len(), altered))
            .collect();
        prop_assert_eq!(Model::run(&deliveries, &chunks), Model::run(&deliveries, &[1]));
    }

    /// Redeliveries in any order and any batching credit each operation once: the final
    /// balances never depend on the interleaving.
    #[test]
    fn any_interleaving_gives_the_same_balances(
        operations in operations(1..6),
        order in prop::collection::vec((0usize..12, 1usize..4), 1..12)
            .prop_map(|ops| ops
                .into_iter()
                .flat_map(|(i, copies)| std::iter::repeat_n(i, copies))
                .collect::<Vec<_>>())
            .prop_shuffle(),
        chunks in prop::collection::vec(1usize..10, 1..6),
    ) {
        let deliveries: Vec<BankPayment> = order
            .iter()
            .map(|&i| delivery(&operations, i % operations.len(), false))
            .collect();
        let mut sorted = deliveries.clone();
        sorted.sort_by_key(|p| p.operation_id);
        let shuffled = Model::run(&deliveries, &chunks);
        let in_order = Model::run(&sorted, &[1]);
        prop_assert_eq!(shuffled.balances, in_order.balances);
        let credits = shuffled.items.iter().filter(|(k, _)| *k == "credit").count();
        prop_assert_eq!(
            credits,
            in_order.items.iter().filter(|(k, _)| *k == "credit").count()
        );
    }
}
