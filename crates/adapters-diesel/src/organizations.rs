//! [`OrganizationStore`]: organizations by INN or id, created once per INN.

use async_trait::async_trait;
use diesel::prelude::*;
use payments_domain::pagination::{Page, PageRequest};
use payments_domain::ports::{CreateOrganizationError, OrganizationStore};
use payments_domain::{Inn, Organization, OrganizationId, StorageError};

use crate::pool::with_connection;
use crate::rows::{limit_offset, page_of, NewOrganization, OrganizationRow};
use crate::schema::organizations;
use crate::sql_types::SqlUuid;
use crate::tx::{for_both_backends, storage, violated_unique_key, UniqueKey};
use crate::Database;

/// The queries of this port, for one connection type.
pub(crate) trait OrganizationQueries {
    fn find_organization(&mut self, inn: &Inn) -> Result<Option<Organization>, StorageError>;

    fn find_organization_by_id(
        &mut self,
        id: OrganizationId,
    ) -> Result<Option<Organization>, StorageError>;

    fn create_organization(
        &mut self,
        organization: &Organization,
    ) -> Result<(), CreateOrganizationError>;

    fn list_organizations(&mut self, page: PageRequest)
        -> Result<Page<Organization>, StorageError>;
}

for_both_backends! {
    impl OrganizationQueries {
        fn find_organization(
            &mut self,
            inn: &Inn,
        ) -> Result<Option<Organization>, StorageError> {
            let row = organizations::table
                .filter(organizations::inn.eq(inn.as_str()))
                .select(OrganizationRow::as_select())
                .first(self)
                .optional()
                .map_err(storage)?;
            Ok(row.map(OrganizationRow::into_domain).transpose()?)
        }

        fn find_organization_by_id(
            &mut self,
            id: OrganizationId,
        ) -> Result<Option<Organization>, StorageError> {
            let row = organizations::table
                .find(SqlUuid(id.0))
                .select(OrganizationRow::as_select())
                .first(self)
                .optional()
                .map_err(storage)?;
            Ok(row.map(OrganizationRow::into_domain).transpose()?)
        }

        fn create_organization(
            &mut self,
            organization: &Organization,
        ) -> Result<(), CreateOrganizationError> {
            // The unique key decides, so two concurrent creators cannot both succeed.
            diesel::insert_into(organizations::table)
                .values(&NewOrganization::of(organization))
                .execute(self)
                .map(|_| ())
                .map_err(|error| match violated_unique_key(&error) {
                    Some(UniqueKey::OrganizationInn) => CreateOrganizationError::InnTaken,
                    _ => CreateOrganizationError::Storage(storage(error)),
                })
        }

        fn list_organizations(
            &mut self,
            page: PageRequest,
        ) -> Result<Page<Organization>, StorageError> {
            let (limit, offset) = limit_offset(page);
            let total: i64 = organizations::table
                .count()
                .get_result(self)
                .map_err(storage)?;
            let rows = organizations::table
                .order((organizations::created_at.desc(), organizations::id.desc()))
                .limit(limit)
                .offset(offset)
                .select(OrganizationRow::as_select())
                .load(self)
                .map_err(storage)?;
            let items = rows
                .into_iter()
                .filter_map(|row| crate::rows::keep_decodable(OrganizationRow::into_domain(row)))
                .collect();
            Ok(page_of(items, total, page))
        }
    }
}

#[async_trait]
impl OrganizationStore for Database {
    async fn find_by_inn(&self, inn: &Inn) -> Result<Option<Organization>, StorageError> {
        let inn = inn.clone();
        with_connection!(self, |conn| conn.find_organization(&inn))
    }

    async fn find_organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<Organization>, StorageError> {
        with_connection!(self, |conn| conn.find_organization_by_id(id))
    }

    async fn create_organization(
        &self,
        organization: &Organization,
    ) -> Result<(), CreateOrganizationError> {
        let organization = organization.clone();
        with_connection!(write: self, |conn| conn.create_organization(&organization))
    }

    async fn list_organizations(
        &self,
        page: PageRequest,
    ) -> Result<Page<Organization>, StorageError> {
        with_connection!(self, |conn| conn.list_organizations(page))
    }
}
