//! The one `wasmtime::Engine` of the process, its epoch ticker, the
//! component cache and the metric families, shared by every WASM processor.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::registry::Registry;
use wasmtime::{Config, Engine, OptLevel, ProfilingStrategy};

use super::cache::ComponentCache;
use super::metrics::WasmMetrics;

/// Set to `1` to write `/tmp/perf-PID.map` for `perf` to name guest code
/// (see docs/writing-a-processor.md, "Profiling a guest").
pub const PERFMAP_ENV: &str = "TRACEMEND_WASM_PERFMAP";

/// How the shared runtime is built.
#[derive(Debug, Clone)]
pub struct WasmRuntimeOptions {
    /// Directory of the precompiled component cache; `None` disables it.
    /// Default: `$XDG_CACHE_HOME/tracemend/wasm` or `~/.cache/tracemend/wasm`
    /// (none if neither variable is set).
    pub cache_dir: Option<PathBuf>,
    /// Resolution of call timeouts: the epoch ticker's period. Default: 5 ms.
    pub epoch_tick: Duration,
    /// Compile epoch checks into guest code (at every function entry and
    /// loop header): they are what lets a call's `timeout` stop a guest
    /// that does not return. Default: on. Off only to measure what the
    /// checks cost (`REDACT_BENCH_NO_EPOCH=1` in the redact benchmark):
    /// without them a guest that loops forever hangs its caller.
    pub interruption_checks: bool,
}

impl Default for WasmRuntimeOptions {
    fn default() -> Self {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
        WasmRuntimeOptions {
            cache_dir: base.map(|b| b.join("tracemend").join("wasm")),
            epoch_tick: Duration::from_millis(5),
            interruption_checks: true,
        }
    }
}

/// Errors building the runtime.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// wasmtime refused the engine configuration.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    /// The epoch ticker thread could not start.
    #[error("cannot start the WebAssembly epoch ticker: {0}")]
    Ticker(#[source] std::io::Error),
}

/// The shared WASM runtime: one engine, one cache, one set of metric
/// families. Cheap to clone; build it once at startup and hand a clone to
/// every WASM processor, sampler and assembler.
#[derive(Clone)]
pub struct WasmRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    cache: Option<ComponentCache>,
    metrics: WasmMetrics,
    epoch_tick: Duration,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

impl WasmRuntime {
    /// Builds the engine, starts the epoch ticker and registers the WASM
    /// metric families in `registry` (once: processors share them).
    pub fn new(options: WasmRuntimeOptions, registry: &mut Registry) -> Result<Self, EngineError> {
        Self::with_metrics(options, WasmMetrics::register(registry))
    }

    /// As [`WasmRuntime::new`] with metrics that are not exported (tests,
    /// benchmarks, `tracemend validate`).
    pub fn without_registry(options: WasmRuntimeOptions) -> Result<Self, EngineError> {
        Self::with_metrics(options, WasmMetrics::unregistered())
    }

    fn with_metrics(
        options: WasmRuntimeOptions,
        metrics: WasmMetrics,
    ) -> Result<Self, EngineError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(options.interruption_checks)
            .cranelift_opt_level(OptLevel::Speed)
            .parallel_compilation(true);
        // `perf` cannot name JIT code on its own: with this set, wasmtime writes
        // /tmp/perf-PID.map so guest functions show up by name in `perf report`.
        if std::env::var_os(PERFMAP_ENV).is_some_and(|v| v == "1") {
            config.profiler(ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| EngineError::Engine(format!("{e:#}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let tick = options.epoch_tick.max(Duration::from_millis(1));
        // Epoch interruption needs someone to advance the epoch: a plain
        // thread, so timeouts work even when no async runtime is running.
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("wasm-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(EngineError::Ticker)?
        };
        let cache = options.cache_dir.map(ComponentCache::new);
        Ok(WasmRuntime {
            inner: Arc::new(Inner {
                engine,
                cache,
                metrics,
                epoch_tick: tick,
                stop,
                ticker: Some(ticker),
            }),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn cache(&self) -> Option<&ComponentCache> {
        self.inner.cache.as_ref()
    }

    pub(crate) fn metrics(&self) -> &WasmMetrics {
        &self.inner.metrics
    }

    /// Epoch ticks for a deadline of `timeout`, rounded up, plus one so a
    /// call always gets at least `timeout` (a deadline is relative to the
    /// tick in progress).
    pub(crate) fn ticks_for(&self, timeout: Duration) -> u64 {
        let tick = self.inner.epoch_tick.as_nanos().max(1);
        (timeout.as_nanos().div_ceil(tick) as u64).saturating_add(1)
    }
}
