//! Every call the console makes into the billing use cases (the API's), in one place: the
//! pages only build inputs and show outcomes, so a change in the use cases' signatures is
//! absorbed here.

use chrono::Utc;
use payments_domain::billing::{RawManualPayment, StaffAction};
use payments_domain::catalogue::{AccountPaymentMethod, AvailableMethod};
use payments_domain::invoice::{Invoice, InvoiceStatus};
use payments_domain::pagination::{Page, PageRequest, MAX_PAGE_SIZE};
use payments_domain::ports::PaymentView;
use payments_domain::usecases::{
    BillingError, InvoiceQuery, ManualPaymentReceipt, NewInvoiceInput, OverrideInput, PaymentQuery,
    Resource, StaffActionReceipt,
};
use payments_domain::{Organization, OrganizationId, PaymentId, PaymentMethod};
use uuid::Uuid;

use super::Signed;

/// A path id: anything that is not a UUID names nothing, as in the API.
fn uuid_of(text: &str, resource: Resource) -> Result<Uuid, BillingError> {
    Uuid::try_parse(text.trim()).map_err(|_| BillingError::NotFound(resource))
}

/// Approve, reject or refund a payment (staff).
pub(crate) async fn staff_action(
    signed: &Signed,
    payment_id: &str,
    action: StaffAction,
) -> Result<StaffActionReceipt, BillingError> {
    let id = PaymentId(uuid_of(payment_id, Resource::Payment)?);
    signed
        .state
        .billing
        .staff_actions
        .execute(&signed.principal, id, action, Utc::now())
        .await
}

/// Issue a pending invoice (staff).
pub(crate) async fn issue_invoice(
    signed: &Signed,
    input: &NewInvoiceInput,
) -> Result<Invoice, BillingError> {
    signed
        .state
        .billing
        .invoices
        .issue(&signed.principal, input, Utc::now())
        .await
}

/// An organization's payment-method overrides (staff).
pub(crate) async fn overrides(
    signed: &Signed,
    organization_id: &str,
) -> Result<Vec<AccountPaymentMethod>, BillingError> {
    let id = OrganizationId(uuid_of(organization_id, Resource::Organization)?);
    signed
        .state
        .billing
        .catalogue
        .list_overrides(&signed.principal, id)
        .await
}

/// Create or replace an override (staff).
pub(crate) async fn save_override(
    signed: &Signed,
    organization_id: &str,
    input: &OverrideInput,
) -> Result<AccountPaymentMethod, BillingError> {
    let id = OrganizationId(uuid_of(organization_id, Resource::Organization)?);
    signed
        .state
        .billing
        .catalogue
        .upsert_override(&signed.principal, id, input, Utc::now())
        .await
}

/// Remove an override (staff).
pub(crate) async fn delete_override(
    signed: &Signed,
    organization_id: &str,
    method: &str,
) -> Result<(), BillingError> {
    let id = OrganizationId(uuid_of(organization_id, Resource::Organization)?);
    let method = method
        .trim()
        .parse::<PaymentMethod>()
        .map_err(|_| BillingError::NotFound(Resource::Override))?;
    signed
        .state
        .billing
        .catalogue
        .delete_override(&signed.principal, id, method)
        .await
}

/// The member's organization and the methods it may pay with.
pub(crate) async fn available_methods(
    signed: &Signed,
) -> Result<(Organization, Vec<AvailableMethod>), BillingError> {
    signed
        .state
        .billing
        .member_account
        .available_methods(&signed.principal)
        .await
}

/// The member's invoices waiting for payment (the first page of the largest size).
pub(crate) async fn pending_invoices(signed: &Signed) -> Result<Page<Invoice>, BillingError> {
    let query = InvoiceQuery {
        statuses: vec![InvoiceStatus::Pending],
    };
    let page = PageRequest {
        page: 1,
        page_size: MAX_PAGE_SIZE,
    };
    signed
        .state
        .billing
        .member_invoices
        .list(&signed.principal, &query, page)
        .await
}

/// The member's own payments, newest first.
pub(crate) async fn own_payments(
    signed: &Signed,
    page: PageRequest,
) -> Result<Page<PaymentView>, BillingError> {
    signed
        .state
        .billing
        .member_payments
        .list(&signed.principal, &PaymentQuery::default(), page)
        .await
}

/// Submit a manual payment (member); `form_key` is the idempotency key.
pub(crate) async fn submit_manual_payment(
    signed: &Signed,
    raw: &RawManualPayment,
    form_key: Option<&str>,
) -> Result<ManualPaymentReceipt, BillingError> {
    signed
        .state
        .billing
        .manual_payments
        .execute(&signed.principal, raw, form_key, Utc::now())
        .await
}
