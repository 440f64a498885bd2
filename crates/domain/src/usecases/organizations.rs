//! Staff managing organizations.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::error::FieldErrors;
use crate::money::Currency;
use crate::organization::{CountryCode, Inn, Organization, OrganizationId};
use crate::pagination::{Page, PageRequest};
use crate::ports::OrganizationStore;

use super::error::{required_name, BillingError};

/// The fields of a new organization, not yet validated: the use case checks them all at once
/// and reports every reason, after the caller's role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewOrganizationInput {
    /// 10 or 12 digits; required.
    pub inn: Option<String>,
    /// 1 to 255 characters; required.
    pub name: Option<String>,
    /// ISO 3166-1 alpha-2; Russia when absent.
    pub country: Option<String>,
    /// ISO 4217; roubles when absent.
    pub currency: Option<String>,
}

/// Creating and listing organizations.
#[derive(Clone)]
pub struct OrganizationsAdmin {
    organizations: Arc<dyn OrganizationStore>,
}

impl OrganizationsAdmin {
    pub fn new(organizations: Arc<dyn OrganizationStore>) -> Self {
        Self { organizations }
    }

    /// Creates an organization with a zero balance; a taken INN is a conflict.
    pub async fn create(
        &self,
        caller: &Principal,
        input: &NewOrganizationInput,
        now: DateTime<Utc>,
    ) -> Result<Organization, BillingError> {
        caller.require_staff()?;
        let mut errors = FieldErrors::new();
        let inn = match input.inn.as_deref() {
            Some(text) => errors.check("inn", Inn::parse(text)),
            None => {
                errors.add("inn", "This field is required.");
                None
            }
        };
        let name = required_name(&mut errors, "name", input.name.as_deref());
        let country = match input.country.as_deref() {
            Some(text) => errors.check("country", CountryCode::parse(text)),
            None => Some(CountryCode::russia()),
        };
        let currency = match input.currency.as_deref() {
            Some(text) => errors.check("currency", Currency::parse(text)),
            None => Some(Currency::RUB),
        };
        let (Some(inn), Some(name), Some(country), Some(currency)) = (inn, name, country, currency)
        else {
            return Err(BillingError::Invalid(errors));
        };
        let organization = Organization::new(
            OrganizationId::new_random(),
            inn,
            name,
            country,
            currency,
            now,
        );
        self.organizations
            .create_organization(&organization)
            .await?;
        Ok(organization)
    }

    /// Every organization, newest first.
    pub async fn list(
        &self,
        caller: &Principal,
        page: PageRequest,
    ) -> Result<Page<Organization>, BillingError> {
        caller.require_staff()?;
        Ok(self.organizations.list_organizations(page).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AccessError;
    use crate::ports::{CreateOrganizationError, MockOrganizationStore};
    use crate::usecases::test_support::{member, staff};

    #[tokio::test]
    async fn members_may_not_manage_organizations() {
        let mut store = MockOrganizationStore::new();
        store.expect_create_organization().never();
        let admin = OrganizationsAdmin::new(Arc::new(store));
        let member = member(OrganizationId::new_random());
        assert_eq!(
            admin
                .create(&member, &NewOrganizationInput::default(), Utc::now())
                .await,
            Err(BillingError::Forbidden(AccessError::StaffOnly))
        );
        assert_eq!(
            admin.list(&member, PageRequest::default()).await,
            Err(BillingError::Forbidden(AccessError::StaffOnly))
        );
    }

    #[tokio::test]
    async fn organizations_are_validated_and_default_to_russia_in_roubles() {
        let staff = staff();
        let mut store = MockOrganizationStore::new();
        store
            .expect_create_organization()
            .withf(|o| {
                o.country.as_str() == "RU" && o.currency() == Currency::RUB && o.balance().is_zero()
            })
            .times(1)
            .returning(|_| Ok(()));
        let admin = OrganizationsAdmin::new(Arc::new(store));
        let input = NewOrganizationInput {
            inn: Some("7701234567".into()),
            name: Some("Acme".into()),
            ..Default::default()
        };
        admin.create(&staff, &input, Utc::now()).await.unwrap();
        let bad = NewOrganizationInput {
            inn: Some("12".into()),
            name: None,
            country: Some("Russia".into()),
            currency: Some("XYZ1".into()),
        };
        let Err(BillingError::Invalid(errors)) = admin.create(&staff, &bad, Utc::now()).await
        else {
            panic!("expected validation errors")
        };
        for field in ["inn", "name", "country", "currency"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
        let blank = NewOrganizationInput {
            name: Some("  ".into()),
            ..input
        };
        assert!(matches!(
            admin.create(&staff, &blank, Utc::now()).await,
            Err(BillingError::Invalid(errors))
                if errors.get("name").unwrap() == ["Must be 1 to 255 characters."]
        ));
    }

    #[tokio::test]
    async fn a_taken_inn_is_a_conflict() {
        let mut store = MockOrganizationStore::new();
        store
            .expect_create_organization()
            .returning(|_| Err(CreateOrganizationError::InnTaken));
        let input = NewOrganizationInput {
            inn: Some("7701234567".into()),
            name: Some("Acme".into()),
            ..Default::default()
        };
        assert_eq!(
            OrganizationsAdmin::new(Arc::new(store))
                .create(&staff(), &input, Utc::now())
                .await,
            Err(BillingError::Conflict(
                "An organization with this INN already exists.".into()
            ))
        );
    }
}
