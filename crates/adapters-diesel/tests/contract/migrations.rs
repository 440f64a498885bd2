//! Migrations are not subject to the pool's `statement_timeout`: two instances starting
//! together while a third connection holds the migration lock longer than the timeout both
//! wait for it and then start.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use payments_adapters_diesel::test_support;
use payments_adapters_diesel::{Database, PoolOptions, MIGRATION_LOCK_KEY};

#[test]
fn instances_wait_for_the_migration_lock_beyond_the_statement_timeout() {
    let Some(db) = test_support::fresh_postgres() else {
        return;
    };
    let mut holder = PgConnection::establish(db.url()).expect("third connection");
    holder
        .batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .expect("take the migration lock");
    let options = PoolOptions {
        max_size: 2,
        connection_timeout: Duration::from_secs(5),
        statement_timeout: Some(Duration::from_secs(1)),
        ..PoolOptions::default()
    };
    let started = Instant::now();
    let instances: Vec<_> = (0..2)
        .map(|_| {
            let (url, options) = (db.url().to_string(), options.clone());
            std::thread::spawn(move || {
                let database = Database::connect(&url, options).expect("connect");
                database.run_pending_migrations()
            })
        })
        .collect();
    // Held three times the statement timeout.
    std::thread::sleep(Duration::from_secs(3));
    holder
        .batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
        .expect("release the lock");
    for instance in instances {
        let outcome = instance.join().expect("instance thread");
        assert!(outcome.is_ok(), "startup failed: {outcome:?}");
    }
    assert!(started.elapsed() >= Duration::from_secs(3));
}
