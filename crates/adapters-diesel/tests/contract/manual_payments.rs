//! [`ManualPaymentStore`](payments_domain::ports::ManualPaymentStore).

use crate::support::*;

async fn a_manual_payment_is_pending_approval_for_the_invoice_amount(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let invoice = invoice(db, &organization, "139.00").await;
    let at = now();
    let submission = submission(
        db,
        &organization,
        request(&invoice, LocalWallet, "SBP-42"),
        None,
        at,
    )
    .await;
    let payment = created(db.submit_manual_payment(&submission).await.unwrap());
    assert_eq!(payment.status, PaymentStatus::PendingApproval);
    assert_eq!(payment.amount, rub("139.00"));
    assert_eq!(payment.method, LocalWallet);
    assert_eq!(payment.invoice_id, Some(invoice.id.0));
    assert_eq!(payment.organization_id, organization.id);
    assert_eq!(payment.transaction_reference.as_deref(), Some("SBP-42"));
    assert_eq!(payment.created_at, at);
    assert_eq!(payment.processed_at, None);
    let view = db.find_payment(payment.id).await.unwrap().unwrap();
    assert_eq!(view.payment, payment, "what was returned is what is stored");
    assert_eq!(
        view.invoice_number.as_deref(),
        Some(invoice.number.as_str())
    );
    assert_eq!(
        balance_of(db, &organization).await,
        rub("0.00"),
        "no credit yet"
    );
    assert_eq!(db.count_rows("balance_log"), 0);
}

async fn manual_payments_refused_by_the_rules_write_nothing(db: &TestDatabase) {
    let ours = organization(db, "1234567890").await;
    let theirs = organization(db, "0987654321").await;
    let their_invoice = invoice(db, &theirs, "10.00").await;
    let mut paid = new_invoice(&ours, "10.00", "INV-PAID");
    paid.status = InvoiceStatus::Paid;
    paid.paid_at = Some(now());
    db.create_invoice(&paid).await.unwrap();
    let payable = invoice(db, &ours, "10.00").await;
    // The organization switched the wallet off.
    db.upsert_override(&setting(&ours, LocalWallet, false, false))
        .await
        .unwrap();
    let before = (db.count_rows("payments"), db.count_rows("idempotency_keys"));

    let refused = |result: Result<SubmitOutcome, SubmitError>| match result {
        Err(SubmitError::Rule(error)) => error,
        other => panic!("expected a rule refusal, got {other:?}"),
    };
    assert_eq!(
        refused(
            submit(
                db,
                &ours,
                request(&their_invoice, BankTransfer, "R"),
                Some("k1")
            )
            .await
        ),
        ManualPaymentError::InvoiceNotFound
    );
    let mut missing = request(&payable, BankTransfer, "R");
    missing.invoice_id = InvoiceId(Uuid::new_v4());
    assert_eq!(
        refused(submit(db, &ours, missing, Some("k2")).await),
        ManualPaymentError::InvoiceNotFound
    );
    assert_eq!(
        refused(submit(db, &ours, request(&paid, BankTransfer, "R"), Some("k3")).await),
        ManualPaymentError::InvoiceNotPayable(InvoiceStatus::Paid)
    );
    assert_eq!(
        refused(submit(db, &ours, request(&payable, LocalWallet, "R"), Some("k4")).await),
        ManualPaymentError::MethodNotAvailable(LocalWallet)
    );
    assert_eq!(
        refused(submit(db, &ours, request(&payable, PaymentMethod::Card, "R"), None).await),
        ManualPaymentError::MethodNotAvailable(PaymentMethod::Card)
    );
    assert_eq!(
        (db.count_rows("payments"), db.count_rows("idempotency_keys")),
        before,
        "refusals roll back, keys included"
    );
    // A refused key is free again: the same key now pays the payable invoice.
    created(
        submit(db, &ours, request(&payable, BankTransfer, "R"), Some("k1"))
            .await
            .unwrap(),
    );
}

async fn a_second_pending_payment_of_an_invoice_is_refused(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let (invoice, first) = pending_payment(db, &organization, "50.00").await;
    let second = submit(
        db,
        &organization,
        request(&invoice, LocalWallet, "another"),
        Some("second"),
    )
    .await;
    assert_eq!(
        second,
        Err(SubmitError::Rule(ManualPaymentError::PendingPaymentExists))
    );
    assert_eq!(db.count_rows("payments"), 1);
    assert_eq!(db.count_rows("idempotency_keys"), 0);
    // The database itself refuses a second waiting payment, whoever writes it.
    let sql = format!(
        "INSERT INTO payments (id, organization_id, invoice_id, amount_minor, currency, \
         payment_method, status) VALUES ('{}', '{}', '{}', 5000, 'RUB', 'manual', \
         'pending_approval')",
        Uuid::new_v4(),
        organization.id,
        invoice.id
    );
    assert!(db.execute_sql(&sql).is_err());
    assert_eq!(
        status_of(db, first.id).await,
        PaymentStatus::PendingApproval
    );
}

async fn an_idempotency_key_replays_or_refuses(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let other = organization_at(db, "0987654321", now()).await;
    let invoice = invoice(db, &organization, "75.00").await;
    let their_invoice = self::invoice(db, &other, "75.00").await;
    let original = request(&invoice, BankTransfer, "PP-7");
    let first = created(
        submit(db, &organization, original.clone(), Some("key-1"))
            .await
            .unwrap(),
    );
    let again = submit(db, &organization, original.clone(), Some("key-1"))
        .await
        .unwrap();
    assert_eq!(again, SubmitOutcome::Replayed(first.clone()));
    assert_eq!(db.count_rows("payments"), 1);

    let mut altered = original.clone();
    altered.transaction_reference = "PP-8".into();
    assert_eq!(
        submit(db, &organization, altered, Some("key-1")).await,
        Err(SubmitError::Rule(ManualPaymentError::IdempotencyKeyReused))
    );
    // Keys are per organization: another tenant may use the same text.
    created(
        submit(
            db,
            &other,
            request(&their_invoice, BankTransfer, "PP-7"),
            Some("key-1"),
        )
        .await
        .unwrap(),
    );
    assert_eq!(db.count_rows("payments"), 2);
    assert_eq!(db.count_rows("idempotency_keys"), 2);
    // A replay answers with the payment as it is now, even after approval.
    applied(act(db, first.id, approve()).await.unwrap());
    match submit(db, &organization, original, Some("key-1"))
        .await
        .unwrap()
    {
        SubmitOutcome::Replayed(payment) => {
            assert_eq!(payment.id, first.id);
            assert_eq!(payment.status, PaymentStatus::Succeeded);
        }
        other => panic!("expected Replayed, got {other:?}"),
    }
}

async fn concurrent_submissions_with_one_key_create_one_payment(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let invoice = invoice(db, &organization, "990.00").await;
    let submission = submission(
        db,
        &organization,
        request(&invoice, BankTransfer, "PP-1"),
        Some("double-click"),
        now(),
    )
    .await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let database = db.database().clone();
            let submission = submission.clone();
            tokio::spawn(async move { database.submit_manual_payment(&submission).await })
        })
        .collect();
    let mut created_ids = Vec::new();
    let mut replayed_ids = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            SubmitOutcome::Created(payment) => created_ids.push(payment.id),
            SubmitOutcome::Replayed(payment) => replayed_ids.push(payment.id),
        }
    }
    eprintln!(
        "TIMING {}: 10 concurrent submissions with one idempotency key in {:?}",
        db.backend_name(),
        started.elapsed()
    );
    assert_eq!(created_ids.len(), 1);
    assert_eq!(replayed_ids.len(), 9);
    assert!(replayed_ids.iter().all(|id| *id == created_ids[0]));
    assert_eq!(db.count_rows("payments"), 1);
    assert_eq!(db.count_rows("idempotency_keys"), 1);
}

contract_tests!(
    a_manual_payment_is_pending_approval_for_the_invoice_amount,
    manual_payments_refused_by_the_rules_write_nothing,
    a_second_pending_payment_of_an_invoice_is_refused,
    an_idempotency_key_replays_or_refuses,
    concurrent_submissions_with_one_key_create_one_payment,
);
