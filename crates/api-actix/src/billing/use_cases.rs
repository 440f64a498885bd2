//! The billing use cases the handlers call, one per capability, each over only the ports it
//! needs.

use std::sync::Arc;

use payments_domain::ports::{
    CatalogueStore, InvoiceStore, ManualPaymentStore, OrganizationStore, PaymentQueries,
    StaffActionStore,
};
use payments_domain::usecases::{
    AdminPayments, CatalogueAdmin, InvoicesAdmin, MemberAccount, MemberInvoices, MemberPayments,
    OrganizationsAdmin, StaffActions, SubmitManualPayment,
};

/// The use cases behind `/api/v1/billing/`.
#[derive(Clone)]
pub struct BillingUseCases {
    pub member_payments: MemberPayments,
    pub member_invoices: MemberInvoices,
    pub member_account: MemberAccount,
    pub manual_payments: SubmitManualPayment,
    pub admin_payments: AdminPayments,
    pub staff_actions: StaffActions,
    pub organizations: OrganizationsAdmin,
    pub invoices: InvoicesAdmin,
    pub catalogue: CatalogueAdmin,
}

/// The ports the billing use cases work on, between them.
pub struct BillingPorts {
    pub organizations: Arc<dyn OrganizationStore>,
    pub invoices: Arc<dyn InvoiceStore>,
    pub payments: Arc<dyn PaymentQueries>,
    pub catalogue: Arc<dyn CatalogueStore>,
    pub manual: Arc<dyn ManualPaymentStore>,
    pub staff: Arc<dyn StaffActionStore>,
}

impl BillingUseCases {
    /// Hands each use case the ports it uses.
    pub fn new(ports: BillingPorts) -> Self {
        let BillingPorts {
            organizations,
            invoices,
            payments,
            catalogue,
            manual,
            staff,
        } = ports;
        Self {
            member_payments: MemberPayments::new(payments.clone()),
            member_invoices: MemberInvoices::new(invoices.clone()),
            member_account: MemberAccount::new(organizations.clone(), catalogue.clone()),
            manual_payments: SubmitManualPayment::new(
                organizations.clone(),
                catalogue.clone(),
                manual,
                invoices.clone(),
            ),
            admin_payments: AdminPayments::new(payments, organizations.clone()),
            staff_actions: StaffActions::new(staff, invoices.clone()),
            organizations: OrganizationsAdmin::new(organizations.clone()),
            invoices: InvoicesAdmin::new(organizations.clone(), invoices),
            catalogue: CatalogueAdmin::new(catalogue, organizations),
        }
    }

    /// Every port from one adapter.
    pub fn from_adapter<A>(adapter: Arc<A>) -> Self
    where
        A: OrganizationStore
            + InvoiceStore
            + PaymentQueries
            + CatalogueStore
            + ManualPaymentStore
            + StaffActionStore
            + 'static,
    {
        Self::new(BillingPorts {
            organizations: adapter.clone(),
            invoices: adapter.clone(),
            payments: adapter.clone(),
            catalogue: adapter.clone(),
            manual: adapter.clone(),
            staff: adapter,
        })
    }
}
