//! `api_tokens` joined with `users`.

use super::{corrupt, Corrupt};
use crate::schema::{api_tokens, users};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use diesel::prelude::*;
use payments_domain::auth::{Role, TokenHash, TokenId, TokenRecord, UserId};
use payments_domain::OrganizationId;

/// A token joined with its user's role and organization (select it from `api_tokens`
/// inner-joined with `users`).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub(crate) struct TokenRow {
    pub(crate) id: SqlUuid,
    pub(crate) token_hash: String,
    pub(crate) user_id: SqlUuid,
    #[diesel(select_expression = users::role)]
    pub(crate) role: String,
    #[diesel(select_expression = users::organization_id)]
    pub(crate) organization_id: Option<SqlUuid>,
    pub(crate) created_at: SqlTimestamp,
    pub(crate) revoked_at: Option<SqlTimestamp>,
}

impl TokenRow {
    pub(crate) fn into_domain(self) -> Result<TokenRecord, Corrupt> {
        Ok(TokenRecord {
            id: TokenId(self.id.0),
            hash: TokenHash::from_stored(self.token_hash),
            user_id: UserId(self.user_id.0),
            role: Role::parse(&self.role).ok_or_else(|| corrupt("user role", &self.role))?,
            organization_id: self.organization_id.map(|id| OrganizationId(id.0)),
            created_at: self.created_at.0,
            revoked_at: self.revoked_at.map(|t| t.0),
        })
    }
}
