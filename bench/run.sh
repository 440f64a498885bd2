#!/usr/bin/env bash
# The benchmark in one command (`just bench` runs this): builds the release binary, then
# bench/bench.py drives the real server with wrk against pgbench on a fresh PostgreSQL
# database, verifies the ledger and prints the table. Options are bench.py's, e.g. --quick.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk; then
    echo "wrk is missing; installing the Debian package" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >&2; else sudo apt-get install -y wrk >&2; fi
fi
for tool in python3 psql; do
    need "$tool" || { echo "bench needs $tool" >&2; exit 1; }
done
[ -x /usr/lib/postgresql/15/bin/pgbench ] || { echo "bench needs PostgreSQL 15 (pgbench, initdb)" >&2; exit 1; }

cargo build --release --locked -p payments --bin payments >&2
exec python3 bench/bench.py "$@"
