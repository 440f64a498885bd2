//! `organizations`.

use super::{corrupt, money, Corrupt};
use crate::schema::organizations;
use crate::sql_types::{SqlTimestamp, SqlUuid};
use diesel::prelude::*;
use payments_domain::organization::CountryCode;
use payments_domain::{Inn, Money, Organization, OrganizationId};

/// A stored organization.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub(crate) struct OrganizationRow {
    pub(crate) id: SqlUuid,
    pub(crate) inn: String,
    pub(crate) name: String,
    pub(crate) country: String,
    pub(crate) currency: String,
    pub(crate) balance_minor: i64,
    pub(crate) created_at: SqlTimestamp,
    pub(crate) updated_at: SqlTimestamp,
}

impl OrganizationRow {
    pub(crate) fn balance(&self) -> Result<Money, Corrupt> {
        money(self.balance_minor, &self.currency, "organization balance")
    }

    pub(crate) fn into_domain(self) -> Result<Organization, Corrupt> {
        let id = self.id.0;
        self.decode().map_err(|e| e.of_row("organizations", id))
    }

    fn decode(self) -> Result<Organization, Corrupt> {
        let balance = self.balance()?;
        Ok(Organization::restore(
            OrganizationId(self.id.0),
            Inn::parse(&self.inn).map_err(|e| corrupt("organization inn", e))?,
            self.name,
            CountryCode::parse(&self.country).map_err(|e| corrupt("organization country", e))?,
            balance,
            self.created_at.0,
            self.updated_at.0,
        ))
    }
}

#[derive(Insertable)]
#[diesel(table_name = organizations)]
pub(crate) struct NewOrganization<'a> {
    pub(crate) id: SqlUuid,
    pub(crate) inn: &'a str,
    pub(crate) name: &'a str,
    pub(crate) country: &'a str,
    pub(crate) currency: &'a str,
    pub(crate) balance_minor: i64,
    pub(crate) created_at: SqlTimestamp,
    pub(crate) updated_at: SqlTimestamp,
}

impl<'a> NewOrganization<'a> {
    pub(crate) fn of(organization: &'a Organization) -> Self {
        Self {
            id: SqlUuid(organization.id.0),
            inn: organization.inn.as_str(),
            name: &organization.name,
            country: organization.country.as_str(),
            currency: organization.currency().code(),
            balance_minor: organization.balance().to_minor_units(),
            created_at: SqlTimestamp(organization.created_at),
            updated_at: SqlTimestamp(organization.updated_at),
        }
    }
}
