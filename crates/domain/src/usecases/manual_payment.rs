//! A member reporting a manual payment of one of its invoices.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::billing::{IdempotencyKey, ManualPaymentRequest, RawManualPayment};
use crate::invoice::InvoiceId;
use crate::payment::Payment;
use crate::ports::{
    CatalogueStore, InvoiceStore, ManualPaymentStore, ManualSubmission, OrganizationStore,
    PaymentView, SubmitError, SubmitOutcome,
};

use super::error::BillingError;
use super::member::{methods_for, own_organization};

/// What a manual submission answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualPaymentReceipt {
    /// The payment with its invoice's number.
    pub payment: PaymentView,
    /// False when an idempotent repeat returned the first answer.
    pub created: bool,
}

/// Adds the invoice's number to a payment, as lists show it.
pub(crate) async fn with_invoice_number(
    invoices: &dyn InvoiceStore,
    payment: Payment,
) -> Result<PaymentView, BillingError> {
    let invoice_number = match payment.invoice_id {
        Some(id) => invoices
            .find_invoice(InvoiceId(id))
            .await?
            .map(|invoice| invoice.number.to_string()),
        None => None,
    };
    Ok(PaymentView {
        payment,
        invoice_number,
    })
}

/// `pending_approval` payments reported by members, which staff then approve or reject.
#[derive(Clone)]
pub struct SubmitManualPayment {
    organizations: Arc<dyn OrganizationStore>,
    catalogue: Arc<dyn CatalogueStore>,
    manual: Arc<dyn ManualPaymentStore>,
    invoices: Arc<dyn InvoiceStore>,
}

impl SubmitManualPayment {
    pub fn new(
        organizations: Arc<dyn OrganizationStore>,
        catalogue: Arc<dyn CatalogueStore>,
        manual: Arc<dyn ManualPaymentStore>,
        invoices: Arc<dyn InvoiceStore>,
    ) -> Self {
        Self {
            organizations,
            catalogue,
            manual,
            invoices,
        }
    }

    /// Validates the body (every field's reason at once) and the `Idempotency-Key`, then has
    /// the store record the payment, or answer the first answer again for a repeated key.
    /// The raw body and key are taken as received because their validation, and its messages,
    /// are rules of the domain.
    pub async fn execute(
        &self,
        caller: &Principal,
        raw: &RawManualPayment,
        idempotency_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ManualPaymentReceipt, BillingError> {
        let organization = own_organization(self.organizations.as_ref(), caller).await?;
        let request = ManualPaymentRequest::from_raw(raw).map_err(BillingError::Invalid)?;
        let idempotency_key = idempotency_key
            .map(IdempotencyKey::parse)
            .transpose()
            .map_err(BillingError::Invalid)?;
        let available = methods_for(self.catalogue.as_ref(), &organization).await?;
        let submission = ManualSubmission {
            organization_id: organization.id,
            request,
            available,
            idempotency_key,
            now,
        };
        let (payment, created) = match self.manual.submit_manual_payment(&submission).await {
            Ok(SubmitOutcome::Created(payment)) => (payment, true),
            Ok(SubmitOutcome::Replayed(payment)) => (payment, false),
            Err(SubmitError::Rule(rule)) => return Err(rule.into()),
            Err(SubmitError::Storage(storage)) => return Err(storage.into()),
        };
        Ok(ManualPaymentReceipt {
            payment: with_invoice_number(self.invoices.as_ref(), payment).await?,
            created,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AccessError;
    use crate::bank::RawField;
    use crate::billing::ManualPaymentError;
    use crate::invoice::{Invoice, InvoiceNumber, InvoiceStatus};
    use crate::organization::Organization;
    use crate::payment::PaymentMethod;
    use crate::ports::{
        MockCatalogueStore, MockInvoiceStore, MockManualPaymentStore, MockOrganizationStore,
    };
    use crate::usecases::error::Resource;
    use crate::usecases::test_support::{member, organization, payment_of, staff};
    use uuid::Uuid;

    struct Mocks {
        organizations: MockOrganizationStore,
        catalogue: MockCatalogueStore,
        manual: MockManualPaymentStore,
        invoices: MockInvoiceStore,
    }

    impl Mocks {
        /// The member's organization exists and its catalogue is empty.
        fn of(org: &Organization) -> Self {
            let mut organizations = MockOrganizationStore::new();
            let stored = org.clone();
            organizations
                .expect_find_organization()
                .returning(move |_| Ok(Some(stored.clone())));
            let mut catalogue = MockCatalogueStore::new();
            catalogue.expect_list_configs().returning(|| Ok(vec![]));
            catalogue.expect_list_overrides().returning(|_| Ok(vec![]));
            Self {
                organizations,
                catalogue,
                manual: MockManualPaymentStore::new(),
                invoices: MockInvoiceStore::new(),
            }
        }

        fn use_case(self) -> SubmitManualPayment {
            SubmitManualPayment::new(
                Arc::new(self.organizations),
                Arc::new(self.catalogue),
                Arc::new(self.manual),
                Arc::new(self.invoices),
            )
        }
    }

    fn manual_body() -> RawManualPayment {
        RawManualPayment {
            invoice_id: RawField::Text(Uuid::new_v4().to_string()),
            payment_method: RawField::Text("bank_transfer".into()),
            transaction_reference: RawField::Text("TX".into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn staff_cannot_submit() {
        let mocks = Mocks::of(&organization());
        assert_eq!(
            mocks
                .use_case()
                .execute(&staff(), &manual_body(), None, Utc::now())
                .await,
            Err(BillingError::Forbidden(AccessError::MembersOnly))
        );
    }

    #[tokio::test]
    async fn manual_payment_outcomes_map_to_answers() {
        let org = organization();
        let member = member(org.id);
        let cases = [
            (ManualPaymentError::PendingPaymentExists, "conflict"),
            (ManualPaymentError::IdempotencyKeyReused, "conflict"),
            (ManualPaymentError::InvoiceNotFound, "not found"),
            (
                ManualPaymentError::MethodNotAvailable(PaymentMethod::BankTransfer),
                "invalid",
            ),
        ];
        for (refusal, expected) in cases {
            let mut mocks = Mocks::of(&org);
            let returned = refusal.clone();
            mocks
                .manual
                .expect_submit_manual_payment()
                .withf(|s| s.idempotency_key.as_ref().map(|k| k.as_str()) == Some("key-1"))
                .returning(move |_| Err(SubmitError::Rule(returned.clone())));
            let err = mocks
                .use_case()
                .execute(&member, &manual_body(), Some("key-1"), Utc::now())
                .await
                .unwrap_err();
            let kind = match err {
                BillingError::Conflict(_) => "conflict",
                BillingError::NotFound(Resource::Invoice) => "not found",
                BillingError::Invalid(_) => "invalid",
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(kind, expected, "{refusal:?}");
        }
    }

    #[tokio::test]
    async fn a_created_payment_comes_back_with_its_invoice_number() {
        let org = organization();
        let member = member(org.id);
        let mut mocks = Mocks::of(&org);
        let mut payment = payment_of(org.id).payment;
        let invoice_id = InvoiceId(Uuid::new_v4());
        payment.invoice_id = Some(invoice_id.0);
        let created = payment.clone();
        mocks
            .manual
            .expect_submit_manual_payment()
            .withf(move |s| s.organization_id == org.id && s.idempotency_key.is_none())
            .returning(move |_| Ok(SubmitOutcome::Created(created.clone())));
        let organization_id = org.id;
        mocks.invoices.expect_find_invoice().returning(move |id| {
            Ok(Some(Invoice {
                id,
                organization_id,
                number: InvoiceNumber::parse("INV-7").unwrap(),
                amount: payment.amount,
                status: InvoiceStatus::Pending,
                due_date: None,
                paid_at: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }))
        });
        let receipt = mocks
            .use_case()
            .execute(&member, &manual_body(), None, Utc::now())
            .await
            .unwrap();
        assert!(receipt.created);
        assert_eq!(receipt.payment.invoice_number.as_deref(), Some("INV-7"));
    }

    #[tokio::test]
    async fn a_replayed_submission_is_reported_as_not_created() {
        let org = organization();
        let member = member(org.id);
        let mut mocks = Mocks::of(&org);
        let view = payment_of(org.id);
        mocks
            .manual
            .expect_submit_manual_payment()
            .returning(move |_| Ok(SubmitOutcome::Replayed(view.payment.clone())));
        let receipt = mocks
            .use_case()
            .execute(&member, &manual_body(), Some("k"), Utc::now())
            .await
            .unwrap();
        assert!(!receipt.created);
    }

    #[tokio::test]
    async fn invalid_submissions_never_reach_the_store() {
        let org = organization();
        let member = member(org.id);
        let mut mocks = Mocks::of(&org);
        mocks.manual.expect_submit_manual_payment().never();
        let submit = mocks.use_case();
        assert!(matches!(
            submit
                .execute(&member, &RawManualPayment::default(), None, Utc::now())
                .await,
            Err(BillingError::Invalid(_))
        ));
        assert!(matches!(
            submit
                .execute(&member, &manual_body(), Some("bad key"), Utc::now())
                .await,
            Err(BillingError::Invalid(_))
        ));
    }
}
