#!/usr/bin/env bash
# API-plane benchmark: each dialect's "list 100 backups" and two creates, against a bare poem handler
# answering the same bytes, on this machine, in one run. For every endpoint, alternating
# bare / Coffer ROUNDS times (default 3): the maximum rate of a closed loop of CONNECTIONS
# connections (default 32) for RUN_SECONDS seconds (default 5); then Coffer at half its median maximum
# in an open loop, for the latency percentiles. Then the rate limiter: in process (1,000 users x 50
# requests/s x 10 s) and over HTTP (LIMIT_USERS users, default 100, x 50 requests/s x 10 s, with the
# configured limit of 35/s). Prints one JSON line per measurement and a Markdown table of medians.
# ONLY=<regex> measures only the endpoints whose name matches it; LIMITER=0 leaves the limiter out.
#
# Coffer runs with its per-user limit raised by configuration for the rate runs (one user sends
# everything), and with its default limit for the limiter run. The load generator
# (examples/api_bench.rs) runs on one thread, so it takes one of the two cores whichever server it
# measures; it speaks HTTP/1.1 over kept-alive sockets itself (a general client's cost per request
# was the tail it measured), and runs each load for a second unrecorded before counting.
# OPEN_CONNECTIONS (default 64) bounds the requests in flight of the open loops.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${RUN_SECONDS:-5}
CONNECTIONS=${CONNECTIONS:-32}
OPEN_CONNECTIONS=${OPEN_CONNECTIONS:-64}
LIMIT_USERS=${LIMIT_USERS:-100}
PORT=${PORT:-18700}
BARE_PORT=$((PORT + 1))
LIMIT_PORT=$((PORT + 2))
PASSWORD=bench-admin-pw

say() { printf '== %s\n' "$*" >&2; }
cargo build --release --locked --bin coffer --example api_bench >&2
COFFER=target/release/coffer
BENCH=target/release/examples/api_bench

WORK=$(mktemp -d)
PIDS=()
finish() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap finish EXIT

start_coffer() { # port data_dir [env...]
  local port=$1 data=$2
  shift 2
  env COFFER_ADMIN_PASSWORD=$PASSWORD RUST_LOG=warn "$@" "$COFFER" --data-dir "$data" serve --listen "127.0.0.1:$port" \
    >"$data.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && return 0; sleep 0.1; done
  echo "coffer did not start on $port" >&2
  exit 1
}

# --- Coffer with 100 real backups in each dialect ------------------------------------------------
mkdir -p "$WORK/data" "$WORK/node/data/ks/t-00112233445566778899aabbccddeeff" "$WORK/files"
for i in 1 2 3; do
  head -c 20000 /dev/urandom >"$WORK/node/data/ks/t-00112233445566778899aabbccddeeff/nb-$i-big-Data.db"
  head -c 20000 /dev/urandom >"$WORK/files/f$i"
done
python3 - "$WORK/db.sqlite" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
c.executemany("INSERT INTO t (v) VALUES (?)", [(f"row {i}",) for i in range(100)]); c.commit()
EOF
start_coffer "$PORT" "$WORK/data" COFFER_RATE_LIMIT__PER_SECOND=10000000 COFFER_RATE_LIMIT__BURST=10000000
BASE="http://127.0.0.1:$PORT"
# shellcheck source=scripts/bench_lib.sh
. scripts/bench_lib.sh

TOKEN=$(curl -sf "$BASE/v2.0/tokens" -H 'content-type: application/json' \
  -d "{\"auth\":{\"passwordCredentials\":{\"username\":\"admin\",\"password\":\"$PASSWORD\"}}}" | jget "['access']['token']['id']")

CLUSTER=$(admin -X POST "$BASE/admin/v1/clusters" \
  -d "{\"name\":\"Bench\",\"nodes\":[{\"name\":\"10.9.0.1\",\"location\":\"$WORK/node/data\"}]}" | jget "['id']")
INSTANCE=$(admin -X POST "$BASE/admin/v1/instances" \
  -d "{\"name\":\"benchdb\",\"datastore\":\"sqlite\",\"location\":\"$WORK/db.sqlite\"}" | jget "['id']")
start_bench_agent
PIDS+=("$AGENT_PID")
CONFIG=$(cb_configuration bench "$WORK/files")

say "making 100 backups of the cluster, the instance and the Cloud Backup configuration"
for i in $(seq 1 100); do
  wait_op "$(admin -X POST "$BASE/admin/v1/backups" -d "{\"source_id\":\"$CLUSTER\"}" | jget "['operation']['id']")"
  wait_op "$(admin -X POST "$BASE/admin/v1/backups" -d "{\"source_id\":\"$INSTANCE\"}" | jget "['operation']['id']")"
  cb_backup "$CONFIG"
done

# --- Measurements --------------------------------------------------------------------------------
declare -a NAMES PATHS METHODS BODIES
add() { NAMES+=("$1"); METHODS+=("$2"); PATHS+=("$3"); BODIES+=("${4:-}"); }
add "OpsCenter: list backups (amount=100)" GET "/Bench/backups?amount=100"
add "Instaclustr: list backups" GET "/provisioning/v1/$CLUSTER/backups"
add "Cloud Databases: list backups (limit=100)" GET "/v1.0/default/backups?limit=100"
add "Cloud Backup: completed backups of a configuration" GET "/v1.0/backup/completed/$CONFIG"
add "Admin: list backups of a source" GET "/admin/v1/backups?source_id=$INSTANCE"
add "OpsCenter: create a job schedule" POST "/Bench/job-schedules" \
  '{"first_run_date":"2030-01-01","first_run_time":"00:00:00","timezone":"UTC","interval":1,"interval_unit":"days","job_params":{"type":"backup","keyspaces":["ks"],"destinations":{}}}'
add "Cloud Backup: create a configuration" POST "/v1.0/backup-configuration" \
  "{\"BackupConfigurationName\":\"more\",\"MachineAgentId\":$AGENT_ID,\"Frequency\":\"Manually\",\"TimeZoneId\":\"UTC\",\"VersionRetention\":30,\"Inclusions\":[{\"FilePath\":\"$WORK/files\",\"FileItemType\":\"Folder\"}],\"Exclusions\":[]}"

median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

TABLE=()
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]} method=${METHODS[$i]} path=${PATHS[$i]} body=${BODIES[$i]}
  [[ $name =~ ${ONLY:-.} ]] || continue
  args=(--method "$method" --header "x-auth-token:$TOKEN" --seconds "$SECONDS_PER_RUN")
  [ -n "$body" ] && args+=(--body "$body")
  # The bare server answers what Coffer answers to this request.
  curl -s -o "$WORK/body.json" -w '%{http_code}' -X "$method" -H "x-auth-token: $TOKEN" -H 'content-type: application/json' \
    ${body:+-d "$body"} "$BASE$path" >"$WORK/status"
  code=$(cat "$WORK/status")
  case $code in 2??) ;; *) echo "$name: Coffer answered $code: $(head -c 300 "$WORK/body.json")" >&2; exit 1 ;; esac
  "$BENCH" bare "127.0.0.1:$BARE_PORT" "$WORK/body.json" &
  bare_pid=$!
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$BARE_PORT/" && break; sleep 0.1; done
  bare_rps=() coffer_rps=()
  for r in $(seq 1 "$ROUNDS"); do
    b=$("$BENCH" load "http://127.0.0.1:$BARE_PORT$path" --connections "$CONNECTIONS" "${args[@]}")
    c=$("$BENCH" load "$BASE$path" --connections "$CONNECTIONS" "${args[@]}")
    echo "{\"endpoint\":\"$name\",\"round\":$r,\"bare\":$b,\"coffer\":$c}"
    bare_rps+=("$(field "$b" rps)") coffer_rps+=("$(field "$c" rps)")
  done
  kill "$bare_pid" 2>/dev/null || true
  wait "$bare_pid" 2>/dev/null || true
  bm=$(median "${bare_rps[@]}") cm=$(median "${coffer_rps[@]}")
  half=$(python3 -c "print(int($cm / 2))")
  h=$("$BENCH" load "$BASE$path" --rate "$half" --connections "$OPEN_CONNECTIONS" "${args[@]}")
  echo "{\"endpoint\":\"$name\",\"half_rate\":$half,\"coffer\":$h}"
  TABLE+=("$(python3 -c "
import json,sys
h=json.loads(sys.argv[4]); bm,cm=float(sys.argv[2]),float(sys.argv[3])
print(f\"| {sys.argv[1]} | {bm:,.0f} | {cm:,.0f} | {cm/bm:.2f} | {int(cm/2):,} | {h['p50_ms']:.2f} | {h['p99_ms']:.2f} | {sum(v for k,v in h['statuses'].items() if k.startswith('2'))}/{h['requests']} |\")
" "$name" "$bm" "$cm" "$h")")
done

if [ "${LIMITER:-1}" = 0 ]; then
  printf '%s\n' "${TABLE[@]}"
  exit 0
fi
say "rate limiter in process: 1,000 users x 50 requests/s x 10 s"
LIMITER=$("$BENCH" limiter --users 1000 --rate 50 --seconds 10)
echo "$LIMITER"

say "rate limiter over HTTP: $LIMIT_USERS users x 50 requests/s x 10 s, default limit"
start_coffer "$LIMIT_PORT" "$WORK/data-limit"
LBASE="http://127.0.0.1:$LIMIT_PORT"
for u in $(seq 1 "$LIMIT_USERS"); do
  curl -sf -u "admin:$PASSWORD" -H 'content-type: application/json' -X POST "$LBASE/admin/v1/users" \
    -d "{\"name\":\"u$u\",\"password\":\"pw-$u-long-enough\",\"role\":\"reader\"}" >/dev/null
  curl -sf "$LBASE/v2.0/tokens" -H 'content-type: application/json' \
    -d "{\"auth\":{\"passwordCredentials\":{\"username\":\"u$u\",\"password\":\"pw-$u-long-enough\"}}}" | jget "['access']['token']['id']"
done >"$WORK/tokens"
HTTP_LIMIT=$("$BENCH" load "$LBASE/admin/v1/whoami" --rate $((LIMIT_USERS * 50)) --seconds 10 --warmup 0 --connections "$OPEN_CONNECTIONS" --credentials "$WORK/tokens")
echo "$HTTP_LIMIT"

echo
echo "| Endpoint | bare poem req/s | Coffer req/s | ratio | half rate req/s | p50 ms | p99 ms | 2xx at half rate |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${TABLE[@]}"
echo
python3 - "$LIMITER" "$HTTP_LIMIT" <<'EOF'
import json, sys
inproc, http = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name, r in (("in process", inproc), ("over HTTP", http)):
    p = r["per_user"]
    s, e, t = p["steady_seconds"], p["early_seconds"], p["total_per_user"]
    print(f"Limiter {name}: {p['users']} users offering 50/s for 10 s; seconds 1-{p['settle_seconds']} (burst of 35 being spent): "
          f"{e['min']}-{e['max']} let through per user and second; seconds {p['settle_seconds'] + 1}-10: {s['min']}-{s['max']}, "
          f"{s['within_35_plus_minus_1']} of {s['count']} user-seconds within 35 +- 1; totals {t['min']}-{t['max']} per user "
          f"(35/s x 10 s + the burst of 35 = 385)")
print(f"Limiter cost: {inproc['check_ns']:.0f} ns per check")
print(f"HTTP limiter run: {http['rps']:.0f} requests/s offered and answered, statuses {http['statuses']}, p99 {http['p99_ms']:.1f} ms")
EOF
