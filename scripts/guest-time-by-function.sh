#!/usr/bin/env bash
# Time by function, the redact guest beside the same engine compiled natively, in µs per
# batch of 128 spans: `perf record` with the software cpu-clock event (no hardware
# counters needed, so it works in a VM), guest functions named from wasmtime's perf map.
#
#   scripts/guest-time-by-function.sh [GUEST.wasm] [GUEST_CALLS] [NATIVE_CALLS]
#
# Why beside scripts/guest-icount.sh: instruction counts do not show where the guest is
# slow for other reasons. Here the keyword walk ran 1.4x native time on 1.6x its
# instructions while the gating pass ran 1.4x time on 1.1x instructions, and wasmtime's
# epoch checks cost the phone-shape scan a third of its time but the gating pass almost
# nothing; `REDACT_BENCH_NO_EPOCH=1` in the environment measures the guest without them.
#
# Figures carry perf's sampling overhead (totals about a fifth above the benchmark's
# fastest rounds) and the machine's noise: compare functions and runs made alike, not
# these figures with the benchmark's. The host's share of the call (request clone,
# malloc, the view) is listed too; the noop guest pays it as well.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WASM=$(realpath "${1:-$ROOT/guest-crates/target/wasm32-wasip2/release/redact.wasm}")
GUEST_CALLS=${2:-6000}
NATIVE_CALLS=${3:-15000}
command -v perf >/dev/null || { echo "perf is not installed (Debian: linux-perf)" >&2; exit 2; }
[[ -f $WASM ]] || { echo "no guest at $WASM: run guest-crates/build.sh" >&2; exit 2; }

WORK=$(mktemp -d -t guest-time.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
BENCH=$("$ROOT/scripts/redact-bench-exe.sh")
(cd "$ROOT/guest-crates" && cargo build -q --release -p redact-core --example bench_native)
NATIVE=$ROOT/guest-crates/target/release/examples/bench_native

export REDACT_BENCH_CACHE=$WORK/cache REDACT_BENCH_WASM="measured=$WASM" REDACT_BENCH_ONLY_EXTRA=1 \
    TRACEMEND_WASM_PERFMAP=1
# Compile ahead, so the profile holds calls only.
(cd "$ROOT/wasm-host" && REDACT_BENCH_CALLS=0 "$BENCH" >/dev/null 2>&1)
(cd "$ROOT/wasm-host" && REDACT_BENCH_CALLS=$GUEST_CALLS \
    perf record -q -e cpu-clock -F 10000 -o "$WORK/guest.data" "$BENCH" >/dev/null 2>&1)
BENCH_NATIVE_CALLS=$NATIVE_CALLS \
    perf record -q -e cpu-clock -F 10000 -o "$WORK/native.data" "$NATIVE" >/dev/null 2>&1

python3 - "$WORK/guest.data" "$GUEST_CALLS" "$WORK/native.data" "$NATIVE_CALLS" <<'EOF'
import collections, re, subprocess, sys

def demangle(name):
    """`_ZN11redact_core6detect4gate17h...E` (the perf map's form) -> `redact_core::detect::gate`."""
    m = re.match(r"_ZN(.*)17h[0-9a-f]{16}E$", name)
    if not m:
        return name
    parts, s = [], m.group(1)
    while s:
        n = re.match(r"\d+", s)
        if not n:
            return name
        k, s = int(n.group()), s[len(n.group()):]
        parts.append(s[:k])
        s = s[k:]
    return "::".join(parts).replace("_$u7b$$u7b$closure$u7d$$u7d$", "{{closure}}")

def per_call(data, calls):
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "sym",
                          "-F", "sample,sym", "--stdio"], capture_output=True, text=True).stdout
    us = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+\[\.\]\s+(.*)", line)
        if m:
            # 10,000 samples a second.
            us[demangle(m.group(2).strip())] += int(m.group(1)) / 10_000 / calls * 1e6
    return us

guest = per_call(sys.argv[1], int(sys.argv[2]))
native = per_call(sys.argv[3], int(sys.argv[4]))
print(f"{'µs per batch of 128 spans':64} {'guest':>7} {'native':>7}")
for name, t in guest.most_common(20):
    n = native.get(name, 0.0)
    print(f"{name[:64]:64} {t:7.1f} {n:7.1f}" + (f"  {t / n:4.2f}x" if n > 1 else ""))
print(f"{'native, all functions':64} {'':7} {sum(native.values()):7.1f}")
EOF
