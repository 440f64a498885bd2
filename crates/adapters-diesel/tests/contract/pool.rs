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
