//! [`WebhookSecretStore`]: the webhook secret a fresh installation generates for itself.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payments_domain::ports::WebhookSecretStore;
use payments_domain::signature::WebhookSecret;
use payments_domain::StorageError;

use crate::pool::with_connection;
use crate::schema::webhook_secrets;
use crate::sql_types::SqlTimestamp;
use crate::tx::{for_both_backends, storage};
use crate::Database;

/// Name of the one webhook secret row.
pub(crate) const DEFAULT_SECRET_NAME: &str = "default";

/// The queries of this port, for one connection type.
pub(crate) trait SecretQueries {
    fn load_or_store_secret(
        &mut self,
        candidate: &WebhookSecret,
        now: DateTime<Utc>,
    ) -> Result<WebhookSecret, StorageError>;
}

for_both_backends! {
    impl SecretQueries {
        fn load_or_store_secret(
            &mut self,
            candidate: &WebhookSecret,
            now: DateTime<Utc>,
        ) -> Result<WebhookSecret, StorageError> {
            let text = std::str::from_utf8(candidate.expose())
                .map_err(|_| StorageError::new("webhook secret is not UTF-8 text"))?;
            // The primary key lets exactly one of concurrent first calls insert.
            diesel::insert_into(webhook_secrets::table)
                .values((
                    webhook_secrets::name.eq(DEFAULT_SECRET_NAME),
                    webhook_secrets::secret.eq(text),
                    webhook_secrets::created_at.eq(SqlTimestamp(now)),
                    webhook_secrets::updated_at.eq(SqlTimestamp(now)),
                ))
                .on_conflict(webhook_secrets::name)
                .do_nothing()
                .execute(self)
                .map_err(storage)?;
            let stored: String = webhook_secrets::table
                .filter(webhook_secrets::name.eq(DEFAULT_SECRET_NAME))
                .select(webhook_secrets::secret)
                .first(self)
                .map_err(storage)?;
            WebhookSecret::new(stored.into_bytes())
                .ok_or_else(|| StorageError::new("stored webhook secret is empty"))
        }
    }
}

#[async_trait]
impl WebhookSecretStore for Database {
    async fn load_or_store_secret(
        &self,
        candidate: &WebhookSecret,
    ) -> Result<WebhookSecret, StorageError> {
        let candidate = candidate.clone();
        let now = Utc::now();
        with_connection!(write: self, |conn| conn.load_or_store_secret(&candidate, now))
    }
}
