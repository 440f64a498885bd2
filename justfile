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
