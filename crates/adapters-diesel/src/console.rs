//! [`SessionStore`] and [`OrganizationSearch`], the operator console's ports: sessions
//! (migration `2026-12-01-000001_console`) and the organization search. Each body is written
//! once; `with_connection!` compiles it for PostgreSQL and SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payments_domain::auth::{TokenId, TokenRecord};
use payments_domain::console::{OrganizationSearch, SessionHash, SessionRecord, SessionStore};
use payments_domain::pagination::{Page, PageRequest};
use payments_domain::{Organization, StorageError};

use crate::pool::with_connection;
use crate::rows::{limit_offset, page_of, OrganizationRow, TokenRow};
use crate::schema::{api_tokens, organizations, users};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use crate::tx::storage;
use crate::Database;

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{DbTimestamp, DbUuid};

    /// Console sessions: the SHA-256 of the session id, and the token it stands for.
    console_sessions (id) {
        id -> DbUuid,
        session_hash -> Text,
        token_id -> DbUuid,
        created_at -> DbTimestamp,
        expires_at -> DbTimestamp,
        ended_at -> Nullable<DbTimestamp>,
    }
}

diesel::joinable!(console_sessions -> api_tokens (token_id));
diesel::allow_tables_to_appear_in_same_query!(console_sessions, api_tokens);
diesel::allow_tables_to_appear_in_same_query!(console_sessions, users);

/// A stored session (read with its token as a [`TokenRow`]).
#[derive(Debug, Queryable)]
struct SessionRow {
    id: SqlUuid,
    session_hash: String,
    token_id: SqlUuid,
    created_at: SqlTimestamp,
    expires_at: SqlTimestamp,
    ended_at: Option<SqlTimestamp>,
}

impl SessionRow {
    fn into_domain(self) -> SessionRecord {
        SessionRecord {
            id: self.id.0,
            hash: SessionHash::from_stored(self.session_hash),
            token_id: TokenId(self.token_id.0),
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
            ended_at: self.ended_at.map(|t| t.0),
        }
    }
}

#[async_trait]
impl SessionStore for Database {
    async fn create_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let session = session.clone();
        with_connection!(write: self, |conn| {
            diesel::insert_into(console_sessions::table)
                .values((
                    console_sessions::id.eq(SqlUuid(session.id)),
                    console_sessions::session_hash.eq(session.hash.as_str()),
                    console_sessions::token_id.eq(SqlUuid(session.token_id.0)),
                    console_sessions::created_at.eq(SqlTimestamp(session.created_at)),
                    console_sessions::expires_at.eq(SqlTimestamp(session.expires_at)),
                    console_sessions::ended_at.eq(session.ended_at.map(SqlTimestamp)),
                ))
                .execute(conn)
                .map(|_| ())
                .map_err(storage)
        })
    }

    async fn find_session(
        &self,
        hash: &SessionHash,
    ) -> Result<Option<(SessionRecord, TokenRecord)>, StorageError> {
        let hash = hash.clone();
        with_connection!(self, |conn| {
            let row = console_sessions::table
                .inner_join(api_tokens::table.inner_join(users::table))
                .filter(console_sessions::session_hash.eq(hash.as_str()))
                .select((
                    (
                        console_sessions::id,
                        console_sessions::session_hash,
                        console_sessions::token_id,
                        console_sessions::created_at,
                        console_sessions::expires_at,
                        console_sessions::ended_at,
                    ),
                    TokenRow::as_select(),
                ))
                .first::<(SessionRow, TokenRow)>(conn)
                .optional()
                .map_err(storage)?;
            row.map(|(session, token)| Ok((session.into_domain(), token.into_domain()?)))
                .transpose()
        })
    }

    async fn end_session(
        &self,
        hash: &SessionHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let hash = hash.clone();
        with_connection!(write: self, |conn| {
            // Only a live session changes, so ending it twice keeps the first time.
            let changed = diesel::update(
                console_sessions::table
                    .filter(console_sessions::session_hash.eq(hash.as_str()))
                    .filter(console_sessions::ended_at.is_null()),
            )
            .set(console_sessions::ended_at.eq(Some(SqlTimestamp(now))))
            .execute(conn)
            .map_err(storage)?;
            if changed > 0 {
                return Ok(true);
            }
            let exists: i64 = console_sessions::table
                .filter(console_sessions::session_hash.eq(hash.as_str()))
                .count()
                .get_result(conn)
                .map_err(storage)?;
            Ok(exists > 0)
        })
    }

    async fn delete_dead_sessions(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        with_connection!(write: self, |conn| {
            // The complement of SessionRecord::is_live: ended, or expires_at <= now.
            diesel::delete(
                console_sessions::table.filter(
                    console_sessions::ended_at
                        .is_not_null()
                        .or(console_sessions::expires_at.le(SqlTimestamp(now))),
                ),
            )
            .execute(conn)
            .map(|deleted| u64::try_from(deleted).unwrap_or(0))
            .map_err(storage)
        })
    }
}

diesel::define_sql_function! {
    /// SQL `lower`: both backends have it (SQLite folds ASCII letters only).
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// `text` with LIKE's wildcards escaped by `\`.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[async_trait]
impl OrganizationSearch for Database {
    async fn search_organizations(
        &self,
        query: &str,
        page: PageRequest,
    ) -> Result<Page<Organization>, StorageError> {
        let inn_prefix = format!("{}%", like_escaped(query));
        let name_part = format!("%{}%", like_escaped(&query.to_lowercase()));
        with_connection!(self, |conn| {
            let matching = || {
                organizations::table
                    .filter(
                        organizations::inn
                            .like(inn_prefix.clone())
                            .escape('\\')
                            .or(lower(organizations::name)
                                .like(name_part.clone())
                                .escape('\\')),
                    )
                    .into_boxed()
            };
            let (limit, offset) = limit_offset(page);
            let total: i64 = matching().count().get_result(conn).map_err(storage)?;
            let rows = matching()
                .order((organizations::name.asc(), organizations::inn.asc()))
                .limit(limit)
                .offset(offset)
                .select(OrganizationRow::as_select())
                .load(conn)
                .map_err(storage)?;
            let items = rows
                .into_iter()
                .map(OrganizationRow::into_domain)
                .collect::<Result<Vec<Organization>, _>>()?;
            Ok(page_of(items, total, page))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::like_escaped;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escaped("a%b_c\\d"), "a\\%b\\_c\\\\d");
        assert_eq!(like_escaped("Acme"), "Acme");
    }
}
