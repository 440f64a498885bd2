//! Staff managing the payment-method catalogue and organizations' overrides of it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::Principal;
use crate::catalogue::{AccountPaymentMethod, CountryScope, PaymentMethodConfig};
use crate::error::FieldErrors;
use crate::organization::{Organization, OrganizationId};
use crate::payment::PaymentMethod;
use crate::ports::{CatalogueError, CatalogueStore, OrganizationStore};

use super::error::{invalid, required_name, BillingError, Resource};

/// The fields of a catalogue row (create and full update), not yet validated; every reason is
/// reported at once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigInput {
    /// Two letters, or `*` for every country; required.
    pub country_code: Option<String>,
    /// Required.
    pub payment_method: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// 1 to 255 characters; required.
    pub display_name: Option<String>,
    pub instructions: Option<String>,
    /// A JSON object; `{}` when absent.
    pub details: Option<serde_json::Value>,
    /// Default 0.
    pub sort_order: Option<i32>,
}

/// An organization's setting for one method, not yet validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverrideInput {
    /// Required.
    pub payment_method: Option<String>,
    /// Required.
    pub is_enabled: Option<bool>,
    /// Default false; a disabled method cannot be the default.
    pub is_default: Option<bool>,
}

/// The catalogue of payment methods, and per-organization overrides.
#[derive(Clone)]
pub struct CatalogueAdmin {
    catalogue: Arc<dyn CatalogueStore>,
    organizations: Arc<dyn OrganizationStore>,
}

impl CatalogueAdmin {
    pub fn new(
        catalogue: Arc<dyn CatalogueStore>,
        organizations: Arc<dyn OrganizationStore>,
    ) -> Self {
        Self {
            catalogue,
            organizations,
        }
    }

    /// Every catalogue row.
    pub async fn list_configs(
        &self,
        caller: &Principal,
    ) -> Result<Vec<PaymentMethodConfig>, BillingError> {
        caller.require_staff()?;
        Ok(self.catalogue.list_configs().await?)
    }

    /// One catalogue row.
    pub async fn get_config(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> Result<PaymentMethodConfig, BillingError> {
        caller.require_staff()?;
        self.catalogue
            .find_config(id)
            .await?
            .ok_or(BillingError::NotFound(Resource::Configuration))
    }

    /// Adds a row; one per country (or `*`) and method.
    pub async fn create_config(
        &self,
        caller: &Principal,
        input: &ConfigInput,
        now: DateTime<Utc>,
    ) -> Result<PaymentMethodConfig, BillingError> {
        caller.require_staff()?;
        let config = validate_config(input, Uuid::new_v4(), now, now)?;
        self.catalogue.create_config(&config).await?;
        Ok(config)
    }

    /// Replaces a row (omitted optional fields take their defaults).
    pub async fn update_config(
        &self,
        caller: &Principal,
        id: Uuid,
        input: &ConfigInput,
        now: DateTime<Utc>,
    ) -> Result<PaymentMethodConfig, BillingError> {
        let existing = self.get_config(caller, id).await?;
        let config = validate_config(input, existing.id, existing.created_at, now)?;
        self.catalogue.update_config(&config).await?;
        Ok(config)
    }

    /// Deletes a row.
    pub async fn delete_config(&self, caller: &Principal, id: Uuid) -> Result<(), BillingError> {
        caller.require_staff()?;
        Ok(self.catalogue.delete_config(id).await?)
    }

    async fn organization(
        &self,
        caller: &Principal,
        id: OrganizationId,
    ) -> Result<Organization, BillingError> {
        caller.require_staff()?;
        self.organizations
            .find_organization(id)
            .await?
            .ok_or(BillingError::NotFound(Resource::Organization))
    }

    /// The organization's overrides.
    pub async fn list_overrides(
        &self,
        caller: &Principal,
        organization_id: OrganizationId,
    ) -> Result<Vec<AccountPaymentMethod>, BillingError> {
        let organization = self.organization(caller, organization_id).await?;
        Ok(self.catalogue.list_overrides(organization.id).await?)
    }

    /// Creates or replaces the organization's override of one method.
    pub async fn upsert_override(
        &self,
        caller: &Principal,
        organization_id: OrganizationId,
        input: &OverrideInput,
        now: DateTime<Utc>,
    ) -> Result<AccountPaymentMethod, BillingError> {
        let organization = self.organization(caller, organization_id).await?;
        let method = match input.payment_method.as_deref() {
            Some(text) => text
                .trim()
                .parse::<PaymentMethod>()
                .map_err(|e| invalid("payment_method", e.to_string()))?,
            None => return Err(invalid("payment_method", "This field is required.")),
        };
        let is_enabled = input
            .is_enabled
            .ok_or_else(|| invalid("is_enabled", "This field is required."))?;
        let is_default = input.is_default.unwrap_or(false);
        if is_default && !is_enabled {
            return Err(invalid(
                "is_default",
                "A disabled method cannot be the default.",
            ));
        }
        let setting = AccountPaymentMethod {
            organization_id: organization.id,
            method,
            is_enabled,
            is_default,
            created_at: now,
            updated_at: now,
        };
        self.catalogue.upsert_override(&setting).await?;
        Ok(setting)
    }

    /// Deletes the organization's override of `method`; the catalogue applies again.
    pub async fn delete_override(
        &self,
        caller: &Principal,
        organization_id: OrganizationId,
        method: PaymentMethod,
    ) -> Result<(), BillingError> {
        let organization = self.organization(caller, organization_id).await?;
        self.catalogue
            .delete_override(organization.id, method)
            .await
            .map_err(|e| match e {
                CatalogueError::NotFound => BillingError::NotFound(Resource::Override),
                other => other.into(),
            })
    }
}

fn validate_config(
    input: &ConfigInput,
    id: Uuid,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<PaymentMethodConfig, BillingError> {
    let mut errors = FieldErrors::new();
    let country = match input.country_code.as_deref() {
        Some(text) => errors.check("country_code", CountryScope::parse(text)),
        None => {
            errors.add(
                "country_code",
                "This field is required (\"*\" for every country).",
            );
            None
        }
    };
    let method = match input.payment_method.as_deref() {
        Some(text) => errors.check("payment_method", text.trim().parse::<PaymentMethod>()),
        None => {
            errors.add("payment_method", "This field is required.");
            None
        }
    };
    let display_name = required_name(&mut errors, "display_name", input.display_name.as_deref());
    let details = input
        .details
        .clone()
        .unwrap_or_else(|| serde_json::json!({}));
    if !details.is_object() {
        errors.add("details", "Must be a JSON object.");
    } else if let Err(reason) = crate::text::check_json(&details) {
        errors.add("details", reason);
    }
    if let Some(Err(reason)) = input
        .instructions
        .as_deref()
        .map(crate::text::check_free_text)
    {
        errors.add("instructions", reason);
    }
    let (Some(country), Some(method), Some(display_name)) = (country, method, display_name) else {
        return Err(BillingError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(BillingError::Invalid(errors));
    }
    Ok(PaymentMethodConfig {
        id,
        country,
        method,
        enabled: input.enabled.unwrap_or(true),
        display_name,
        instructions: input.instructions.clone().unwrap_or_default(),
        details,
        sort_order: input.sort_order.unwrap_or(0),
        created_at,
        updated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AccessError;
    use crate::ports::{MockCatalogueStore, MockOrganizationStore};
    use crate::usecases::test_support::{member, organization, staff};

    fn admin(
        catalogue: MockCatalogueStore,
        organizations: MockOrganizationStore,
    ) -> CatalogueAdmin {
        CatalogueAdmin::new(Arc::new(catalogue), Arc::new(organizations))
    }

    fn knowing(org: &Organization) -> MockOrganizationStore {
        let mut organizations = MockOrganizationStore::new();
        let stored = org.clone();
        organizations
            .expect_find_organization()
            .returning(move |id| Ok((id == stored.id).then(|| stored.clone())));
        organizations
    }

    fn row() -> ConfigInput {
        ConfigInput {
            country_code: Some("RU".into()),
            payment_method: Some("bank_transfer".into()),
            display_name: Some("Bank transfer".into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn members_may_not_touch_the_catalogue() {
        let admin = admin(MockCatalogueStore::new(), MockOrganizationStore::new());
        let member = member(OrganizationId::new_random());
        let forbidden = BillingError::Forbidden(AccessError::StaffOnly);
        assert_eq!(admin.list_configs(&member).await, Err(forbidden.clone()));
        assert_eq!(
            admin.get_config(&member, Uuid::new_v4()).await,
            Err(forbidden.clone())
        );
        assert_eq!(
            admin.create_config(&member, &row(), Utc::now()).await,
            Err(forbidden.clone())
        );
        assert_eq!(
            admin.delete_config(&member, Uuid::new_v4()).await,
            Err(forbidden.clone())
        );
        assert_eq!(
            admin
                .list_overrides(&member, OrganizationId::new_random())
                .await,
            Err(forbidden)
        );
    }

    #[tokio::test]
    async fn rows_are_validated_with_defaults() {
        let mut catalogue = MockCatalogueStore::new();
        catalogue
            .expect_create_config()
            .withf(|c| {
                c.enabled
                    && c.sort_order == 0
                    && c.details == serde_json::json!({})
                    && c.instructions.is_empty()
            })
            .times(1)
            .returning(|_| Ok(()));
        let admin = admin(catalogue, MockOrganizationStore::new());
        admin
            .create_config(&staff(), &row(), Utc::now())
            .await
            .unwrap();
        let bad = ConfigInput {
            details: Some(serde_json::json!([1])),
            ..Default::default()
        };
        let Err(BillingError::Invalid(errors)) =
            admin.create_config(&staff(), &bad, Utc::now()).await
        else {
            panic!("expected validation errors")
        };
        for field in ["country_code", "payment_method", "display_name", "details"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[tokio::test]
    async fn updating_a_missing_row_is_not_found_and_keeps_created_at_otherwise() {
        let mut catalogue = MockCatalogueStore::new();
        catalogue.expect_find_config().returning(|_| Ok(None));
        let admin_missing = admin(catalogue, MockOrganizationStore::new());
        assert_eq!(
            admin_missing
                .update_config(&staff(), Uuid::new_v4(), &row(), Utc::now())
                .await,
            Err(BillingError::NotFound(Resource::Configuration))
        );

        let existing = validate_config(
            &row(),
            Uuid::new_v4(),
            Utc::now() - chrono::Duration::days(1),
            Utc::now(),
        )
        .unwrap();
        let stored = existing.clone();
        let mut catalogue = MockCatalogueStore::new();
        catalogue
            .expect_find_config()
            .returning(move |_| Ok(Some(stored.clone())));
        let created_at = existing.created_at;
        catalogue
            .expect_update_config()
            .withf(move |c| c.created_at == created_at && c.display_name == "Bank transfer")
            .times(1)
            .returning(|_| Ok(()));
        admin(catalogue, MockOrganizationStore::new())
            .update_config(&staff(), existing.id, &row(), Utc::now())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn overrides_need_an_existing_organization_and_a_consistent_default() {
        let org = organization();
        let mut catalogue = MockCatalogueStore::new();
        catalogue.expect_upsert_override().never();
        let admin = admin(catalogue, knowing(&org));
        assert_eq!(
            admin
                .list_overrides(&staff(), OrganizationId::new_random())
                .await,
            Err(BillingError::NotFound(Resource::Organization))
        );
        let disabled_default = OverrideInput {
            payment_method: Some("card".into()),
            is_enabled: Some(false),
            is_default: Some(true),
        };
        assert!(matches!(
            admin.upsert_override(&staff(), org.id, &disabled_default, Utc::now()).await,
            Err(BillingError::Invalid(e)) if e.get("is_default").is_some()
        ));
        let no_flag = OverrideInput {
            payment_method: Some("card".into()),
            ..Default::default()
        };
        assert!(matches!(
            admin.upsert_override(&staff(), org.id, &no_flag, Utc::now()).await,
            Err(BillingError::Invalid(e)) if e.get("is_enabled").is_some()
        ));
    }

    #[tokio::test]
    async fn deleting_a_missing_override_is_not_found() {
        let org = organization();
        let mut catalogue = MockCatalogueStore::new();
        catalogue
            .expect_delete_override()
            .returning(|_, _| Err(CatalogueError::NotFound));
        assert_eq!(
            admin(catalogue, knowing(&org))
                .delete_override(&staff(), org.id, PaymentMethod::Card)
                .await,
            Err(BillingError::NotFound(Resource::Override))
        );
    }
}
