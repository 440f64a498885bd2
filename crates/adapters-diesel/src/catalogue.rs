//! [`CatalogueStore`]: the payment-method catalogue and per-organization overrides.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::upsert::excluded;
use payments_domain::catalogue::{
    plan_override, AccountPaymentMethod, OverridePlan, PaymentMethodConfig,
};
use payments_domain::ports::{CatalogueError, CatalogueStore};
use payments_domain::{OrganizationId, PaymentMethod, StorageError};
use uuid::Uuid;

use crate::pool::with_connection;
use crate::rows::{ConfigRow, NewConfig, OverrideRow};
use crate::schema::{account_payment_methods, payment_method_configs};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use crate::tx::{
    for_both_backends, storage, violated_unique_key, with_retries, Abort, Locking, UniqueKey,
};
use crate::Database;

/// The queries of this port, for one connection type.
pub(crate) trait CatalogueQueries: Locking {
    fn list_configs(&mut self) -> Result<Vec<PaymentMethodConfig>, StorageError>;

    fn find_config(&mut self, id: Uuid) -> Result<Option<PaymentMethodConfig>, StorageError>;

    fn create_config(&mut self, config: &PaymentMethodConfig) -> Result<(), CatalogueError>;

    fn update_config(&mut self, config: &PaymentMethodConfig) -> Result<(), CatalogueError>;

    fn delete_config(&mut self, id: Uuid) -> Result<(), CatalogueError>;

    fn list_overrides(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<AccountPaymentMethod>, StorageError>;

    /// Clears `is_default` on these methods of the organization.
    fn clear_default(
        &mut self,
        organization_id: OrganizationId,
        methods: &[PaymentMethod],
        stamp: SqlTimestamp,
    ) -> QueryResult<()>;

    /// Creates or replaces one override (`created_at` stays as first stored).
    fn store_override(&mut self, setting: &AccountPaymentMethod) -> QueryResult<()>;

    fn delete_override(
        &mut self,
        organization_id: OrganizationId,
        method: PaymentMethod,
    ) -> Result<(), CatalogueError>;
}

for_both_backends! {
    impl CatalogueQueries {
        fn list_configs(&mut self) -> Result<Vec<PaymentMethodConfig>, StorageError> {
            let rows = payment_method_configs::table
                .order((
                    payment_method_configs::sort_order.asc(),
                    payment_method_configs::payment_method.asc(),
                    payment_method_configs::country_code.asc(),
                ))
                .select(ConfigRow::as_select())
                .load(self)
                .map_err(storage)?;
            Ok(rows
                .into_iter()
                .map(ConfigRow::into_domain)
                .collect::<Result<_, _>>()?)
        }

        fn find_config(
            &mut self,
            id: Uuid,
        ) -> Result<Option<PaymentMethodConfig>, StorageError> {
            let row = payment_method_configs::table
                .find(SqlUuid(id))
                .select(ConfigRow::as_select())
                .first(self)
                .optional()
                .map_err(storage)?;
            Ok(row.map(ConfigRow::into_domain).transpose()?)
        }

        fn create_config(
            &mut self,
            config: &PaymentMethodConfig,
        ) -> Result<(), CatalogueError> {
            diesel::insert_into(payment_method_configs::table)
                .values((
                    payment_method_configs::id.eq(SqlUuid(config.id)),
                    NewConfig::of(config),
                    payment_method_configs::created_at.eq(SqlTimestamp(config.created_at)),
                ))
                .execute(self)
                .map(|_| ())
                .map_err(catalogue_error)
        }

        fn update_config(
            &mut self,
            config: &PaymentMethodConfig,
        ) -> Result<(), CatalogueError> {
            // created_at stays as first stored.
            let changed =
                diesel::update(payment_method_configs::table.find(SqlUuid(config.id)))
                    .set(NewConfig::of(config))
                    .execute(self)
                    .map_err(catalogue_error)?;
            found(changed)
        }

        fn delete_config(&mut self, id: Uuid) -> Result<(), CatalogueError> {
            let changed = diesel::delete(payment_method_configs::table.find(SqlUuid(id)))
                .execute(self)
                .map_err(catalogue_error)?;
            found(changed)
        }

        fn list_overrides(
            &mut self,
            organization_id: OrganizationId,
        ) -> Result<Vec<AccountPaymentMethod>, StorageError> {
            let rows = account_payment_methods::table
                .filter(account_payment_methods::organization_id.eq(SqlUuid(organization_id.0)))
                .order(account_payment_methods::payment_method.asc())
                .select(OverrideRow::as_select())
                .load(self)
                .map_err(storage)?;
            Ok(rows
                .into_iter()
                .map(OverrideRow::into_domain)
                .collect::<Result<_, _>>()?)
        }

        fn clear_default(
            &mut self,
            organization_id: OrganizationId,
            methods: &[PaymentMethod],
            stamp: SqlTimestamp,
        ) -> QueryResult<()> {
            let names: Vec<&'static str> = methods.iter().map(|m| m.as_str()).collect();
            diesel::update(
                account_payment_methods::table
                    .filter(account_payment_methods::organization_id.eq(SqlUuid(organization_id.0)))
                    .filter(account_payment_methods::payment_method.eq_any(names)),
            )
            .set((
                account_payment_methods::is_default.eq(false),
                account_payment_methods::updated_at.eq(stamp),
            ))
            .execute(self)
            .map(|_| ())
        }

        fn store_override(&mut self, setting: &AccountPaymentMethod) -> QueryResult<()> {
            diesel::insert_into(account_payment_methods::table)
                .values((
                    account_payment_methods::organization_id
                        .eq(SqlUuid(setting.organization_id.0)),
                    account_payment_methods::payment_method.eq(setting.method.as_str()),
                    account_payment_methods::is_enabled.eq(setting.is_enabled),
                    account_payment_methods::is_default.eq(setting.is_default),
                    account_payment_methods::created_at.eq(SqlTimestamp(setting.created_at)),
                    account_payment_methods::updated_at.eq(SqlTimestamp(setting.updated_at)),
                ))
                .on_conflict((
                    account_payment_methods::organization_id,
                    account_payment_methods::payment_method,
                ))
                .do_update()
                .set((
                    account_payment_methods::is_enabled
                        .eq(excluded(account_payment_methods::is_enabled)),
                    account_payment_methods::is_default
                        .eq(excluded(account_payment_methods::is_default)),
                    account_payment_methods::updated_at
                        .eq(excluded(account_payment_methods::updated_at)),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn delete_override(
            &mut self,
            organization_id: OrganizationId,
            method: PaymentMethod,
        ) -> Result<(), CatalogueError> {
            let changed = diesel::delete(
                account_payment_methods::table
                    .find((SqlUuid(organization_id.0), method.as_str())),
            )
            .execute(self)
            .map_err(|e| CatalogueError::Storage(storage(e)))?;
            found(changed)
        }
    }
}

/// `upsert_override` in its own write transaction: the organization locked (serializing its
/// overrides, so two concurrent "make X the default" calls cannot both keep theirs), its
/// overrides read, the domain's plan written.
fn upsert_override<C: CatalogueQueries>(
    conn: &mut C,
    setting: &AccountPaymentMethod,
) -> Result<(), StorageError> {
    with_retries(conn, "upsert payment-method override", |conn| {
        conn.lock_organization_by_id(SqlUuid(setting.organization_id.0))?
            .ok_or_else(|| Abort::Corrupt("no organization with this id".into()))?;
        let current = conn
            .list_overrides(setting.organization_id)
            .map_err(Abort::Storage)?;
        let OverridePlan {
            setting,
            clear_default,
        } = plan_override(setting, &current);
        if !clear_default.is_empty() {
            let stamp = SqlTimestamp(setting.updated_at);
            conn.clear_default(setting.organization_id, &clear_default, stamp)?;
        }
        conn.store_override(&setting)?;
        Ok(())
    })
    .map_err(Abort::into_storage)
}

/// Maps a failed catalogue write: a known unique key → `Duplicate`, anything else storage.
fn catalogue_error(error: DieselError) -> CatalogueError {
    match violated_unique_key(&error) {
        Some(UniqueKey::ConfigCountryMethod) => CatalogueError::Duplicate,
        _ => CatalogueError::Storage(storage(error)),
    }
}

/// `NotFound` when a write by primary key touched no row.
fn found(changed: usize) -> Result<(), CatalogueError> {
    if changed == 0 {
        Err(CatalogueError::NotFound)
    } else {
        Ok(())
    }
}

#[async_trait]
impl CatalogueStore for Database {
    async fn list_configs(&self) -> Result<Vec<PaymentMethodConfig>, StorageError> {
        with_connection!(self, |conn| conn.list_configs())
    }

    async fn find_config(&self, id: Uuid) -> Result<Option<PaymentMethodConfig>, StorageError> {
        with_connection!(self, |conn| conn.find_config(id))
    }

    async fn create_config(&self, config: &PaymentMethodConfig) -> Result<(), CatalogueError> {
        let config = config.clone();
        with_connection!(write: self, |conn| conn.create_config(&config))
    }

    async fn update_config(&self, config: &PaymentMethodConfig) -> Result<(), CatalogueError> {
        let config = config.clone();
        with_connection!(write: self, |conn| conn.update_config(&config))
    }

    async fn delete_config(&self, id: Uuid) -> Result<(), CatalogueError> {
        with_connection!(write: self, |conn| conn.delete_config(id))
    }

    async fn list_overrides(
        &self,
        organization_id: OrganizationId,
    ) -> Result<Vec<AccountPaymentMethod>, StorageError> {
        with_connection!(self, |conn| conn.list_overrides(organization_id))
    }

    async fn upsert_override(&self, setting: &AccountPaymentMethod) -> Result<(), StorageError> {
        let setting = setting.clone();
        with_connection!(write: self, |conn| upsert_override(conn, &setting))
    }

    async fn delete_override(
        &self,
        organization_id: OrganizationId,
        method: PaymentMethod,
    ) -> Result<(), CatalogueError> {
        with_connection!(write: self, |conn| conn.delete_override(organization_id, method))
    }
}
