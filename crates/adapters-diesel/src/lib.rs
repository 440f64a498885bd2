//! PostgreSQL and SQLite implementations of the payments domain ports, with diesel and r2d2.
//!
//! [`Database`] implements every port of [`payments_domain::ports`]: bank payments
//! ([`BankPaymentStore`](payments_domain::ports::BankPaymentStore)), organizations, users and
//! tokens, webhook secrets, invoices, payment and balance-log queries, the payment-method
//! catalogue, manual payments, staff actions and the ledger audit source. The URL picks the
//! backend: `postgres://…` or `postgresql://…` is PostgreSQL, anything else an SQLite file.
//! One contract test suite (`tests/contract/`, one module per port) runs against both.
//!
//! # Layout
//! - `pool` — [`Database`]: the pools, connection settings, the SQLite writer queue, checkout
//!   metrics, and `with_connection!`, which runs blocking diesel code on either backend;
//! - `migrations` — embedded migrations ([`POSTGRES_MIGRATIONS`], [`SQLITE_MIGRATIONS`]);
//! - `tx` — transactions and row locks (`Locking`, the only per-backend code), retries of
//!   transient conflicts, error mapping (unique keys; diesel errors become
//!   [`StorageError`](payments_domain::StorageError)s with the diesel error as source);
//! - `rows` — row types and their conversions;
//! - one module per port: `bank`, `manual_payments`, `staff_actions`, `organizations`,
//!   `tokens`, `secrets`, `invoices`, `queries`, `catalogue`, `audit` (and `balance_log`,
//!   shared). Each holds a small trait of single queries, implemented for both connection
//!   types by the `for_both_backends!` macro; the workflow (lock, plan, write) as a plain
//!   generic function over that trait; and the port's `impl` for [`Database`].
//! - `group_commit` — bank payments gathered from concurrent requests and written in one
//!   transaction per batch ([`BatchOptions`]), planned by
//!   [`plan_batch`](payments_domain::bank_batch::plan_batch); `0` items turns it off.
//!
//! The adapter decides nothing: every rule it applies is a domain function it calls with the
//! rows it holds locked, and it writes exactly what that function returns.
//!
//! # Tables
//! Migration `2026-11-25-000001_ledger`: `organizations` (balance in minor units, unique INN),
//! `users` (role `member` with an organization or `staff` without), `api_tokens` (hash only;
//! role and organization come from the user), `invoices` (unique number, amount, status,
//! due date, paid_at), `payments` (every method; bank-webhook fields; optional invoice),
//! `balance_log` (append-only, by trigger), `webhook_secrets`.
//! Migration `2026-11-25-000002_billing`: `payment_method_configs` (the catalogue, unique per
//! country or `*` and method, `details` a JSON object), `account_payment_methods`
//! (per-organization overrides, at most one default), `idempotency_keys` (per organization),
//! the partial unique index `payments_one_pending_approval_per_invoice`, and a seeded default
//! catalogue (`*` bank transfer; RU bank transfer and SBP / YooMoney; KZ Kaspi) whose account
//! data is example data to replace before going live.
//! Migration `2026-12-01-000001_console`: `console_sessions` (the operator console's sessions:
//! SHA-256 of the session id only, the API token it stands for, expiry and sign-out time),
//! implemented with the organization search in `console.rs`.
//!
//! # Storage choices
//! - **Money is `BIGINT` minor units** (kopecks) on both backends: integer arithmetic is exact
//!   everywhere, SQLite has no exact decimal type, and the domain converts with
//!   `Money::to_minor_units` / `Money::from_minor_units`. The balance arithmetic itself is the
//!   domain's ([`payments_domain::ledger`]); the database only serializes it.
//! - **One schema for both backends** ([`schema`]) through the SQL types in [`sql_types`]:
//!   UUIDs are PostgreSQL `uuid` and SQLite TEXT (hyphenated, lower case); instants are
//!   PostgreSQL `timestamptz` and SQLite TEXT in fixed-width RFC 3339 UTC with microseconds
//!   (`2026-11-25T10:00:00.000000Z`), so comparing text compares instants and indexes order
//!   correctly; dates are `date` / TEXT `YYYY-MM-DD`; JSON is `jsonb` / TEXT checked with
//!   `json_valid`. SQLite tables are `STRICT` (SQLite ≥ 3.37).
//! - Migrations are embedded, one folder per backend (`migrations/postgres`,
//!   `migrations/sqlite`), because the SQL differs.
//! - Unique-key violations that mean something to a caller (INN, invoice number, catalogue
//!   pair, one pending payment per invoice) are mapped in one place, by constraint name on
//!   PostgreSQL and by the reported columns on SQLite (which names no constraint).
//!
//! # Locking
//! Every write that decides on what it read runs in one transaction, and locks rows in one
//! order everywhere: **idempotency key → invoice → payment → organization**, so concurrent
//! operations queue instead of deadlocking.
//! - *Bank payment*: inserts the organization (`ON CONFLICT (inn) DO NOTHING`), locks it,
//!   asks [`plan_bank_payment`](payments_domain::bank::plan_bank_payment), inserts the
//!   payment under the unique key on `operation_id` (the key decides races), writes the
//!   planned balance and appends the log. A taken `operation_id` rolls everything back and
//!   returns `AlreadyRecorded` with the first payment.
//! - *Bank payments in a batch* (group commit, the default): organizations inserted in INN
//!   order, then locked in **id order** in one statement (two batches, or two instances,
//!   never deadlock), the stored payments of the batch's operation ids read, the domain's
//!   plan written: payments in one `INSERT … ON CONFLICT (operation_id) DO NOTHING`, one
//!   balance update per organization, log rows in arrival order. A lost race on an operation
//!   id rolls the batch back and plans it again; a statement error writes its items one by
//!   one, so a bad item fails alone.
//! - *Manual payment*: claims `(organization, key)` first with `INSERT … ON CONFLICT DO
//!   NOTHING` (a concurrent twin waits for the owner's commit, then
//!   [`idempotency::decide`](payments_domain::idempotency::decide) says replay or refuse),
//!   locks the invoice, asks
//!   [`plan_manual_payment`](payments_domain::billing::plan_manual_payment), inserts the
//!   payment (the partial unique index refuses a second waiting one), and links the key.
//!   Refusals roll back, the claim included.
//! - *Staff action*: reads the payment's invoice id, locks the invoice, the payment and the
//!   organization, asks [`plan_staff_action`](payments_domain::billing::plan_staff_action)
//!   and writes exactly the plan; repeats write nothing.
//! - *Overrides*: lock the organization, so moving the default is serialized per tenant, and
//!   write [`plan_override`](payments_domain::catalogue::plan_override)'s plan (one default).
//! - *Ledger audit*: sums the payments in the statuses
//!   [`COUNTED_IN_BALANCE`](payments_domain::PaymentStatus::COUNTED_IN_BALANCE).
//!   Each organization is read in one snapshot (PostgreSQL REPEATABLE READ
//!   READ ONLY; SQLite one deferred read transaction over WAL).
//!
//! Per backend:
//! - **PostgreSQL**: READ COMMITTED transactions; rows are locked `FOR NO KEY UPDATE` (which
//!   excludes every other locker and writer but not foreign-key checks), so changes of one
//!   row queue on its lock and a locked read sees the newest committed version.
//!   Serialization failures and deadlocks would be retried (up to 5 attempts).
//! - **SQLite**: `BEGIN IMMEDIATE` takes the database write lock up front (no lock-upgrade
//!   deadlock, no row locks needed). Every pooled connection sets `journal_mode = WAL`,
//!   `busy_timeout = 30000`, `foreign_keys = ON`, `synchronous = FULL`.
//!   Writers of one process also queue on an in-process lock before taking a connection:
//!   SQLite admits one writer anyway, and its busy handler sleeps up to 100 ms between
//!   retries, which made 32 concurrent webhooks 3× slower than one client (the bench, before
//!   and after: 545 → 2193 requests/s). Correctness still comes from the database; the
//!   contract suite checks it with two separate pools on one file.
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

mod audit;
mod balance_log;
mod bank;
mod catalogue;
mod console;
mod deadline;
mod group_commit;
mod idempotency;
mod invoices;
mod manual_payments;
mod migrations;
mod organizations;
mod pool;
mod queries;
mod rows;
pub mod schema;
mod secrets;
pub mod sql_types;
mod staff_actions;
#[cfg(feature = "test-support")]
pub mod test_support;
mod tokens;
mod tx;

pub use group_commit::{BatchObserver, BatchOptions};
pub use migrations::{MigrationError, MIGRATION_LOCK_KEY, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
pub use pool::{ConnectError, Database, PoolOptions, PoolState};
