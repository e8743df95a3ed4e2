//! The `debug` exporter: writes what it receives to the collector's log, as a count
//! (`basic`), one line per item (`normal`, default) or every field (`detailed`).

use std::fmt::Write;
use std::sync::Arc;

use async_trait::async_trait;
use pdata::otlp::common::v1::{AnyValue, KeyValue, any_value};
use pdata::{Batch, ConsumeError, Consumer, Payload};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;

use crate::config::{AnyConfig, ComponentConfig};
use crate::factory::{Exporter, ExporterContext};

/// `exporters.debug`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugConfig {
    /// `basic`, `normal` (default) or `detailed`.
    #[serde(default)]
    pub verbosity: Verbosity,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    Basic,
    #[default]
    Normal,
    Detailed,
}

impl ComponentConfig for DebugConfig {}

pub struct DebugExporter {
    pub id: String,
    pub verbosity: Verbosity,
    pub sent: Counter,
}

#[async_trait]
impl Consumer for DebugExporter {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.item_count();
        self.sent.inc_by(items as u64);
        let signal = batch.signal();
        tracing::info!(exporter = %self.id, %signal, items, "{}", signal.item_name());
        if self.verbosity != Verbosity::Basic {
            let text = render(batch.payload(), self.verbosity == Verbosity::Detailed);
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

impl AnyConfig for DebugConfig {}

impl Exporter for DebugConfig {
    fn build(&self, ctx: ExporterContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        Ok(Arc::new(DebugExporter {
            id: ctx.id.to_string(),
            verbosity: self.verbosity,
            sent: super::sent_counter(&ctx),
        }))
    }
}
