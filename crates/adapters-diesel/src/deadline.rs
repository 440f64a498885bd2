//! The request deadline inside database work (see `payments_request_deadline`).
//!
//! [`blocking`](crate::database) captures the deadline of the request in its async context and
//! installs it for the blocking thread that runs the database work. There:
//! - a connection is not awaited past it;
//! - on PostgreSQL every write transaction starts with `SET LOCAL statement_timeout` and
//!   `lock_timeout` set to the time left, so a statement blocked on a row lock is cancelled by
//!   the database itself before the deadline;
//! - a write transaction whose work ends after the deadline is rolled back, never committed.
//!
//! So when the HTTP layer's deadline answers "timed out", the transaction has already ended and
//! nothing of it was committed.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::PgConnection;
use payments_domain::StorageError;
use payments_request_deadline::RequestBudget;

thread_local! {
    static CURRENT: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The budget of the request in whose async context this is called.
pub(crate) fn capture() -> Option<Arc<RequestBudget>> {
    payments_request_deadline::current()
}

/// Storage work registered with its request's budget; dropping it ends the registration
/// (also when the work panics).
pub(crate) struct Registered(Arc<RequestBudget>);

impl Registered {
    /// The request's database deadline.
    pub(crate) fn deadline(&self) -> Instant {
        self.0.deadline()
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.end_work();
    }
}

/// Registers work with the request's budget; refused when the request was already answered
/// as timed out (the work must then not run at all). `None` outside a request.
pub(crate) fn register(
    budget: Option<Arc<RequestBudget>>,
) -> Result<Option<Registered>, StorageError> {
    match budget {
        None => Ok(None),
        Some(budget) if budget.begin_work() => Ok(Some(Registered(budget))),
        Some(_) => Err(StorageError::new(
            "the request was already answered; not started",
        )),
    }
}

/// Runs `work` with `deadline` installed for this thread, restoring what was there before.
pub(crate) fn with_deadline<T>(deadline: Option<Instant>, work: impl FnOnce() -> T) -> T {
    let previous = CURRENT.with(|c| c.replace(deadline));
    let result = work();
    CURRENT.with(|c| c.set(previous));
    result
}

/// Runs `work` registered with the request's budget and with its deadline installed for this
/// thread. Work of a request already answered as timed out does not run at all.
pub(crate) fn scoped<T, E: From<StorageError>>(
    budget: Option<Arc<RequestBudget>>,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let registered = register(budget)?;
    with_deadline(registered.as_ref().map(Registered::deadline), work)
}

/// Time left before the deadline (zero once passed); `None` without a deadline.
pub(crate) fn remaining() -> Option<Duration> {
    CURRENT
        .with(Cell::get)
        .map(|deadline| deadline.saturating_duration_since(Instant::now()))
}

fn passed() -> StorageError {
    StorageError::new("request deadline passed; the transaction was rolled back")
}

/// Fails once the deadline has passed: called before a checkout and before COMMIT.
pub(crate) fn check() -> Result<(), StorageError> {
    match remaining() {
        Some(left) if left.is_zero() => Err(passed()),
        _ => Ok(()),
    }
}

/// The statement that opens a PostgreSQL write transaction bounded by the time left:
/// statements and lock waits are cancelled by the server when it runs out. `SET LOCAL` ends
/// with the transaction, so the pooled connection keeps its own `statement_timeout`
/// afterwards. One simple-query batch, so bounding the transaction costs no round trip of its
/// own.
/// `settings` are further `SET LOCAL` statements for this transaction only, sent in the same
/// batch.
pub(crate) fn pg_begin_sql(settings: &str) -> String {
    let mut sql = match remaining() {
        Some(left) => {
            // 0 would mean "no limit" to PostgreSQL.
            let ms = left.as_millis().clamp(1, i32::MAX as u128);
            format!("BEGIN; SET LOCAL statement_timeout = {ms}; SET LOCAL lock_timeout = {ms}")
        }
        None => "BEGIN".to_string(),
    };
    if !settings.is_empty() {
        sql.push_str("; ");
        sql.push_str(settings);
    }
    sql
}

/// Runs `body` in a PostgreSQL transaction opened by [`pg_begin_sql`], committed when it
/// returns `Ok` and rolled back otherwise (the same contract as diesel's `transaction`).
pub(crate) fn pg_transaction<T, E: From<diesel::result::Error>>(
    conn: &mut PgConnection,
    settings: &str,
    body: impl FnOnce(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    if let Err(error) = AnsiTransactionManager::begin_transaction_sql(conn, &pg_begin_sql(settings))
    {
        // The batch may have failed after its BEGIN: leave no transaction open on a pooled
        // connection (outside a transaction ROLLBACK only warns).
        let _ = conn.batch_execute("ROLLBACK");
        return Err(error.into());
    }
    match body(conn) {
        Ok(done) => {
            AnsiTransactionManager::commit_transaction(conn)?;
            Ok(done)
        }
        Err(error) => match AnsiTransactionManager::rollback_transaction(conn) {
            // A broken transaction manager: the body's error says more.
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_fails_only_after_the_deadline() {
        assert_eq!(remaining(), None);
        assert!(check().is_ok());
        let later = RequestBudget::new(Instant::now() + Duration::from_secs(5));
        scoped(Some(later), || {
            assert!(remaining().unwrap() > Duration::from_secs(4));
            check()
        })
        .unwrap();
        let now = RequestBudget::new(Instant::now());
        assert!(scoped(Some(now.clone()), check).is_err());
        assert_eq!(remaining(), None);
        // Answered as timed out: the work does not start.
        assert!(now.close_if_idle());
        let ran = std::cell::Cell::new(false);
        let refused: Result<(), StorageError> = scoped(Some(now), || {
            ran.set(true);
            Ok(())
        });
        assert!(refused.is_err() && !ran.get());
    }
}
