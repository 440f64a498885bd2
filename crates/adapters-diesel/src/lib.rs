//! PostgreSQL and SQLite implementations of the payments domain ports, with diesel and r2d2.
//!
//! [`Database`] implements [`BankPaymentStore`](payments_domain::ports::BankPaymentStore),
//! [`OrganizationStore`](payments_domain::ports::OrganizationStore),
//! [`TokenStore`](payments_domain::ports::TokenStore) and
//! [`WebhookSecretStore`](payments_domain::ports::WebhookSecretStore). The URL picks the
//! backend: `postgres://…` or `postgresql://…` is PostgreSQL, anything else an SQLite file.
//! The query code is written once (`store.rs`) and compiled for both connection types; one
//! contract test suite (`tests/contract.rs`) runs against both.
//!
//! # Storage choices
//! - **Money is `BIGINT` minor units** (kopecks) on both backends: integer arithmetic is exact
//!   everywhere, SQLite has no exact decimal type, and the domain converts with
//!   `Money::to_minor_units` / `Money::from_minor_units`. The balance arithmetic itself is the
//!   domain's ([`payments_domain::ledger::credit`]); the database only serializes it.
//! - **One schema for both backends** ([`schema`]) through the SQL types in [`sql_types`]:
//!   UUIDs are PostgreSQL `uuid` and SQLite TEXT (hyphenated, lower case); instants are
//!   PostgreSQL `timestamptz` and SQLite TEXT in fixed-width RFC 3339 UTC with microseconds
//!   (`2026-11-25T10:00:00.000000Z`), so comparing text compares instants and indexes order
//!   correctly. SQLite tables are `STRICT` (SQLite ≥ 3.37).
//! - Migrations are embedded, one folder per backend (`migrations/postgres`,
//!   `migrations/sqlite`), because the SQL differs. `balance_log` is append-only, enforced by
//!   triggers on both backends.
//!
//! # Locking
//! Recording a bank payment inserts the organization (`ON CONFLICT (inn) DO NOTHING`), locks
//! its row, inserts the payment under the unique key on `operation_id` (`ON CONFLICT DO
//! NOTHING RETURNING id`: the key decides races), credits the balance and appends the log, in
//! one transaction. A taken `operation_id` rolls everything back and returns
//! `AlreadyRecorded` with the first payment.
//! - **PostgreSQL**: a READ COMMITTED transaction; the organization is read `FOR UPDATE`, so
//!   concurrent changes of one balance queue on the row lock. Serialization failures and
//!   deadlocks would be retried (up to 5 attempts) rather than surfaced.
//! - **SQLite**: `BEGIN IMMEDIATE` takes the database write lock up front (no lock-upgrade
//!   deadlock, no `FOR UPDATE` needed). Every pooled connection sets `journal_mode = WAL`,
//!   `busy_timeout = 30000`, `foreign_keys = ON`, `synchronous = FULL`.
//!
//! All diesel calls run on tokio's blocking pool, inside the caller's tracing span.
//!
//! # Tests
//! `cargo test -p payments-adapters-diesel` runs the contract suite on SQLite (a temporary
//! file per test). For PostgreSQL, point `PAYMENTS_TEST_DATABASE_URL` at a server where the
//! user may create databases; each test creates and drops its own database:
//! ```text
//! PAYMENTS_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//! PAYMENTS_TEST_REQUIRE_POSTGRES=1 cargo test -p payments-adapters-diesel
//! ```
//! Without the variable the PostgreSQL cases print `SKIPPED (PostgreSQL)` and pass, unless
//! `PAYMENTS_TEST_REQUIRE_POSTGRES=1` makes them fail (for CI). Other crates reuse these
//! helpers through the `test-support` feature (module `test_support`).

mod database;
pub mod schema;
pub mod sql_types;
pub(crate) mod store;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use database::{
    ConnectError, Database, MigrationError, PoolOptions, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS,
};
