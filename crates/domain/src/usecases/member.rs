//! Members' reads of their own organization: payments, invoices, balance, balance log and the
//! payment methods it may use. Each use case refuses staff (they use the admin ones) and
//! answers "not found" for another organization's rows, so a member cannot tell them from
//! missing ones.

use std::sync::Arc;

use crate::auth::Principal;
use crate::catalogue::{available_methods, AvailableMethod};
use crate::invoice::{Invoice, InvoiceId};
use crate::ledger::BalanceLogEntry;
use crate::organization::Organization;
use crate::pagination::{Page, PageRequest};
use crate::payment::PaymentId;
use crate::ports::{CatalogueStore, InvoiceStore, OrganizationStore, PaymentQueries, PaymentView};

use super::error::{BillingError, Resource};
use super::queries::{InvoiceQuery, PaymentQuery};

/// The caller's own organization, as stored.
pub(crate) async fn own_organization(
    organizations: &dyn OrganizationStore,
    caller: &Principal,
) -> Result<Organization, BillingError> {
    let id = caller.member_organization()?;
    organizations
        .find_organization(id)
        .await?
        .ok_or(BillingError::NotFound(Resource::Organization))
}

/// The methods `organization` may pay with: the catalogue of its country and its overrides.
pub(crate) async fn methods_for(
    catalogue: &dyn CatalogueStore,
    organization: &Organization,
) -> Result<Vec<AvailableMethod>, BillingError> {
    let configs = catalogue.list_configs().await?;
    let overrides = catalogue.list_overrides(organization.id).await?;
    Ok(available_methods(
        &organization.country,
        &configs,
        &overrides,
    ))
}

/// A member's payments and balance log.
#[derive(Clone)]
pub struct MemberPayments {
    payments: Arc<dyn PaymentQueries>,
}

impl MemberPayments {
    pub fn new(payments: Arc<dyn PaymentQueries>) -> Self {
        Self { payments }
    }

    /// The caller's organization's payments, newest first.
    pub async fn list(
        &self,
        caller: &Principal,
        query: &PaymentQuery,
        page: PageRequest,
    ) -> Result<Page<PaymentView>, BillingError> {
        let organization = caller.member_organization()?;
        let filter = query.within(Some(organization));
        Ok(self.payments.list_payments(&filter, page).await?)
    }

    /// One payment; another organization's is "not found".
    pub async fn get(
        &self,
        caller: &Principal,
        id: PaymentId,
    ) -> Result<PaymentView, BillingError> {
        let organization = caller.member_organization()?;
        self.payments
            .find_payment(id)
            .await?
            .filter(|view| view.payment.organization_id == organization)
            .ok_or(BillingError::NotFound(Resource::Payment))
    }

    /// The balance log, newest first.
    pub async fn transactions(
        &self,
        caller: &Principal,
        page: PageRequest,
    ) -> Result<Page<BalanceLogEntry>, BillingError> {
        let organization = caller.member_organization()?;
        Ok(self.payments.list_balance_log(organization, page).await?)
    }
}

/// A member's invoices.
#[derive(Clone)]
pub struct MemberInvoices {
    invoices: Arc<dyn InvoiceStore>,
}

impl MemberInvoices {
    pub fn new(invoices: Arc<dyn InvoiceStore>) -> Self {
        Self { invoices }
    }

    /// The caller's organization's invoices, newest first.
    pub async fn list(
        &self,
        caller: &Principal,
        query: &InvoiceQuery,
        page: PageRequest,
    ) -> Result<Page<Invoice>, BillingError> {
        let organization = caller.member_organization()?;
        let filter = query.within(organization);
        Ok(self.invoices.list_invoices(&filter, page).await?)
    }

    /// One invoice; another organization's is "not found".
    pub async fn get(&self, caller: &Principal, id: InvoiceId) -> Result<Invoice, BillingError> {
        let organization = caller.member_organization()?;
        self.invoices
            .find_invoice(id)
            .await?
            .filter(|invoice| invoice.organization_id == organization)
            .ok_or(BillingError::NotFound(Resource::Invoice))
    }
}

/// A member's organization: its balance and the payment methods it may use.
#[derive(Clone)]
pub struct MemberAccount {
    organizations: Arc<dyn OrganizationStore>,
    catalogue: Arc<dyn CatalogueStore>,
}

impl MemberAccount {
    pub fn new(
        organizations: Arc<dyn OrganizationStore>,
        catalogue: Arc<dyn CatalogueStore>,
    ) -> Self {
        Self {
            organizations,
            catalogue,
        }
    }

    /// The caller's organization, with its balance.
    pub async fn balance(&self, caller: &Principal) -> Result<Organization, BillingError> {
        own_organization(self.organizations.as_ref(), caller).await
    }

    /// The organization and the methods it may use.
    pub async fn available_methods(
        &self,
        caller: &Principal,
    ) -> Result<(Organization, Vec<AvailableMethod>), BillingError> {
        let organization = own_organization(self.organizations.as_ref(), caller).await?;
        let methods = methods_for(self.catalogue.as_ref(), &organization).await?;
        Ok((organization, methods))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AccessError;
    use crate::invoice::InvoiceStatus;
    use crate::organization::OrganizationId;
    use crate::payment::{PaymentMethod, PaymentStatus};
    use crate::ports::{
        MockCatalogueStore, MockInvoiceStore, MockOrganizationStore, MockPaymentQueries,
    };
    use crate::usecases::test_support::{member, organization, payment_of, staff};
    use uuid::Uuid;

    fn empty_page<T>(page: PageRequest) -> Page<T> {
        Page {
            items: vec![],
            total: 0,
            request: page,
        }
    }

    #[tokio::test]
    async fn member_use_cases_refuse_staff() {
        let payments = MemberPayments::new(Arc::new(MockPaymentQueries::new()));
        let invoices = MemberInvoices::new(Arc::new(MockInvoiceStore::new()));
        let account = MemberAccount::new(
            Arc::new(MockOrganizationStore::new()),
            Arc::new(MockCatalogueStore::new()),
        );
        let forbidden = Err(BillingError::Forbidden(AccessError::MembersOnly));
        let staff = staff();
        let page = PageRequest::default();
        assert_eq!(
            payments.list(&staff, &PaymentQuery::default(), page).await,
            forbidden
        );
        assert_eq!(
            payments.get(&staff, PaymentId::generate()).await,
            Err(BillingError::Forbidden(AccessError::MembersOnly))
        );
        assert_eq!(
            payments.transactions(&staff, page).await,
            Err(BillingError::Forbidden(AccessError::MembersOnly))
        );
        assert_eq!(
            invoices.list(&staff, &InvoiceQuery::default(), page).await,
            Err(BillingError::Forbidden(AccessError::MembersOnly))
        );
        assert_eq!(
            invoices.get(&staff, InvoiceId(Uuid::new_v4())).await,
            Err(BillingError::Forbidden(AccessError::MembersOnly))
        );
        assert_eq!(
            account.balance(&staff).await,
            Err(BillingError::Forbidden(AccessError::MembersOnly))
        );
        assert!(matches!(
            account.available_methods(&staff).await,
            Err(BillingError::Forbidden(AccessError::MembersOnly))
        ));
    }

    #[tokio::test]
    async fn members_list_only_their_organization_with_the_given_filters() {
        let own = OrganizationId::new_random();
        let mut payments = MockPaymentQueries::new();
        payments
            .expect_list_payments()
            .withf(move |filter, _| {
                filter.organization_id == Some(own)
                    && filter.statuses == [PaymentStatus::Succeeded, PaymentStatus::Failed]
                    && filter.method == Some(PaymentMethod::LocalWallet)
            })
            .times(1)
            .returning(|_, page| Ok(empty_page(page)));
        payments
            .expect_list_balance_log()
            .withf(move |organization, _| *organization == own)
            .times(1)
            .returning(|_, page| Ok(empty_page(page)));
        let payments = MemberPayments::new(Arc::new(payments));
        let query = PaymentQuery {
            statuses: vec![PaymentStatus::Succeeded, PaymentStatus::Failed],
            method: Some(PaymentMethod::LocalWallet),
            invoice_id: None,
        };
        let member = member(own);
        payments
            .list(&member, &query, PageRequest::default())
            .await
            .unwrap();
        payments
            .transactions(&member, PageRequest::default())
            .await
            .unwrap();

        let mut invoices = MockInvoiceStore::new();
        invoices
            .expect_list_invoices()
            .withf(move |filter, _| {
                filter.organization_id == Some(own) && filter.statuses == [InvoiceStatus::Paid]
            })
            .times(1)
            .returning(|_, page| Ok(empty_page(page)));
        let query = InvoiceQuery {
            statuses: vec![InvoiceStatus::Paid],
        };
        MemberInvoices::new(Arc::new(invoices))
            .list(&member, &query, PageRequest::default())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn another_organizations_payment_or_invoice_is_not_found() {
        let own = OrganizationId::new_random();
        let foreign = payment_of(OrganizationId::new_random());
        let foreign_id = foreign.payment.id;
        let mut payments = MockPaymentQueries::new();
        payments
            .expect_find_payment()
            .returning(move |_| Ok(Some(foreign.clone())));
        let member = member(own);
        assert_eq!(
            MemberPayments::new(Arc::new(payments))
                .get(&member, foreign_id)
                .await,
            Err(BillingError::NotFound(Resource::Payment))
        );
        let mut own_payment = payment_of(own);
        own_payment.invoice_number = Some("INV-1".into());
        let found = own_payment.clone();
        let mut payments = MockPaymentQueries::new();
        payments
            .expect_find_payment()
            .returning(move |_| Ok(Some(found.clone())));
        assert_eq!(
            MemberPayments::new(Arc::new(payments))
                .get(&member, own_payment.payment.id)
                .await,
            Ok(own_payment)
        );

        let mut invoices = MockInvoiceStore::new();
        invoices.expect_find_invoice().returning(|_| Ok(None));
        assert_eq!(
            MemberInvoices::new(Arc::new(invoices))
                .get(&member, InvoiceId(Uuid::new_v4()))
                .await,
            Err(BillingError::NotFound(Resource::Invoice))
        );
    }

    #[tokio::test]
    async fn the_balance_and_methods_are_the_members_own_organizations() {
        let org = organization();
        let stored = org.clone();
        let mut organizations = MockOrganizationStore::new();
        organizations
            .expect_find_organization()
            .withf(move |id| *id == stored.id)
            .returning({
                let stored = org.clone();
                move |_| Ok(Some(stored.clone()))
            });
        let mut catalogue = MockCatalogueStore::new();
        catalogue.expect_list_configs().returning(|| Ok(vec![]));
        catalogue.expect_list_overrides().returning(|_| Ok(vec![]));
        let account = MemberAccount::new(Arc::new(organizations), Arc::new(catalogue));
        let member = member(org.id);
        assert_eq!(account.balance(&member).await, Ok(org.clone()));
        let (found, methods) = account.available_methods(&member).await.unwrap();
        assert_eq!(found, org);
        assert!(methods.is_empty());

        let mut organizations = MockOrganizationStore::new();
        organizations
            .expect_find_organization()
            .returning(|_| Ok(None));
        let account =
            MemberAccount::new(Arc::new(organizations), Arc::new(MockCatalogueStore::new()));
        assert_eq!(
            account.balance(&member).await,
            Err(BillingError::NotFound(Resource::Organization))
        );
    }
}
