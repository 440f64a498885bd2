//! [`IdempotencyStore`]: the first answer of each idempotency key, kept in its row, and the
//! expiry of keys past their retention.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payments_domain::billing::IdempotencyKey;
use payments_domain::ports::{IdempotencyStore, StoredResponse};
use payments_domain::{OrganizationId, StorageError};

use crate::pool::with_connection;
use crate::schema::idempotency_keys;
use crate::sql_types::{SqlTimestamp, SqlUuid};
use crate::tx::storage;
use crate::Database;

#[async_trait]
impl IdempotencyStore for Database {
    async fn find_response(
        &self,
        organization_id: OrganizationId,
        key: &IdempotencyKey,
    ) -> Result<Option<StoredResponse>, StorageError> {
        let key = key.as_str().to_string();
        let found: Option<(Option<i32>, Option<String>)> = with_connection!(self, |conn| {
            idempotency_keys::table
                .find((SqlUuid(organization_id.0), key.as_str()))
                .select((
                    idempotency_keys::response_status,
                    idempotency_keys::response_body,
                ))
                .first(conn)
                .optional()
                .map_err(storage)
        })?;
        Ok(match found {
            Some((Some(status), Some(body))) => Some(StoredResponse {
                status: u16::try_from(status).map_err(|_| {
                    StorageError::corrupt(format!("idempotency key status {status}"))
                })?,
                body,
            }),
            _ => None,
        })
    }

    async fn store_response(
        &self,
        organization_id: OrganizationId,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<(), StorageError> {
        let key = key.as_str().to_string();
        let (status, body) = (i32::from(response.status), response.body.clone());
        with_connection!(write: self, |conn| {
            // Only a committed key, and only its first answer.
            diesel::update(
                idempotency_keys::table
                    .find((SqlUuid(organization_id.0), key.as_str()))
                    .filter(idempotency_keys::response_status.is_null()),
            )
            .set((
                idempotency_keys::response_status.eq(Some(status)),
                idempotency_keys::response_body.eq(Some(body.as_str())),
            ))
            .execute(conn)
            .map(|_| ())
            .map_err(storage)
        })
    }

    async fn delete_expired(&self, created_before: DateTime<Utc>) -> Result<u64, StorageError> {
        let cutoff = SqlTimestamp(created_before);
        let deleted = with_connection!(write: self, |conn| {
            diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
                .execute(conn)
                .map_err(storage)
        })?;
        Ok(deleted as u64)
    }
}
