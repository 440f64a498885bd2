//! `payment_method_configs` and `account_payment_methods`.

use super::{corrupt, Corrupt};
use crate::schema::{account_payment_methods, payment_method_configs};
use crate::sql_types::{SqlJson, SqlTimestamp, SqlUuid};
use diesel::prelude::*;
use payments_domain::catalogue::{AccountPaymentMethod, CountryScope, PaymentMethodConfig};
use payments_domain::{OrganizationId, PaymentMethod};

/// A stored catalogue row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = payment_method_configs)]
pub(crate) struct ConfigRow {
    pub(crate) id: SqlUuid,
    pub(crate) country_code: String,
    pub(crate) payment_method: String,
    pub(crate) enabled: bool,
    pub(crate) display_name: String,
    pub(crate) instructions: String,
    pub(crate) details: SqlJson,
    pub(crate) sort_order: i32,
    pub(crate) created_at: SqlTimestamp,
    pub(crate) updated_at: SqlTimestamp,
}

impl ConfigRow {
    pub(crate) fn into_domain(self) -> Result<PaymentMethodConfig, Corrupt> {
        Ok(PaymentMethodConfig {
            id: self.id.0,
            country: CountryScope::parse(&self.country_code)
                .map_err(|e| corrupt("catalogue country_code", e))?,
            method: self
                .payment_method
                .parse::<PaymentMethod>()
                .map_err(|e| corrupt("catalogue payment_method", e))?,
            enabled: self.enabled,
            display_name: self.display_name,
            instructions: self.instructions,
            details: self.details.0,
            sort_order: self.sort_order,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = payment_method_configs)]
pub(crate) struct NewConfig<'a> {
    pub(crate) country_code: &'a str,
    pub(crate) payment_method: &'a str,
    pub(crate) enabled: bool,
    pub(crate) display_name: &'a str,
    pub(crate) instructions: &'a str,
    pub(crate) details: SqlJson,
    pub(crate) sort_order: i32,
    pub(crate) updated_at: SqlTimestamp,
}

impl<'a> NewConfig<'a> {
    pub(crate) fn of(config: &'a PaymentMethodConfig) -> Self {
        Self {
            country_code: config.country.as_str(),
            payment_method: config.method.as_str(),
            enabled: config.enabled,
            display_name: &config.display_name,
            instructions: &config.instructions,
            details: SqlJson(config.details.clone()),
            sort_order: config.sort_order,
            updated_at: SqlTimestamp(config.updated_at),
        }
    }
}

/// A stored per-organization override.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = account_payment_methods)]
pub(crate) struct OverrideRow {
    pub(crate) organization_id: SqlUuid,
    pub(crate) payment_method: String,
    pub(crate) is_enabled: bool,
    pub(crate) is_default: bool,
    pub(crate) created_at: SqlTimestamp,
    pub(crate) updated_at: SqlTimestamp,
}

impl OverrideRow {
    pub(crate) fn into_domain(self) -> Result<AccountPaymentMethod, Corrupt> {
        Ok(AccountPaymentMethod {
            organization_id: OrganizationId(self.organization_id.0),
            method: self
                .payment_method
                .parse::<PaymentMethod>()
                .map_err(|e| corrupt("override payment_method", e))?,
            is_enabled: self.is_enabled,
            is_default: self.is_default,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}
