//! Unit tests of the billing rules.

use super::*;
use crate::catalogue::AvailableMethod;
use crate::invoice::InvoiceNumber;
use crate::money::Currency;
use crate::payment::InvalidTransition;

fn rub(text: &str) -> Money {
    Money::parse(text, Currency::RUB).unwrap()
}

fn text(value: &str) -> RawField {
    RawField::Text(value.to_string())
}

fn invoice(organization_id: OrganizationId, status: InvoiceStatus) -> Invoice {
    let id = InvoiceId(Uuid::new_v4());
    Invoice {
        id,
        organization_id,
        number: InvoiceNumber::generated(id),
        amount: rub("139.00"),
        status,
        due_date: None,
        paid_at: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn offered(method: PaymentMethod) -> AvailableMethod {
    AvailableMethod {
        method,
        display_name: method.to_string(),
        instructions: String::new(),
        details: serde_json::json!({}),
        is_default: false,
        sort_order: 0,
    }
}

fn request(invoice: &Invoice, method: &str) -> ManualPaymentRequest {
    ManualPaymentRequest::from_raw(&RawManualPayment {
        invoice_id: text(&invoice.id.to_string()),
        payment_method: text(method),
        transaction_reference: text("TX-1"),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn manual_request_requires_fields_and_accepts_the_reference_alias() {
    let errors = ManualPaymentRequest::from_raw(&RawManualPayment::default()).unwrap_err();
    for field in ["invoice_id", "payment_method", "transaction_reference"] {
        assert_eq!(
            errors.get(field).unwrap(),
            ["This field is required."],
            "{field}"
        );
    }
    let via_alias = ManualPaymentRequest::from_raw(&RawManualPayment {
        invoice_id: text(&Uuid::nil().to_string()),
        payment_method: text("local_wallet"),
        reference: text("  W-77 "),
        notes: text(""),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(via_alias.transaction_reference, "W-77");
    assert_eq!(via_alias.notes, None);
}

#[test]
fn manual_request_only_takes_manual_methods() {
    for method in ["card", "paypal", "manual", "cash"] {
        let errors = ManualPaymentRequest::from_raw(&RawManualPayment {
            invoice_id: text(&Uuid::nil().to_string()),
            payment_method: text(method),
            transaction_reference: text("x"),
            ..Default::default()
        })
        .unwrap_err();
        assert!(errors.get("payment_method").is_some(), "{method}");
    }
}

#[test]
fn fingerprint_changes_with_any_field() {
    let org = OrganizationId::new_random();
    let inv = invoice(org, InvoiceStatus::Pending);
    let base = request(&inv, "bank_transfer");
    assert_eq!(
        base.fingerprint(),
        request(&inv, "bank_transfer").fingerprint()
    );
    let mut other = base.clone();
    other.notes = Some("n".into());
    assert_ne!(base.fingerprint(), other.fingerprint());
    let mut other = base.clone();
    other.method = PaymentMethod::LocalWallet;
    assert_ne!(base.fingerprint(), other.fingerprint());
}

#[test]
fn idempotency_keys_are_visible_ascii() {
    assert!(IdempotencyKey::parse("order-42").is_ok());
    assert!(IdempotencyKey::parse("").is_err());
    assert!(IdempotencyKey::parse("with space").is_err());
    assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
}

#[test]
fn manual_payment_takes_amount_from_the_pending_invoice() {
    let org = OrganizationId::new_random();
    let inv = invoice(org, InvoiceStatus::Pending);
    let payment = plan_manual_payment(
        &request(&inv, "bank_transfer"),
        org,
        Some(&inv),
        &[offered(PaymentMethod::BankTransfer)],
        Utc::now(),
    )
    .unwrap();
    assert_eq!(payment.status, PaymentStatus::PendingApproval);
    assert_eq!(payment.amount, rub("139.00"));
    assert_eq!(payment.invoice_id, Some(inv.id.0));
    assert_eq!(payment.organization_id, org);
}

#[test]
fn manual_payment_refusals() {
    let org = OrganizationId::new_random();
    let inv = invoice(org, InvoiceStatus::Pending);
    let methods = [offered(PaymentMethod::BankTransfer)];
    let req = request(&inv, "bank_transfer");
    assert_eq!(
        plan_manual_payment(
            &req,
            OrganizationId::new_random(),
            Some(&inv),
            &methods,
            Utc::now()
        ),
        Err(ManualPaymentError::InvoiceNotFound),
        "another organization's invoice looks missing"
    );
    assert_eq!(
        plan_manual_payment(&req, org, None, &methods, Utc::now()),
        Err(ManualPaymentError::InvoiceNotFound)
    );
    assert_eq!(
        plan_manual_payment(
            &request(&inv, "local_wallet"),
            org,
            Some(&inv),
            &methods,
            Utc::now()
        ),
        Err(ManualPaymentError::MethodNotAvailable(
            PaymentMethod::LocalWallet
        ))
    );
    let paid = invoice(org, InvoiceStatus::Paid);
    assert_eq!(
        plan_manual_payment(
            &request(&paid, "bank_transfer"),
            org,
            Some(&paid),
            &methods,
            Utc::now()
        ),
        Err(ManualPaymentError::InvoiceNotPayable(InvoiceStatus::Paid))
    );
}

fn pending_payment(org: OrganizationId, inv: &Invoice) -> Payment {
    plan_manual_payment(
        &request(inv, "bank_transfer"),
        org,
        Some(inv),
        &[offered(PaymentMethod::BankTransfer)],
        Utc::now(),
    )
    .unwrap()
}

#[test]
fn approval_credits_and_marks_the_invoice_paid() {
    let org = OrganizationId::new_random();
    let inv = invoice(org, InvoiceStatus::Pending);
    let payment = pending_payment(org, &inv);
    let plan = plan_staff_action(
        &StaffAction::Approve {
            admin_notes: Some("ok".into()),
        },
        &payment,
        Some(&inv),
        rub("10"),
        Utc::now(),
    )
    .unwrap();
    let StaffActionPlan::Apply {
        payment: approved,
        balance_change,
        paid_invoice,
    } = plan
    else {
        panic!("expected a change")
    };
    assert_eq!(approved.status, PaymentStatus::Succeeded);
    assert!(approved.processed_at.is_some());
    assert_eq!(approved.admin_notes.as_deref(), Some("ok"));
    assert_eq!(balance_change.unwrap().new, rub("149.00"));
    let paid_invoice = paid_invoice.expect("the invoice is paid");
    assert_eq!(paid_invoice.id, inv.id);
    assert_eq!(paid_invoice.status, InvoiceStatus::Paid);
    assert_eq!(paid_invoice.paid_at, approved.processed_at);

    // Approving again: acknowledged, nothing to write.
    assert_eq!(
        plan_staff_action(
            &StaffAction::Approve { admin_notes: None },
            &approved,
            Some(&inv),
            rub("149"),
            Utc::now()
        ),
        Ok(StaffActionPlan::AlreadyDone)
    );
    // Rejecting after approval: refused, naming the state needed.
    let err = plan_staff_action(
        &StaffAction::reject(Some("late")).unwrap(),
        &approved,
        Some(&inv),
        rub("149"),
        Utc::now(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        StaffActionError::InvalidTransition(InvalidTransition {
            current: PaymentStatus::Succeeded,
            ..
        })
    ));
}

#[test]
fn approval_of_an_invoice_paid_meanwhile_is_refused() {
    let org = OrganizationId::new_random();
    let mut inv = invoice(org, InvoiceStatus::Pending);
    let payment = pending_payment(org, &inv);
    inv.status = InvoiceStatus::Paid;
    assert!(matches!(
        plan_staff_action(
            &StaffAction::Approve { admin_notes: None },
            &payment,
            Some(&inv),
            rub("0"),
            Utc::now()
        ),
        Err(StaffActionError::InvoiceAlreadyPaid(_))
    ));
}

#[test]
fn rejection_needs_a_reason_records_it_and_leaves_the_balance() {
    assert!(StaffAction::reject(None).is_err());
    assert!(StaffAction::reject(Some("   ")).is_err());
    let org = OrganizationId::new_random();
    let inv = invoice(org, InvoiceStatus::Pending);
    let payment = pending_payment(org, &inv);
    let plan = plan_staff_action(
        &StaffAction::reject(Some("no money arrived")).unwrap(),
        &payment,
        Some(&inv),
        rub("0"),
        Utc::now(),
    )
    .unwrap();
    let StaffActionPlan::Apply {
        payment: rejected,
        balance_change,
        paid_invoice,
    } = plan
    else {
        panic!("expected a change")
    };
    assert_eq!(rejected.status, PaymentStatus::Failed);
    assert_eq!(rejected.failure_reason.as_deref(), Some("no money arrived"));
    assert_eq!(balance_change, None);
    assert_eq!(paid_invoice, None);
}

#[test]
fn refund_debits_and_never_below_zero() {
    let org = OrganizationId::new_random();
    let inv = invoice(org, InvoiceStatus::Paid);
    let mut payment = pending_payment(org, &invoice(org, InvoiceStatus::Pending));
    payment.status = PaymentStatus::Succeeded;
    let refund = StaffAction::Refund { admin_notes: None };
    let plan = plan_staff_action(&refund, &payment, Some(&inv), rub("200"), Utc::now()).unwrap();
    let StaffActionPlan::Apply {
        payment: refunded,
        balance_change,
        ..
    } = plan
    else {
        panic!("expected a change")
    };
    assert_eq!(refunded.status, PaymentStatus::Refunded);
    assert_eq!(balance_change.unwrap().new, rub("61.00"));
    assert!(matches!(
        plan_staff_action(&refund, &payment, Some(&inv), rub("100"), Utc::now()),
        Err(StaffActionError::Ledger(
            LedgerError::InsufficientBalance { .. }
        ))
    ));
    // Refunding a payment that never succeeded is a state error.
    let pending = pending_payment(org, &invoice(org, InvoiceStatus::Pending));
    assert!(matches!(
        plan_staff_action(&refund, &pending, None, rub("1000"), Utc::now()),
        Err(StaffActionError::InvalidTransition(_))
    ));
}

#[test]
fn approval_that_would_overflow_is_a_ledger_error() {
    let org = OrganizationId::new_random();
    let inv = invoice(org, InvoiceStatus::Pending);
    let payment = pending_payment(org, &inv);
    assert!(matches!(
        plan_staff_action(
            &StaffAction::Approve { admin_notes: None },
            &payment,
            Some(&inv),
            rub("9999999999999.00"),
            Utc::now()
        ),
        Err(StaffActionError::Ledger(LedgerError::Overflow { .. }))
    ));
}

fn audit_input(
    balance: &str,
    succeeded: i64,
    log: Vec<crate::ledger::BalanceLogEntry>,
) -> LedgerAuditInput {
    // The payments the log names, as their entries say they went.
    let mut payments: Vec<AuditedPayment> = Vec::new();
    for entry in &log {
        match payments.iter_mut().find(|p| p.id == entry.payment_id) {
            Some(p) => p.status = PaymentStatus::Refunded,
            None => payments.push(AuditedPayment {
                id: entry.payment_id,
                amount_minor_units: entry.delta_minor_units.abs(),
                status: PaymentStatus::Succeeded,
            }),
        }
    }
    LedgerAuditInput {
        organization_id: OrganizationId::new_random(),
        inn: "1234567890".into(),
        balance: rub(balance),
        log,
        succeeded_minor_units: succeeded,
        payments,
    }
}

fn log_entry(previous: &str, new: &str) -> crate::ledger::BalanceLogEntry {
    log_entry_of(PaymentId::generate(), previous, new)
}

fn log_entry_of(
    payment_id: PaymentId,
    previous: &str,
    new: &str,
) -> crate::ledger::BalanceLogEntry {
    let (previous, new) = (rub(previous), rub(new));
    crate::ledger::BalanceLogEntry {
        id: Uuid::new_v4(),
        organization_id: OrganizationId::new_random(),
        payment_id,
        previous_balance: previous,
        new_balance: new,
        delta_minor_units: new.to_minor_units() - previous.to_minor_units(),
        created_at: Utc::now(),
    }
}

/// One payment credited twice and another of the same amount never: the chain, the
/// balance and the sum of succeeded payments all agree; only the tie to payments tells.
#[test]
fn ledger_audit_catches_errors_that_cancel_out() {
    let (twice, never) = (PaymentId::generate(), PaymentId::generate());
    let log = vec![
        log_entry_of(twice, "0", "10"),
        log_entry_of(twice, "10", "20"),
    ];
    let mut input = audit_input("20", 2000, log);
    input.payments = vec![
        AuditedPayment {
            id: twice,
            amount_minor_units: 1000,
            status: PaymentStatus::Succeeded,
        },
        AuditedPayment {
            id: never,
            amount_minor_units: 1000,
            status: PaymentStatus::Succeeded,
        },
    ];
    let failure = audit_organization(&input).unwrap_err();
    assert!(failure.problem.contains(&twice.to_string()), "{failure}");
    assert!(failure.problem.contains(&never.to_string()), "{failure}");

    // An entry whose payment is not the organization's, and a refund without its debit.
    let stray = PaymentId::generate();
    let mut input = audit_input("10", 1000, vec![log_entry_of(stray, "0", "10")]);
    input.payments.clear();
    assert!(audit_organization(&input)
        .unwrap_err()
        .problem
        .contains("not one of its payments"));
    let refunded = PaymentId::generate();
    let mut input = audit_input("10", 1000, vec![log_entry_of(refunded, "0", "10")]);
    input.payments[0].status = PaymentStatus::Refunded;
    input.succeeded_minor_units = 1000;
    assert!(audit_organization(&input).is_err());
}

#[test]
fn ledger_audit_checks_chain_and_payments() {
    // One payment of 6.00 credited then refunded, one of 4.00 credited.
    let refunded = PaymentId::generate();
    let log = vec![
        log_entry_of(refunded, "0", "6"),
        log_entry("6", "10"),
        log_entry_of(refunded, "10", "4"),
    ];
    assert_eq!(
        audit_organization(&audit_input("4", 400, log.clone())),
        Ok(())
    );
    let failure = audit_organization(&audit_input("4", 1000, log.clone())).unwrap_err();
    assert!(failure.to_string().contains("1234567890"), "{failure}");
    assert!(audit_organization(&audit_input("5", 500, log)).is_err());
}

#[test]
fn approval_of_a_draft_void_or_uncollectible_invoice_is_refused() {
    let org = OrganizationId::new_random();
    for status in [
        InvoiceStatus::Draft,
        InvoiceStatus::Void,
        InvoiceStatus::Uncollectible,
    ] {
        let mut inv = invoice(org, InvoiceStatus::Pending);
        let payment = pending_payment(org, &inv);
        inv.status = status;
        assert_eq!(
            plan_staff_action(
                &StaffAction::Approve { admin_notes: None },
                &payment,
                Some(&inv),
                rub("0"),
                Utc::now()
            ),
            Err(StaffActionError::InvoiceNotPayable {
                number: inv.number.to_string(),
                status
            }),
            "{status}"
        );
    }
}

#[test]
fn approve_and_reject_act_only_on_pending_approval() {
    let org = OrganizationId::new_random();
    let inv = invoice(org, InvoiceStatus::Pending);
    let mut payment = pending_payment(org, &inv);
    for (status, action) in [
        (
            PaymentStatus::Processing,
            StaffAction::Approve { admin_notes: None },
        ),
        (
            PaymentStatus::Pending,
            StaffAction::reject(Some("no")).unwrap(),
        ),
        (
            PaymentStatus::Pending,
            StaffAction::Approve { admin_notes: None },
        ),
        (
            PaymentStatus::Processing,
            StaffAction::reject(Some("no")).unwrap(),
        ),
    ] {
        payment.status = status;
        let refusal = plan_staff_action(&action, &payment, Some(&inv), rub("0"), Utc::now());
        assert_eq!(
            refusal,
            Err(StaffActionError::InvalidTransition(InvalidTransition {
                current: status,
                requested: action.target(),
                required: vec![PaymentStatus::PendingApproval],
            })),
            "{action} from {status}"
        );
    }
}

#[test]
fn admin_notes_are_validated_for_every_action() {
    assert_eq!(
        StaffAction::approve(Some("  ")).unwrap(),
        StaffAction::Approve { admin_notes: None }
    );
    assert_eq!(
        StaffAction::refund(Some(" ok ")).unwrap(),
        StaffAction::Refund {
            admin_notes: Some("ok".into())
        }
    );
    for build in [
        StaffAction::approve,
        StaffAction::refund,
        StaffAction::reject,
    ] {
        assert!(build(Some("a\u{0}b")).is_err());
        assert!(build(Some(&"x".repeat(MAX_NOTES_CHARS + 1))).is_err());
    }
    // Built directly (as the console does), the use case re-checks them.
    let direct = StaffAction::Approve {
        admin_notes: Some("a\u{0}b".into()),
    };
    assert!(direct.validated().is_err());
}
