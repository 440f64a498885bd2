//! [`LedgerAuditSource`](payments_domain::ports::LedgerAuditSource).

use crate::support::*;

async fn the_ledger_audit_passes_and_catches_tampering(db: &TestDatabase) {
    let ours = organization(db, "1234567890").await;
    let theirs = organization(db, "0987654321").await;
    // A mix: bank payments, approvals, a rejection, a refund, a pending payment.
    for amount in ["10.00", "0.01"] {
        db.record_bank_payment(&bank_payment(amount, "1234567890"), now())
            .await
            .unwrap();
    }
    let (_, approved) = pending_payment(db, &ours, "100.00").await;
    applied(act(db, approved.id, approve()).await.unwrap());
    let (_, refunded) = pending_payment(db, &ours, "40.00").await;
    applied(act(db, refunded.id, approve()).await.unwrap());
    applied(act(db, refunded.id, refund()).await.unwrap());
    let (_, rejected) = pending_payment(db, &theirs, "7.00").await;
    applied(act(db, rejected.id, reject()).await.unwrap());
    pending_payment(db, &theirs, "8.00").await;

    let inputs = db.ledger_audit_inputs().await.unwrap();
    assert_eq!(inputs.len(), 2);
    for input in &inputs {
        audit_organization(input).unwrap();
    }
    let our_input = inputs
        .iter()
        .find(|i| i.organization_id == ours.id)
        .unwrap();
    assert_eq!(our_input.balance, rub("110.01"));
    assert_eq!(our_input.succeeded_minor_units, 11_001);
    assert_eq!(our_input.log.len(), 5);
    assert_eq!(our_input.inn, "1234567890");

    db.execute_sql(&format!(
        "UPDATE organizations SET balance_minor = balance_minor + 1 WHERE id = '{}'",
        ours.id
    ))
    .unwrap();
    let inputs = db.ledger_audit_inputs().await.unwrap();
    for input in &inputs {
        let verdict = audit_organization(input);
        if input.organization_id == ours.id {
            let failure = verdict.unwrap_err();
            assert_eq!(failure.inn, "1234567890");
        } else {
            verdict.unwrap();
        }
    }
}

contract_tests!(the_ledger_audit_passes_and_catches_tampering,);
