#!/usr/bin/env bash
# Runs schemathesis against every dialect's OpenAPI document on a real `coffer serve --demo`
# (authenticated as the demo user, rate limits raised for the run): no 5xx, and no answer that
# the documents do not describe (status, content type, headers, schema, 405 Allow, ignored auth).
# A bounded number of examples per operation, with a fixed seed, so a run is repeatable.
# Not checked yet: positive_data_acceptance (the documents describe JSON bodies as objects without
# their required fields, so a schema-valid {} may be refused with 400).
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${SCHEMATHESIS_EXAMPLES:-15}"
VENV="${COFFER_SCHEMATHESIS_VENV:-$PWD/.venv-schemathesis}"
if ! "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
  printf '\n== installing schemathesis into %s\n' "$VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5"
fi

BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/coffer"
[ -x "$BIN" ] || cargo build --locked
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
COFFER_RATE_LIMIT__PER_SECOND=100000 COFFER_RATE_LIMIT__BURST=100000 \
COFFER_RATE_LIMIT__ANONYMOUS_PER_SECOND=100000 COFFER_RATE_LIMIT__FAILED_LOGINS_PER_MINUTE=100000 \
COFFER_PUBLIC_URL= RUST_LOG=warn \
  "$BIN" --data-dir "$DATA" serve --demo --listen "127.0.0.1:$PORT" >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/v2.0" && break; sleep 0.2; done

AUTH="Authorization: Basic $(printf 'demo:demo-password' | base64)"
status=0
for doc in openapi/*.json; do
  printf '\n== schemathesis: %s (%s examples per operation)\n' "$doc" "$EXAMPLES" >&2
  if ! "$VENV/bin/schemathesis" run "$doc" -u "http://127.0.0.1:$PORT" -H "$AUTH" -n "$EXAMPLES" --seed 1 \
      --checks all --exclude-checks positive_data_acceptance --no-color >"$DATA/st.out" 2>&1; then
    cat "$DATA/st.out" >&2
    status=1
  else
    grep -E "generated" "$DATA/st.out" >&2 || true
  fi
done
exit $status
