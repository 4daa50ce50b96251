#!/usr/bin/env bash
# The long form of the crash test: work in four dialects (machines, an OpsCenter/Instaclustr cluster
# on three remote agents, Cloud Backup on a fourth, SQLite, PostgreSQL and MariaDB instances under
# Cloud Databases), COFFER_CRASH_LOAD requests (50 by default) sent before each of COFFER_CRASH_KILLS
# SIGKILLs of the server (20 by default; the test command runs 3 with 12), each agent killed too one
# time in three. After each restart every operation must end within a minute; at the end every
# complete backup must verify, every complete file backup restore byte for byte and the newest of
# each instance restore row for row. Set COFFER_TEST_DATABASE_URL (a PostgreSQL admin URL) to keep
# Coffer's own state in PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
export COFFER_CRASH_KILLS="${COFFER_CRASH_KILLS:-20}"
export COFFER_CRASH_LOAD="${COFFER_CRASH_LOAD:-50}"
cargo test --locked --test api recovery::work_in_four_dialects -- --nocapture 2>&1 | grep -E "crash run:|test result|panicked|FAILED|SKIPPED"
