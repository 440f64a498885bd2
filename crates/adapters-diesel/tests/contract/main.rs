//! The port contract, run against SQLite and PostgreSQL: one test binary, one module per
//! port (as the adapter is split).
//!
//! Each case is written once as an `async fn(&TestDatabase)` and instantiated per backend by
//! `contract_tests!`, as `<port>::sqlite::<case>` and `<port>::postgres::<case>`. PostgreSQL
//! cases need `PAYMENTS_TEST_DATABASE_URL` (see the crate docs).

/// Instantiates each case for both backends, in the calling module.
macro_rules! contract_tests {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
                async fn $case() {
                    let db = payments_adapters_diesel::test_support::fresh_sqlite();
                    assert_eq!(db.backend_name(), "sqlite");
                    super::$case(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
                async fn $case() {
                    let Some(db) = payments_adapters_diesel::test_support::fresh_postgres() else {
                        return;
                    };
                    assert_eq!(db.backend_name(), "postgres");
                    super::$case(&db).await;
                }
            )*
        }
    };
}

mod support;

mod audit;
mod bank;
mod catalogue;
mod console;
mod invoices;
mod manual_payments;
mod organizations;
mod pool;
mod queries;
mod secrets;
mod staff_actions;
mod tokens;

// Hardening (issue 8): accepted values read back unchanged, migrations beyond the statement
// timeout, the ledger audit tied to payments.
mod ledger_tie;
mod migrations;
mod roundtrip;
