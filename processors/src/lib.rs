//! Host-side processors: native `batch` and `memory_limiter`, and the WASM processor host.
