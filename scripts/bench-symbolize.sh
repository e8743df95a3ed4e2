#!/usr/bin/env bash
# Issue 22 part 4: the symbolize processor's cost. Makes a small git repository whose
# Python call chain is 30 frames deep, runs it with python3 for a real traceback, indexes
# the repository with tracemend-symbols, and alternates `otlp -> batch -> otlp`
# (loadgen/bench/otlp-batch-otlp.yaml) with `otlp -> wasm/symbolize -> batch -> otlp`
# (loadgen/bench/otlp-symbolize-otlp.yaml) N times with scripts/bench-pairs.sh, both fed
# the same spans: 1% of them with an `exception` event carrying that traceback and the
# resource naming the indexed commit. Then the lookup cost per frame, natively, on the
# same index (the symbols crate's lookup_cost example).
#
#   scripts/bench-symbolize.sh [N [TRACEMEND_BINARY]]    (defaults: 5, target/release/tracemend)
#
# Needs release builds: cargo build --release -p collector -p loadgen -p codeindex
# (SYMBOLS=path names another tracemend-symbols: it only builds the index).
# Ports: BENCH_* as for scripts/bench-collector.sh. BASE_CONFIG and SYMBOLIZE_CONFIG
# name other configs for the two sides (e.g. copies serving metrics off the default
# port on a shared machine); LOOKUP_COST=0 skips the native lookup measurement.
set -euo pipefail
N=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${2:-$TARGET/release/tracemend}
SYMBOLS=${SYMBOLS:-$TARGET/release/tracemend-symbols}
[[ -x $SYMBOLS ]] || { echo "build first: cargo build --release -p codeindex" >&2; exit 2; }

WORK=$(mktemp -d -t bench-symbolize.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
REPO=$WORK/repo
mkdir -p "$REPO/shop"
# Four modules of seven functions each, every one calling the next, the last raising:
# with the entry point and the module frame, a 30-frame traceback.
python3 - "$REPO/shop" <<'PY'
import pathlib, sys
pkg = pathlib.Path(sys.argv[1])
(pkg / "__init__.py").write_text("")
mods = ["orders", "pricing", "stock", "ledger"]
for m, name in enumerate(mods):
    lines = [f'"""Step {m} of the call chain."""', ""]
    if m + 1 < len(mods):
        lines.append(f"from shop import {mods[m + 1]}")
        lines.append("")
    for f in range(7):
        lines.append(f"def step_{f}(order):")
        lines.append(f"    total = order.get('total', 0) + {f}")
        if f < 6:
            lines.append(f"    return step_{f + 1}(order) + total")
        elif m + 1 < len(mods):
            lines.append(f"    return {mods[m + 1]}.step_0(order) + total")
        else:
            lines.append("    return order['missing'] + total")
        lines.append("")
    (pkg / f"{name}.py").write_text("\n".join(lines))
(pkg / "app.py").write_text(
    "from shop import orders\n\n\ndef handle(order):\n    return orders.step_0(order)\n")
PY
cat >"$REPO/main.py" <<'PY'
import traceback
from shop import app

try:
    app.handle({"total": 1})
except KeyError:
    traceback.print_exc()
PY
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
git -C "$REPO" init -q -b main
git -C "$REPO" add -A
git -C "$REPO" commit -q -m "a 30-frame call chain"
SHA=$(git -C "$REPO" rev-parse HEAD)
(cd "$REPO" && python3 -B main.py) 2>"$WORK/stack.txt"
FRAMES=$(grep -c '^  File ' "$WORK/stack.txt")
echo "traceback: $FRAMES frames, $(wc -c <"$WORK/stack.txt") bytes"
"$SYMBOLS" index --repo "$REPO" --commit "$SHA" --out "$WORK/shop.idx" >/dev/null
echo "index: $(stat -c %s "$WORK/shop.idx") bytes at $SHA"

export BENCH_SYMBOLS_COMMIT=$SHA BENCH_SYMBOLS_INDEX=$WORK/shop.idx
FLAGS=(--error-ratio 0.01
    "--loadgen-arg=--resource-attribute=vcs.ref.head.revision=$SHA"
    "--loadgen-arg=--stacktrace-file=$WORK/stack.txt")
echo "== spans per CPU-second: otlp-batch-otlp (base) vs otlp-symbolize-otlp (other)"
"$ROOT/scripts/bench-pairs.sh" "$N" "$BIN" "${BASE_CONFIG:-$ROOT/loadgen/bench/otlp-batch-otlp.yaml}" \
    "$BIN" "${SYMBOLIZE_CONFIG:-$ROOT/loadgen/bench/otlp-symbolize-otlp.yaml}" "${FLAGS[@]}"

[[ ${LOOKUP_COST:-1} == 0 ]] && exit 0
echo "== lookup cost per query on this index (native)"
(cd "$ROOT" && cargo run --release -q -p symbols --example lookup_cost -- "$WORK/shop.idx")
