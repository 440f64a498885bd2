//! The connection pools and the port implementations on top of them.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::migration::{MigrationSource, MigrationVersion};
use diesel::pg::Pg;
use diesel::r2d2::{
    ConnectionManager, CustomizeConnection, Pool, PooledConnection, R2D2Connection,
};
use diesel::sqlite::Sqlite;
use diesel::{PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use payments_domain::auth::{TokenHash, TokenId, TokenRecord, User};
use payments_domain::billing::{LedgerAuditInput, StaffAction};
use payments_domain::catalogue::{AccountPaymentMethod, PaymentMethodConfig};
use payments_domain::invoice::{Invoice, InvoiceId};
use payments_domain::ledger::BalanceLogEntry;
use payments_domain::pagination::{Page, PageRequest};
use payments_domain::ports::{
    BankPaymentStore, CatalogueError, CatalogueStore, CreateInvoiceError, CreateOrganizationError,
    InvoiceFilter, InvoiceStore, LedgerAuditSource, ManualPaymentStore, ManualSubmission,
    OrganizationStore, PaymentFilter, PaymentQueries, PaymentView, RecordError, RecordOutcome,
    StaffActionOutcome, StaffActionStore, StaffActionStoreError, SubmitError, SubmitOutcome,
    TokenStore, WebhookSecretStore,
};
use payments_domain::signature::WebhookSecret;
use payments_domain::{
    BankPayment, Inn, Organization, OrganizationId, PaymentId, PaymentMethod, StorageError,
};
use uuid::Uuid;

use crate::store::LedgerConnection;

/// Checks out a connection of whichever backend and runs `$body` with it on the blocking
/// pool. The body is written once and compiled for both connection types.
///
/// `with_connection!(write: db, |conn| ...)` marks a body that writes: on SQLite it first
/// queues on the process's writer lock. SQLite admits one writer at a time anyway; queueing
/// in-process, before taking a pooled connection, replaces SQLite's busy-wait (sleeps of up
/// to 100 ms between retries), which collapsed throughput under concurrent webhooks. The
/// database's own locking (`BEGIN IMMEDIATE`, `busy_timeout`) still guards against other
/// processes (the CLI) and still decides correctness.
macro_rules! with_connection {
    (write: $db:expr, |$conn:ident| $body:expr) => {{
        let writer = $db.sqlite_writer.clone();
        with_connection!(@run $db, writer, |$conn| $body)
    }};
    ($db:expr, |$conn:ident| $body:expr) => {{
        let writer: Option<Arc<std::sync::Mutex<()>>> = None;
        with_connection!(@run $db, writer, |$conn| $body)
    }};
    (@run $db:expr, $writer:ident, |$conn:ident| $body:expr) => {
        match &*$db.pools {
            Pools::Postgres(pool) => {
                let pool = pool.clone();
                let waits = $db.waits.clone();
                blocking(move || {
                    let mut pooled = waits.time(|| checkout(&pool))?;
                    let $conn: &mut PgConnection = &mut pooled;
                    $body
                })
                .await
            }
            Pools::Sqlite(pool) => {
                let pool = pool.clone();
                let waits = $db.waits.clone();
                blocking(move || {
                    // A poisoned lock only means another writer panicked; the database
                    // rolled its transaction back, so the queue may go on.
                    let _queued = $writer
                        .as_ref()
                        .map(|w| w.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
                    let mut pooled = waits.time(|| checkout(&pool))?;
                    let $conn: &mut SqliteConnection = &mut pooled;
                    $body
                })
                .await
            }
        }
    };
}

/// PostgreSQL migrations, embedded in the binary.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
/// SQLite migrations, embedded in the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Session advisory lock key held while PostgreSQL migrations run, so instances starting
/// together migrate one after the other.
const MIGRATION_LOCK_KEY: i64 = 0x7061_796d_656e_7473; // "payments"

/// Connection pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_size: u32,
    /// How long a request waits for a free connection before failing with a storage error.
    pub connection_timeout: Duration,
    /// PostgreSQL `statement_timeout` of every pooled connection, so one runaway query cannot
    /// hold a connection (and its row locks) forever. SQLite has no equivalent; its writers
    /// wait at most `busy_timeout` (30 s) for the write lock.
    pub statement_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            connection_timeout: Duration::from_secs(10),
            statement_timeout: Some(Duration::from_secs(10)),
        }
    }
}

/// Connections of the pool right now, and the waits for them so far, for metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolState {
    /// Open connections, idle or in use.
    pub connections: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most the pool opens.
    pub max_size: u32,
    /// Connections handed out to requests since start.
    pub checkouts: u64,
    /// Total time requests waited for a connection since start, in seconds.
    pub wait_seconds: f64,
    /// Checkouts that failed (timed out or could not connect) since start.
    pub checkout_failures: u64,
}

/// Sets `statement_timeout` on every pooled PostgreSQL connection.
#[derive(Debug)]
struct PgStatementTimeout(Duration);

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for PgStatementTimeout {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!("SET statement_timeout = {}", self.0.as_millis()))
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Why [`Database::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The directory for the SQLite file could not be created.
    #[error("cannot create directory {path} for the SQLite database: {source}")]
    CreateDirectory {
        path: String,
        source: std::io::Error,
    },
    /// The pool could not open its connections.
    #[error("cannot connect to the {backend} database: {message}")]
    Connect {
        backend: &'static str,
        message: String,
    },
}

/// Why [`Database::run_pending_migrations`] failed.
#[derive(Debug, thiserror::Error)]
#[error("migrations failed: {0}")]
pub struct MigrationError(pub String);

/// The PostgreSQL or SQLite database behind every port. Cheap to clone: clones share one pool.
#[derive(Clone)]
pub struct Database {
    pools: Arc<Pools>,
    waits: Arc<PoolWaits>,
    /// SQLite only: writers of this process queue here (see `with_connection!`).
    sqlite_writer: Option<Arc<std::sync::Mutex<()>>>,
}

/// How long requests have waited for a pooled connection, for metrics: a pool that is too
/// small shows here before it shows as timeouts.
#[derive(Debug, Default)]
struct PoolWaits {
    checkouts: AtomicU64,
    wait_micros: AtomicU64,
    failures: AtomicU64,
}

impl PoolWaits {
    /// Times one checkout and counts it.
    fn time<T, E>(&self, checkout: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let started = std::time::Instant::now();
        let result = checkout();
        let waited = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.wait_micros.fetch_add(waited, Ordering::Relaxed);
        self.checkouts.fetch_add(1, Ordering::Relaxed);
        if result.is_err() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

enum Pools {
    Postgres(Pool<ConnectionManager<PgConnection>>),
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the URL: it may hold a password.
        f.debug_struct("Database")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

/// Sets the pragmas every pooled SQLite connection needs.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // busy_timeout first, so switching to WAL waits for other connections instead of
        // failing. WAL lets readers run beside the one writer; synchronous = FULL makes every
        // commit durable before it is reported; foreign keys are off by default in SQLite.
        conn.batch_execute(
            "PRAGMA busy_timeout = 30000; \
             PRAGMA journal_mode = WAL; \
             PRAGMA foreign_keys = ON; \
             PRAGMA synchronous = FULL;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Where an SQLite URL points: the path, without an optional `sqlite://` or `sqlite:` prefix.
fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Database {
    /// Opens a pool. A `postgres://` or `postgresql://` URL selects PostgreSQL; anything else
    /// is an SQLite file path (an optional `sqlite://` prefix is removed; missing parent
    /// directories are created). Blocks until the pool's first connections are open.
    pub fn connect(url: &str, options: PoolOptions) -> Result<Database, ConnectError> {
        let pools = if is_postgres_url(url) {
            let mut builder = Pool::builder()
                .max_size(options.max_size)
                .connection_timeout(options.connection_timeout);
            if let Some(timeout) = options.statement_timeout {
                builder = builder.connection_customizer(Box::new(PgStatementTimeout(timeout)));
            }
            let pool = builder
                .build(ConnectionManager::<PgConnection>::new(url))
                .map_err(|e| ConnectError::Connect {
                    backend: "postgres",
                    message: e.to_string(),
                })?;
            Pools::Postgres(pool)
        } else {
            let path = sqlite_path(url);
            if let Some(parent) = Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|source| {
                        ConnectError::CreateDirectory {
                            path: parent.display().to_string(),
                            source,
                        }
                    })?;
                }
            }
            let pool = Pool::builder()
                .max_size(options.max_size)
                .connection_timeout(options.connection_timeout)
                .connection_customizer(Box::new(SqlitePragmas))
                .build(ConnectionManager::<SqliteConnection>::new(path))
                .map_err(|e| ConnectError::Connect {
                    backend: "sqlite",
                    message: e.to_string(),
                })?;
            Pools::Sqlite(pool)
        };
        let sqlite_writer =
            matches!(pools, Pools::Sqlite(_)).then(|| Arc::new(std::sync::Mutex::new(())));
        Ok(Database {
            pools: Arc::new(pools),
            waits: Arc::new(PoolWaits::default()),
            sqlite_writer,
        })
    }

    /// `"postgres"` or `"sqlite"`.
    pub fn backend_name(&self) -> &'static str {
        match *self.pools {
            Pools::Postgres(_) => "postgres",
            Pools::Sqlite(_) => "sqlite",
        }
    }

    /// Applies the embedded migrations not yet applied and returns their names (e.g.
    /// `"2026-11-25-000001_ledger"`), oldest first; empty when the schema is current.
    /// Blocking: call it at startup, before serving. On PostgreSQL a session advisory lock
    /// makes instances that start together migrate one after the other.
    pub fn run_pending_migrations(&self) -> Result<Vec<String>, MigrationError> {
        match &*self.pools {
            Pools::Postgres(pool) => {
                let mut conn = checkout(pool).map_err(|e| MigrationError(e.0))?;
                let lock = |conn: &mut PgConnection, sql: &str| {
                    diesel::sql_query(sql)
                        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY)
                        .execute(conn)
                        .map_err(|e| MigrationError(e.to_string()))
                };
                lock(&mut conn, "SELECT pg_advisory_lock($1)")?;
                let result = conn
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|versions| migration_names::<Pg>(&POSTGRES_MIGRATIONS, &versions));
                let unlocked = lock(&mut conn, "SELECT pg_advisory_unlock($1)");
                let names = result.map_err(|e| MigrationError(e.to_string()))??;
                unlocked?;
                Ok(names)
            }
            Pools::Sqlite(pool) => {
                let mut conn = checkout(pool).map_err(|e| MigrationError(e.0))?;
                conn.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|versions| migration_names::<Sqlite>(&SQLITE_MIGRATIONS, &versions))
                    .map_err(|e| MigrationError(e.to_string()))?
            }
        }
    }

    /// True when an embedded migration has not been applied yet (readiness). Blocking.
    pub fn has_pending_migrations(&self) -> Result<bool, MigrationError> {
        let pending = match &*self.pools {
            Pools::Postgres(pool) => checkout(pool)
                .map_err(|e| MigrationError(e.0))?
                .has_pending_migration(POSTGRES_MIGRATIONS),
            Pools::Sqlite(pool) => checkout(pool)
                .map_err(|e| MigrationError(e.0))?
                .has_pending_migration(SQLITE_MIGRATIONS),
        };
        pending.map_err(|e| MigrationError(e.to_string()))
    }

    /// The pool's connections right now (no I/O).
    pub fn pool_state(&self) -> PoolState {
        let (state, max_size) = match &*self.pools {
            Pools::Postgres(pool) => (pool.state(), pool.max_size()),
            Pools::Sqlite(pool) => (pool.state(), pool.max_size()),
        };
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max_size,
            checkouts: self.waits.checkouts.load(Ordering::Relaxed),
            wait_seconds: self.waits.wait_micros.load(Ordering::Relaxed) as f64 / 1e6,
            checkout_failures: self.waits.failures.load(Ordering::Relaxed),
        }
    }

    /// Checks that a connection can be checked out and answers a trivial query.
    pub async fn ping(&self) -> Result<(), StorageError> {
        with_connection!(self, |conn| LedgerConnection::ping(conn))
    }

    /// The balance log of one organization, oldest first (empty for an unknown organization).
    pub async fn balance_log(
        &self,
        organization_id: OrganizationId,
    ) -> Result<Vec<BalanceLogEntry>, StorageError> {
        with_connection!(self, |conn| LedgerConnection::balance_log(
            conn,
            organization_id
        ))
    }

    #[cfg(feature = "test-support")]
    pub(crate) fn pools_for_tests(&self) -> PoolsRef<'_> {
        match &*self.pools {
            Pools::Postgres(pool) => PoolsRef::Postgres(pool),
            Pools::Sqlite(pool) => PoolsRef::Sqlite(pool),
        }
    }
}

/// Borrowed pools, for the test-support helpers.
#[cfg(feature = "test-support")]
pub(crate) enum PoolsRef<'a> {
    Postgres(&'a Pool<ConnectionManager<PgConnection>>),
    Sqlite(&'a Pool<ConnectionManager<SqliteConnection>>),
}

/// The folder names of the applied migration versions.
fn migration_names<DB: diesel::backend::Backend>(
    source: &EmbeddedMigrations,
    versions: &[MigrationVersion<'_>],
) -> Result<Vec<String>, MigrationError> {
    let known =
        MigrationSource::<DB>::migrations(source).map_err(|e| MigrationError(e.to_string()))?;
    Ok(versions
        .iter()
        .map(|version| {
            known
                .iter()
                .find(|m| m.name().version() == *version)
                .map_or_else(|| version.to_string(), |m| m.name().to_string())
        })
        .collect())
}

/// Takes a connection from the pool; a timeout or broken database becomes a storage error.
pub(crate) fn checkout<C: R2D2Connection + 'static>(
    pool: &Pool<ConnectionManager<C>>,
) -> Result<PooledConnection<ConnectionManager<C>>, StorageError> {
    pool.get()
        .map_err(|e| StorageError(format!("no database connection available: {e}")))
}

/// Runs blocking diesel work on tokio's blocking pool, inside the caller's tracing span.
async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StorageError> + Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .unwrap_or_else(|e| Err(StorageError(format!("database task failed: {e}")).into()))
}

#[async_trait]
impl BankPaymentStore for Database {
    async fn record_bank_payment(
        &self,
        payment: &BankPayment,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        let payment = payment.clone();
        with_connection!(write: self, |conn| LedgerConnection::record_bank_payment(
            conn, &payment, now
        ))
    }
}

#[async_trait]
impl OrganizationStore for Database {
    async fn find_by_inn(&self, inn: &Inn) -> Result<Option<Organization>, StorageError> {
        let inn = inn.clone();
        with_connection!(self, |conn| LedgerConnection::find_organization(conn, &inn))
    }

    async fn find_organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<Organization>, StorageError> {
        with_connection!(self, |conn| LedgerConnection::find_organization_by_id(
            conn, id
        ))
    }

    async fn create_organization(
        &self,
        organization: &Organization,
    ) -> Result<(), CreateOrganizationError> {
        let organization = organization.clone();
        with_connection!(write: self, |conn| LedgerConnection::create_organization(
            conn,
            &organization
        ))
    }

    async fn list_organizations(
        &self,
        page: PageRequest,
    ) -> Result<Page<Organization>, StorageError> {
        with_connection!(self, |conn| LedgerConnection::list_organizations(
            conn, page
        ))
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
        with_connection!(write: self, |conn| LedgerConnection::insert_user_with_token(
            conn, &user, &token
        ))
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StorageError> {
        let hash = hash.clone();
        with_connection!(self, |conn| LedgerConnection::find_token(conn, &hash))
    }

    async fn revoke_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<bool, StorageError> {
        with_connection!(write: self, |conn| LedgerConnection::revoke_token(conn, id, now))
    }
}

#[async_trait]
impl InvoiceStore for Database {
    async fn create_invoice(&self, invoice: &Invoice) -> Result<(), CreateInvoiceError> {
        let invoice = invoice.clone();
        with_connection!(write: self, |conn| LedgerConnection::create_invoice(
            conn, &invoice
        ))
    }

    async fn find_invoice(&self, id: InvoiceId) -> Result<Option<Invoice>, StorageError> {
        with_connection!(self, |conn| LedgerConnection::find_invoice(conn, id))
    }

    async fn list_invoices(
        &self,
        filter: &InvoiceFilter,
        page: PageRequest,
    ) -> Result<Page<Invoice>, StorageError> {
        let filter = filter.clone();
        with_connection!(self, |conn| LedgerConnection::list_invoices(
            conn, &filter, page
        ))
    }
}

#[async_trait]
impl PaymentQueries for Database {
    async fn find_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StorageError> {
        with_connection!(self, |conn| LedgerConnection::find_payment(conn, id))
    }

    async fn list_payments(
        &self,
        filter: &PaymentFilter,
        page: PageRequest,
    ) -> Result<Page<PaymentView>, StorageError> {
        let filter = filter.clone();
        with_connection!(self, |conn| LedgerConnection::list_payments(
            conn, &filter, page
        ))
    }

    async fn list_balance_log(
        &self,
        organization_id: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<BalanceLogEntry>, StorageError> {
        with_connection!(self, |conn| LedgerConnection::list_balance_log(
            conn,
            organization_id,
            page
        ))
    }
}

#[async_trait]
impl CatalogueStore for Database {
    async fn list_configs(&self) -> Result<Vec<PaymentMethodConfig>, StorageError> {
        with_connection!(self, |conn| LedgerConnection::list_configs(conn))
    }

    async fn find_config(&self, id: Uuid) -> Result<Option<PaymentMethodConfig>, StorageError> {
        with_connection!(self, |conn| LedgerConnection::find_config(conn, id))
    }

    async fn create_config(&self, config: &PaymentMethodConfig) -> Result<(), CatalogueError> {
        let config = config.clone();
        with_connection!(write: self, |conn| LedgerConnection::create_config(conn, &config))
    }

    async fn update_config(&self, config: &PaymentMethodConfig) -> Result<(), CatalogueError> {
        let config = config.clone();
        with_connection!(write: self, |conn| LedgerConnection::update_config(conn, &config))
    }

    async fn delete_config(&self, id: Uuid) -> Result<(), CatalogueError> {
        with_connection!(write: self, |conn| LedgerConnection::delete_config(conn, id))
    }

    async fn list_overrides(
        &self,
        organization_id: OrganizationId,
    ) -> Result<Vec<AccountPaymentMethod>, StorageError> {
        with_connection!(self, |conn| LedgerConnection::list_overrides(
            conn,
            organization_id
        ))
    }

    async fn upsert_override(&self, setting: &AccountPaymentMethod) -> Result<(), StorageError> {
        let setting = setting.clone();
        with_connection!(write: self, |conn| LedgerConnection::upsert_override(
            conn, &setting
        ))
    }

    async fn delete_override(
        &self,
        organization_id: OrganizationId,
        method: PaymentMethod,
    ) -> Result<(), CatalogueError> {
        with_connection!(write: self, |conn| LedgerConnection::delete_override(
            conn,
            organization_id,
            method
        ))
    }
}

#[async_trait]
impl ManualPaymentStore for Database {
    async fn submit_manual_payment(
        &self,
        submission: &ManualSubmission,
    ) -> Result<SubmitOutcome, SubmitError> {
        let submission = submission.clone();
        with_connection!(write: self, |conn| LedgerConnection::submit_manual_payment(
            conn,
            &submission
        ))
    }
}

#[async_trait]
impl StaffActionStore for Database {
    async fn apply_staff_action(
        &self,
        payment_id: PaymentId,
        action: &StaffAction,
        now: DateTime<Utc>,
    ) -> Result<StaffActionOutcome, StaffActionStoreError> {
        let action = action.clone();
        with_connection!(write: self, |conn| LedgerConnection::apply_staff_action(
            conn, payment_id, &action, now
        ))
    }
}

#[async_trait]
impl LedgerAuditSource for Database {
    async fn ledger_audit_inputs(&self) -> Result<Vec<LedgerAuditInput>, StorageError> {
        with_connection!(self, |conn| LedgerConnection::ledger_audit_inputs(conn))
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
        with_connection!(write: self, |conn| LedgerConnection::load_or_store_secret(
            conn, &candidate, now
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(!is_postgres_url("/var/lib/payments.db"));
        assert_eq!(sqlite_path("sqlite:///tmp/x.db"), "/tmp/x.db");
        assert_eq!(sqlite_path("sqlite://data/x.db"), "data/x.db");
        assert_eq!(sqlite_path("data/x.db"), "data/x.db");
    }
}
