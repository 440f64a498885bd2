//! The embedded migrations, one folder per backend because the SQL differs.

use diesel::migration::{MigrationSource, MigrationVersion};
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel::{PgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::pool::{checkout, Pools};
use crate::Database;

/// PostgreSQL migrations, embedded in the binary.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
/// SQLite migrations, embedded in the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Session advisory lock key held while PostgreSQL migrations run, so instances starting
/// together migrate one after the other.
pub const MIGRATION_LOCK_KEY: i64 = 0x7061_796d_656e_7473; // "payments"

/// Why [`Database::run_pending_migrations`] failed.
#[derive(Debug, thiserror::Error)]
#[error("migrations failed: {0}")]
pub struct MigrationError(pub String);

impl Database {
    /// Applies the embedded migrations not yet applied and returns their names (e.g.
    /// `"2026-11-25-000001_ledger"`), oldest first; empty when the schema is current.
    /// Blocking: call it at startup, before serving. On PostgreSQL a session advisory lock
    /// makes instances that start together migrate one after the other.
    pub fn run_pending_migrations(&self) -> Result<Vec<String>, MigrationError> {
        match &*self.pools {
            Pools::Postgres(_) => {
                // A dedicated connection without statement timeout: waiting for another
                // instance's migrations, or a long CREATE INDEX, must not be cancelled.
                let url = self.postgres_url.as_deref().unwrap_or_default();
                let mut conn = <PgConnection as diesel::Connection>::establish(url)
                    .map_err(|e| MigrationError(format!("connecting to migrate: {e}")))?;
                diesel::connection::SimpleConnection::batch_execute(
                    &mut conn,
                    "SET statement_timeout = 0; SET lock_timeout = 0",
                )
                .map_err(|e| MigrationError(e.to_string()))?;
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
                let mut conn =
                    checkout(pool).map_err(|e| MigrationError(e.message().to_string()))?;
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
                .map_err(|e| MigrationError(e.message().to_string()))?
                .has_pending_migration(POSTGRES_MIGRATIONS),
            Pools::Sqlite(pool) => checkout(pool)
                .map_err(|e| MigrationError(e.message().to_string()))?
                .has_pending_migration(SQLITE_MIGRATIONS),
        };
        pending.map_err(|e| MigrationError(e.to_string()))
    }
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
