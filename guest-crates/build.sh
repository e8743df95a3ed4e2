#!/usr/bin/env bash
# Builds every guest for wasm32-wasip2 in release mode. Idempotent and
# incremental (cargo's own change tracking). Artifacts:
#   guest-crates/target/wasm32-wasip2/release/<crate_name>.wasm
# (dashes become underscores: noop.wasm, hostile_infinite_loop.wasm, ...),
# and guest-crates/target/python/py_processor.wasm (componentize-py).
# The host tests in processors/ load them from there.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="$PWD/target"
rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 \
    || rustup target add wasm32-wasip2
# Each SDK feature is a different world and a component has exactly one, so
# the sampler and assembler guests build in their own invocations: one cargo
# run would unify the SDK's features across all of them.
cargo build --release --target wasm32-wasip2 --workspace \
    --exclude test-sampler --exclude test-assembler --exclude tail-sampling \
    --exclude envelope-assembler --exclude test-hostile-assembler "$@"
cargo build --release --target wasm32-wasip2 -p test-sampler "$@"
cargo build --release --target wasm32-wasip2 -p tail-sampling "$@"
cargo build --release --target wasm32-wasip2 -p test-assembler -p test-hostile-assembler "$@"
cargo build --release --target wasm32-wasip2 -p envelope-assembler "$@"
ls -1 target/wasm32-wasip2/release/*.wasm
# The Python proof of the contract (componentize-py from PyPI, pinned in
# tests/requirements-wasm.txt): target/python/py_processor.wasm.
python/build.sh
