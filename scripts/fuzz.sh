#!/usr/bin/env bash
# schemathesis against the running service's own /openapi.json, as staff and as a member.
# Checks: no 5xx, and every response conforms to the spec (status, content type, schema).
#
#   scripts/fuzz.sh                    # SQLite, FUZZ_MAX_EXAMPLES (default 100) per operation
#   FUZZ_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test scripts/fuzz.sh
#                                      # also on PostgreSQL (a scratch database, dropped after)
#
# schemathesis comes from PyPI into a venv of its own (FUZZ_VENV, default target/fuzz-venv).
# The service listens on loopback only and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-100}
SCHEMATHESIS_VERSION=4.32.5
VENV=${FUZZ_VENV:-target/fuzz-venv}

if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/st" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "fuzz: installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build -q --locked -p payments
BIN=target/debug/payments
WORK=$(mktemp -d)
PID=""
SCRATCH_DB=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  if [ -n "$SCRATCH_DB" ]; then
    psql "$FUZZ_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# fuzz_backend NAME DATABASE_URL
fuzz_backend() {
  local name=$1 url=$2 port base staff member org
  export DATABASE_URL=$url
  port=$(free_port)
  base="http://127.0.0.1:$port"
  # Legacy open mode lets fuzzed webhook bodies reach the parser (a signature cannot be
  # computed per generated body); the rate limit is off so fuzzing is not answered 429.
  PAYMENTS_LISTEN=127.0.0.1:$port PAYMENTS_LEGACY_OPEN=1 PAYMENTS_RATE_LIMIT_PER_MINUTE=0 \
    PAYMENTS_REQUEST_TIMEOUT_SECS=10 RUST_LOG=warn "$BIN" serve >"$WORK/$name.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    curl -sf "$base/readyz" >/dev/null && break
    sleep 0.2
  done
  curl -sf "$base/readyz" >/dev/null || { cat "$WORK/$name.log"; echo "fuzz: service did not start" >&2; exit 1; }

  staff=$("$BIN" token create --role staff --name fuzz 2>/dev/null)
  org=$(curl -sf -X POST "$base/api/v1/billing/admin/organizations/" -H "Authorization: Bearer $staff" \
    -H 'Content-Type: application/json' -d '{"inn":"7701234567","name":"Fuzz LLC"}')
  curl -sf -X POST "$base/api/v1/billing/admin/invoices/" -H "Authorization: Bearer $staff" \
    -H 'Content-Type: application/json' \
    -d "{\"organization_id\":\"$(echo "$org" | sed -E 's/.*"data":\{"id":"([^"]+)".*/\1/')\",\"amount\":\"139.00\"}" >/dev/null
  member=$("$BIN" token create --role member --inn 7701234567 --name fuzz 2>/dev/null)

  local failed=0
  for role in staff member; do
    local token=$staff
    [ "$role" = member ] && token=$member
    echo "fuzz: $name as $role, up to $MAX_EXAMPLES examples per operation"
    "$VENV/bin/st" run "$base/openapi.json" \
      --header "Authorization: Bearer $token" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --max-examples "$MAX_EXAMPLES" --workers 1 --seed "${FUZZ_SEED:-1}" \
      --generation-allow-x00 true --request-timeout 15 --no-color \
      --report junit --report-dir "target/fuzz-report/$name-$role" \
      >"$WORK/st-$name-$role.txt" 2>&1 || failed=1
    tail -n 25 "$WORK/st-$name-$role.txt"
  done
  # Every 5xx the service logged, if any, for the record.
  if grep -q '" 5[0-9][0-9] ' "$WORK/$name.log"; then
    grep '" 5[0-9][0-9] ' "$WORK/$name.log" | head -20
  fi
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  return $failed
}

status=0
fuzz_backend sqlite "$WORK/fuzz.sqlite3" || status=1
if [ -n "${FUZZ_DATABASE_URL:-}" ]; then
  SCRATCH_DB="payments_fuzz_$$"
  psql "$FUZZ_DATABASE_URL" -qc "CREATE DATABASE $SCRATCH_DB" >/dev/null
  fuzz_backend postgres "${FUZZ_DATABASE_URL%/*}/$SCRATCH_DB" || status=1
fi
[ $status -eq 0 ] && echo "fuzz: no 5xx, every response conforms" || echo "fuzz: FAILED (reports in target/fuzz-report)" >&2
exit $status
