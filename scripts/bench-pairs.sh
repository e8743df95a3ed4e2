#!/usr/bin/env bash
# Alternates two collector benchmarks N times and prints each pair's items per
# CPU-second and their ratio: on a shared VM whose speed drifts by tens of percent
# between minutes, a ratio is only meaningful between runs taken back to back.
#
#   scripts/bench-pairs.sh N BASE_BINARY BASE_CONFIG OTHER_BINARY OTHER_CONFIG [bench-collector options]
#
# Example, issue 3's comparison (no-op WASM against passthrough at 128 spans a request):
#
#   scripts/bench-pairs.sh 5 target/release/tracemend loadgen/bench/otlp-batch-otlp.yaml \
#       target/release/tracemend loadgen/bench/otlp-wasm-noop-otlp.yaml \
#       --batch-size 128 --attributes 8
#
# Each run is `scripts/bench-collector.sh --no-baseline --duration 10s` plus the options
# given (later options win); LOADGEN as there. Only one benchmark may run at a time:
# both bind the same ports.
set -euo pipefail
if [[ $# -lt 5 ]]; then
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
N=$1 BASE_BIN=$2 BASE_CFG=$3 OTHER_BIN=$4 OTHER_CFG=$5
shift 5
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# per_cpu BINARY CONFIG: one run's items per CPU-second.
per_cpu() {
    local out
    out=$("$ROOT/scripts/bench-collector.sh" --no-baseline --duration 10s "$@" 2>&1) || {
        echo "$out" | tail -20 >&2
        return 1
    }
    echo "$out" | grep -o '[0-9]* [a-z_]* per CPU-second' | awk '{print $1}'
}

echo "pair base other ratio"
for i in $(seq "$N"); do
    b=$(per_cpu "$@" "$BASE_BIN" "$BASE_CFG")
    o=$(per_cpu "$@" "$OTHER_BIN" "$OTHER_CFG")
    echo "$i $b $o $(awk -v b="$b" -v o="$o" 'BEGIN { printf "%.1f%%", 100 * o / b }')"
done
