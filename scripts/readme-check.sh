#!/usr/bin/env bash
# Runs the README's examples, in README order, against a fresh `coffer serve --demo` and asserts
# each answer (scripts/readme_check.py says how), so the README cannot drift from the product.
# The README's http://127.0.0.1:8888 becomes a free port here, `cargo run --release --` the
# binary ($COFFER_BIN, target/debug/coffer by default, which `cargo test` builds), and the
# printed admin password the one this script chose. Python examples run in the virtualenvs
# scripts/test.sh prepares ($COFFER_TEST_PYTHON, $COFFER_TEST_PYRAX_PYTHON); without them they
# say SKIPPED, except in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

COFFER_BIN=$(realpath "${COFFER_BIN:-target/debug/coffer}")
[ -x "$COFFER_BIN" ] || { echo "readme-check: no binary at $COFFER_BIN (cargo build, or set COFFER_BIN)" >&2; exit 1; }
for tool in curl jq python3; do
  command -v "$tool" >/dev/null || { echo "readme-check: the README's examples need $tool" >&2; exit 1; }
done

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# A fresh demo server, its data in a temporary directory; the CLI's local commands (tenant, user,
# key) use the same directory, as they would beside a server started in the current directory.
export COFFER_DATA_DIR="$WORK/coffer-data" COFFER_SERVER="$BASE" COFFER_BIN
export COFFER_ADMIN_PASSWORD="readme-admin-$RANDOM$RANDOM"
unset COFFER_PUBLIC_URL COFFER_LISTEN COFFER_DATABASE_URL
RUST_LOG=warn "$COFFER_BIN" serve --demo --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 60); do
  curl -sf "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "readme-check: the server did not start" >&2; exit 1; }
  sleep 0.5
done
curl -sf "$BASE/readyz" >/dev/null || { cat "$WORK/server.log" >&2; echo "readme-check: the server is not ready after 30 s" >&2; exit 1; }

python3 scripts/readme_check.py plan README.md "$BASE" "$WORK"

# The driver: each README command is evaluated in this one shell (so variables carry from one to
# the next), its output, exit status and every curl call's HTTP status recorded, then checked.
cat >"$WORK/driver.sh" <<'DRIVER'
trap 'jobs -p | xargs -r kill 2>/dev/null' EXIT
__S="$__WORK/step"
curl() { command curl -D "$__S/headers/$(date +%s%N)-$BASHPID-$RANDOM" "$@"; }
__step() {
  local __n=$1 __cmd
  __cmd=$(cat)
  rm -rf "$__S" && mkdir -p "$__S/headers"
  eval "$__cmd" >"$__S/out" 2>"$__S/err" </dev/null
  echo $? >"$__S/rc"
  python3 scripts/readme_check.py check "$__WORK" "$__n" || exit 1
}
__python() {
  local __n=$1 __var=$2 __line=$3 __code __py
  __code=$(cat)
  __py=${!__var:-}
  if [ -z "$__py" ] || [ ! -x "$__py" ]; then
    if [ "${CI:-}" = "true" ]; then
      echo "FAILED README.md:$__line: \$$__var names no Python interpreter (scripts/test.sh sets it)" >&2
      exit 1
    fi
    echo "SKIPPED README.md:$__line: python example (\$$__var is not set; scripts/test.sh sets it)"
    return
  fi
  rm -rf "$__S" && mkdir -p "$__S/headers"
  "$__py" -c "$__code" >"$__S/out" 2>"$__S/err" </dev/null
  echo $? >"$__S/rc"
  python3 scripts/readme_check.py check "$__WORK" "$__n" || exit 1
}
DRIVER
cat "$WORK/steps.sh" >>"$WORK/driver.sh"

set +e
__WORK="$WORK" bash "$WORK/driver.sh" | tee "$WORK/report"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -c '^ok ' "$WORK/report" || true)
skipped=$(grep -c '^SKIPPED ' "$WORK/report" || true)
assertions=$(awk '{ n += $1 } END { print n + 0 }' "$WORK/assertions" 2>/dev/null || echo 0)
failed=0
[ "$status" = 0 ] || failed=1
echo "readme-check: $passed passed, $failed failed, $skipped skipped ($assertions assertions)"
if [ "$failed" != 0 ]; then
  echo "readme-check: server log (last lines):" >&2
  tail -n 30 "$WORK/server.log" >&2
fi
exit "$status"
