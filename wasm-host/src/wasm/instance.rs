//! One plugin's instances and the call discipline they share: circuit check,
//! checkout from the pool, deadline and memory flag, the call itself under
//! `catch_unwind`, fault classification, metrics, and rebuild on fault.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tracing::{info, warn};
use wasmtime::component::InstancePre;
use wasmtime::{Store, Trap};

use super::bindings;
use super::circuit::CircuitBreaker;
use super::config::WasmProcessorConfig;
use super::edits::EditError;
use super::engine::WasmRuntime;
use super::load::{self, LoadError};
use super::pool::Pool;
use super::processor::{Fault, FaultKind};
use super::sandbox::{HostState, PluginContext};
use super::view::BatchView;

/// Instance setup (configure, Python's first-call init) gets this much longer
/// than a batch call.
const INIT_TIMEOUT_FACTOR: u32 = 50;

/// A world's generated bindings, as the runner needs them.
pub(crate) trait World: Sized + Send + 'static {
    /// Pre-instantiated form, built once at load.
    type Pre: Send + Sync + 'static;
    /// The export interface that identifies the world.
    const INTERFACE: &'static str;
    /// The world's name in `wit/worlds.wit`.
    const WORLD: &'static str;
    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre>;
    /// Adds the imports only this world has (beyond `host` and WASI).
    fn link(_linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
        Ok(())
    }
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self>;
    fn configure(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>>;
}

impl World for bindings::processor::Processor {
    type Pre = bindings::processor::ProcessorPre<HostState>;
    const INTERFACE: &'static str = "span-processor";
    const WORLD: &'static str = "processor";
    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        Self::Pre::new(pre)
    }
    fn link(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
        bindings::row_interest::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            linker,
            |s| s,
        )
    }
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self> {
        pre.instantiate(store)
    }
    fn configure(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        self.tracemend_plugin_span_processor()
            .call_configure(store, config)
    }
}

impl World for bindings::sampler::Sampler {
    type Pre = bindings::sampler::SamplerPre<HostState>;
    const INTERFACE: &'static str = "trace-sampler";
    const WORLD: &'static str = "sampler";
    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        Self::Pre::new(pre)
    }
    fn link(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
        bindings::sampler::tracemend::plugin::sampler_context::add_to_linker::<
            HostState,
            wasmtime::component::HasSelf<HostState>,
        >(linker, |s| s)
    }
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self> {
        pre.instantiate(store)
    }
    fn configure(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        self.tracemend_plugin_trace_sampler()
            .call_configure(store, config)
    }
}

impl World for bindings::assembler::EnvelopeAssembler {
    type Pre = bindings::assembler::EnvelopeAssemblerPre<HostState>;
    const INTERFACE: &'static str = "assembler";
    const WORLD: &'static str = "envelope-assembler";
    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        Self::Pre::new(pre)
    }
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self> {
        pre.instantiate(store)
    }
    fn configure(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        self.tracemend_plugin_assembler()
            .call_configure(store, config)
    }
}

/// One live instance with its reusable view buffers.
pub(crate) struct Instance<W> {
    pub(crate) store: Store<HostState>,
    pub(crate) world: W,
    pub(crate) view: BatchView,
    pub(crate) view2: BatchView,
    /// Set by a call that returned before the guest (received bytes it
    /// checked and left to the receiver, or a batch without a row the guest
    /// declared it needs): counted as no call at all.
    pub(crate) skipped: bool,
}

/// How a call went wrong, before classification.
pub(crate) enum CallError {
    /// wasmtime error: a trap, an interrupt, a host error.
    Wasm(wasmtime::Error),
    /// The guest returned `err(message)`.
    Guest(String),
    /// The guest's edits were refused.
    Edit(EditError),
}

impl From<wasmtime::Error> for CallError {
    fn from(e: wasmtime::Error) -> Self {
        CallError::Wasm(e)
    }
}

/// A loaded plugin of world `W`.
pub(crate) struct Plugin<W: World> {
    pub(crate) name: String,
    runtime: WasmRuntime,
    pre: W::Pre,
    pub(crate) ctx: Arc<PluginContext>,
    config_json: String,
    memory_bytes: usize,
    call_ticks: u64,
    init_ticks: u64,
    pool: Pool<Instance<W>>,
    pub(crate) circuit: CircuitBreaker,
    /// Set once the guest was seen using WASI streams from a tokio worker
    /// (see [`outside_async`]); from then on its calls leave the async
    /// context first.
    needs_blocking: AtomicBool,
}

/// The panic tokio raises when wasmtime-wasi's sync bindings `block_on`
/// inside a worker thread (a guest writing to stdout, for instance).
const NESTED_RUNTIME_PANIC: &str = "Cannot start a runtime from within a runtime";

/// Runs `f` where blocking on a tokio future is allowed: as is outside
/// tokio, under `block_in_place` on a multi-thread runtime, on a scoped
/// thread on a current-thread runtime.
fn outside_async<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => f(),
    }
}

impl<W: World> Plugin<W> {
    /// Loads, links and configures the plugin; fails with what to fix.
    pub(crate) fn load(
        name: &str,
        config: &WasmProcessorConfig,
        bytes: Option<&[u8]>,
        runtime: &WasmRuntime,
    ) -> Result<Self, LoadError> {
        config.validate().map_err(LoadError::Config)?;
        let started = Instant::now();
        let path = config.module.display().to_string();
        let owned;
        let bytes = match bytes {
            Some(b) => b,
            None => {
                owned = load::read_module(&config.module)?;
                &owned
            }
        };
        let (component, cache) = load::compile(runtime, &path, bytes, W::INTERFACE, W::WORLD)?;
        let blobs = load::read_grants(&config.grants)?;
        let mut linker = load::linker(runtime, &path)?;
        let inst_err = |e: wasmtime::Error| LoadError::Instantiate {
            path: path.clone(),
            message: format!("{e:#}"),
        };
        W::link(&mut linker).map_err(inst_err)?;
        let pre =
            W::pre(linker.instantiate_pre(&component).map_err(inst_err)?).map_err(inst_err)?;
        let metrics = runtime.metrics().for_processor(name);
        let limits = &config.limits;
        let plugin = Plugin {
            name: name.to_owned(),
            runtime: runtime.clone(),
            pre,
            ctx: Arc::new(PluginContext::new(name, blobs, metrics)),
            config_json: config.guest_config_json(),
            memory_bytes: usize::try_from(limits.memory_mib.saturating_mul(1 << 20))
                .unwrap_or(usize::MAX),
            call_ticks: runtime.ticks_for(limits.call_timeout),
            init_ticks: runtime.ticks_for(limits.call_timeout * INIT_TIMEOUT_FACTOR),
            pool: Pool::new(limits.max_idle_instances),
            circuit: CircuitBreaker::new(
                config.circuit_breaker.consecutive_faults,
                config.circuit_breaker.open_for,
            ),
            needs_blocking: AtomicBool::new(false),
        };
        // Build and configure one instance now: a config the guest rejects
        // must stop startup, with the guest's message.
        let first = plugin.instantiate().map_err(|(kind, message)| match kind {
            FaultKind::GuestError => LoadError::Rejected {
                path: path.clone(),
                message,
            },
            FaultKind::Instantiate => LoadError::Instantiate {
                path: path.clone(),
                message,
            },
            _ => LoadError::ConfigureFault {
                path: path.clone(),
                message,
            },
        })?;
        plugin.pool.put(first);
        info!(
            processor = %name,
            module = %path,
            cache = ?cache,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Loaded WASM plugin."
        );
        Ok(plugin)
    }

    /// A fresh, configured instance.
    fn instantiate(&self) -> Result<Instance<W>, (FaultKind, String)> {
        self.ctx.metrics.instances.inc();
        let mut store = Store::new(
            self.runtime.engine(),
            HostState::new(self.ctx.clone(), self.memory_bytes),
        );
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.init_ticks);
        // A trap in a start function is an instantiation failure; running
        // out of time or memory there keeps its own kind.
        let world =
            W::instantiate(&self.pre, &mut store).map_err(|e| match classify(&e, &store) {
                (FaultKind::Trap, _) => (FaultKind::Instantiate, format!("{e:#}")),
                other => other,
            })?;
        match world.configure(&mut store, &self.config_json) {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => return Err((FaultKind::GuestError, msg)),
            Err(e) => return Err((classify(&e, &store).0, format!("{e:#}"))),
        }
        Ok(Instance {
            store,
            world,
            view: BatchView::default(),
            view2: BatchView::default(),
            skipped: false,
        })
    }

    /// Runs `f` on an instance under the plugin's limits. On any fault the
    /// instance is dropped (a trapped instance is unusable, and a guest that
    /// misbehaved once starts clean next time).
    pub(crate) fn run<R: Send>(
        &self,
        mut f: impl FnMut(&mut Instance<W>) -> Result<R, CallError> + Send,
    ) -> Result<R, Fault> {
        if !self.circuit.allow() {
            self.ctx.metrics.calls.inc();
            return Err(self.fault(
                FaultKind::CircuitOpen,
                "circuit open: guest not called".into(),
            ));
        }
        if self.needs_blocking.load(Ordering::Relaxed) {
            return outside_async(|| self.run_once(&mut f));
        }
        match self.run_once(&mut f) {
            // wasmtime-wasi's sync WASI streams `block_on` a future, which
            // tokio refuses on a worker thread. Nothing was applied (the
            // panic came mid-call): remember this guest needs a blocking
            // context and run the batch again there, once.
            Err(fault)
                if fault.kind == FaultKind::HostPanic
                    && fault.message.contains(NESTED_RUNTIME_PANIC) =>
            {
                warn!(processor = %self.name, "Guest uses WASI streams; calling it outside the async runtime from now on.");
                self.needs_blocking.store(true, Ordering::Relaxed);
                outside_async(|| self.run_once(&mut f))
            }
            other => other,
        }
    }

    fn run_once<R>(
        &self,
        f: &mut impl FnMut(&mut Instance<W>) -> Result<R, CallError>,
    ) -> Result<R, Fault> {
        let m = &self.ctx.metrics;
        let started = Instant::now();
        let mut inst = match self.pool.take() {
            Some(i) => i,
            None => match self.instantiate() {
                Ok(i) => i,
                Err((kind, msg)) => {
                    m.calls.inc();
                    let kind = if kind == FaultKind::GuestError {
                        FaultKind::Instantiate
                    } else {
                        kind
                    };
                    return Err(self.fault(kind, msg));
                }
            },
        };
        inst.store.set_epoch_deadline(self.call_ticks);
        inst.store.data_mut().limiter.reset();
        inst.skipped = false;
        let result = catch_unwind(AssertUnwindSafe(|| f(&mut inst)));
        let result = match result {
            // The guest was not called: no call to count, time or judge.
            Ok(Ok(r)) if inst.skipped => {
                self.pool.put(inst);
                return Ok(r);
            }
            other => other,
        };
        m.calls.inc();
        m.duration.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(Ok(r)) => {
                self.circuit.success();
                m.circuit_open.set(0);
                self.pool.put(inst);
                Ok(r)
            }
            Ok(Err(CallError::Guest(msg))) => Err(self.fault(FaultKind::GuestError, msg)),
            Ok(Err(CallError::Edit(e))) => Err(self.fault(FaultKind::InvalidEdit, e.to_string())),
            Ok(Err(CallError::Wasm(e))) => {
                let (kind, msg) = classify(&e, &inst.store);
                Err(self.fault(kind, msg))
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                Err(self.fault(
                    FaultKind::HostPanic,
                    format!("host panicked during the call: {msg}"),
                ))
            }
        }
    }

    fn fault(&self, kind: FaultKind, message: String) -> Fault {
        self.ctx.metrics.fault(kind.as_str());
        if kind != FaultKind::CircuitOpen {
            if self.circuit.fault(&message) {
                self.ctx.metrics.circuit_open.set(1);
                // Idle instances may share the cause (e.g. a corrupted
                // global); start from scratch after the circuit closes.
                self.pool.clear();
                warn!(processor = %self.name, kind = kind.as_str(), "Circuit opened: WASM plugin unhealthy.");
            }
            warn!(processor = %self.name, kind = kind.as_str(), error = %message, "WASM plugin fault.");
        }
        Fault {
            kind,
            message,
            batch_dropped: false,
        }
    }
}

/// Tells a timeout and an out-of-memory from other traps.
fn classify(e: &wasmtime::Error, store: &Store<HostState>) -> (FaultKind, String) {
    let msg = format!("{e:#}");
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => (
            FaultKind::Timeout,
            "call exceeded limits.call_timeout".into(),
        ),
        _ if store.data().limiter.hit() => (
            FaultKind::Memory,
            format!("exceeded limits.memory_mib: {msg}"),
        ),
        _ => (FaultKind::Trap, msg),
    }
}
