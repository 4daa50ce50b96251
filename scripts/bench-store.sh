#!/usr/bin/env bash
# Storage-engine benchmark: Coffer's store against restic and `tar -c | zstd -1` on the same
# generated data set (scripts/bench_data.py: 2,000 files, ~1 GiB, half text-like, half random).
#
# One round: coffer backup 1, restic backup 1, mutate 5 % of the files, coffer backup 2 (parent 1),
# restic backup 2, coffer restore of 2, restic restore, coffer verify, restic check --read-data,
# tar | zstd -1. ROUNDS rounds (default 3), each from freshly generated data and empty
# repositories, so the two engines alternate step by step; the table gives each step's median
# and range. Every step starts with a cold page cache when /proc/sys/vm/drop_caches is writable,
# and its wall time includes a final sync. MB/s is always the whole data set over the wall time.
#
# Environment: BENCH_DIR (work directory; default a fresh temporary one, removed at the end),
# BENCH_MIB (data set size, default 1024), ROUNDS (default 3), BENCH_KEEP=1 (keep data and
# repositories).
# Installs restic, zstd and GNU time from Debian when they are missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*" >&2; }

missing=()
command -v restic >/dev/null 2>&1 || missing+=(restic)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  for tool in restic zstd; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool is missing; install it (or run as root on Debian)" >&2; exit 1; }
  done
fi

if [ -n "${BENCH_DIR:-}" ]; then
  mkdir -p "$BENCH_DIR"
  W=$(cd "$BENCH_DIR" && pwd)
  [ "$W" != / ] || { echo "BENCH_DIR must not be /" >&2; exit 1; }
  OWN_DIR=0
else
  W=$(mktemp -d "${TMPDIR:-/tmp}/bench-store.XXXXXX")
  OWN_DIR=1
fi
WORK=(data coffer-repo coffer-restore restic-repo restic-cache restic-restore data.tar.zst)
clean() { (cd "$W" && rm -rf -- "${WORK[@]}"); }
finish() {
  if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept everything in $W"
  elif [ "$OWN_DIR" = 1 ]; then rm -rf -- "$W"
  else clean; rm -rf -- "$W/logs" "$W/results.tsv"
  fi
}
clean
rm -rf -- "$W/logs" "$W/results.tsv"
trap finish EXIT
mkdir -p "$W/logs"
D=$W/data

say "building examples/store_bench (release)"
cargo build --release --quiet --example store_bench
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BENCH=$TARGET/release/examples/store_bench

export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=$W/restic-repo RESTIC_CACHE_DIR=$W/restic-cache
ROUNDS=${ROUNDS:-3}

COLD=yes
cold() {
  sync
  if ! { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null; then
    [ "$COLD" = no ] || say "cannot drop the page cache (not root?); steps run with a warm cache"
    COLD=no
  fi
}

# step LABEL CMD...: cold cache, then wall time (including sync), CPU, peak RSS, the load average
# before the step and the CPU seconds other processes used meanwhile, appended to results.tsv;
# the command's output goes to logs/LABEL.
step() {
  local label=$1; shift
  cold
  say "$label"
  python3 - "$W" "$label" "$@" <<'PY'
import os, re, resource, subprocess, sys, tempfile, time
work, label, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
gnu_time = os.access("/usr/bin/time", os.X_OK)
rusage = tempfile.NamedTemporaryFile(dir=work, suffix=".rusage", delete=False).name
if gnu_time:
    cmd = ["/usr/bin/time", "-v", "-o", rusage] + cmd
def busy():
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, open("/proc/stat").readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
load, busy_before = os.getloadavg()[0], busy()
start = time.monotonic()
with open(os.path.join(work, "logs", label), "w") as log:
    subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True)
os.sync()
wall, busy_during = time.monotonic() - start, busy() - busy_before
if gnu_time:
    text = open(rusage).read()
    field = lambda name: float(re.search(rf"{name}: ([\d.]+)", text).group(1))
    cpu, rss_kib = field(r"User time \(seconds\)") + field(r"System time \(seconds\)"), field(r"Maximum resident set size \(kbytes\)")
else:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, rss_kib = ru.ru_utime + ru.ru_stime, ru.ru_maxrss
os.unlink(rusage)
with open(os.path.join(work, "results.tsv"), "a") as out:
    out.write(f"{label}\t{wall:.3f}\t{cpu:.2f}\t{rss_kib / 1024:.1f}\t{load:.2f}\t{max(0.0, busy_during - cpu):.2f}\n")
PY
}

for ROUND in $(seq 1 "$ROUNDS"); do
  clean
  mkdir -p "$W/logs/$ROUND"
  say "round $ROUND of $ROUNDS: generating the data set in $D"
  python3 scripts/bench_data.py gen "$D" --mib "${BENCH_MIB:-1024}"
  BYTES=$(find "$D" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
  restic init -q
  say "load before the round: $(cut -d' ' -f1-3 /proc/loadavg)"
  step "$ROUND/coffer_backup_1"  "$BENCH" backup "$D" "$W/coffer-repo" b1
  step "$ROUND/restic_backup_1"  restic backup --host bench "$D"
  python3 scripts/bench_data.py mutate "$D" --percent 5 >&2
  step "$ROUND/coffer_backup_2"  "$BENCH" backup "$D" "$W/coffer-repo" b2 b1
  step "$ROUND/restic_backup_2"  restic backup --host bench "$D"
  step "$ROUND/coffer_restore"   "$BENCH" restore "$W/coffer-repo" b2 "$W/coffer-restore"
  diff -r "$D" "$W/coffer-restore" >&2 && say "coffer restore is identical to the data"
  step "$ROUND/restic_restore"   restic restore latest --target "$W/restic-restore"
  diff -r "$D" "$W/restic-restore$D" >&2 && say "restic restore is identical to the data"
  step "$ROUND/coffer_verify"    "$BENCH" verify "$W/coffer-repo" b2
  step "$ROUND/restic_verify"    restic check --read-data
  step "$ROUND/tar_zstd1"        sh -c 'tar -C "$1" -cf - data | zstd -1 -q -o "$1/data.tar.zst"' sh "$W"
done

python3 - "$W" "$BYTES" "$COLD" "$(restic version | head -1)" <<'PY'
import json, os, re, statistics, sys
work, nbytes, cold, restic_version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
runs = {}
for line in open(os.path.join(work, "results.tsv")):
    label, *values = line.split("\t")
    runs.setdefault(label.split("/", 1)[1], []).append(dict(zip(["wall", "cpu", "rss", "load", "other"], map(float, values))))
rounds = len(runs["coffer_backup_1"])
# Each column's median over the rounds; the wall time's range is printed beside the table.
rows = {label: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for label, rs in runs.items()}

def size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)

def cell(r):
    return f"{nbytes / r['wall'] / 1e6:8.1f} {r['wall']:7.2f} {r['cpu']:7.2f} {r['rss']:8.1f} {r['load']:5.2f} {r['other']:6.2f}"

print(f"\ndata set: {nbytes:,} B in {work}/data; cold cache: {cold}; {restic_version}; {os.cpu_count()} CPUs; "
      f"medians of {rounds} rounds")
print("MB/s = whole data set / wall seconds; wall includes a final sync; CPU = user+sys seconds; RSS = peak MiB;")
print("load = 1-minute load average before the step (includes the previous step); other = CPU seconds used by")
print("other processes during the step; speed x = restic wall / coffer wall (>1: coffer faster)\n")
head = f"{'MB/s':>8} {'wall s':>7} {'CPU s':>7} {'RSS MiB':>8} {'load':>5} {'other':>6}"
print(f"{'':<24} | {'coffer':<{len(head)}} | {'restic':<{len(head)}} | coffer/restic")
print(f"{'step':<24} | {head} | {head} | speed x  RSS x")
for name, key in [("first backup", "backup_1"), ("backup after 5% change", "backup_2"), ("restore", "restore"), ("verify (read all data)", "verify")]:
    c, r = rows[f"coffer_{key}"], rows[f"restic_{key}"]
    print(f"{name:<24} | {cell(c)} | {cell(r)} | {r['wall'] / c['wall']:7.2f} {c['rss'] / r['rss']:6.2f}")
print(f"{'tar -c | zstd -1':<24} | {cell(rows['tar_zstd1'])} |")
print("\nwall seconds per round (min-max), and speed x per round (restic wall / coffer wall, same round):")
for key in ["backup_1", "backup_2", "restore", "verify"]:
    c, r = runs[f"coffer_{key}"], runs[f"restic_{key}"]
    walls = lambda rs: f"{min(x['wall'] for x in rs):.2f}-{max(x['wall'] for x in rs):.2f}"
    ratios = ", ".join(f"{b['wall'] / a['wall']:.2f}" for a, b in zip(c, r))
    print(f"  {key:<10} coffer {walls(c)}  restic {walls(r)}  speed x {ratios}")
print(f"  tar_zstd1  {min(x['wall'] for x in runs['tar_zstd1']):.2f}-{max(x['wall'] for x in runs['tar_zstd1']):.2f}; "
      f"coffer first backup / tar|zstd speed per round: "
      + ", ".join(f"{t['wall'] / c['wall']:.2f}" for c, t in zip(runs['coffer_backup_1'], runs['tar_zstd1'])))
gib = nbytes / 2**30
print("\nCPU seconds per GiB of the data set:")
for name, key in [("first backup", "backup_1"), ("restore", "restore"), ("verify", "verify")]:
    print(f"  {name:<14} coffer {rows['coffer_' + key]['cpu'] / gib:6.2f}   restic {rows['restic_' + key]['cpu'] / gib:6.2f}")
print(f"  {'tar | zstd -1':<14} {rows['tar_zstd1']['cpu'] / gib:6.2f}")

print(f"\nstored: coffer repo {size(os.path.join(work, 'coffer-repo')):,} B, restic repo {size(os.path.join(work, 'restic-repo')):,} B, "
      f"data.tar.zst {size(os.path.join(work, 'data.tar.zst')):,} B")
for n in (1, 2):
    c = json.loads(open(os.path.join(work, "logs", str(rounds), f"coffer_backup_{n}")).read().strip().splitlines()[-1])
    added = [l.strip() for l in open(os.path.join(work, "logs", str(rounds), f"restic_backup_{n}")) if re.match(r"\s*(Added|Files:)", l)]
    print(f"backup {n}: coffer new_bytes_stored={c['new_bytes_stored']:,} new_chunks={c['new_chunks']} "
          f"unchanged_files={c['unchanged_files']} (own timer {c['seconds']} s); restic: {'; '.join(added)}")
first, second = (json.loads(open(os.path.join(work, "logs", str(rounds), f"coffer_backup_{n}")).read().strip().splitlines()[-1]) for n in (1, 2))
print(f"coffer's backup after the change: {rows['coffer_backup_2']['wall'] / rows['coffer_backup_1']['wall']:.3f}x the first's wall time "
      f"(medians), {second['new_bytes_stored'] / first['new_bytes_stored'] * 100:.1f} % of its bytes written")
PY
