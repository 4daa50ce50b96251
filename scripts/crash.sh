#!/usr/bin/env bash
# The long form of the crash test: work in four dialects (machines, an OpsCenter cluster, a Cloud
# Databases instance, Instaclustr) while the server is killed with SIGKILL at seeded moments,
# COFFER_CRASH_KILLS times (20 by default; the test command runs 3). After the last restart every
# operation must end within a minute, every complete backup must verify, and every complete machine
# backup must restore byte for byte. Set COFFER_TEST_DATABASE_URL to run it on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
export COFFER_CRASH_KILLS="${COFFER_CRASH_KILLS:-20}"
cargo test --locked --test api recovery::work_in_four_dialects -- --nocapture 2>&1 | grep -E "crash run:|test result|panicked|FAILED"
