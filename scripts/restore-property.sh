#!/usr/bin/env bash
# The restore-safety property tests at a larger size than CI's: clusters (every restore path),
# file trees (Cloud Backup and admin filters) and database instances, ROUNDS runs of STEPS random
# steps each, every run with a new seed that is printed (COFFER_PROPERTY_SEED=<seed> repeats one).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-120}"
ROUNDS="${ROUNDS:-5}"
cargo test --locked --test api --no-run >/dev/null 2>&1 || cargo test --locked --test api --no-run
passed=0 failed=0
log=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round of $ROUNDS, $STEPS steps"
  status=0
  COFFER_PROPERTY_STEPS="$STEPS" cargo test --locked --test api restore_safety -- --nocapture --test-threads 3 >"$log" 2>&1 || status=$?
  grep -E -A2 'restore safety|test result|panicked' "$log" | grep -v '^ \+at \|^--' | cut -c1-2000 || true
  if [ "$status" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
rm -f "$log"
echo "restore-property: $passed passed, $failed failed"
[ "$failed" = 0 ]
