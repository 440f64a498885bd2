//! [`StaffActionStore`](payments_domain::ports::StaffActionStore).

use crate::support::*;

async fn approval_credits_once_marks_the_invoice_paid_and_logs(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (invoice, payment) = pending_payment(db, &organization, "139.00").await;
    let at = now() + Duration::seconds(5);
    let approved = applied(
        db.apply_staff_action(payment.id, &approve(), at)
            .await
            .unwrap(),
    );
    assert_eq!(approved.status, PaymentStatus::Succeeded);
    assert_eq!(approved.processed_at, Some(at));
    assert_eq!(
        approved.admin_notes.as_deref(),
        Some("seen on the statement")
    );
    assert_eq!(
        db.find_payment(payment.id).await.unwrap().unwrap().payment,
        approved
    );
    let paid = db.find_invoice(invoice.id).await.unwrap().unwrap();
    assert_eq!((paid.status, paid.paid_at), (InvoiceStatus::Paid, Some(at)));
    assert_eq!(balance_of(db, &organization).await, rub("139.00"));
    let log = db.balance_log(organization.id).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].payment_id, payment.id);
    assert_eq!(log[0].delta_minor_units, 13_900);
    assert_eq!(log[0].created_at, at);

    let before = ledger_state(db, &organization).await;
    let again = act(db, payment.id, approve()).await.unwrap();
    assert_eq!(again, StaffActionOutcome::AlreadyDone(approved));
    assert_eq!(ledger_state(db, &organization).await, before);
}

async fn concurrent_approvals_credit_once(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (_, payment) = pending_payment(db, &organization, "500.00").await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let database = db.database().clone();
            tokio::spawn(async move {
                database
                    .apply_staff_action(payment.id, &approve(), now())
                    .await
            })
        })
        .collect();
    let (mut applied_count, mut already) = (0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap() {
            StaffActionOutcome::Applied(_) => applied_count += 1,
            StaffActionOutcome::AlreadyDone(p) => {
                assert_eq!(p.status, PaymentStatus::Succeeded);
                already += 1;
            }
        }
    }
    eprintln!(
        "TIMING {}: 20 concurrent approvals of one payment in {:?}",
        db.backend_name(),
        started.elapsed()
    );
    assert_eq!((applied_count, already), (1, 19));
    assert_eq!(balance_of(db, &organization).await, rub("500.00"));
    assert_eq!(db.count_rows("balance_log"), 1);
}

async fn approvals_racing_rejections_let_the_first_win(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (invoice, payment) = pending_payment(db, &organization, "42.00").await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let database = db.database().clone();
            let action = if i % 2 == 0 { approve() } else { reject() };
            let is_approval = i % 2 == 0;
            tokio::spawn(async move {
                let result = database
                    .apply_staff_action(payment.id, &action, now())
                    .await;
                (is_approval, result)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    eprintln!(
        "TIMING {}: 10 approvals racing 10 rejections in {:?}",
        db.backend_name(),
        started.elapsed()
    );
    let winners: Vec<bool> = outcomes
        .iter()
        .filter(|(_, r)| matches!(r, Ok(StaffActionOutcome::Applied(_))))
        .map(|(is_approval, _)| *is_approval)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one action applies");
    let approval_won = winners[0];
    for (is_approval, result) in &outcomes {
        match result {
            Ok(StaffActionOutcome::Applied(_)) => {}
            // Same action as the winner: a repeat.
            Ok(StaffActionOutcome::AlreadyDone(_)) => assert_eq!(*is_approval, approval_won),
            // The other action: the state machine refuses it.
            Err(StaffActionStoreError::Rule(StaffActionError::InvalidTransition(refusal))) => {
                assert_ne!(*is_approval, approval_won);
                let winner_status = if approval_won {
                    PaymentStatus::Succeeded
                } else {
                    PaymentStatus::Failed
                };
                assert_eq!(refusal.current, winner_status);
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    let invoice = db.find_invoice(invoice.id).await.unwrap().unwrap();
    if approval_won {
        assert_eq!(status_of(db, payment.id).await, PaymentStatus::Succeeded);
        assert_eq!(balance_of(db, &organization).await, rub("42.00"));
        assert_eq!(invoice.status, InvoiceStatus::Paid);
        assert_eq!(db.count_rows("balance_log"), 1);
    } else {
        assert_eq!(status_of(db, payment.id).await, PaymentStatus::Failed);
        assert_eq!(balance_of(db, &organization).await, rub("0.00"));
        assert_eq!(invoice.status, InvoiceStatus::Pending);
        assert_eq!(db.count_rows("balance_log"), 0);
    }
}

async fn rejection_keeps_the_invoice_pending(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (invoice, payment) = pending_payment(db, &organization, "20.00").await;
    let rejected = applied(act(db, payment.id, reject()).await.unwrap());
    assert_eq!(rejected.status, PaymentStatus::Failed);
    assert_eq!(rejected.failure_reason.as_deref(), Some("no such transfer"));
    assert!(rejected.processed_at.is_some());
    assert_eq!(
        db.find_payment(payment.id).await.unwrap().unwrap().payment,
        rejected
    );
    assert_eq!(
        db.find_invoice(invoice.id).await.unwrap().unwrap().status,
        InvoiceStatus::Pending
    );
    assert_eq!(balance_of(db, &organization).await, rub("0.00"));
    assert_eq!(db.count_rows("balance_log"), 0);
    // Approving a rejected payment is refused; the invoice can take a new payment.
    assert!(matches!(
        act(db, payment.id, approve()).await,
        Err(StaffActionStoreError::Rule(
            StaffActionError::InvalidTransition(_)
        ))
    ));
    created(
        submit(
            db,
            &organization,
            request(&invoice, LocalWallet, "retry"),
            None,
        )
        .await
        .unwrap(),
    );
}

async fn refunds_debit_with_a_log_entry(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (_, payment) = pending_payment(db, &organization, "30.00").await;
    applied(act(db, payment.id, approve()).await.unwrap());
    // A bank-webhook payment of the same organization is refundable the same way.
    let RecordOutcome::Recorded {
        payment_id: bank_id,
        ..
    } = db
        .record_bank_payment(&bank_payment("12.50", "1234567890"), now())
        .await
        .unwrap()
    else {
        panic!("expected Recorded");
    };
    assert_eq!(balance_of(db, &organization).await, rub("42.50"));

    let refunded = applied(act(db, payment.id, refund()).await.unwrap());
    assert_eq!(refunded.status, PaymentStatus::Refunded);
    assert_eq!(balance_of(db, &organization).await, rub("12.50"));
    let bank_refunded = applied(act(db, bank_id, refund()).await.unwrap());
    assert_eq!(bank_refunded.status, PaymentStatus::Refunded);
    assert!(bank_refunded.bank.is_some());
    assert_eq!(balance_of(db, &organization).await, rub("0.00"));

    let log = db.balance_log(organization.id).await.unwrap();
    let deltas: Vec<i64> = log.iter().map(|e| e.delta_minor_units).collect();
    assert_eq!(deltas, vec![3000, 1250, -3000, -1250]);
    verify_log_chain(rub("0.00"), &log).unwrap();
    // Refunding again is a repeat.
    assert!(matches!(
        act(db, bank_id, refund()).await,
        Ok(StaffActionOutcome::AlreadyDone(_))
    ));
}

async fn a_refund_below_zero_is_refused_and_changes_nothing(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (_, payment) = pending_payment(db, &organization, "100.00").await;
    applied(act(db, payment.id, approve()).await.unwrap());
    // Money spent outside this service (no debit port exists yet) lowers the balance.
    db.execute_sql("UPDATE organizations SET balance_minor = 50")
        .unwrap();
    let before = ledger_state(db, &organization).await;
    assert_eq!(
        act(db, payment.id, refund()).await,
        Err(StaffActionStoreError::Rule(StaffActionError::Ledger(
            LedgerError::InsufficientBalance {
                balance: rub("0.50"),
                requested: rub("100.00"),
            }
        )))
    );
    assert_eq!(ledger_state(db, &organization).await, before);
    assert_eq!(status_of(db, payment.id).await, PaymentStatus::Succeeded);
}

async fn approving_a_payment_of_an_invoice_paid_by_another_is_refused(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (invoice, first) = pending_payment(db, &organization, "60.00").await;
    // The first payment moved on to processing (as a card payment would), which frees the
    // invoice for a second manual payment; the second is approved and pays the invoice.
    db.execute_sql(&format!(
        "UPDATE payments SET status = 'processing' WHERE id = '{}'",
        first.id
    ))
    .unwrap();
    let second = created(
        submit(
            db,
            &organization,
            request(&invoice, LocalWallet, "R2"),
            None,
        )
        .await
        .unwrap(),
    );
    applied(act(db, second.id, approve()).await.unwrap());
    // Back to awaiting approval (staff approve only from there): its invoice is paid now.
    db.execute_sql(&format!(
        "UPDATE payments SET status = 'pending_approval' WHERE id = '{}'",
        first.id
    ))
    .unwrap();
    let before = ledger_state(db, &organization).await;
    assert_eq!(
        act(db, first.id, approve()).await,
        Err(StaffActionStoreError::Rule(
            StaffActionError::InvoiceAlreadyPaid(invoice.number.to_string())
        ))
    );
    assert_eq!(ledger_state(db, &organization).await, before);
    assert_eq!(
        status_of(db, first.id).await,
        PaymentStatus::PendingApproval
    );
}

async fn staff_actions_on_an_unknown_payment_are_not_found(db: &TestDatabase) {
    for action in [approve(), reject(), refund()] {
        assert_eq!(
            act(db, PaymentId::generate(), action).await,
            Err(StaffActionStoreError::Rule(
                StaffActionError::PaymentNotFound
            ))
        );
    }
}

contract_tests!(
    approval_credits_once_marks_the_invoice_paid_and_logs,
    concurrent_approvals_credit_once,
    approvals_racing_rejections_let_the_first_win,
    rejection_keeps_the_invoice_pending,
    refunds_debit_with_a_log_entry,
    a_refund_below_zero_is_refused_and_changes_nothing,
    approving_a_payment_of_an_invoice_paid_by_another_is_refused,
    staff_actions_on_an_unknown_payment_are_not_found,
);
