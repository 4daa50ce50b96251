#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ one after another, each for FUZZ_SECONDS (default 600), on
# one core, and prints libFuzzer's figures for each: executions, corpus size, coverage (cov/ft of
# the final status line), crashes.
#
# Usage: scripts/fuzz.sh [target ...]     (default: every target `cargo fuzz list` names)
# Environment: FUZZ_SECONDS (default 600), FUZZ_SANITIZER (address, the default, or none),
# FUZZ_CMIN=1 (minimise each corpus with `cargo fuzz cmin` after its run), FUZZ_LOG_DIR (where the
# full libFuzzer logs go; default fuzz/logs, ignored by git).
#
# Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets it take the nightly flags cargo fuzz
# passes (-Zsanitizer, -Cpasses=sancov-module). Installs cargo-fuzz when it is missing. Each run
# starts from fuzz/seeds/<target> (hand-picked real inputs, read only) and fuzz/corpus/<target>,
# where the inputs it finds are added (both kept in git); crashes land in fuzz/artifacts/<target>
# (not kept; minimised reproducers go to fuzz/regressions/<target>).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

export RUSTC_BOOTSTRAP=1
seconds=${FUZZ_SECONDS:-600}
sanitizer=${FUZZ_SANITIZER:-address}
log_dir=${FUZZ_LOG_DIR:-logs}
mkdir -p "$log_dir"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)

# One core: pinned when taskset is there; libFuzzer itself runs one process, one thread.
pin=()
command -v taskset >/dev/null 2>&1 && pin=(taskset -c "${FUZZ_CPU:-0}")

cargo fuzz build -s "$sanitizer"

summary=()
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="$log_dir/$t.log"
  before=$(find "artifacts/$t" -type f | wc -l)
  echo "== $t: ${seconds}s (log: $(realpath "$log"))" >&2
  rc=0
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  "${pin[@]}" cargo fuzz run -s "$sanitizer" "$t" "corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 >"$log" 2>&1 || rc=$?
  status_line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -E -n 's/^#([0-9]+).*/\1/p' <<<"$status_line")
  cov=$(grep -oE 'cov: [0-9]+' <<<"$status_line" | grep -oE '[0-9]+' || echo '?')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$status_line" | grep -oE '[0-9]+' || echo '?')
  corp_units=$(find "corpus/$t" -type f | wc -l)
  corp_line=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$status_line" | cut -d' ' -f2 || echo '?')
  crashes=$(($(find "artifacts/$t" -type f | wc -l) - before))
  if [ "$rc" -ne 0 ]; then
    status=1
    grep -E "panicked at|^==[0-9]+==ERROR|^SUMMARY|Test unit written to" "$log" | head -5 >&2 || true
  fi
  if [ "${FUZZ_CMIN:-0}" = 1 ] && [ "$rc" -eq 0 ]; then
    cargo fuzz cmin -s "$sanitizer" "$t" "corpus/$t" >"$log_dir/$t.cmin.log" 2>&1 || true
    corp_units="$corp_units -> $(find "corpus/$t" -type f | wc -l) after cmin"
  fi
  corp_bytes=$(du -sb "corpus/$t" | cut -f1)
  summary+=("$(printf '%-18s execs=%-10s corp=%s (libFuzzer)  corpus/=%s files (%s bytes)  cov=%-6s ft=%-6s crashes=%s exit=%s' \
    "$t" "${execs:-?}" "$corp_line" "$corp_units" "$corp_bytes" "$cov" "$ft" "$crashes" "$rc")")
  echo "   final: ${status_line:-none}" >&2
done

echo
echo "fuzzing for ${seconds}s per target, sanitizer ${sanitizer}, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%s\n' "${summary[@]}"
exit "$status"
