#!/usr/bin/env bash
# Builds the Python example processor with componentize-py (pinned in
# tests/requirements-wasm.txt, installed into tests/.venv if missing).
# Output: guest-crates/target/python/py_processor.wasm. Incremental: skipped
# when the output is newer than every input.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/tests/.venv"
out="$here/../target/python/py_processor.wasm"
if [ ! -x "$venv/bin/componentize-py" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$root/tests/requirements-wasm.txt"
fi
newest_input="$(find "$root/wit" "$here" \( -name '*.wit' -o -name '*.py' \) -newer "$out" 2>/dev/null | head -1 || true)"
if [ -f "$out" ] && [ -z "$newest_input" ]; then
    echo "$out (up to date)"
    exit 0
fi
mkdir -p "$(dirname "$out")"
cd "$here"
"$venv/bin/componentize-py" -d "$root/wit" -w processor componentize \
    -p "$here" -p "$here/example" app -o "$out"
echo "$out"
