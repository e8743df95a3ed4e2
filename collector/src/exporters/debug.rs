//! The `debug` exporter: writes what it receives to the collector's log, as a count
//! (`basic`), one line per item (`normal`, default) or every field (`detailed`). As in
//! otelcol, output is sampled per second: the first `sampling_initial` batches are
//! written, then every `sampling_thereafter`th.

use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pdata::otlp::common::v1::{AnyValue, KeyValue, any_value};
use pdata::{Batch, ConsumeError, Consumer, Payload};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;

use crate::config::{AnyConfig, ComponentConfig, ConfigError, Ignored, ignored};
use crate::factory::{Exporter, ExporterContext};

/// `exporters.debug`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugConfig {
    /// `basic`, `normal` (default) or `detailed`.
    #[serde(default)]
    pub verbosity: Verbosity,
    /// Batches written each second before sampling starts. Default 2.
    #[serde(default = "default_sampling_initial")]
    pub sampling_initial: u64,
    /// After `sampling_initial`, every this-many-th batch in the second is written.
    /// Default 1 (all).
    #[serde(default = "default_sampling_thereafter")]
    pub sampling_thereafter: u64,
    /// Write through the collector's log (default true); false writes to stdout.
    #[serde(default = "yes")]
    pub use_internal_logger: bool,
    /// otelcol's queue in front of the exporter: writing is synchronous here.
    #[serde(default)]
    pub sending_queue: Ignored,
}

fn default_sampling_initial() -> u64 {
    2
}
fn default_sampling_thereafter() -> u64 {
    1
}
fn yes() -> bool {
    true
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig {
            verbosity: Verbosity::default(),
            sampling_initial: default_sampling_initial(),
            sampling_thereafter: default_sampling_thereafter(),
            use_internal_logger: true,
            sending_queue: Ignored::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    Basic,
    #[default]
    Normal,
    Detailed,
}

impl ComponentConfig for DebugConfig {
    fn validate(&self) -> Vec<ConfigError> {
        if self.sampling_thereafter == 0 {
            return vec![ConfigError::new(
                "sampling_thereafter",
                "must be at least 1 (1 writes every batch)",
            )];
        }
        Vec::new()
    }
}

impl DebugConfig {
    fn ignored(&self) -> Vec<ConfigError> {
        ignored::warnings(
            "",
            &[(
                "sending_queue",
                &self.sending_queue,
                "the debug exporter writes synchronously, without a queue",
            )],
        )
    }
}

/// otelcol's log sampler: per one-second tick, the first `initial` entries pass, then
/// every `thereafter`th.
#[derive(Debug)]
pub struct Sampler {
    initial: u64,
    thereafter: u64,
    tick: Mutex<(Instant, u64)>,
}

impl Sampler {
    pub fn new(initial: u64, thereafter: u64) -> Sampler {
        Sampler {
            initial,
            thereafter: thereafter.max(1),
            tick: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Whether the entry seen at `now` is written.
    pub fn admit(&self, now: Instant) -> bool {
        let mut t = self.tick.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(t.0) >= Duration::from_secs(1) {
            *t = (now, 0);
        }
        t.1 += 1;
        let n = t.1;
        n <= self.initial || (n - self.initial).is_multiple_of(self.thereafter)
    }
}

pub struct DebugExporter {
    pub id: String,
    pub verbosity: Verbosity,
    pub sent: Counter,
    pub sampler: Sampler,
    /// Write to stdout instead of the collector's log.
    pub to_stdout: bool,
}

#[async_trait]
impl Consumer for DebugExporter {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.item_count();
        self.sent.inc_by(items as u64);
        if !self.sampler.admit(Instant::now()) {
            return Ok(());
        }
        let signal = batch.signal();
        let text = (self.verbosity != Verbosity::Basic)
            .then(|| render(batch.payload(), self.verbosity == Verbosity::Detailed));
        if self.to_stdout {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            // stdout gone (closed pipe) is not the pipeline's failure.
            let _ = writeln!(out, "{} {items} {}", self.id, signal.item_name());
            if let Some(text) = text {
                let _ = write!(out, "{text}");
            }
            return Ok(());
        }
        tracing::info!(exporter = %self.id, %signal, items, "{}", signal.item_name());
        if let Some(text) = text {
            tracing::info!(exporter = %self.id, "\n{text}");
        }
        Ok(())
    }
}

fn value(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => format!("Str({s})"),
        Some(any_value::Value::StringValueStrindex(i)) => format!("StrIndex({i})"),
        Some(any_value::Value::BoolValue(b)) => format!("Bool({b})"),
        Some(any_value::Value::IntValue(i)) => format!("Int({i})"),
        Some(any_value::Value::DoubleValue(d)) => format!("Double({d})"),
        Some(any_value::Value::BytesValue(b)) => format!("Bytes({})", hex(b)),
        Some(any_value::Value::ArrayValue(a)) => {
            let parts: Vec<String> = a.values.iter().map(|v| value(&Some(v.clone()))).collect();
            format!("Slice([{}])", parts.join(", "))
        }
        Some(any_value::Value::KvlistValue(kv)) => {
            let parts: Vec<String> = kv
                .values
                .iter()
                .map(|kv| format!("{}: {}", kv.key, value(&kv.value)))
                .collect();
            format!("Map({{{}}})", parts.join(", "))
        }
        None => "Empty()".to_string(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn attrs(out: &mut String, indent: &str, list: &[KeyValue]) {
    for kv in list {
        let _ = writeln!(out, "{indent}-> {}: {}", kv.key, value(&kv.value));
    }
}

fn render(p: &Payload, detailed: bool) -> String {
    let mut out = String::new();
    match p {
        Payload::Traces(r) => {
            for (i, rs) in r.resource_spans.iter().enumerate() {
                if detailed {
                    let _ = writeln!(out, "ResourceSpans #{i}");
                    if let Some(res) = &rs.resource {
                        attrs(&mut out, "  ", &res.attributes);
                    }
                }
                for ss in &rs.scope_spans {
                    if detailed && let Some(scope) = &ss.scope {
                        let _ = writeln!(out, "ScopeSpans: {} {}", scope.name, scope.version);
                    }
                    for s in &ss.spans {
                        if detailed {
                            let _ = writeln!(
                                out,
                                "Span\n  Trace ID: {}\n  Parent ID: {}\n  ID: {}\n  Name: {}\n  Kind: {}\n  Start: {}\n  End: {}\n  Status: {:?}",
                                hex(&s.trace_id),
                                hex(&s.parent_span_id),
                                hex(&s.span_id),
                                s.name,
                                s.kind,
                                s.start_time_unix_nano,
                                s.end_time_unix_nano,
                                s.status.as_ref().map(|st| (st.code, st.message.clone()))
                            );
                            attrs(&mut out, "  ", &s.attributes);
                            for e in &s.events {
                                let _ = writeln!(out, "  Event: {} @ {}", e.name, e.time_unix_nano);
                                attrs(&mut out, "    ", &e.attributes);
                            }
                        } else {
                            let _ = writeln!(
                                out,
                                "{} {} {}",
                                s.name,
                                hex(&s.trace_id),
                                hex(&s.span_id)
                            );
                        }
                    }
                }
            }
        }
        Payload::Logs(r) => {
            for rl in &r.resource_logs {
                if detailed && let Some(res) = &rl.resource {
                    attrs(&mut out, "  ", &res.attributes);
                }
                for sl in &rl.scope_logs {
                    for l in &sl.log_records {
                        let _ = writeln!(
                            out,
                            "{} {} {}",
                            l.severity_text,
                            value(&l.body),
                            hex(&l.trace_id)
                        );
                        if detailed {
                            attrs(&mut out, "  ", &l.attributes);
                        }
                    }
                }
            }
        }
        Payload::Metrics(r) => {
            for rm in &r.resource_metrics {
                for sm in &rm.scope_metrics {
                    for m in &sm.metrics {
                        let _ = writeln!(out, "{} {}", m.name, m.unit);
                        if detailed {
                            let _ = writeln!(out, "  {:?}", m.data);
                        }
                    }
                }
            }
        }
    }
    out
}

impl AnyConfig for DebugConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        self.ignored()
    }
}

impl Exporter for DebugConfig {
    fn build(&self, ctx: ExporterContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        Ok(Arc::new(DebugExporter {
            id: ctx.id.to_string(),
            verbosity: self.verbosity,
            sent: super::sent_counter(&ctx),
            sampler: Sampler::new(self.sampling_initial, self.sampling_thereafter),
            to_stdout: !self.use_internal_logger,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sampler_passes_initial_then_every_thereafter_per_second() {
        let s = Sampler::new(2, 3);
        let t0 = Instant::now();
        let passed: Vec<bool> = (0..8).map(|_| s.admit(t0)).collect();
        // 1, 2 (initial), then the 3rd after them: entries 5 and 8.
        assert_eq!(passed, [true, true, false, false, true, false, false, true]);
        assert!(
            s.admit(t0 + Duration::from_secs(1)),
            "a new second starts over"
        );
        assert!(s.admit(t0 + Duration::from_secs(1)));
        assert!(!s.admit(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn the_default_writes_everything() {
        let c = DebugConfig::default();
        let s = Sampler::new(c.sampling_initial, c.sampling_thereafter);
        let t0 = Instant::now();
        assert!((0..100).all(|_| s.admit(t0)));
    }
}
