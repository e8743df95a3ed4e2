#!/usr/bin/env bash
# Instruction counts of the redact guest and of the same engine compiled natively, per
# batch of 128 spans, by function: deterministic where times on a shared VM are not
# (the same binary's time moved 1.5x between runs here; its instruction count moves by
# less than 0.1%). Instructions are not time, but a change that removes them from the
# guest's hot functions shows up here at any machine load.
#
#   scripts/guest-icount.sh [GUEST.wasm] [CALLS]
#
# GUEST.wasm defaults to the current build (guest-crates/build.sh). Needs valgrind
# (Debian: `apt-get install valgrind`). Each side runs twice, with 0 calls and with
# CALLS (default 20), and the difference is divided by CALLS, so startup, compiling
# and `configure` are left out. The guest's functions are named from wasmtime's perf map
# (TRACEMEND_WASM_PERFMAP=1), joined with callgrind's per-instruction costs by
# scripts/callgrind_by_function.py; "(not guest)" is the host's share of the call
# (the benchmark's request clone, the view, lowering, applying edits).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WASM=$(realpath "${1:-$ROOT/guest-crates/target/wasm32-wasip2/release/redact.wasm}")
CALLS=${2:-20}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
[[ -f $WASM ]] || { echo "no guest at $WASM: run guest-crates/build.sh" >&2; exit 2; }

WORK=$(mktemp -d -t guest-icount.XXXXXX)
# `ICOUNT_KEEP=1` keeps the profiles, perf maps and compiled guest for
# `callgrind_by_function.py --annotate` (the command is printed at the end).
[[ -n ${ICOUNT_KEEP:-} ]] || trap 'rm -rf "$WORK"' EXIT

BENCH=$("$ROOT/scripts/redact-bench-exe.sh")
export REDACT_BENCH_CACHE=$WORK/cache REDACT_BENCH_WASM="measured=$WASM" REDACT_BENCH_ONLY_EXTRA=1
# Compile once before the measured runs, which then load from this cache. Under
# valgrind (its instrumentation-free tool: fast) and with the perf map on, as
# below: the CPU features wasmtime sees and the profiler setting are part of the
# cache key, and valgrind's CPU lacks some of the host's.
(cd "$ROOT/wasm-host" && TRACEMEND_WASM_PERFMAP=1 REDACT_BENCH_CALLS=0 \
    valgrind --tool=none "$BENCH" >/dev/null 2>&1)
for n in 0 "$CALLS"; do
    mkdir -p "$WORK/run-$n"
    # The perf map is named after the pid: valgrind's own, which `exec` keeps.
    (cd "$ROOT/wasm-host" && exec env TRACEMEND_WASM_PERFMAP=1 REDACT_BENCH_CALLS=$n \
        valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$WORK/run-$n/out" \
        "$BENCH" >/dev/null 2>"$WORK/run-$n/log") &
    pid=$!
    wait "$pid"
    mv "/tmp/perf-$pid.map" "$WORK/run-$n/map"
done
echo "== guest ($WASM), per call of 128 spans"
python3 "$ROOT/scripts/callgrind_by_function.py" "$WORK/run-0/out" "$WORK/run-0/map" \
    "$WORK/run-$CALLS/out" "$WORK/run-$CALLS/map" "$CALLS"
if [[ -n ${ICOUNT_KEEP:-} ]]; then
    echo "annotate a function: python3 $ROOT/scripts/callgrind_by_function.py --annotate NAME_PART" \
        "$WORK/run-$CALLS/out $WORK/run-$CALLS/map $CALLS $WORK/cache"
fi

[[ -n ${GUEST_ONLY:-} ]] && exit 0
echo "== native engine, per batch of 128 spans"
(cd "$ROOT/guest-crates" && cargo build -q --release -p redact-core --example bench_native)
NATIVE=$ROOT/guest-crates/target/release/examples/bench_native
for n in 0 "$CALLS"; do
    BENCH_NATIVE_CALLS=$n valgrind --tool=cachegrind --cache-sim=no \
        --cachegrind-out-file="$WORK/native-$n.out" "$NATIVE" >/dev/null 2>&1
done
python3 - "$WORK/native-0.out" "$WORK/native-$CALLS.out" "$CALLS" <<'EOF'
import collections, re, subprocess, sys
def by_fn(path):
    out = subprocess.run(["cg_annotate", path], capture_output=True, text=True).stdout
    cost, on = collections.Counter(), False
    for line in out.splitlines():
        if "file:function" in line:
            on = True
            continue
        if not on or not line.strip():
            continue
        if line.startswith("--"):
            # The rule under the header, then the one after the table.
            if cost:
                break
            continue
        # `12,345 (1.23%)  file:function`, the percentage only in some
        # valgrind versions.
        m = re.match(r"\s*([\d,]+)\s+(?:\([\d.]+%\)\s+)?(.*)$", line)
        if m:
            cost[m.group(2).split(":", 1)[-1]] += int(m.group(1).replace(",", ""))
    return cost
a, b, calls = by_fn(sys.argv[1]), by_fn(sys.argv[2]), int(sys.argv[3])
per = {k: (b.get(k, 0) - a.get(k, 0)) / calls for k in set(a) | set(b)}
total = sum(per.values())
print(f"instructions per batch: {total:,.0f}")
for k, n in sorted(per.items(), key=lambda kv: -kv[1])[:15]:
    print(f"{n:12,.0f} {100 * n / total:5.1f}%  {k[:110]}")
EOF
