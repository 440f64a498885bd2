//! Staff issuing invoices.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::FieldErrors;
use crate::invoice::{Invoice, InvoiceId, InvoiceNumber, InvoiceStatus};
use crate::money::{Currency, Money};
use crate::organization::OrganizationId;
use crate::ports::{InvoiceStore, OrganizationStore};

use super::error::{invalid, BillingError};

/// The fields of a new invoice, not yet validated. The amount is checked against the
/// organization's currency, so validation needs the organization: the use case does it, and
/// reports an unknown organization before the other fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewInvoiceInput {
    pub organization_id: Option<String>,
    /// The literal text of the JSON number or string, never read through a float.
    pub amount: Option<String>,
    /// Must be the organization's currency; it is when absent.
    pub currency: Option<String>,
    /// `YYYY-MM-DD`.
    pub due_date: Option<String>,
    /// Generated (`INV-…`) when absent.
    pub number: Option<String>,
}

/// Issuing invoices to organizations.
#[derive(Clone)]
pub struct InvoicesAdmin {
    organizations: Arc<dyn OrganizationStore>,
    invoices: Arc<dyn InvoiceStore>,
}

impl InvoicesAdmin {
    pub fn new(organizations: Arc<dyn OrganizationStore>, invoices: Arc<dyn InvoiceStore>) -> Self {
        Self {
            organizations,
            invoices,
        }
    }

    /// Issues a `pending` invoice in the organization's currency.
    pub async fn issue(
        &self,
        caller: &Principal,
        input: &NewInvoiceInput,
        now: DateTime<Utc>,
    ) -> Result<Invoice, BillingError> {
        caller.require_staff()?;
        let organization_id = match input.organization_id.as_deref() {
            Some(text) => Uuid::try_parse(text.trim())
                .map(OrganizationId)
                .map_err(|_| invalid("organization_id", "Must be a valid UUID."))?,
            None => return Err(invalid("organization_id", "This field is required.")),
        };
        let organization = self
            .organizations
            .find_organization(organization_id)
            .await?
            .ok_or_else(|| invalid("organization_id", "No organization has this id."))?;
        let billed_in = organization.currency();
        let mut errors = FieldErrors::new();
        let currency = match input.currency.as_deref() {
            None => Some(billed_in),
            Some(text) => match Currency::parse(text) {
                Ok(c) if c == billed_in => Some(c),
                Ok(c) => {
                    errors.add(
                        "currency",
                        format!("The organization is billed in {billed_in}, not {c}."),
                    );
                    None
                }
                Err(e) => {
                    errors.add("currency", e.to_string());
                    None
                }
            },
        };
        let amount = match (input.amount.as_deref(), currency) {
            (Some(text), Some(currency)) => {
                errors.check("amount", Money::parse_positive(text, currency))
            }
            (None, _) => {
                errors.add("amount", "This field is required.");
                None
            }
            _ => None,
        };
        let due_date = match input.due_date.as_deref() {
            Some(text) => errors.check("due_date", crate::invoice::parse_due_date(text)),
            None => None,
        };
        let id = InvoiceId(Uuid::new_v4());
        let number = match input.number.as_deref() {
            Some(text) => errors.check("number", InvoiceNumber::parse(text)),
            None => Some(InvoiceNumber::generated(id)),
        };
        let (Some(amount), Some(number)) = (amount, number) else {
            return Err(BillingError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(BillingError::Invalid(errors));
        }
        let invoice = Invoice {
            id,
            organization_id,
            number,
            amount,
            status: InvoiceStatus::Pending,
            due_date,
            paid_at: None,
            created_at: now,
            updated_at: now,
        };
        self.invoices.create_invoice(&invoice).await?;
        Ok(invoice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AccessError;
    use crate::ports::{CreateInvoiceError, MockInvoiceStore, MockOrganizationStore};
    use crate::usecases::test_support::{member, organization, staff};

    fn knowing(org: &crate::Organization) -> MockOrganizationStore {
        let mut organizations = MockOrganizationStore::new();
        let stored = org.clone();
        organizations
            .expect_find_organization()
            .returning(move |id| Ok((id == stored.id).then(|| stored.clone())));
        organizations
    }

    #[tokio::test]
    async fn members_may_not_issue_invoices() {
        let admin = InvoicesAdmin::new(
            Arc::new(MockOrganizationStore::new()),
            Arc::new(MockInvoiceStore::new()),
        );
        assert_eq!(
            admin
                .issue(
                    &member(OrganizationId::new_random()),
                    &NewInvoiceInput::default(),
                    Utc::now()
                )
                .await,
            Err(BillingError::Forbidden(AccessError::StaffOnly))
        );
    }

    #[tokio::test]
    async fn invoices_are_in_the_organizations_currency() {
        let staff = staff();
        let org = organization();
        let mut invoices = MockInvoiceStore::new();
        invoices
            .expect_create_invoice()
            .withf(|i| {
                i.status == InvoiceStatus::Pending
                    && i.amount.to_string() == "139.00"
                    && i.number.as_str().starts_with("INV-")
            })
            .times(1)
            .returning(|_| Ok(()));
        let admin = InvoicesAdmin::new(Arc::new(knowing(&org)), Arc::new(invoices));
        let input = NewInvoiceInput {
            organization_id: Some(org.id.to_string()),
            amount: Some("139".into()),
            ..Default::default()
        };
        admin.issue(&staff, &input, Utc::now()).await.unwrap();
        let usd = NewInvoiceInput {
            currency: Some("USD".into()),
            ..input
        };
        assert!(matches!(
            admin.issue(&staff, &usd, Utc::now()).await,
            Err(BillingError::Invalid(e)) if e.get("currency").is_some()
        ));
    }

    #[tokio::test]
    async fn the_organization_is_checked_before_the_other_fields() {
        let org = organization();
        let admin = InvoicesAdmin::new(Arc::new(knowing(&org)), Arc::new(MockInvoiceStore::new()));
        let only = |e: Result<Invoice, BillingError>| match e {
            Err(BillingError::Invalid(errors)) => {
                let fields: Vec<_> = errors
                    .iter()
                    .map(|(f, r)| (f.to_string(), r.to_vec()))
                    .collect();
                fields
            }
            other => panic!("{other:?}"),
        };
        let missing = NewInvoiceInput {
            amount: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(
            only(admin.issue(&staff(), &missing, Utc::now()).await),
            [(
                "organization_id".to_string(),
                vec!["This field is required.".to_string()]
            )]
        );
        let unknown = NewInvoiceInput {
            organization_id: Some(OrganizationId::new_random().to_string()),
            due_date: Some("tomorrow".into()),
            ..Default::default()
        };
        assert_eq!(
            only(admin.issue(&staff(), &unknown, Utc::now()).await),
            [(
                "organization_id".to_string(),
                vec!["No organization has this id.".to_string()]
            )]
        );
        let bad = NewInvoiceInput {
            organization_id: Some(org.id.to_string()),
            amount: Some("0".into()),
            due_date: Some("31.12.2026".into()),
            number: Some("no spaces allowed".into()),
            ..Default::default()
        };
        let fields: Vec<String> = only(admin.issue(&staff(), &bad, Utc::now()).await)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        for field in ["amount", "due_date", "number"] {
            assert!(fields.iter().any(|f| f == field), "{field}: {fields:?}");
        }
    }

    #[tokio::test]
    async fn a_taken_number_is_a_conflict() {
        let org = organization();
        let mut invoices = MockInvoiceStore::new();
        invoices
            .expect_create_invoice()
            .returning(|_| Err(CreateInvoiceError::NumberTaken));
        let input = NewInvoiceInput {
            organization_id: Some(org.id.to_string()),
            amount: Some("1".into()),
            number: Some("INV-1".into()),
            ..Default::default()
        };
        assert_eq!(
            InvoicesAdmin::new(Arc::new(knowing(&org)), Arc::new(invoices))
                .issue(&staff(), &input, Utc::now())
                .await,
            Err(BillingError::Conflict(
                "An invoice with this number already exists.".into()
            ))
        );
    }
}
