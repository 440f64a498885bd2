//! [`PaymentQueries`](payments_domain::ports::PaymentQueries): payments and the balance log.

use crate::support::*;

async fn payments_are_listed_with_filters_newest_first(db: &TestDatabase) {
    let ours = organization(db, "1234567890").await;
    let theirs = organization(db, "0987654321").await;
    // A bank-webhook payment (no invoice) and manual payments at increasing times.
    let RecordOutcome::Recorded {
        payment_id: bank_id,
        ..
    } = db
        .record_bank_payment(&bank_payment("3.00", "1234567890"), now())
        .await
        .unwrap()
    else {
        panic!("expected Recorded");
    };
    let base = now() + Duration::seconds(10);
    let first_invoice = invoice(db, &ours, "100.00").await;
    let second_invoice = invoice(db, &ours, "200.00").await;
    let their_invoice = invoice(db, &theirs, "300.00").await;
    let mut manual = Vec::new();
    for (i, (organization, invoice, method)) in [
        (&ours, &first_invoice, BankTransfer),
        (&ours, &second_invoice, LocalWallet),
        (&theirs, &their_invoice, BankTransfer),
    ]
    .into_iter()
    .enumerate()
    {
        let at = base + Duration::seconds(i as i64);
        let submission =
            submission(db, organization, request(invoice, method, "REF"), None, at).await;
        manual.push(created(
            db.submit_manual_payment(&submission).await.unwrap(),
        ));
    }
    // The first manual payment is approved, so two statuses are in play.
    applied(act(db, manual[0].id, approve()).await.unwrap());

    let list = |filter: PaymentFilter| async move {
        db.list_payments(&filter, PageRequest::default())
            .await
            .unwrap()
    };
    let ours_all = list(PaymentFilter {
        organization_id: Some(ours.id),
        ..Default::default()
    })
    .await;
    let ids: Vec<PaymentId> = ours_all.items.iter().map(|v| v.payment.id).collect();
    assert_eq!(
        ids,
        vec![manual[1].id, manual[0].id, bank_id],
        "newest first"
    );
    assert_eq!(ours_all.total, 3);
    assert_eq!(
        ours_all.items[0].invoice_number.as_deref(),
        Some(second_invoice.number.as_str())
    );
    assert_eq!(ours_all.items[2].invoice_number, None);
    assert!(ours_all.items[2].payment.bank.is_some());

    let succeeded = list(PaymentFilter {
        organization_id: Some(ours.id),
        statuses: vec![PaymentStatus::Succeeded],
        ..Default::default()
    })
    .await;
    let ids: Vec<PaymentId> = succeeded.items.iter().map(|v| v.payment.id).collect();
    assert_eq!(ids, vec![manual[0].id, bank_id]);

    let waiting_or_done = list(PaymentFilter {
        statuses: vec![PaymentStatus::PendingApproval, PaymentStatus::Succeeded],
        ..Default::default()
    })
    .await;
    assert_eq!(
        waiting_or_done.total, 4,
        "every organization, both statuses"
    );

    let wallets = list(PaymentFilter {
        method: Some(LocalWallet),
        ..Default::default()
    })
    .await;
    assert_eq!(wallets.items.len(), 1);
    assert_eq!(wallets.items[0].payment.id, manual[1].id);

    let by_invoice = list(PaymentFilter {
        invoice_id: Some(their_invoice.id.0),
        ..Default::default()
    })
    .await;
    assert_eq!(by_invoice.items.len(), 1);
    assert_eq!(by_invoice.items[0].payment.organization_id, theirs.id);
    let cross_tenant = list(PaymentFilter {
        organization_id: Some(ours.id),
        invoice_id: Some(their_invoice.id.0),
        ..Default::default()
    })
    .await;
    assert_eq!(cross_tenant.total, 0);

    let everyone = db
        .list_payments(&PaymentFilter::default(), page(2, 3))
        .await
        .unwrap();
    assert_eq!(everyone.total, 4);
    assert_eq!(everyone.items.len(), 1);
    assert_eq!(everyone.items[0].payment.id, bank_id, "the oldest is last");

    let found = db.find_payment(manual[0].id).await.unwrap().unwrap();
    assert_eq!(
        found.invoice_number.as_deref(),
        Some(first_invoice.number.as_str())
    );
    assert_eq!(found.payment.status, PaymentStatus::Succeeded);
    assert_eq!(db.find_payment(PaymentId::generate()).await.unwrap(), None);
}

async fn the_balance_log_is_listed_newest_first(db: &TestDatabase) {
    let mut organization_id = None;
    for amount in ["1.00", "2.00", "3.00"] {
        if let RecordOutcome::Recorded {
            organization_id: id,
            ..
        } = db
            .record_bank_payment(&bank_payment(amount, "1234567890"), now())
            .await
            .unwrap()
        {
            organization_id = Some(id);
        }
    }
    let organization_id = organization_id.unwrap();
    let first = db
        .list_balance_log(organization_id, page(1, 2))
        .await
        .unwrap();
    assert_eq!(first.total, 3);
    let deltas: Vec<i64> = first.items.iter().map(|e| e.delta_minor_units).collect();
    assert_eq!(deltas, vec![300, 200]);
    let second = db
        .list_balance_log(organization_id, page(2, 2))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].delta_minor_units, 100);
    let other = db
        .list_balance_log(OrganizationId::new_random(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!((other.total, other.items.len()), (0, 0));
}

contract_tests!(
    payments_are_listed_with_filters_newest_first,
    the_balance_log_is_listed_newest_first,
);
