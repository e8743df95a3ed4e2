#!/usr/bin/env bash
# Builds the redact benchmark (wasm-host/benches/redact.rs) if needed and prints the path
# of its executable, for the scripts that run it under valgrind or perf.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p wasm-host --bench redact --no-run --message-format=json \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("executable") and m.get("target", {}).get("name") == "redact":
        print(m["executable"])'
