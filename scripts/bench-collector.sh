#!/usr/bin/env bash
# Benchmarks a collector binary with tracemend-loadgen, the recipe of issue 2:
#
#   loadgen (core 1) --OTLP--> collector (core 0, taskset) --OTLP--> loadgen sink (core 1)
#
# First, as a same-run baseline, loadgen sends straight to the sink (no collector), with
# the same placement and flags, so results can be recorded as ratios that hold across
# machines. Then the collector runs pinned to one core with the given config, and the
# script prints achieved items/s, client latency p50/p99, the collector's CPU use and
# peak RSS (VmHWM), and how many items reached the sink.
#
# Usage: scripts/bench-collector.sh [options] TRACEMEND_BINARY CONFIG.yaml
# See loadgen/README.md ("Benchmark recipe") and `--help`.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench-collector.sh [options] TRACEMEND_BINARY CONFIG.yaml

Runs TRACEMEND_BINARY --config CONFIG.yaml pinned to one core, drives it with
tracemend-loadgen on the other core, and counts what comes out in the loadgen sink.

The config should read its addresses from these variables (set by this script;
override them in the environment if the ports are taken):
  BENCH_COLLECTOR_GRPC  collector OTLP/gRPC receiver   (default 127.0.0.1:4317)
  BENCH_COLLECTOR_HTTP  collector OTLP/HTTP receiver   (default 127.0.0.1:4318)
  BENCH_SINK_GRPC       sink OTLP/gRPC, exporter target (default 127.0.0.1:14317)
  BENCH_SINK_HTTP       sink OTLP/HTTP                 (default 127.0.0.1:14318)
  BENCH_TMPDIR          scratch directory (e.g. for the file exporter's output)
Ready-made configs: loadgen/bench/otlp-batch-otlp.yaml, loadgen/bench/otlp-file.yaml.

Options (defaults in brackets):
  --signal traces|logs     what to send [traces]
  --protocol grpc|http     how loadgen sends to the collector [grpc]
  --duration D             measured run length [20s]
  --warmup D               unmeasured run before it [3s]
  --workers N              loadgen connections [4]
  --batch-size N           items per request [512]
  --attributes N           attributes per span or record [10]
  --rate R                 items/s, 0 = as fast as the collector answers [0]
  --error-ratio F          fraction of spans with error status (0 to 1), for sampling
                           configs whose policies keep errors [0]
  --spans-per-trace N      spans per trace [5]
  --collector-core N       core for the collector [0]
  --loadgen-core N         core for loadgen and the sink [1]
  --no-baseline            skip the loadgen -> sink baseline
  --settle SECONDS         wait after sending before stopping the collector [3]
  --loadgen-arg ARG        one more argument for every loadgen run (repeatable), e.g.
                           --loadgen-arg=--http-attributes
  --scrape                 at the end of the measured run, save the collector's
                           metrics from BENCH_METRICS (the config must serve them
                           there) and print the tracemend_*_held gauges and the envelope counters
Environment: LOADGEN=path to tracemend-loadgen (else built with cargo --release);
BENCH_METRICS, the metrics address for --scrape [127.0.0.1:18888].
EOF
}

SIGNAL=traces PROTOCOL=grpc DURATION=20s WARMUP=3s WORKERS=4 BATCH=512 ATTRS=10 RATE=0
ERROR_RATIO=0 SPANS_PER_TRACE=5
COLLECTOR_CORE=0 LOADGEN_CORE=1 BASELINE=1 SETTLE=3 SCRAPE=0
POSITIONAL=() LOADGEN_ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --signal) SIGNAL=$2; shift 2 ;;
        --protocol) PROTOCOL=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --batch-size) BATCH=$2; shift 2 ;;
        --attributes) ATTRS=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --error-ratio) ERROR_RATIO=$2; shift 2 ;;
        --spans-per-trace) SPANS_PER_TRACE=$2; shift 2 ;;
        --collector-core) COLLECTOR_CORE=$2; shift 2 ;;
        --loadgen-core) LOADGEN_CORE=$2; shift 2 ;;
        --no-baseline) BASELINE=0; shift ;;
        --settle) SETTLE=$2; shift 2 ;;
        --loadgen-arg) LOADGEN_ARGS+=("$2"); shift 2 ;;
        --loadgen-arg=*) LOADGEN_ARGS+=("${1#--loadgen-arg=}"); shift ;;
        --scrape) SCRAPE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
        *) POSITIONAL+=("$1"); shift ;;
    esac
done
if [[ ${#POSITIONAL[@]} -ne 2 ]]; then
    usage >&2
    exit 2
fi
TRACEMEND=$(realpath "${POSITIONAL[0]}")
CONFIG=$(realpath "${POSITIONAL[1]}")
[[ -x $TRACEMEND ]] || { echo "not an executable: $TRACEMEND" >&2; exit 2; }
[[ -f $CONFIG ]] || { echo "no such config: $CONFIG" >&2; exit 2; }
case $SIGNAL in traces) ITEM_KEY=spans ;; logs) ITEM_KEY=log_records ;; *) echo "bad --signal" >&2; exit 2 ;; esac
case $PROTOCOL in grpc|http) ;; *) echo "bad --protocol" >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z ${LOADGEN:-} ]]; then
    # A debug loadgen would measure itself, not the collector: always release.
    (cd "$ROOT" && cargo build --release -q -p loadgen)
    LOADGEN=${CARGO_TARGET_DIR:-$ROOT/target}/release/tracemend-loadgen
fi
[[ -x $LOADGEN ]] || { echo "no loadgen binary at $LOADGEN" >&2; exit 2; }

export BENCH_COLLECTOR_GRPC=${BENCH_COLLECTOR_GRPC:-127.0.0.1:4317}
export BENCH_COLLECTOR_HTTP=${BENCH_COLLECTOR_HTTP:-127.0.0.1:4318}
export BENCH_SINK_GRPC=${BENCH_SINK_GRPC:-127.0.0.1:14317}
export BENCH_SINK_HTTP=${BENCH_SINK_HTTP:-127.0.0.1:14318}
export BENCH_METRICS=${BENCH_METRICS:-127.0.0.1:18888}
BENCH_TMPDIR=$(mktemp -d -t bench-collector.XXXXXX)
export BENCH_TMPDIR
export RUST_LOG=${RUST_LOG:-warn}

SINK_PID='' COLLECTOR_PID=''
cleanup() {
    # Only the processes this script started, by pid.
    [[ -n $COLLECTOR_PID ]] && kill -TERM "$COLLECTOR_PID" 2>/dev/null || true
    [[ -n $SINK_PID ]] && kill -TERM "$SINK_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

# wait_port HOST:PORT SECONDS PID: waits until something accepts on the port, failing
# early if PID has exited.
wait_port() {
    local host=${1%:*} port=${1##*:} deadline=$((SECONDS + $2))
    while ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
        if ! kill -0 "$3" 2>/dev/null; then
            echo "process $3 exited before listening on $1" >&2
            return 1
        fi
        if ((SECONDS > deadline)); then
            echo "nothing listening on $1 after $2 s" >&2
            return 1
        fi
        sleep 0.1
    done
}

start_sink() {
    taskset -c "$LOADGEN_CORE" "$LOADGEN" sink --grpc "$BENCH_SINK_GRPC" --http "$BENCH_SINK_HTTP" \
        --report-interval 0s --json >"$BENCH_TMPDIR/sink-$1.json" 2>"$BENCH_TMPDIR/sink-$1.log" &
    SINK_PID=$!
    wait_port "$BENCH_SINK_GRPC" 10 "$SINK_PID"
}

stop_sink() {
    kill -TERM "$SINK_PID"
    wait "$SINK_PID" || true
    SINK_PID=''
}

# load ENDPOINT DURATION OUT_FILE: one loadgen run on the loadgen core.
load() {
    taskset -c "$LOADGEN_CORE" "$LOADGEN" "$SIGNAL" --protocol "$PROTOCOL" --endpoint "$1" \
        --workers "$WORKERS" --batch-size "$BATCH" --attributes "$ATTRS" --rate "$RATE" \
        --error-ratio "$ERROR_RATIO" --spans-per-trace "$SPANS_PER_TRACE" \
        --duration "$2" --json ${LOADGEN_ARGS[@]+"${LOADGEN_ARGS[@]}"} >"$3"
}

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    read -r -a f <<<"$stat"
    # After the ")": state is field 3, utime 14, stime 15 -> indexes 11 and 12.
    echo $((f[11] + f[12]))
}

CLK_TCK=$(getconf CLK_TCK)
MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "machine: $(nproc) cores, ${MODEL:-unknown CPU}, $(uname -sr)"
echo "run: $SIGNAL over $PROTOCOL, batch $BATCH, $WORKERS workers, $ATTRS attributes, $SPANS_PER_TRACE spans per trace, error ratio $ERROR_RATIO, rate ${RATE} (0 = flat out), ${DURATION} after ${WARMUP} warmup"
echo "placement: collector on core $COLLECTOR_CORE, loadgen and sink on core $LOADGEN_CORE"

sink_endpoint() { if [[ $PROTOCOL == grpc ]]; then echo "$BENCH_SINK_GRPC"; else echo "http://$BENCH_SINK_HTTP"; fi; }
collector_endpoint() { if [[ $PROTOCOL == grpc ]]; then echo "$BENCH_COLLECTOR_GRPC"; else echo "http://$BENCH_COLLECTOR_HTTP"; fi; }

if [[ $BASELINE == 1 ]]; then
    start_sink baseline
    load "$(sink_endpoint)" "$WARMUP" "$BENCH_TMPDIR/baseline-warmup.json"
    load "$(sink_endpoint)" "$DURATION" "$BENCH_TMPDIR/baseline.json"
    stop_sink
fi

start_sink collector
taskset -c "$COLLECTOR_CORE" "$TRACEMEND" --config "$CONFIG" >"$BENCH_TMPDIR/collector.log" 2>&1 &
COLLECTOR_PID=$!
if [[ $PROTOCOL == grpc ]]; then RECV=$BENCH_COLLECTOR_GRPC; else RECV=$BENCH_COLLECTOR_HTTP; fi
if ! wait_port "$RECV" 60 "$COLLECTOR_PID"; then
    tail -20 "$BENCH_TMPDIR/collector.log" >&2
    exit 1
fi

load "$(collector_endpoint)" "$WARMUP" "$BENCH_TMPDIR/collector-warmup.json"
CPU0=$(cpu_ticks "$COLLECTOR_PID")
T0=$(date +%s.%N)
load "$(collector_endpoint)" "$DURATION" "$BENCH_TMPDIR/collector.json"
T1=$(date +%s.%N)
CPU1=$(cpu_ticks "$COLLECTOR_PID")
HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$COLLECTOR_PID/status")
if [[ $SCRAPE == 1 ]]; then
    # While the collector still holds the last window's traces.
    curl -fsS "http://$BENCH_METRICS/metrics" >"$BENCH_TMPDIR/metrics.txt" \
        || echo "could not read metrics from $BENCH_METRICS" >&2
fi
# Let the last batches leave the collector before stopping it.
sleep "$SETTLE"
kill -TERM "$COLLECTOR_PID"
COLLECTOR_EXIT=0
wait "$COLLECTOR_PID" || COLLECTOR_EXIT=$?
COLLECTOR_PID=''
stop_sink

export BENCH_TMPDIR ITEM_KEY CPU0 CPU1 T0 T1 HWM_KB CLK_TCK COLLECTOR_EXIT BASELINE SCRAPE
python3 - <<'PY'
import json, os
env = os.environ
tmp = env["BENCH_TMPDIR"]
def load(name):
    with open(os.path.join(tmp, name)) as f:
        return json.load(f)
ms = lambda us: us / 1000
rows = []
if env["BASELINE"] == "1":
    rows.append(("loadgen -> sink", load("baseline.json")))
run = load("collector.json")
rows.append(("loadgen -> collector", run))
print()
print(f"{'':24}{'items/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'failed':>8}")
for name, r in rows:
    l = r["latency_us"]
    print(f"{name:24}{r['items_per_s']:12.0f}{ms(l['p50']):10.3f}{ms(l['p99']):10.3f}"
          f"{ms(l['max']):10.3f}{r['requests_failed']:8d}")
    for status, n in r["failures"].items():
        print(f"{'':24}failure {status}: {n}")
if len(rows) == 2 and rows[0][1]["items_per_s"] > 0:
    print(f"ratio to baseline: {run['items_per_s'] / rows[0][1]['items_per_s']:.3f}")
cpu = (int(env["CPU1"]) - int(env["CPU0"])) / int(env["CLK_TCK"])
wall = float(env["T1"]) - float(env["T0"])
per_cpu_s = run["items_sent"] / cpu if cpu > 0 else 0
print(f"collector CPU: {cpu:.2f} s in {wall:.2f} s = {100 * cpu / wall:.0f}% of one core, "
      f"{per_cpu_s:.0f} {env['ITEM_KEY']} per CPU-second")
print(f"collector peak RSS (VmHWM): {int(env['HWM_KB']) / 1024:.1f} MiB")
warm = load("collector-warmup.json")
sink = load("sink-collector.json")
sent = warm["items_sent"] + run["items_sent"]
failed = warm["items_failed"] + run["items_failed"]
print(f"acknowledged by the collector {sent} (failed {failed}), reached the sink "
      f"{sink[env['ITEM_KEY']]} (warmup included; a file exporter sends nothing to the sink)")
print(f"collector exit status after SIGTERM: {env['COLLECTOR_EXIT']}")
# One line for scripts and for recording in BENCHMARKS.md.
result = {
    "items_per_s": run["items_per_s"],
    "p50_us": run["latency_us"]["p50"],
    "p99_us": run["latency_us"]["p99"],
    "collector_cpu_s": cpu,
    "collector_items_per_cpu_s": per_cpu_s,
    "collector_vmhwm_mib": int(env["HWM_KB"]) / 1024,
    "acknowledged": sent,
    "reached_sink": sink[env["ITEM_KEY"]],
    # Protobuf bytes per item as sent (the mean request body over its items).
    "wire_bytes_per_item": run["request_bytes"] / max(run["batch_size"], 1),
}
if env["SCRAPE"] == "1" and os.path.exists(os.path.join(tmp, "metrics.txt")):
    held = {}
    with open(os.path.join(tmp, "metrics.txt")) as f:
        for line in f:
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name.startswith("tracemend_") and (name.endswith("_held") or name.startswith("tracemend_envelope_")):
                held[name] = held.get(name, 0) + float(line.rsplit(" ", 1)[1])
    for name, value in sorted(held.items()):
        print(f"{name} at the end of the measured run: {value:.0f}")
    result["held"] = held
if len(rows) == 2:
    base = rows[0][1]
    result.update(baseline_items_per_s=base["items_per_s"],
                  baseline_p50_us=base["latency_us"]["p50"],
                  baseline_p99_us=base["latency_us"]["p99"])
print("result:", json.dumps(result))
PY
if [[ -f $BENCH_TMPDIR/out.jsonl ]]; then
    # A file exporter at full speed writes gigabytes; keep the numbers, not the data.
    echo "file exporter wrote $(stat -c %s "$BENCH_TMPDIR/out.jsonl") bytes (deleted)"
    rm -f "$BENCH_TMPDIR/out.jsonl"
fi
echo "raw results: $BENCH_TMPDIR"
