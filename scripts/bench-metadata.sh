#!/usr/bin/env bash
# Metadata at scale: Coffer on SQLite (or PostgreSQL: BACKEND=postgres, PG_ADMIN_URL, default
# postgres://postgres@127.0.0.1:5432/postgres, in a database of its own dropped at the end) with BACKUPS backups (default 1,000,000) and EVENTS events
# (default 10,000,000) of one tenant, then the p50/p99 of the first page of listings (and of a page
# deep inside), each measured for RUN_SECONDS (default 5) at RATE requests/s (default 20) in an
# open loop. The rows are copies of one real backup and one real event made through the API, written
# with SQL (numbered names, random ids, one second apart, older than the real ones), so what the
# server reads is what it wrote itself. The list cache is off (LIST_CACHE=true turns it on): the
# figures are the database's work, not answers kept in memory.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKUPS=${BACKUPS:-1000000}
EVENTS=${EVENTS:-10000000}
RATE=${RATE:-20}
RUN_SECONDS=${RUN_SECONDS:-5}
PORT=${PORT:-18720}
PASSWORD=bench-admin-pw
BACKEND=${BACKEND:-sqlite}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_DB=coffer_meta_$$
DB_ARGS=()
if [ "$BACKEND" = postgres ]; then
  psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $PG_DB"
  PG_URL="${PG_ADMIN_URL%/*}/$PG_DB"
  DB_ARGS=(--database-url "$PG_URL")
fi
say() { printf '== %s\n' "$*" >&2; }

cargo build --release --locked --bin coffer --example api_bench >&2
COFFER=target/release/coffer
BENCH=target/release/examples/api_bench
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/coffer-meta.XXXXXX")
PID=
finish() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
  if [ "$BACKEND" = postgres ]; then psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" || true; fi
}
trap finish EXIT

start() {
  COFFER_ADMIN_PASSWORD=$PASSWORD COFFER_RATE_LIMIT__PER_SECOND=100000 COFFER_RATE_LIMIT__BURST=100000 COFFER_LIST_CACHE=${LIST_CACHE:-false} RUST_LOG=warn \
    "$COFFER" --data-dir "$WORK/data" "${DB_ARGS[@]}" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0; sleep 0.1; done
  echo "coffer did not start" >&2
  exit 1
}
BASE="http://127.0.0.1:$PORT"
# shellcheck source=scripts/bench_lib.sh
. scripts/bench_lib.sh

python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'); c.commit()" "$WORK/shop.sqlite"
mkdir -p "$WORK/node/data/ks/t-00112233445566778899aabbccddeeff" "$WORK/files"
head -c 20000 /dev/urandom >"$WORK/node/data/ks/t-00112233445566778899aabbccddeeff/nb-1-big-Data.db"
head -c 20000 /dev/urandom >"$WORK/files/f1"
start
# One real backup in each dialect: a SQLite instance (Cloud Databases), a one-node cluster
# (OpsCenter, Instaclustr) and a Cloud Backup configuration on a `coffer agent`.
INSTANCE=$(admin -X POST "$BASE/admin/v1/instances" -d "{\"name\":\"shop\",\"datastore\":\"sqlite\",\"location\":\"$WORK/shop.sqlite\"}" | jget "['id']")
CLUSTER=$(admin -X POST "$BASE/admin/v1/clusters" \
  -d "{\"name\":\"Bench\",\"nodes\":[{\"name\":\"10.9.0.1\",\"location\":\"$WORK/node/data\"}]}" | jget "['id']")
start_bench_agent
CONFIG=$(cb_configuration bench "$WORK/files")
wait_op "$(admin -X POST "$BASE/admin/v1/backups" -d "{\"source_id\":\"$INSTANCE\"}" | jget "['operation']['id']")"
wait_op "$(admin -X POST "$BASE/admin/v1/backups" -d "{\"source_id\":\"$CLUSTER\"}" | jget "['operation']['id']")"
cb_backup "$CONFIG"
kill "$PID" "$AGENT_PID"
wait "$PID" "$AGENT_PID" 2>/dev/null || true
PID=

say "writing $BACKUPS backups and $EVENTS events into $BACKEND"
SEED_START=$(date +%s)
PER_KIND=$((BACKUPS / 3))
if [ "$BACKEND" = postgres ]; then
  cols() { psql -At "$PG_URL" -c "SELECT column_name FROM information_schema.columns WHERE table_name = '$1' ORDER BY ordinal_position" | paste -sd, -; }
  BCOLS=$(cols backups)
  ECOLS=$(cols events | tr ',' '\n' | grep -vx id | paste -sd, -)
  BSEL=$(python3 scripts/bench_metadata_select.py backups "$BCOLS")
  ESEL=$(python3 scripts/bench_metadata_select.py events "$ECOLS")
  psql -q "$PG_URL" <<SQL
INSERT INTO backups ($BCOLS) SELECT $BSEL FROM generate_series(1, $PER_KIND) n, (SELECT * FROM backups WHERE source_kind = 'instance' LIMIT 1) t;
INSERT INTO backups ($BCOLS) SELECT $BSEL FROM generate_series(1, $PER_KIND) n, (SELECT * FROM backups WHERE source_kind = 'cluster' LIMIT 1) t;
INSERT INTO backups ($BCOLS) SELECT $BSEL FROM generate_series(1, $BACKUPS - 3 - 2 * $PER_KIND) n, (SELECT * FROM backups WHERE source_kind = 'machine' LIMIT 1) t;
INSERT INTO events ($ECOLS) SELECT $ESEL FROM generate_series(1, $EVENTS) n, (SELECT * FROM events ORDER BY id LIMIT 1) t;
ANALYZE;
SQL
else
python3 - "$WORK/data/coffer.db" "$BACKUPS" "$EVENTS" <<'EOF'
import sqlite3, sys
db, backups, events = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = sqlite3.connect(db)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=OFF")
cols = [r[1] for r in c.execute("PRAGMA table_info(backups)")]
pick = {"id": "randomblob(16)", "name": "name || '-' || n", "tag": "lower(hex(randomblob(16)))",
        "operation_id": "NULL",
        "created_at": "strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-01-01', '-' || n || ' seconds')",
        "updated_at": "strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-01-01', '-' || n || ' seconds')",
        "completed_at": "strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-01-01', '-' || n || ' seconds')"}
select = ", ".join(pick.get(col, col) for col in cols)
per_kind = backups // 3
for kind, copies in [("instance", per_kind), ("cluster", per_kind), ("machine", backups - 3 - 2 * per_kind)]:
    template = c.execute("SELECT rowid FROM backups WHERE source_kind = ?", (kind,)).fetchone()[0]
    c.execute(f"""INSERT INTO backups ({', '.join(cols)})
      WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {copies})
      SELECT {select} FROM s, (SELECT * FROM backups WHERE rowid = {template})""")
ecols = [r[1] for r in c.execute("PRAGMA table_info(events)") if r[1] != "id"]
eselect = ", ".join({"at": "strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-01-01', '-' || n || ' seconds')",
                     "message": "message || ' #' || n"}.get(col, col) for col in ecols)
etemplate = c.execute("SELECT id FROM events ORDER BY id LIMIT 1").fetchone()[0]
c.execute(f"""INSERT INTO events ({', '.join(ecols)})
  WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {events})
  SELECT {eselect} FROM s, (SELECT * FROM events WHERE id = {etemplate})""")
c.commit()
c.execute("ANALYZE")
print(c.execute("SELECT count(*) FROM backups").fetchone()[0], "backups,", c.execute("SELECT count(*) FROM events").fetchone()[0], "events", file=sys.stderr)
EOF
fi
say "seeded in $(( $(date +%s) - SEED_START )) s"
start
TOKEN=$(curl -sf "$BASE/v2.0/tokens" -H 'content-type: application/json' \
  -d "{\"auth\":{\"passwordCredentials\":{\"username\":\"admin\",\"password\":\"$PASSWORD\"}}}" | jget "['access']['token']['id']")
DEEP=$(admin "$BASE/v1.0/default/backups?limit=1000" | jget "['backups'][-1]['id']")
DEEP_TIME=$(admin "$BASE/Bench/backups?amount=1000" | python3 -c "import json,sys; print(min(b['time'] for b in json.load(sys.stdin).values()))")

# The table names ids by what they are.
shown() { local p=${1//$INSTANCE/\{instance\}}; p=${p//$DEEP/\{1,000th backup\}}; p=${p//$CLUSTER/\{cluster\}}; p=${p//$DEEP_TIME/\{time of the 1,000th\}}; echo "${p//\/$AGENT_ID/\/\{agent\}}"; }
echo "| Request | p50 ms | p99 ms | answered |"
echo "|---|---|---|---|"
for path in "/v1.0/default/backups?limit=20" "/v1.0/default/backups?limit=20&marker=$DEEP" "/v1.0/default/backups?limit=20&datastore=sqlite" \
  "/v1.0/default/instances/$INSTANCE/backups?limit=20" "/Bench/backups?amount=20" "/Bench/backups?amount=20&match=adhoc&last_seen=$DEEP_TIME" \
  "/Bench/backup-activity?count=20" "/Bench/backup-activity?count=20&filter_success=1&timestamp=$DEEP_TIME" "/provisioning/v1/$CLUSTER/backups" \
  "/v1.0/agent/$AGENT_ID" "/v1.0/activity" "/admin/v1/backups?limit=100" "/admin/v1/backups?source_id=$CLUSTER&limit=100" \
  "/admin/v1/events?limit=100" "/admin/v1/operations?limit=100"; do
  r=$("$BENCH" load "$BASE$path" --rate "$RATE" --seconds "$RUN_SECONDS" --header "x-auth-token:$TOKEN")
  echo "$r" >&2
  python3 -c "
import json,sys; r=json.loads(sys.argv[2])
ok=sum(v for k,v in r['statuses'].items() if k.startswith('2'))
print(f\"| \`GET {sys.argv[1]}\` | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {ok}/{r['requests']} |\")" "$(shown "$path")" "$r"
done
