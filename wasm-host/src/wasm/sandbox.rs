//! What a guest can reach: the `host` interface of the WIT package, and a
//! WASI context that grants nothing.
//!
//! Guests built by ordinary toolchains import WASI (Rust's std imports
//! `wasi:cli` and `wasi:io`; a componentize-py guest imports filesystem and
//! sockets too). Refusing such a module would make most toolchains unusable,
//! so WASI is linked but empty: no preopened directories, no environment or
//! arguments, stdio closed, TCP/UDP/DNS disabled, a wall and monotonic clock
//! frozen at zero, and "random" bytes that are a fixed sequence. A guest that
//! tries to read a file or open a socket gets an error, not a capability.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use tracing::{debug, error, info, trace, warn};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::{host, row_interest};
use super::interest::Interest;
use super::limits::MemoryLimiter;
use super::metrics::PluginMetrics;

/// Longest guest log message or field kept; the rest is cut.
const MAX_LOG_BYTES: usize = 4096;
/// Guest log lines per plugin per second; more are dropped (with one
/// warning per second) so a guest logging per span cannot flood the log.
const MAX_LOG_LINES_PER_SEC: u32 = 100;
/// Distinct guest metric names per plugin; more are ignored so a guest cannot
/// blow up the collector's metric cardinality.
const MAX_GUEST_METRICS: usize = 64;

/// What every instance of one plugin shares.
pub(crate) struct PluginContext {
    pub(crate) name: String,
    pub(crate) blobs: BTreeMap<String, Arc<[u8]>>,
    pub(crate) metrics: PluginMetrics,
    guest_metric_names: Mutex<std::collections::BTreeSet<String>>,
    /// (start of the current one-second window, lines logged in it).
    log_window: Mutex<(std::time::Instant, u32)>,
}

impl PluginContext {
    pub(crate) fn new(
        name: &str,
        blobs: BTreeMap<String, Arc<[u8]>>,
        metrics: PluginMetrics,
    ) -> Self {
        PluginContext {
            name: name.to_owned(),
            blobs,
            metrics,
            guest_metric_names: Mutex::new(Default::default()),
            log_window: Mutex::new((std::time::Instant::now(), 0)),
        }
    }

    /// May the guest log one more line now? Warns once per window when not.
    fn admit_log(&self) -> bool {
        let Ok(mut w) = self.log_window.lock() else {
            return false;
        };
        let now = std::time::Instant::now();
        if now.duration_since(w.0) >= Duration::from_secs(1) {
            *w = (now, 0);
        }
        w.1 = w.1.saturating_add(1);
        if w.1 == MAX_LOG_LINES_PER_SEC + 1 {
            warn!(processor = %self.name, "Guest logs more than {MAX_LOG_LINES_PER_SEC} lines/s; dropping the rest of this second.");
        }
        w.1 <= MAX_LOG_LINES_PER_SEC
    }

    fn admit_metric(&self, name: &str) -> bool {
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return false;
        }
        let Ok(mut names) = self.guest_metric_names.lock() else {
            return false;
        };
        if names.contains(name) {
            return true;
        }
        if names.len() >= MAX_GUEST_METRICS {
            return false;
        }
        names.insert(name.to_owned());
        true
    }
}

/// The data of one `Store`: one instance's view of the world.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) plugin: Arc<PluginContext>,
    /// What a sampler's `sampler-context` import answers during the current
    /// `sample` call; set by the host before each call.
    pub(crate) sample: SampleContext,
    /// The rows a processor guest declared it needs (`row-interest`);
    /// `None` until it declares any: every row.
    pub(crate) interest: Option<Arc<Interest>>,
}

/// The facts a sampler may ask for about the decision in progress
/// (`sampler-context` in the WIT package).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleContext {
    /// When the decision is made, Unix nanoseconds.
    pub decision_time_unix_nano: u64,
    /// Protobuf size of the trace being decided, in bytes.
    pub trace_size_bytes: u64,
    /// The YAML paths of the `ottl_condition` policies that hold for the trace.
    pub ottl_holding: Vec<String>,
}

struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl HostState {
    pub(crate) fn new(plugin: Arc<PluginContext>, memory_bytes: usize) -> Self {
        let mut b = WasiCtxBuilder::new();
        // The builder starts with no preopens, env, args or network; say so
        // explicitly for the ones that have a switch.
        b.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(wasmtime_wasi::Deterministic::new(vec![0x5a; 32]))
            .insecure_random(wasmtime_wasi::Deterministic::new(vec![0xa5; 32]))
            .insecure_random_seed(0);
        HostState {
            wasi: b.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_bytes),
            plugin,
            sample: SampleContext::default(),
            interest: None,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn cut(s: &str) -> &str {
    if s.len() <= MAX_LOG_BYTES {
        return s;
    }
    let mut end = MAX_LOG_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl super::bindings::sampler::tracemend::plugin::sampler_context::Host for HostState {
    fn decision_time_unix_nano(&mut self) -> u64 {
        self.sample.decision_time_unix_nano
    }

    fn trace_size_bytes(&mut self) -> u64 {
        self.sample.trace_size_bytes
    }

    fn ottl_condition_holds(&mut self, path: String) -> bool {
        self.sample.ottl_holding.contains(&path)
    }
}

impl row_interest::Host for HostState {
    fn declare_interest(&mut self, rules: Vec<row_interest::Rule>) -> Result<(), String> {
        let interest = Interest::from_rules(&rules)?;
        debug!(processor = %self.plugin.name, ?interest, "Guest declared the rows it needs.");
        self.interest = Some(Arc::new(interest));
        Ok(())
    }
}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, message: String, fields: Vec<(String, String)>) {
        if !self.plugin.admit_log() {
            return;
        }
        let plugin = self.plugin.name.as_str();
        let message = cut(&message);
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .take(32)
            .map(|(k, v)| (cut(k), cut(v)))
            .collect();
        match level {
            host::Level::Trace => trace!(processor = plugin, ?fields, "{message}"),
            host::Level::Debug => debug!(processor = plugin, ?fields, "{message}"),
            host::Level::Info => info!(processor = plugin, ?fields, "{message}"),
            host::Level::Warn => warn!(processor = plugin, ?fields, "{message}"),
            host::Level::Error => error!(processor = plugin, ?fields, "{message}"),
        }
    }

    fn counter_add(&mut self, name: String, value: u64) {
        if self.plugin.admit_metric(&name) {
            self.plugin.metrics.guest_counter(&name, value);
        }
    }

    fn histogram_record(&mut self, name: String, value: f64) {
        if value.is_finite() && self.plugin.admit_metric(&name) {
            self.plugin.metrics.guest_histogram(&name, value);
        }
    }

    fn data_len(&mut self, name: String) -> Option<u64> {
        self.plugin.blobs.get(&name).map(|b| b.len() as u64)
    }

    fn data_read(&mut self, name: String, offset: u64, len: u32) -> Option<Vec<u8>> {
        let blob = self.plugin.blobs.get(&name)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(blob.len());
        // Cap one read so a guest cannot make the host copy a whole huge blob
        // into its memory in one go.
        let len = (len as usize).min(16 << 20);
        let end = start.saturating_add(len).min(blob.len());
        Some(blob[start..end].to_vec())
    }
}
