#!/usr/bin/env bash
# Issue 21 part 5: the envelope exporter's cost. Alternates `otlp -> batch -> otlp`
# (loadgen/bench/otlp-batch-otlp.yaml) and the same pipeline with the envelope exporter
# beside the otlp one (loadgen/bench/otlp-envelope.yaml) N times with scripts/bench-pairs.sh,
# both fed the same spans: 1% of traces failing (one error span in 100 traces of 5 spans),
# a commit resource attribute and HTTP attributes on each root span, so every failing
# trace is assembled into an envelope by builtin:envelope. Then one more run of the
# envelope pipeline reads the holder's gauges at the end of its measured run and prints
# the bytes held per span against the spans' protobuf size on the wire.
#
#   scripts/bench-envelope.sh [N [TRACEMEND_BINARY]]     (defaults: 5, target/release/tracemend)
#
# Ports: BENCH_* as for scripts/bench-collector.sh (set them when the defaults are taken).
set -euo pipefail
N=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${2:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tracemend}
COMMIT=9fceb02d0ae598e95dc970b74767f19372d61af8
# The exporter reads its bearer token from here; the sink does not check it.
export BENCH_ENGINE_TOKEN=bench
FLAGS=(--error-ratio 0.002 --spans-per-trace 5
    "--loadgen-arg=--resource-attribute=vcs.ref.head.revision=$COMMIT"
    --loadgen-arg=--http-attributes)

echo "== spans per CPU-second: otlp-batch-otlp (base) vs otlp-envelope (other)"
"$ROOT/scripts/bench-pairs.sh" "$N" "$BIN" "$ROOT/loadgen/bench/otlp-batch-otlp.yaml" \
    "$BIN" "$ROOT/loadgen/bench/otlp-envelope.yaml" "${FLAGS[@]}"

echo "== bytes held per span (otlp-envelope, gauges at the end of a 10 s run)"
out=$("$ROOT/scripts/bench-collector.sh" --no-baseline --duration 10s --scrape "${FLAGS[@]}" \
    "$BIN" "$ROOT/loadgen/bench/otlp-envelope.yaml" 2>&1) || { echo "$out" | tail -20 >&2; exit 1; }
echo "$out" | grep -E 'tracemend_envelope|per CPU-second'
echo "$out" | grep '^result:' | sed 's/^result: //' | python3 -c '
import json, sys
r = json.load(sys.stdin)
held = r.get("held", {})
spans = held.get("tracemend_envelope_spans_held", 0)
held_bytes = held.get("tracemend_envelope_bytes_held", 0)
wire = r["wire_bytes_per_item"]
if spans <= 0:
    sys.exit("no spans held at the end of the run: nothing to divide")
per_span = held_bytes / spans
print(f"held {spans:.0f} spans in {held_bytes:.0f} bytes: {per_span:.0f} bytes per span, "
      f"{wire:.0f} protobuf bytes per span on the wire: {per_span / wire:.2f}x")
'
