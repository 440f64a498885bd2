//! Staff's work on payments: every organization's payments, and approving, rejecting and
//! refunding them.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::billing::StaffAction;
use crate::organization::OrganizationId;
use crate::pagination::{Page, PageRequest};
use crate::payment::PaymentId;
use crate::ports::{
    InvoiceStore, OrganizationStore, PaymentQueries, PaymentView, StaffActionOutcome,
    StaffActionStore, StaffActionStoreError,
};

use super::error::{invalid, BillingError};
use super::manual_payment::with_invoice_number;
use super::queries::{AdminPaymentQuery, OrganizationRef};

/// Every organization's payments, for staff.
#[derive(Clone)]
pub struct AdminPayments {
    payments: Arc<dyn PaymentQueries>,
    organizations: Arc<dyn OrganizationStore>,
}

impl AdminPayments {
    pub fn new(
        payments: Arc<dyn PaymentQueries>,
        organizations: Arc<dyn OrganizationStore>,
    ) -> Self {
        Self {
            payments,
            organizations,
        }
    }

    /// Payments of every organization, or of the one named by id or INN; an INN nobody has is
    /// a field error of `organization`.
    pub async fn list(
        &self,
        caller: &Principal,
        query: &AdminPaymentQuery,
        page: PageRequest,
    ) -> Result<Page<PaymentView>, BillingError> {
        caller.require_staff()?;
        let organization = match &query.organization {
            None => None,
            Some(named) => Some(self.resolve(named).await?),
        };
        let filter = query.payments.within(organization);
        Ok(self.payments.list_payments(&filter, page).await?)
    }

    async fn resolve(&self, named: &OrganizationRef) -> Result<OrganizationId, BillingError> {
        match named {
            OrganizationRef::Id(id) => Ok(*id),
            OrganizationRef::Inn(inn) => self
                .organizations
                .find_by_inn(inn)
                .await?
                .map(|organization| organization.id)
                .ok_or_else(|| invalid("organization", "No organization has this INN.")),
        }
    }
}

/// What a staff action answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffActionReceipt {
    /// The payment after the action, with its invoice's number.
    pub payment: PaymentView,
    /// False when the payment was already where the action leads (nothing changed).
    pub applied: bool,
}

/// Approving, rejecting and refunding payments.
#[derive(Clone)]
pub struct StaffActions {
    staff: Arc<dyn StaffActionStore>,
    invoices: Arc<dyn InvoiceStore>,
}

impl StaffActions {
    pub fn new(staff: Arc<dyn StaffActionStore>, invoices: Arc<dyn InvoiceStore>) -> Self {
        Self { staff, invoices }
    }

    /// Applies `action` to the payment; repeating an action that already took effect answers
    /// the payment again with `applied: false`.
    pub async fn execute(
        &self,
        caller: &Principal,
        payment_id: PaymentId,
        action: StaffAction,
        now: DateTime<Utc>,
    ) -> Result<StaffActionReceipt, BillingError> {
        caller.require_staff()?;
        // However the action was built (API, console, another service), its notes obey the
        // same rules before anything is stored.
        let action = action.validated().map_err(BillingError::Invalid)?;
        let (payment, applied) = match self
            .staff
            .apply_staff_action(payment_id, &action, now)
            .await
        {
            Ok(StaffActionOutcome::Applied(payment)) => (payment, true),
            Ok(StaffActionOutcome::AlreadyDone(payment)) => (payment, false),
            Err(StaffActionStoreError::Rule(rule)) => return Err(rule.into()),
            Err(StaffActionStoreError::Storage(storage)) => return Err(storage.into()),
        };
        Ok(StaffActionReceipt {
            payment: with_invoice_number(self.invoices.as_ref(), payment).await?,
            applied,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AccessError;
    use crate::billing::StaffActionError;
    use crate::ledger::LedgerError;
    use crate::money::{Currency, Money};
    use crate::organization::Inn;
    use crate::payment::PaymentStatus;
    use crate::ports::{
        MockInvoiceStore, MockOrganizationStore, MockPaymentQueries, MockStaffActionStore,
    };
    use crate::usecases::error::Resource;
    use crate::usecases::test_support::{member, organization, payment_of, staff};

    fn refund() -> StaffAction {
        StaffAction::Refund { admin_notes: None }
    }

    #[tokio::test]
    async fn staff_use_cases_refuse_members() {
        let member = member(OrganizationId::new_random());
        let list = AdminPayments::new(
            Arc::new(MockPaymentQueries::new()),
            Arc::new(MockOrganizationStore::new()),
        );
        assert_eq!(
            list.list(
                &member,
                &AdminPaymentQuery::default(),
                PageRequest::default()
            )
            .await,
            Err(BillingError::Forbidden(AccessError::StaffOnly))
        );
        let actions = StaffActions::new(
            Arc::new(MockStaffActionStore::new()),
            Arc::new(MockInvoiceStore::new()),
        );
        assert_eq!(
            actions
                .execute(&member, PaymentId::generate(), refund(), Utc::now())
                .await,
            Err(BillingError::Forbidden(AccessError::StaffOnly))
        );
    }

    #[tokio::test]
    async fn the_admin_list_resolves_an_inn_to_its_organization() {
        let org = organization();
        let org_id = org.id;
        let mut organizations = MockOrganizationStore::new();
        organizations
            .expect_find_by_inn()
            .returning(move |inn| Ok((*inn == org.inn).then(|| org.clone())));
        let mut payments = MockPaymentQueries::new();
        payments
            .expect_list_payments()
            .withf(move |filter, _| filter.organization_id == Some(org_id))
            .times(2)
            .returning(|_, page| {
                Ok(Page {
                    items: vec![],
                    total: 0,
                    request: page,
                })
            });
        let list = AdminPayments::new(Arc::new(payments), Arc::new(organizations));
        let staff = staff();
        let by_inn = AdminPaymentQuery {
            organization: Some(OrganizationRef::Inn(Inn::parse("1234567890").unwrap())),
            ..Default::default()
        };
        list.list(&staff, &by_inn, PageRequest::default())
            .await
            .unwrap();
        let by_id = AdminPaymentQuery {
            organization: Some(OrganizationRef::Id(org_id)),
            ..Default::default()
        };
        list.list(&staff, &by_id, PageRequest::default())
            .await
            .unwrap();
        let unknown = AdminPaymentQuery {
            organization: Some(OrganizationRef::Inn(Inn::parse("0000000000").unwrap())),
            ..Default::default()
        };
        assert!(matches!(
            list.list(&staff, &unknown, PageRequest::default()).await,
            Err(BillingError::Invalid(errors))
                if errors.get("organization").unwrap() == ["No organization has this INN."]
        ));
    }

    #[tokio::test]
    async fn staff_action_refusals_map_to_409_and_422() {
        let staff = staff();
        let cases = [
            (
                StaffActionError::Ledger(LedgerError::InsufficientBalance {
                    balance: Money::zero(Currency::RUB),
                    requested: Money::parse("1", Currency::RUB).unwrap(),
                }),
                409,
            ),
            (
                StaffActionError::Ledger(LedgerError::Overflow {
                    max: Money::zero(Currency::RUB),
                }),
                422,
            ),
            (
                StaffActionError::InvalidTransition(
                    PaymentStatus::Failed
                        .transition_to(PaymentStatus::Succeeded)
                        .unwrap_err(),
                ),
                409,
            ),
            (StaffActionError::InvoiceAlreadyPaid("INV-1".into()), 409),
            (StaffActionError::PaymentNotFound, 404),
        ];
        for (refusal, status) in cases {
            let mut store = MockStaffActionStore::new();
            let returned = refusal.clone();
            store
                .expect_apply_staff_action()
                .returning(move |_, _, _| Err(StaffActionStoreError::Rule(returned.clone())));
            let err = StaffActions::new(Arc::new(store), Arc::new(MockInvoiceStore::new()))
                .execute(&staff, PaymentId::generate(), refund(), Utc::now())
                .await
                .unwrap_err();
            let got = match err {
                BillingError::Conflict(_) | BillingError::InvalidTransition(_) => 409,
                BillingError::Unprocessable(_) => 422,
                BillingError::NotFound(Resource::Payment) => 404,
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(got, status, "{refusal:?}");
        }
    }

    #[tokio::test]
    async fn a_repeated_action_is_reported_as_not_applied() {
        let view = payment_of(OrganizationId::new_random());
        let id = view.payment.id;
        for (outcome, applied) in [
            (StaffActionOutcome::AlreadyDone(view.payment.clone()), false),
            (StaffActionOutcome::Applied(view.payment.clone()), true),
        ] {
            let mut store = MockStaffActionStore::new();
            store
                .expect_apply_staff_action()
                .withf(move |payment, action, _| *payment == id && *action == refund())
                .returning(move |_, _, _| Ok(outcome.clone()));
            let receipt = StaffActions::new(Arc::new(store), Arc::new(MockInvoiceStore::new()))
                .execute(&staff(), id, refund(), Utc::now())
                .await
                .unwrap();
            assert_eq!(receipt.applied, applied);
            assert_eq!(receipt.payment.payment.id, id);
        }
    }

    #[tokio::test]
    async fn storage_failures_are_reported_as_such() {
        let mut store = MockStaffActionStore::new();
        store.expect_apply_staff_action().returning(|_, _, _| {
            Err(StaffActionStoreError::Storage(crate::StorageError::new(
                "down",
            )))
        });
        assert!(matches!(
            StaffActions::new(Arc::new(store), Arc::new(MockInvoiceStore::new()))
                .execute(&staff(), PaymentId::generate(), refund(), Utc::now())
                .await,
            Err(BillingError::Storage(_))
        ));
    }
}
