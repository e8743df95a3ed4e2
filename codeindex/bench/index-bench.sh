#!/bin/sh
# Index time and size for a real source tree, as ratios to the source, and lookup
# cost per query. The tree is copied into a fresh git repository (one commit) so
# the figures do not depend on any checkout's history.
#
#   codeindex/bench/index-bench.sh [SOURCE_DIR]
#
# SOURCE_DIR defaults to Debian's python3-pygments (114,807 lines of Python). Needs
# release builds: cargo build --release -p codeindex (the script runs the symbols
# example itself).
set -eu
SRC=${1:-/usr/lib/python3/dist-packages/pygments}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/tracemend-symbols
[ -x "$BIN" ] || { echo "build first: cargo build --release -p codeindex" >&2; exit 2; }
[ -d "$SRC" ] || { echo "no source tree at $SRC" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
REPO=$WORK/repo
mkdir -p "$REPO"
cp -r "$SRC" "$REPO/$(basename "$SRC")"
find "$REPO" -name __pycache__ -prune -exec rm -rf {} +
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
export GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z
git -C "$REPO" init -q -b main
git -C "$REPO" add -A
git -C "$REPO" commit -q -m "source tree of $SRC"

echo "source: $SRC"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
for mode in blame no-blame; do
  flag=""
  [ "$mode" = no-blame ] && flag="--no-blame"
  for run in 1 2 3; do
    /usr/bin/time -f "$mode run $run: %e s wall, %U s user, %S s sys, %M KiB max RSS" \
      "$BIN" index --repo "$REPO" --out "$WORK/index.$mode" $flag 2>>"$WORK/time.log" >"$WORK/out.$mode"
  done
  grep "^$mode run" "$WORK/time.log"
  cat "$WORK/out.$mode"
done
# Source size counts the indexed languages' files only, as the index does.
LINES=$(sed -n 's/.* \([0-9]*\) source lines.*/\1/p' "$WORK/out.blame")
BYTES=$(sed -n 's/.* \([0-9]*\) source bytes.*/\1/p' "$WORK/out.blame")
IDX=$(wc -c <"$WORK/index.blame")
echo "index bytes / source bytes: $(echo "scale=3; $IDX / $BYTES" | bc)"
echo "index bytes per source line: $(echo "scale=1; $IDX / $LINES" | bc)"
"$BIN" stats "$WORK/index.blame"
cd "$ROOT" && cargo run -q --release -p symbols --example lookup_cost -- "$WORK/index.blame" 20
