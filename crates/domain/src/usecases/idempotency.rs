//! Idempotent replays: the first answer given under an `Idempotency-Key` is kept with the key
//! and replayed byte for byte to every repeat (as Stripe does), so a repeat after an approval
//! still answers what the first request was told. Keys are forgotten after a retention period
//! (24 hours by default); a repeat after that is a new request.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::billing::IdempotencyKey;
use crate::error::StorageError;
use crate::ports::{IdempotencyStore, StoredResponse};

/// How long keys are kept unless configured otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Stores and replays first answers, and expires keys.
#[derive(Clone)]
pub struct IdempotentReplays {
    store: Arc<dyn IdempotencyStore>,
    retention: Duration,
}

impl IdempotentReplays {
    pub fn new(store: Arc<dyn IdempotencyStore>, retention: Duration) -> Self {
        Self { store, retention }
    }

    /// How long keys are kept.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    fn scope(
        caller: &Principal,
        key: Option<&str>,
    ) -> Option<(crate::OrganizationId, IdempotencyKey)> {
        let organization = caller.organization_id()?;
        let key = IdempotencyKey::parse(key?).ok()?;
        Some((organization, key))
    }

    /// The first answer of the caller's key, if it was stored.
    pub async fn first_answer(
        &self,
        caller: &Principal,
        key: Option<&str>,
    ) -> Result<Option<StoredResponse>, StorageError> {
        match Self::scope(caller, key) {
            Some((organization, key)) => self.store.find_response(organization, &key).await,
            None => Ok(None),
        }
    }

    /// Keeps `response` as the first answer of the caller's key (no-op without a key).
    pub async fn remember(
        &self,
        caller: &Principal,
        key: Option<&str>,
        response: &StoredResponse,
    ) -> Result<(), StorageError> {
        match Self::scope(caller, key) {
            Some((organization, key)) => {
                self.store
                    .store_response(organization, &key, response)
                    .await
            }
            None => Ok(()),
        }
    }

    /// Forgets keys older than the retention; returns how many.
    pub async fn expire(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let retention = chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::MAX);
        let cutoff = now
            .checked_sub_signed(retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.store.delete_expired(cutoff).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockIdempotencyStore;

    #[tokio::test]
    async fn expiry_deletes_keys_older_than_the_retention() {
        let now = Utc::now();
        let mut store = MockIdempotencyStore::new();
        store
            .expect_delete_expired()
            .withf(move |cutoff| *cutoff == now - chrono::Duration::hours(24))
            .times(1)
            .returning(|_| Ok(3));
        let replays = IdempotentReplays::new(Arc::new(store), DEFAULT_RETENTION);
        assert_eq!(replays.expire(now).await, Ok(3));
    }
}
