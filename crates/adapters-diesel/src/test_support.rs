//! Fresh, migrated databases for tests (feature `test-support`).
//!
//! [`fresh_sqlite`] opens a new SQLite file in a temporary directory; [`fresh_postgres`]
//! creates a scratch database `payments_test_<random>` on the server named by
//! `PAYMENTS_TEST_DATABASE_URL`. Both are dropped with the returned [`TestDatabase`], so tests
//! are isolated and can run in parallel. When the variable is unset, [`fresh_postgres`] prints
//! `SKIPPED (PostgreSQL): …` and returns `None`, unless `PAYMENTS_TEST_REQUIRE_POSTGRES=1`, in
//! which case it panics (for CI).
//!
//! These are test helpers: setup failures panic with a message.

use std::io::Write;
use std::ops::Deref;
use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use uuid::Uuid;

use crate::pool::{checkout, PoolsRef};
use crate::{Database, PoolOptions};

/// The variable naming the PostgreSQL server used by tests (any database on it; the user must
/// be allowed to create databases).
pub const DATABASE_URL_VAR: &str = "PAYMENTS_TEST_DATABASE_URL";

/// When set to `1`, a missing [`DATABASE_URL_VAR`] fails the test instead of skipping it.
pub const REQUIRE_POSTGRES_VAR: &str = "PAYMENTS_TEST_REQUIRE_POSTGRES";

/// Setting it runs the tests with this group-commit batch size (`0`: one transaction per
/// webhook), so the suites can be run both ways; unset, the production default.
pub const BATCH_MAX_ITEMS_VAR: &str = "PAYMENTS_BATCH_MAX_ITEMS";

/// Pool settings for tests: enough connections for the concurrency cases, and the batching of
/// [`BATCH_MAX_ITEMS_VAR`].
pub fn test_pool_options() -> PoolOptions {
    let mut options = PoolOptions {
        max_size: 16,
        connection_timeout: Duration::from_secs(30),
        ..PoolOptions::default()
    };
    if let Some(max_items) = std::env::var(BATCH_MAX_ITEMS_VAR)
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        options.batch.max_items = max_items;
    }
    options
}

/// A connected, migrated database that is deleted when this value is dropped. Dereferences to
/// [`Database`].
#[derive(Debug)]
pub struct TestDatabase {
    // Declared before `cleanup`, so the pool closes before the database is deleted.
    database: Database,
    url: String,
    _cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// Someone else's database: left as it is.
    Nothing,
    SqliteDirectory(PathBuf),
    PostgresDatabase {
        admin_url: String,
        name: String,
    },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // Best effort: a leftover scratch database or file is harmless.
        match self {
            Cleanup::Nothing => {}
            Cleanup::SqliteDirectory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            }
        }
    }
}

impl Deref for TestDatabase {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.database
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl TestDatabase {
    /// The database (clone it to move it into tasks).
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The URL the database was opened with (SQLite path or PostgreSQL URL).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `SELECT count(*) FROM <table>`. Blocking; for assertions.
    pub fn count_rows(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        let result = match self.database.pools_for_tests() {
            PoolsRef::Postgres(pool) => checkout(pool).and_then(|mut conn| {
                diesel::sql_query(&sql)
                    .get_result::<Count>(&mut *conn)
                    .map_err(crate::tx::storage)
            }),
            PoolsRef::Sqlite(pool) => checkout(pool).and_then(|mut conn| {
                diesel::sql_query(&sql)
                    .get_result::<Count>(&mut *conn)
                    .map_err(crate::tx::storage)
            }),
        };
        match result {
            Ok(count) => count.n,
            Err(e) => panic!("counting rows of {table}: {e}"),
        }
    }

    /// Runs raw SQL, returning the database's error text on failure. For tests that tamper
    /// with rows or check that the database refuses something. Blocking.
    pub fn execute_sql(&self, sql: &str) -> Result<(), String> {
        let result = match self.database.pools_for_tests() {
            PoolsRef::Postgres(pool) => checkout(pool)
                .map_err(|e| e.to_string())
                .and_then(|mut conn| conn.batch_execute(sql).map_err(|e| e.to_string())),
            PoolsRef::Sqlite(pool) => checkout(pool)
                .map_err(|e| e.to_string())
                .and_then(|mut conn| conn.batch_execute(sql).map_err(|e| e.to_string())),
        };
        result
    }
}

fn connect_and_migrate(url: &str, cleanup: Cleanup) -> TestDatabase {
    let database = match Database::connect(url, test_pool_options()) {
        Ok(database) => database,
        Err(e) => panic!("connecting to test database: {e}"),
    };
    match database.run_pending_migrations() {
        Ok(applied) if !applied.is_empty() => {}
        Ok(_) => panic!("a fresh test database had no migrations to apply"),
        Err(e) => panic!("migrating test database: {e}"),
    }
    TestDatabase {
        database,
        url: url.to_string(),
        _cleanup: cleanup,
    }
}

/// An existing database (a fault test's own cluster, say), migrated; left in place on drop.
pub fn attach(url: &str) -> TestDatabase {
    let database = match Database::connect(url, test_pool_options()) {
        Ok(database) => database,
        Err(e) => panic!("connecting to test database: {e}"),
    };
    if let Err(e) = database.run_pending_migrations() {
        panic!("migrating test database: {e}");
    }
    TestDatabase {
        database,
        url: url.to_string(),
        _cleanup: Cleanup::Nothing,
    }
}

/// A new SQLite database in its own temporary directory, migrated.
pub fn fresh_sqlite() -> TestDatabase {
    let dir = std::env::temp_dir().join(format!("payments-test-{}", Uuid::new_v4().simple()));
    let path = dir.join("payments.sqlite3");
    let url = path.display().to_string();
    connect_and_migrate(&url, Cleanup::SqliteDirectory(dir))
}

/// A new PostgreSQL database on the server of `PAYMENTS_TEST_DATABASE_URL`, migrated; `None`
/// (after printing why) when the variable is unset and `PAYMENTS_TEST_REQUIRE_POSTGRES` is not
/// `1`.
pub fn fresh_postgres() -> Option<TestDatabase> {
    let admin_url = match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            if std::env::var(REQUIRE_POSTGRES_VAR).as_deref() == Ok("1") {
                panic!("{REQUIRE_POSTGRES_VAR}=1 but {DATABASE_URL_VAR} is not set");
            }
            // Written to stderr directly, past the test harness's output capture, so the skip
            // shows in a normal `cargo test` run.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (PostgreSQL): set {DATABASE_URL_VAR} to run"
            );
            return None;
        }
    };
    let name = format!("payments_test_{}", Uuid::new_v4().simple());
    let mut admin = match PgConnection::establish(&admin_url) {
        Ok(conn) => conn,
        Err(e) => panic!("connecting to {DATABASE_URL_VAR}: {e}"),
    };
    // CREATE DATABASE can collide with another test copying template1 at the same moment.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")) {
            Ok(()) => break,
            Err(e) if attempt < 5 => {
                eprintln!("CREATE DATABASE {name} failed ({e}); retrying");
                std::thread::sleep(Duration::from_millis(100 * attempt));
            }
            Err(e) => panic!("creating test database {name}: {e}"),
        }
    }
    drop(admin);
    let url = with_database_name(&admin_url, &name);
    Some(connect_and_migrate(
        &url,
        Cleanup::PostgresDatabase { admin_url, name },
    ))
}

/// Replaces the database name in a PostgreSQL URL, keeping any `?query`.
fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database_name;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database_name("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database_name("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database_name("postgresql://h", "x"),
            "postgresql://h/x"
        );
    }
}
