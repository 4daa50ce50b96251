#!/usr/bin/env bash
# Runs schemathesis against every dialect's OpenAPI document, each on a fresh `coffer serve --demo`
# (authenticated as the demo user through the documents' BasicAuth scheme, so schemathesis does
# not also send made-up tokens beside it; rate limits raised for the run): no 5xx, and no answer that the
# documents do not describe (status, content type, headers, schema, 405 Allow, ignored auth).
# The demo's own account, cluster, instance and agent are given as path parameters, so answers are
# the real ones (bodies checked against the schemas), not only 404s for made-up ids.
# positive_data_acceptance (a schema-valid request is accepted) is checked on the documents listed
# in POSITIVE_DOCS, those whose request bodies are typed with their required fields.
# SCHEMATHESIS_DOCS="opscenter admin" runs only those documents.
# A bounded number of examples per operation, with a fixed seed, so a run is repeatable.
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${SCHEMATHESIS_EXAMPLES:-15}"
POSITIVE_DOCS="${SCHEMATHESIS_POSITIVE_DOCS:-clouddatabases cloudbackup identity instaclustr}"
VENV="${COFFER_SCHEMATHESIS_VENV:-$PWD/.venv-schemathesis}"
if ! "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
  printf '\n== installing schemathesis into %s\n' "$VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5"
fi

BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/coffer"
[ -x "$BIN" ] || cargo build --locked
AUTH="Authorization: Basic $(printf 'demo:demo-password' | base64)"
WORK=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT

# Starts a fresh demo server; sets PORT and SERVER.
start_demo() {
  local data="$1"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  COFFER_RATE_LIMIT__PER_SECOND=100000 COFFER_RATE_LIMIT__BURST=100000 \
  COFFER_RATE_LIMIT__ANONYMOUS_PER_SECOND=100000 COFFER_RATE_LIMIT__FAILED_LOGINS_PER_MINUTE=100000 \
  COFFER_PUBLIC_URL= RUST_LOG=warn \
    "$BIN" --data-dir "$data" serve --demo --listen "127.0.0.1:$PORT" >"$data/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null -H "$AUTH" "http://127.0.0.1:$PORT/v1.0/user/agents" && return 0
    sleep 0.2
  done
  echo "the demo server did not start:" >&2
  cat "$data/server.log" >&2
  return 1
}

# A schemathesis.toml naming the demo's objects as path parameters of `doc`.
write_config() {
  local doc="$1" out="$2"
  curl -sf -H "$AUTH" "http://127.0.0.1:$PORT/admin/v1/sources" >"$WORK/sources.json"
  python3 - "$doc" "$WORK/sources.json" >"$out" <<'PY'
import json, sys
doc, sources = sys.argv[1], json.load(open(sys.argv[2]))
first = {s["kind"]: s["id"] for s in reversed(sources)}
lines = ['[auth.openapi.BasicAuth]', 'username = "demo"', 'password = "demo-password"', ""]
def params(table, values):
    lines.append(table)
    lines.extend(f'"{k}" = "{v}"' for k, v in values.items())
    lines.append("")
if doc == "clouddatabases":
    params("[parameters]", {"path.account": "demo"})
    lines += ["[[operations]]", 'include-path-regex = "/instances/\\\\{id\\\\}"', "[operations.parameters]", f'"path.id" = "{first["instance"]}"', ""]
elif doc == "cloudbackup":
    params("[parameters]", {"path.tenant_id": "demo", "path.agent_id": "1"})
elif doc == "opscenter":
    params("[parameters]", {"path.cluster_id": "Test_Cluster", "path.keyspace": "Keyspace1", "path.table": "users"})
elif doc == "instaclustr":
    params("[parameters]", {"path.clusterId": first["cluster"]})
    # The seed's 412: no backup at or before pointInTime holds what a restore asks for.
    lines += ["[[operations]]", 'include-operation-id = "instaclustr_restore"', "[operations.checks.positive_data_acceptance]",
              'expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]', ""]
print("\n".join(lines))
PY
}

status=0
for path in openapi/*.json; do
  doc=$(basename "$path" .json)
  case " ${SCHEMATHESIS_DOCS:-$doc} " in *" $doc "*) ;; *) continue ;; esac
  data="$WORK/$doc"
  mkdir -p "$data"
  start_demo "$data"
  write_config "$doc" "$data/schemathesis.toml"
  checks=(--checks all --exclude-checks positive_data_acceptance)
  case " $POSITIVE_DOCS " in *" $doc "*) checks=(--checks all) ;; esac
  printf '\n== schemathesis: %s (%s examples per operation; %s)\n' "$path" "$EXAMPLES" "${checks[*]}" >&2
  if ! "$VENV/bin/schemathesis" --config-file "$data/schemathesis.toml" run "$path" -u "http://127.0.0.1:$PORT" \
      -n "$EXAMPLES" --seed 1 "${checks[@]}" --no-color >"$data/st.out" 2>&1; then
    cat "$data/st.out" >&2
    status=1
  else
    grep -E "generated" "$data/st.out" >&2 || true
  fi
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  SERVER=
done
exit $status
