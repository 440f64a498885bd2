//! The connection pools: one per backend, their per-connection settings (SQLite pragmas,
//! PostgreSQL `statement_timeout`), the in-process SQLite writer queue, and the wait metrics
//! of pool checkouts. [`with_connection!`] runs a port's blocking diesel code on one pooled
//! connection of whichever backend.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{
    ConnectionManager, CustomizeConnection, Pool, PooledConnection, R2D2Connection,
};
use diesel::{PgConnection, SqliteConnection};
use payments_domain::ledger::BalanceLogEntry;
use payments_domain::{OrganizationId, StorageError};

use crate::balance_log::BalanceLogQueries;
use crate::group_commit::{BatchObserver, BatchOptions, GroupCommit};
use crate::tx::storage;

/// Checks out a connection of whichever backend and runs `$body` with it on the blocking
/// pool. The body is written once and compiled for both connection types; every query it
/// calls is implemented for both (see `tx::for_both_backends!`).
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
        $crate::pool::with_connection!(@run $db, writer, |$conn| $body)
    }};
    ($db:expr, |$conn:ident| $body:expr) => {{
        let writer: Option<std::sync::Arc<std::sync::Mutex<()>>> = None;
        $crate::pool::with_connection!(@run $db, writer, |$conn| $body)
    }};
    (@run $db:expr, $writer:ident, |$conn:ident| $body:expr) => {
        match &*$db.pools {
            $crate::pool::Pools::Postgres(pool) => {
                let pool = pool.clone();
                let waits = $db.waits.clone();
                let _admitted = $db.gate.admit(&waits).await?;
                $crate::pool::blocking(move || {
                    let mut pooled = waits.time(|| $crate::pool::checkout(&pool))?;
                    let $conn: &mut diesel::PgConnection = &mut pooled;
                    $body
                })
                .await
            }
            $crate::pool::Pools::Sqlite(pool) => {
                let pool = pool.clone();
                let waits = $db.waits.clone();
                let _admitted = $db.gate.admit(&waits).await?;
                $crate::pool::blocking(move || {
                    // A poisoned lock only means another writer panicked; the database
                    // rolled its transaction back, so the queue may go on.
                    let _queued = $writer
                        .as_ref()
                        .map(|w| w.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
                    let mut pooled = waits.time(|| $crate::pool::checkout(&pool))?;
                    let $conn: &mut diesel::SqliteConnection = &mut pooled;
                    $body
                })
                .await
            }
        }
    };
}
pub(crate) use with_connection;

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
    /// Group commit of bank payments (see `group_commit`); [`BatchOptions::OFF`] writes one
    /// transaction per webhook.
    pub batch: BatchOptions,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            connection_timeout: Duration::from_secs(10),
            statement_timeout: Some(Duration::from_secs(10)),
            batch: BatchOptions::default(),
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
    /// Stored rows that did not decode since start, in this process (each logged with its id).
    pub corrupt_rows: u64,
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

/// The PostgreSQL or SQLite database behind every port. Cheap to clone: clones share one pool.
#[derive(Clone)]
pub struct Database {
    pub(crate) pools: Arc<Pools>,
    pub(crate) waits: Arc<PoolWaits>,
    /// SQLite only: writers of this process queue here (see `with_connection!`).
    pub(crate) sqlite_writer: Option<Arc<std::sync::Mutex<()>>>,
    /// Group commit of bank payments, when on.
    pub(crate) group_commit: Option<Arc<GroupCommit>>,
    /// PostgreSQL only: migrations open a connection of their own with it (not the pool's,
    /// whose `statement_timeout` would cancel a long migration or the wait for the lock).
    pub(crate) postgres_url: Option<Arc<str>>,
    /// Requests queue here, first come first served, before they take a blocking thread
    /// and a pooled connection.
    pub(crate) gate: Arc<Gate>,
}

/// A first-come-first-served queue in front of the pool, one permit per connection that
/// requests may use (the pool's size less the batch writers' connections).
///
/// Why: r2d2 hands a returned connection to whichever thread asks first, so a thread that just
/// gave one back can take it again ahead of threads already waiting; with more concurrent
/// requests than connections on a busy machine, a few requests waited seconds while the others
/// went through (wrk timeouts on balance reads at 32 and 64 connections, docs/performance.md).
/// tokio's semaphore is fair, and admitting no more requests than there are connections also
/// keeps the number of runnable blocking threads at the pool's size.
#[derive(Debug)]
pub(crate) struct Gate {
    permits: tokio::sync::Semaphore,
    /// The longest a request waits here without a request deadline (the pool's own timeout).
    timeout: Duration,
}

impl Gate {
    fn new(permits: usize, timeout: Duration) -> Self {
        Self {
            permits: tokio::sync::Semaphore::new(permits.max(1)),
            timeout,
        }
    }

    /// Waits for a turn: never past the request's deadline, nor longer than the pool waits
    /// for a connection. The wait counts in `waits`, as waiting for a connection: with the
    /// gate in front, this is where a pool that is too small shows.
    pub(crate) async fn admit(
        &self,
        waits: &PoolWaits,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, StorageError> {
        let wait = match crate::deadline::capture() {
            Some(budget) => budget
                .deadline()
                .saturating_duration_since(std::time::Instant::now())
                .min(self.timeout),
            None => self.timeout,
        };
        let started = std::time::Instant::now();
        let admitted = match tokio::time::timeout(wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; treated like a timeout all the same.
            Ok(Err(_)) | Err(_) => Err(StorageError::new("no database connection available")),
        };
        waits.add_wait(started.elapsed(), admitted.is_err());
        admitted
    }
}

/// How long requests have waited for a pooled connection, for metrics: a pool that is too
/// small shows here before it shows as timeouts.
#[derive(Debug, Default)]
pub(crate) struct PoolWaits {
    checkouts: AtomicU64,
    wait_micros: AtomicU64,
    failures: AtomicU64,
}

impl PoolWaits {
    /// Times one checkout and counts it.
    pub(crate) fn time<T, E>(&self, checkout: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let started = std::time::Instant::now();
        let result = checkout();
        self.checkouts.fetch_add(1, Ordering::Relaxed);
        self.add_wait(started.elapsed(), result.is_err());
        result
    }

    /// Adds a wait for a connection, and a failure when it ended without one.
    fn add_wait(&self, waited: Duration, failed: bool) {
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.wait_micros.fetch_add(micros, Ordering::Relaxed);
        if failed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub(crate) enum Pools {
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
                .test_on_check_out(false)
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
                .test_on_check_out(false)
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
        // The batch writers hold connections of the same pool while they write.
        let writers = if options.batch.enabled() {
            crate::group_commit::writer_threads(matches!(pools, Pools::Postgres(_)))
        } else {
            0
        };
        let request_connections = (options.max_size as usize).saturating_sub(writers);
        let postgres_url = matches!(pools, Pools::Postgres(_)).then(|| Arc::from(url));
        Ok(Database {
            pools: Arc::new(pools),
            waits: Arc::new(PoolWaits::default()),
            sqlite_writer,
            group_commit: options
                .batch
                .enabled()
                .then(|| Arc::new(GroupCommit::new(options.batch))),
            postgres_url,
            gate: Arc::new(Gate::new(request_connections, options.connection_timeout)),
        })
    }

    /// Reports every batch of bank payments written (size and wait), for metrics.
    pub fn observe_batches(&self, observer: Arc<dyn BatchObserver>) {
        if let Some(group_commit) = &self.group_commit {
            group_commit.set_observer(observer);
        }
    }

    /// `"postgres"` or `"sqlite"`.
    pub fn backend_name(&self) -> &'static str {
        match *self.pools {
            Pools::Postgres(_) => "postgres",
            Pools::Sqlite(_) => "sqlite",
        }
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
            corrupt_rows: crate::rows::CORRUPT_ROWS.load(Ordering::Relaxed),
        }
    }

    /// Checks that a connection can be checked out and answers a trivial query.
    pub async fn ping(&self) -> Result<(), StorageError> {
        with_connection!(self, |conn| ping(conn))
    }

    /// The balance log of one organization, oldest first (empty for an unknown organization).
    pub async fn balance_log(
        &self,
        organization_id: OrganizationId,
    ) -> Result<Vec<BalanceLogEntry>, StorageError> {
        with_connection!(self, |conn| conn.balance_log(organization_id))
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

/// A connection given back to the pool longer ago than this is tested before it is used again.
///
/// Testing on every checkout (r2d2's default) cost a round trip per request and per batch.
/// Connections in use die with the server; diesel then marks them broken (libpq reports the
/// connection bad) and the pool discards them when they come back. What the test is for is a
/// connection that died while idle (a PostgreSQL restart, a proxy's idle timeout): those sat
/// idle for a while, and under load connections come back within milliseconds. One that dies
/// within this window fails the one request that uses it next (a 503, safe to retry) and is
/// then discarded.
const TEST_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// When a connection was last given back, kept in the pool's per-connection extensions.
struct ReturnedAt(std::time::Instant);

/// A pooled connection that notes when it is given back (see [`TEST_WHEN_IDLE_FOR`]).
pub(crate) struct Checked<C: R2D2Connection + 'static>(PooledConnection<ConnectionManager<C>>);

impl<C: R2D2Connection + 'static> std::ops::Deref for Checked<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C: R2D2Connection + 'static> std::ops::DerefMut for Checked<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.0
    }
}

impl<C: R2D2Connection + 'static> Drop for Checked<C> {
    fn drop(&mut self) {
        PooledConnection::extensions_mut(&mut self.0).insert(ReturnedAt(std::time::Instant::now()));
    }
}

/// Checks out a connection, waiting no longer than the pool's timeout nor past the request's
/// deadline. A connection that sat idle longer than [`TEST_WHEN_IDLE_FOR`] (or was never used)
/// is tested first; one that fails the test is discarded and another taken.
pub(crate) fn checkout<C: R2D2Connection + 'static>(
    pool: &Pool<ConnectionManager<C>>,
) -> Result<Checked<C>, StorageError> {
    // Every connection of the pool may have died at once (a restart): try them all, plus one
    // the pool opens anew.
    for _ in 0..=pool.max_size() {
        crate::deadline::check()?;
        // Never wait for a connection past the request's deadline.
        let wait = match crate::deadline::remaining() {
            Some(left) => left.min(pool.connection_timeout()),
            None => pool.connection_timeout(),
        };
        let mut conn = pool
            .get_timeout(wait)
            .map_err(|e| StorageError::with_source("no database connection available", e))?;
        let recently_used = PooledConnection::extensions(&conn)
            .get::<ReturnedAt>()
            .is_some_and(|returned| returned.0.elapsed() < TEST_WHEN_IDLE_FOR);
        // A failed test leaves diesel's connection marked broken: the pool drops it.
        if recently_used || conn.ping().is_ok() {
            return Ok(Checked(conn));
        }
    }
    Err(StorageError::new("no working database connection"))
}

/// Runs blocking diesel work on tokio's blocking pool, inside the caller's tracing span.
pub(crate) async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StorageError> + Send + 'static,
{
    let span = tracing::Span::current();
    // The request's budget, read here in its async context, holds on the blocking thread.
    let budget = crate::deadline::capture();
    tokio::task::spawn_blocking(move || span.in_scope(|| crate::deadline::scoped(budget, work)))
        .await
        .unwrap_or_else(|e| Err(StorageError::with_source("database task failed", e).into()))
}

/// `SELECT 1` on either backend.
fn ping<C: diesel::Connection>(conn: &mut C) -> Result<(), StorageError> {
    conn.batch_execute("SELECT 1").map_err(storage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_gate_admits_in_arrival_order_and_gives_up_after_its_timeout() {
        let gate = Arc::new(Gate::new(1, Duration::from_millis(50)));
        let waits = Arc::new(PoolWaits::default());
        let held = gate.admit(&waits).await.unwrap();
        let admitted = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for n in 0..3 {
            let (gate, admitted, waits) = (gate.clone(), admitted.clone(), waits.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = gate.admit(&waits).await.unwrap();
                admitted.lock().unwrap().push(n);
                // Hold the turn across a yield, so a later arrival could overtake if the
                // gate were unfair.
                tokio::task::yield_now().await;
            }));
            // Let it queue before the next one arrives.
            tokio::task::yield_now().await;
        }
        drop(held);
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(*admitted.lock().unwrap(), vec![0, 1, 2]);

        let _held = gate.admit(&waits).await.unwrap();
        let started = std::time::Instant::now();
        let refused = gate.admit(&waits).await.unwrap_err();
        assert!(refused
            .to_string()
            .contains("no database connection available"));
        assert!(started.elapsed() >= Duration::from_millis(50));
        // Waiting at the gate is waiting for a connection, in the pool's metrics.
        assert_eq!(waits.failures.load(Ordering::Relaxed), 1);
        assert!(waits.wait_micros.load(Ordering::Relaxed) >= 50_000);
    }

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
