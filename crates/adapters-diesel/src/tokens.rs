//! [`TokenStore`]: users and their API tokens (hashes only).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payments_domain::auth::{TokenHash, TokenId, TokenRecord, User};
use payments_domain::ports::TokenStore;
use payments_domain::{Inn, Organization, StorageError};

use crate::pool::with_connection;
use crate::rows::{OrganizationRow, TokenRow};
use crate::schema::{api_tokens, organizations, users};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use crate::tx::{for_both_backends, storage, with_retries, Abort};
use crate::Database;

/// The queries of this port, for one connection type.
pub(crate) trait TokenQueries {
    fn insert_user_with_token(
        &mut self,
        user: &User,
        token: &TokenRecord,
    ) -> Result<(), StorageError>;

    fn find_token(&mut self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError>;

    fn find_token_and_organization(
        &mut self,
        hash: &TokenHash,
        inn: &Inn,
    ) -> Result<(Option<TokenRecord>, Option<Organization>), StorageError>;

    fn revoke_token(&mut self, id: TokenId, now: DateTime<Utc>) -> Result<bool, StorageError>;
}

for_both_backends! {
    impl TokenQueries {
        fn insert_user_with_token(
            &mut self,
            user: &User,
            token: &TokenRecord,
        ) -> Result<(), StorageError> {
            if token.user_id != user.id {
                return Err(StorageError::new("the token belongs to another user"));
            }
            let stamp = SqlTimestamp(user.created_at);
            with_retries(self, "insert user with token", |conn| {
                diesel::insert_into(users::table)
                    .values((
                        users::id.eq(SqlUuid(user.id.0)),
                        users::role.eq(user.role.as_str()),
                        users::organization_id.eq(user.organization_id.map(|o| SqlUuid(o.0))),
                        users::name.eq(&user.name),
                        users::created_at.eq(stamp),
                        users::updated_at.eq(stamp),
                    ))
                    .execute(conn)?;
                diesel::insert_into(api_tokens::table)
                    .values((
                        api_tokens::id.eq(SqlUuid(token.id.0)),
                        api_tokens::user_id.eq(SqlUuid(user.id.0)),
                        api_tokens::token_hash.eq(token.hash.as_str()),
                        api_tokens::created_at.eq(SqlTimestamp(token.created_at)),
                        api_tokens::updated_at.eq(SqlTimestamp(token.created_at)),
                        api_tokens::revoked_at.eq(token.revoked_at.map(SqlTimestamp)),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .map_err(Abort::into_storage)
        }

        fn find_token(
            &mut self,
            hash: &TokenHash,
        ) -> Result<Option<TokenRecord>, StorageError> {
            let row = api_tokens::table
                .inner_join(users::table)
                .filter(api_tokens::token_hash.eq(hash.as_str()))
                .select(TokenRow::as_select())
                .first::<TokenRow>(self)
                .optional()
                .map_err(storage)?;
            Ok(row.map(TokenRow::into_domain).transpose()?)
        }

        fn find_token_and_organization(
            &mut self,
            hash: &TokenHash,
            inn: &Inn,
        ) -> Result<(Option<TokenRecord>, Option<Organization>), StorageError> {
            // One statement: the token (with its user) left-joined with the organization of
            // the path's INN, both by unique index. No token, no row: the caller is refused
            // before the organization matters.
            let row = api_tokens::table
                .inner_join(users::table)
                .left_join(organizations::table.on(organizations::inn.eq(inn.as_str())))
                .filter(api_tokens::token_hash.eq(hash.as_str()))
                .select((
                    TokenRow::as_select(),
                    Option::<OrganizationRow>::as_select(),
                ))
                .first::<(TokenRow, Option<OrganizationRow>)>(self)
                .optional()
                .map_err(storage)?;
            let Some((token, organization)) = row else {
                return Ok((None, None));
            };
            Ok((
                Some(token.into_domain()?),
                organization.map(OrganizationRow::into_domain).transpose()?,
            ))
        }

        fn revoke_token(
            &mut self,
            id: TokenId,
            now: DateTime<Utc>,
        ) -> Result<bool, StorageError> {
            // Only a live token changes, so a second revocation keeps the first time.
            let changed = diesel::update(
                api_tokens::table
                    .filter(api_tokens::id.eq(SqlUuid(id.0)))
                    .filter(api_tokens::revoked_at.is_null()),
            )
            .set((
                api_tokens::revoked_at.eq(Some(SqlTimestamp(now))),
                api_tokens::updated_at.eq(SqlTimestamp(now)),
            ))
            .execute(self)
            .map_err(storage)?;
            if changed > 0 {
                return Ok(true);
            }
            let count: i64 = api_tokens::table
                .filter(api_tokens::id.eq(SqlUuid(id.0)))
                .count()
                .get_result(self)
                .map_err(storage)?;
            Ok(count > 0)
        }
    }
}

#[async_trait]
impl TokenStore for Database {
    async fn insert_user_with_token(
        &self,
        user: &User,
        token: &TokenRecord,
    ) -> Result<(), StorageError> {
        let (user, token) = (user.clone(), token.clone());
        with_connection!(write: self, |conn| conn.insert_user_with_token(&user, &token))
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError> {
        let hash = hash.clone();
        with_connection!(self, |conn| conn.find_token(&hash))
    }

    async fn find_token_and_organization(
        &self,
        hash: &TokenHash,
        inn: &Inn,
    ) -> Result<(Option<TokenRecord>, Option<Organization>), StorageError> {
        let (hash, inn) = (hash.clone(), inn.clone());
        with_connection!(self, |conn| conn.find_token_and_organization(&hash, &inn))
    }

    async fn revoke_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<bool, StorageError> {
        with_connection!(write: self, |conn| conn.revoke_token(id, now))
    }
}
