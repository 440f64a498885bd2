//! Fixtures shared by the use cases' unit tests.

use chrono::Utc;

use crate::auth::{NewToken, Principal, Role, User};
use crate::money::{Currency, Money};
use crate::organization::{Inn, Organization, OrganizationId};
use crate::payment::{Payment, PaymentId, PaymentMethod, PaymentStatus};
use crate::ports::PaymentView;

pub(crate) fn principal(role: Role, organization: Option<OrganizationId>) -> Principal {
    let user = User::new(role, organization, "t", Utc::now()).unwrap();
    Principal::from_record(&NewToken::mint([1; 32], &user, Utc::now()).record).unwrap()
}

pub(crate) fn staff() -> Principal {
    principal(Role::Staff, None)
}

pub(crate) fn member(organization: OrganizationId) -> Principal {
    principal(Role::Member, Some(organization))
}

pub(crate) fn organization() -> Organization {
    Organization::first_seen_in_bank_payment(Inn::parse("1234567890").unwrap(), Utc::now())
}

pub(crate) fn payment_of(organization_id: OrganizationId) -> PaymentView {
    PaymentView {
        payment: Payment {
            id: PaymentId::generate(),
            organization_id,
            invoice_id: None,
            amount: Money::parse("1", Currency::RUB).unwrap(),
            method: PaymentMethod::BankTransfer,
            status: PaymentStatus::Succeeded,
            transaction_reference: None,
            notes: None,
            failure_reason: None,
            admin_notes: None,
            bank: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            processed_at: None,
        },
        invoice_number: None,
    }
}
