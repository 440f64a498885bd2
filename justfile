# Common tasks. `just` is a convenience: every recipe is a plain cargo command.

pg_url := "postgres://postgres@127.0.0.1:5432/test"

# Serve on the embedded SQLite default (data/payments.sqlite3).
run:
    cargo run

# All tests; PostgreSQL tests are skipped (with a note) unless PAYMENTS_TEST_DATABASE_URL is set.
test:
    cargo test --workspace

# All tests, PostgreSQL required.
test-pg:
    PAYMENTS_TEST_DATABASE_URL={{pg_url}} PAYMENTS_TEST_REQUIRE_POSTGRES=1 cargo test --workspace

lint:
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# Fault tests: kill -9, a PostgreSQL restart (own throwaway cluster), duplicate deliveries
# across two instances, approve/reject storms; each checked against the database.
# CHAOS_SECONDS sets the load per case (default 4).
chaos:
    PAYMENTS_TEST_DATABASE_URL={{pg_url}} PAYMENTS_TEST_REQUIRE_POSTGRES=1 cargo test -p payments --test api chaos:: -- --ignored --test-threads=1 --nocapture

# schemathesis against /openapi.json as staff and member, on SQLite and PostgreSQL
# (FUZZ_MAX_EXAMPLES per operation, default 100). Installs schemathesis into a venv.
fuzz:
    FUZZ_DATABASE_URL={{pg_url}} scripts/fuzz.sh

# What CI runs.
ci:
    bash .ci/run

# Apply migrations to DATABASE_URL (default: the SQLite file).
migrate:
    cargo run -- migrate

# The benchmark: release server over HTTP (wrk) against raw SQL (pgbench), ledger verified.
# `just bench --quick` for a short smoke run. See docs/performance.md.
bench *args:
    bash bench/run.sh {{args}}
