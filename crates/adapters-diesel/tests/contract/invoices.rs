//! [`InvoiceStore`](payments_domain::ports::InvoiceStore).

use crate::support::*;

async fn invoices_are_created_found_and_listed_by_status(db: &TestDatabase) {
    let ours = organization(db, "1234567890").await;
    let theirs = organization(db, "0987654321").await;
    let base = now();
    let mut pending = new_invoice(&ours, "139.00", "INV-2026/001");
    pending.created_at = base;
    let mut paid = new_invoice(&ours, "10.50", "INV-2026/002");
    paid.status = InvoiceStatus::Paid;
    paid.paid_at = Some(base);
    paid.due_date = None;
    paid.created_at = base + Duration::seconds(1);
    let mut draft = new_invoice(&ours, "1.00", "INV-2026/003");
    draft.status = InvoiceStatus::Draft;
    draft.created_at = base + Duration::seconds(2);
    let other = new_invoice(&theirs, "5.00", "INV-2026/004");
    for invoice in [&pending, &paid, &draft, &other] {
        db.create_invoice(invoice).await.unwrap();
    }
    let mut duplicate = new_invoice(&theirs, "7.00", "INV-2026/001");
    duplicate.id = InvoiceId(Uuid::new_v4());
    assert_eq!(
        db.create_invoice(&duplicate).await,
        Err(CreateInvoiceError::NumberTaken)
    );

    assert_eq!(
        db.find_invoice(pending.id).await.unwrap(),
        Some(pending.clone())
    );
    assert_eq!(db.find_invoice(paid.id).await.unwrap(), Some(paid.clone()));
    assert_eq!(
        db.find_invoice(InvoiceId(Uuid::new_v4())).await.unwrap(),
        None
    );

    let listed = db
        .list_invoices(
            &InvoiceFilter {
                organization_id: Some(ours.id),
                statuses: vec![InvoiceStatus::Pending, InvoiceStatus::Draft],
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(listed.total, 2);
    assert_eq!(listed.items, vec![draft.clone(), pending.clone()]);
    let all_ours = db
        .list_invoices(
            &InvoiceFilter {
                organization_id: Some(ours.id),
                statuses: vec![],
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(all_ours.total, 3);
    let everyone = db
        .list_invoices(&InvoiceFilter::default(), page(1, 2))
        .await
        .unwrap();
    assert_eq!((everyone.total, everyone.items.len()), (4, 2));
}

contract_tests!(invoices_are_created_found_and_listed_by_status,);
