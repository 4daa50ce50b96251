#!/usr/bin/env bash
# Runs every Coffer test: unit tests, the API tests on SQLite, the API tests again on a real
# PostgreSQL, and the client-compatibility tests (real Python client libraries from a virtualenv
# this script prepares). It starts or installs what it needs and says what it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*" >&2; }
in_ci() { [ "${CI:-}" = "true" ]; }
# In CI every test must run: a test that would say SKIPPED (its server or tool missing) fails instead.
if in_ci; then export COFFER_TEST_REQUIRE=1; fi

# --- Python client libraries -------------------------------------------------------------
VENV="${COFFER_TEST_VENV:-$PWD/.venv-test}"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the client virtualenv in $VENV"
  python3 -m venv "$VENV"
fi
say "installing client libraries (tests/compat/requirements.txt)"
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/compat/requirements.txt
# scripts/seed_examples.py validates the seeds' examples with jsonschema (schemathesis' own
# virtualenv has only jsonschema_rs).
"$VENV/bin/python" -c 'import jsonschema' 2>/dev/null || "$VENV/bin/pip" install -q --disable-pip-version-check "jsonschema==4.26.0"
# cdbclient 1.0.9 is an sdist of 2014: it builds only without isolation on an older setuptools,
# and its pinned dependencies are not needed (tests/compat/cdb_lifecycle.py passes its extensions).
if ! "$VENV/bin/python" -c 'import cdbclient' 2>/dev/null; then
  say "installing cdbclient 1.0.9"
  "$VENV/bin/pip" install -q --disable-pip-version-check "setuptools<81" wheel babel six
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation cdbclient==1.0.9
fi
export COFFER_TEST_PYTHON="$VENV/bin/python"
# pyrax 1.10.0 pins python-novaclient 2.27 and keystoneauth1 2.18, so it gets a virtualenv of its own;
# its pinned oslo.config uses collections.Mapping (gone since Python 3.10), hence the newer one.
PYRAX_VENV="${COFFER_TEST_PYRAX_VENV:-$PWD/.venv-pyrax}"
if ! "$PYRAX_VENV/bin/python" -c 'import pyrax' 2>/dev/null; then
  say "installing pyrax 1.10.0 into $PYRAX_VENV"
  python3 -m venv "$PYRAX_VENV"
  "$PYRAX_VENV/bin/pip" install -q --disable-pip-version-check pyrax==1.10.0
  "$PYRAX_VENV/bin/pip" install -q --disable-pip-version-check "oslo.config>=8"
fi
export COFFER_TEST_PYRAX_PYTHON="$PYRAX_VENV/bin/python"
# python-cloudbackup-sdk 0.20.0 (Rackspace's Cloud Backup SDK) is on PyPI only as a bdist_dumb
# tarball, which pip cannot install: pip downloads it, checks its sha256 (--require-hashes),
# unpacks it and stops (no setup.py); --no-clean keeps what it unpacked, and
# tests/compat/cloudbackup_sdk.py copies the package from there with its Python 3 patches.
# tzlocal 1.1.1: newer ones break the SDK's time-zone helper.
CB_VENV="${COFFER_TEST_CLOUDBACKUP_VENV:-$PWD/.venv-cloudbackup}"
CB_SDK="python-cloudbackup-sdk==0.20.0.linux-x86_64"
CB_SDK_SHA256="4cde6dd9d552d35350bbb0bc0cdc6b825472e110d653b16cedee0b7f3a2883e6"
if ! "$CB_VENV/bin/python" tests/compat/cloudbackup_sdk.py check 2>/dev/null; then
  say "installing python-cloudbackup-sdk 0.20.0 into $CB_VENV"
  [ -x "$CB_VENV/bin/python" ] || python3 -m venv "$CB_VENV"
  "$CB_VENV/bin/pip" install -q --disable-pip-version-check requests six pytz "tzlocal==1.1.1"
  CB_FETCH=$(mktemp -d)
  echo "$CB_SDK --hash=sha256:$CB_SDK_SHA256" >"$CB_FETCH/requirements.txt"
  TMPDIR="$CB_FETCH" "$CB_VENV/bin/pip" download --disable-pip-version-check --no-deps --no-clean --require-hashes \
    -d "$CB_FETCH/download" -r "$CB_FETCH/requirements.txt" >"$CB_FETCH/pip.log" 2>&1 || true
  "$CB_VENV/bin/python" tests/compat/cloudbackup_sdk.py install "$CB_FETCH" || { cat "$CB_FETCH/pip.log" >&2; rm -rf "$CB_FETCH"; exit 1; }
  rm -rf "$CB_FETCH"
fi
export COFFER_TEST_CLOUDBACKUP_PYTHON="$CB_VENV/bin/python"

# --- PostgreSQL on 127.0.0.1:5432 --------------------------------------------------------
PG_URL="${COFFER_TEST_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_up() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; }
start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing PostgreSQL from Debian packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    local installed=1
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    if [ "${installed:-0}" = 1 ] && pg_up; then
      # A fresh Debian cluster wants a password over TCP; give the test user one.
      su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" && PG_URL="postgres://postgres:postgres@127.0.0.1:5432/postgres"
    fi
  fi
}
pg_up || start_postgres
export COFFER_TEST_PG_ADMIN_URL="$PG_URL"

# --- MariaDB on 127.0.0.1:3306 (root, empty password) --------------------------------------
maria_up() { command -v mariadb >/dev/null 2>&1 && mariadb -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null 2>&1; }
start_mariadb() {
  if ! command -v mariadbd >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing MariaDB from Debian packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null
  fi
  if command -v mariadbd >/dev/null 2>&1; then
    say "starting MariaDB"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1 || true
    for _ in $(seq 1 30); do
      mariadb -u root -e 'SELECT 1' >/dev/null 2>&1 && break
      sleep 1
    done
    # A fresh install lets root in only over the socket; allow the empty password over TCP too.
    maria_up || mariadb -u root -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')" || true
  fi
}
maria_up || start_mariadb
if ! maria_up; then
  if in_ci; then
    echo "MariaDB is required in CI but could not be started on 127.0.0.1:3306" >&2
    exit 1
  fi
  say "MariaDB is not reachable on 127.0.0.1:3306: its tests will say SKIPPED"
fi

# --- Redis on 127.0.0.1:6379 (the scale-out test counts the per-user limit in it) ------------
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
if ! redis_up; then
  if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Redis from Debian packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null || true
  fi
  if command -v redis-server >/dev/null 2>&1; then
    say "starting Redis"
    redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >/dev/null || true
    for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  fi
fi
if ! redis_up; then
  in_ci && { echo "Redis is required in CI but could not be started on 127.0.0.1:6379" >&2; exit 1; }
  say "Redis is not reachable on 127.0.0.1:6379: the scale-out test will say SKIPPED"
fi

# --- Chromium and playwright-core for the console's and the docs page's end-to-end tests -------
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing Chromium from Debian packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true
fi
if [ ! -d .tools/node_modules/playwright-core ]; then
  say "installing playwright-core from npm into .tools (it drives the system Chromium)"
  mkdir -p .tools && npm install --silent --no-audit --no-fund --prefix .tools playwright-core@1.57.0 >/dev/null || true
fi
if ! command -v chromium >/dev/null 2>&1 || [ ! -d .tools/node_modules/playwright-core ]; then
  in_ci && { echo "Chromium and playwright-core are required in CI for the console and docs tests" >&2; exit 1; }
  say "Chromium or playwright-core is missing: the console and docs end to end tests will say SKIPPED"
fi

# --- The compose file: Docker cannot run here, so its configuration is checked instead --------
say "checking docker-compose.yml (scripts/check-compose.sh)"
bash scripts/check-compose.sh

# --- Azurite (Azure Blob emulator) on 127.0.0.1:10000; moto (S3) is started by the tests ------
# Installed into .tools even when one already listens: the Azure outage test stops and restarts a
# private instance of its own.
TOOLS="$PWD/.tools"
export COFFER_TEST_AZURITE="$TOOLS/node_modules/.bin/azurite-blob"
if [ ! -x "$COFFER_TEST_AZURITE" ]; then
  say "installing Azurite from npm into $TOOLS"
  mkdir -p "$TOOLS" && npm install --silent --no-audit --no-fund --prefix "$TOOLS" azurite@3.35.0 >/dev/null || true
fi
azurite_up() { curl -s -o /dev/null --max-time 2 http://127.0.0.1:10000/; }
if ! azurite_up && [ -x "$COFFER_TEST_AZURITE" ]; then
  say "starting Azurite"
  AZ_DATA=$(mktemp -d)
  "$COFFER_TEST_AZURITE" --blobHost 127.0.0.1 --blobPort 10000 --location "$AZ_DATA" --silent --skipApiVersionCheck >/dev/null 2>&1 &
  AZURITE_PID=$!
  trap 'kill $AZURITE_PID 2>/dev/null || true; rm -rf "$AZ_DATA"' EXIT
  for _ in $(seq 1 30); do azurite_up && break; sleep 1; done
fi
if ! azurite_up; then
  in_ci && { echo "Azurite is required in CI but could not be started on 127.0.0.1:10000" >&2; exit 1; }
  say "Azurite is not reachable on 127.0.0.1:10000: the Azure tests will say SKIPPED"
fi

# --- Tests ---------------------------------------------------------------------------------
say "unit and API tests on SQLite"
cargo test --workspace --locked

if pg_up; then
  say "API tests on PostgreSQL ($PG_URL, a fresh database per test)"
  COFFER_TEST_DATABASE_URL="$PG_URL" cargo test --locked --test api
elif in_ci; then
  echo "PostgreSQL is required in CI but could not be started on 127.0.0.1:5432" >&2
  exit 1
else
  say "SKIPPED: API tests on PostgreSQL (nothing answers on 127.0.0.1:5432 and it could not be started)"
fi

say "schemathesis against every dialect's OpenAPI document (scripts/schemathesis.sh)"
bash scripts/schemathesis.sh

# Every JSON example of the seeds (tests/seeds/examples.json) against its operation's schema in the
# committed documents. Operations not typed yet are reported as untyped; --strict (once every
# dialect is typed) fails on them too.
say "the seeds' JSON examples against the OpenAPI documents (scripts/seed_examples.py)"
"$COFFER_TEST_PYTHON" scripts/seed_examples.py --strict

# The README's examples, in order, on a fresh `serve --demo` (the debug binary cargo test built).
if ! command -v jq >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing jq from Debian packages (the README's examples use it)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null || true
fi
say "the README's examples against a fresh demo server (scripts/readme-check.sh)"
COFFER_BIN="${CARGO_TARGET_DIR:-target}/debug/coffer" bash scripts/readme-check.sh
