//! The pool and the migrations: connecting by URL, migration names, pool settings.

use crate::support::*;

async fn migrations_are_idempotent(db: &TestDatabase) {
    // test_support already applied them once (and checked that it applied something).
    assert_eq!(db.run_pending_migrations().unwrap(), Vec::<String>::new());
    assert_eq!(db.run_pending_migrations().unwrap(), Vec::<String>::new());
    assert!(!db.has_pending_migrations().unwrap());
    db.ping().await.unwrap();
    let state = db.pool_state();
    assert_eq!(state.max_size, 16);
    assert!(state.idle <= state.connections && state.connections <= state.max_size);
}

contract_tests!(migrations_are_idempotent,);

/// Connecting by URL: `sqlite://` prefix, missing directories created, migration names.
#[tokio::test]
async fn sqlite_url_creates_directories_and_reports_migration_names() {
    use payments_adapters_diesel::{Database, PoolOptions};
    let dir = std::env::temp_dir().join(format!("payments-url-{}", Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", dir.join("nested/db.sqlite3").display());
    let database = Database::connect(&url, PoolOptions::default()).unwrap();
    assert_eq!(database.backend_name(), "sqlite");
    assert_eq!(
        database.run_pending_migrations().unwrap(),
        vec![
            "2026-11-25-000001_ledger".to_string(),
            "2026-11-25-000002_billing".to_string(),
            "2026-12-01-000001_console".to_string(),
            "2026-12-01-000002_idempotent_responses".to_string()
        ]
    );
    assert!(database.run_pending_migrations().unwrap().is_empty());
    database.ping().await.unwrap();
    assert!(dir.join("nested/db.sqlite3").exists());
    drop(database);
    std::fs::remove_dir_all(dir).unwrap();
}

/// PostgreSQL only (SQLite has no statement timeout; its writers wait at most busy_timeout):
/// every pooled connection carries the pool's `statement_timeout`, 10 s by default.
#[tokio::test]
async fn postgres_connections_carry_the_statement_timeout() {
    let Some(db) = payments_adapters_diesel::test_support::fresh_postgres() else {
        return;
    };
    db.execute_sql(
        "DO $$ BEGIN IF current_setting('statement_timeout') <> '10s' THEN \
         RAISE EXCEPTION 'statement_timeout is %', current_setting('statement_timeout'); \
         END IF; END $$",
    )
    .unwrap();
}

/// Kills every server process of `db`'s database, as a PostgreSQL restart would.
fn terminate_connections_of(db: &TestDatabase) {
    let admin = payments_adapters_diesel::test_support::fresh_postgres().expect("postgres");
    let name = db.url().rsplit('/').next().unwrap().to_string();
    admin
        .execute_sql(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .unwrap();
}

/// PostgreSQL only: a pooled connection is not tested on every checkout (a round trip each),
/// only after it sat idle for a second. One that died while idle (a restart) is tested,
/// discarded and replaced, so the next request does not fail.
#[tokio::test]
async fn postgres_connections_that_died_while_idle_are_replaced_before_use() {
    let Some(db) = payments_adapters_diesel::test_support::fresh_postgres() else {
        return;
    };
    db.ping().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    terminate_connections_of(&db);
    db.ping().await.unwrap();
    db.ping().await.unwrap();
}

/// PostgreSQL only: a connection that dies right after use is handed out untested; it fails
/// that one request and is then discarded (diesel marks it broken), never reused.
#[tokio::test]
async fn postgres_a_connection_that_died_is_used_at_most_once() {
    let Some(db) = payments_adapters_diesel::test_support::fresh_postgres() else {
        return;
    };
    db.ping().await.unwrap();
    terminate_connections_of(&db);
    // The one just returned is reused untested and may fail; never more than that one.
    let _first = db.ping().await;
    db.ping().await.unwrap();
    db.ping().await.unwrap();
}
