//! The traits adapters implement, each with the guarantees every implementation MUST give.
//!
//! The `adapters-diesel` crate implements all of them for PostgreSQL and SQLite and runs one
//! contract test suite against both. Mocks of every port (`MockBankPaymentStore`, ...) are
//! generated with `mockall` for unit tests, and exported with the `mocks` feature.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[cfg(any(test, feature = "mocks"))]
use mockall::automock;

use crate::auth::{TokenHash, TokenId, TokenRecord};
use crate::bank::BankPayment;
use crate::error::StorageError;
use crate::ledger::{BalanceChange, LedgerError};
use crate::organization::{Inn, Organization, OrganizationId};
use crate::payment::PaymentId;
use crate::signature::WebhookSecret;

/// What recording a bank payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// A new payment was stored and credited.
    Recorded {
        payment_id: PaymentId,
        organization_id: OrganizationId,
        change: BalanceChange,
    },
    /// A payment with this operation_id already exists; nothing was written. `existing` is
    /// that payment as first recorded, for the caller's dedup rule to judge.
    AlreadyRecorded {
        payment_id: PaymentId,
        existing: BankPayment,
    },
}

/// Why a bank payment was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A ledger rule refused the credit (overflow, currency). Nothing was written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Stores bank payments and credits balances.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait BankPaymentStore: Send + Sync {
    /// Records `payment` exactly once per `operation_id`.
    ///
    /// The adapter MUST, in one database transaction:
    /// 1. create the organization with `payment.payer_inn` if none exists
    ///    ([`Organization::first_seen_in_bank_payment`]);
    /// 2. insert the payment (method `bank_transfer`, status `succeeded`,
    ///    `transaction_reference` = document number) under a unique key on `operation_id`;
    /// 3. read the organization's balance under a lock that excludes every other balance change
    ///    of that organization until commit, compute the change with
    ///    [`crate::ledger::credit`], and store the new balance;
    /// 4. append a balance-log entry with the previous and new balance.
    ///
    /// It MUST return [`RecordOutcome::AlreadyRecorded`] with the first payment's contents,
    /// having written nothing (not even the organization), whenever a payment with this
    /// `operation_id` exists, including when concurrent calls race: the unique key decides,
    /// never a check before the insert. When the ledger refuses the credit it MUST return
    /// [`RecordError::Ledger`] and write nothing. It MUST NOT return success before the
    /// transaction has committed.
    async fn record_bank_payment(
        &self,
        payment: &BankPayment,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError>;
}

/// Reads organizations.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait OrganizationStore: Send + Sync {
    /// The organization with this INN, with its committed balance, or `None`.
    async fn find_by_inn(&self, inn: &Inn) -> Result<Option<Organization>, StorageError>;
}

/// Stores API tokens (hashes only).
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new token record. The hash MUST be unique.
    async fn insert_token(&self, record: &TokenRecord) -> Result<(), StorageError>;

    /// The record whose hash equals `hash`, revoked or not, or `None`.
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError>;

    /// Marks a token revoked at `now`. Returns `false` when no token has this id. Revoking
    /// twice keeps the first revocation time.
    async fn revoke_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<bool, StorageError>;
}

/// Keeps the webhook secret a fresh installation generates for itself.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait WebhookSecretStore: Send + Sync {
    /// Returns the stored secret; if none is stored yet, stores `candidate` and returns it.
    /// Concurrent first calls (several instances starting at once) MUST all get the same
    /// secret: the first insert wins by a unique key.
    async fn load_or_store_secret(
        &self,
        candidate: &WebhookSecret,
    ) -> Result<WebhookSecret, StorageError>;
}
