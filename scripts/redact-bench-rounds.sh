#!/usr/bin/env bash
# The redact guest against the same engine compiled natively, in interleaved rounds:
# each round runs every native build given, then the host benchmark (the current guest
# plus any builds named in REDACT_BENCH_WASM), and the fastest of all rounds is kept per
# build and batch size. On a shared VM whose speed drifts by tens of percent between
# minutes, only figures taken in the same rounds are compared.
#
#   scripts/redact-bench-rounds.sh ROUNDS [NATIVE_EXE...]
#
# NATIVE_EXE defaults to the current `bench_native` (built here). Another commit's
# native engine: build `bench_native` from a `git archive` of it and pass its path; its
# guest: REDACT_BENCH_WASM='before=/path/redact.wasm'. REDACT_BENCH_NO_EPOCH=1 passes
# through (guests compiled without epoch checks). Prints the CPU, then, per batch size,
# each build's fastest µs per batch and every guest / native ratio.
set -euo pipefail
if [[ $# -lt 1 ]]; then
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
ROUNDS=$1
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$("$ROOT/scripts/redact-bench-exe.sh")
if [[ $# -eq 0 ]]; then
    (cd "$ROOT/guest-crates" && cargo build -q --release -p redact-core --example bench_native)
    set -- "$ROOT/guest-crates/target/release/examples/bench_native"
fi

# The ratio depends on the CPU's microarchitecture (the same commit measured 1.55x on
# one 2-vCPU "AMD EPYC" VM and 1.43x on another of a later family), so say which:
# the model name alone ("AMD EPYC") does not tell them apart.
cpu=$(awk -F': ' '/^model name/ && !n { name = $2; n = 1 } /^cpu family/ && !f { fam = $2; f = 1 }
    /^model\t/ && !m { mod = $2; m = 1 } /^cache size/ && !c { cache = $2; c = 1 }
    END { printf "%s, family %s model %s, %s cache", name, fam, mod, cache }' /proc/cpuinfo 2>/dev/null || true)
echo "machine: ${cpu:-unknown CPU}, $(nproc) CPUs"
for _ in $(seq "$ROUNDS"); do
    for native in "$@"; do
        # "native engine, 128 spans x 10 attributes (50296 bytes): 159.2 µs/batch, ..."
        "$native" | sed -n "s|^native engine, \([0-9]*\) spans.*: \([0-9.]*\) µs/batch.*|native:$native \1 \2|p"
    done
    # "| redact | 128 | 50296 | 112 µs | 19 µs | 326 µs | 307 µs | ..." (guest engine column)
    (cd "$ROOT/wasm-host" && "$BENCH" --bench 2>/dev/null) |
        awk -F'|' '/^\| [a-z]/ && $3 ~ /[0-9]/ {
            gsub(/ /, "", $2); gsub(/ /, "", $3); v = $8; gsub(/[^0-9.]/, "", v)
            print "guest:" $2, $3, v }'
done | awk '
    { k = $1 " " $2; if (!(k in best) || $3 + 0 < best[k] + 0) best[k] = $3 }
    END {
        for (k in best) { split(k, p, " "); print p[2], p[1], best[k] }
    }' | sort -k1,1n -k2 | awk '
    { spans = $1; side = $2; t = $3
      printf "%5d spans  %-60s %9.1f µs\n", spans, side, t
      if (side ~ /^native:/) nat[spans, ++nn[spans]] = side SUBSEP t
      else gst[spans, ++ng[spans]] = side SUBSEP t }
    END {
        for (s in nn) for (i = 1; i <= nn[s]; i++) for (j = 1; j <= ng[s]; j++) {
            split(nat[s, i], a, SUBSEP); split(gst[s, j], b, SUBSEP)
            printf "%5d spans  %s / %s = %.2fx\n", s, b[1], a[1], b[2] / a[2]
        }
    }'
