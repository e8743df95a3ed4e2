//! Splitting a batch into one part per backend: every span (and log record) of a trace
//! in one part, or every resource of a service with `routing_key: service`. Items are
//! grouped by trace with pdata's group-by-trace (the one the tail-sampling buffer uses)
//! and each trace routed once.

use std::collections::BTreeMap;

use pdata::Payload;
use pdata::group::{ByTrace, trace_id};
use pdata::otlp::collector::logs::v1::ExportLogsServiceRequest;
use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pdata::otlp::common::v1::{KeyValue, any_value};
use pdata::otlp::logs::v1::{ResourceLogs, ScopeLogs};
use pdata::otlp::trace::v1::{ResourceSpans, ScopeSpans};

use super::{Ring, RoutingKey};

/// Splits payloads into one per backend; items of one routing key stay together.
pub(super) fn split(
    payloads: Vec<Payload>,
    ring: &Ring,
    key: RoutingKey,
) -> BTreeMap<String, Payload> {
    let mut out: BTreeMap<String, Payload> = BTreeMap::new();
    for p in payloads {
        match p {
            Payload::Traces(req) => {
                for rs in req.resource_spans {
                    for (endpoint, part) in split_resource_spans(rs, ring, key) {
                        let entry = out.entry(endpoint.to_owned()).or_insert_with(|| {
                            Payload::Traces(ExportTraceServiceRequest::default())
                        });
                        if let Payload::Traces(r) = entry {
                            r.resource_spans.push(part);
                        }
                    }
                }
            }
            Payload::Logs(req) => {
                for rl in req.resource_logs {
                    for (endpoint, part) in split_resource_logs(rl, ring, key) {
                        let entry = out
                            .entry(endpoint.to_owned())
                            .or_insert_with(|| Payload::Logs(ExportLogsServiceRequest::default()));
                        if let Payload::Logs(r) = entry {
                            r.resource_logs.push(part);
                        }
                    }
                }
            }
            // Config checks keep `loadbalancing` out of metrics pipelines.
            Payload::Metrics(_) => {}
        }
    }
    out
}

pub(super) fn service_name(attributes: &[KeyValue]) -> &str {
    attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
        .unwrap_or("")
}

fn split_resource_spans<'r>(
    rs: ResourceSpans,
    ring: &'r Ring,
    key: RoutingKey,
) -> Vec<(&'r str, ResourceSpans)> {
    let service = service_name(rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]));
    let service_backend = ring.route(service.as_bytes());
    if key == RoutingKey::Service {
        return service_backend.map(|b| (b, rs)).into_iter().collect();
    }
    let mut parts: BTreeMap<&'r str, ResourceSpans> = BTreeMap::new();
    for ss in rs.scope_spans {
        let by_backend = by_backend(ss.spans, |s| &s.trace_id, ring, service_backend);
        for (b, spans) in by_backend {
            parts
                .entry(b)
                .or_insert_with(|| ResourceSpans {
                    resource: rs.resource.clone(),
                    scope_spans: Vec::new(),
                    schema_url: rs.schema_url.clone(),
                })
                .scope_spans
                .push(ScopeSpans {
                    scope: ss.scope.clone(),
                    spans,
                    schema_url: ss.schema_url.clone(),
                });
        }
    }
    parts.into_iter().collect()
}

fn split_resource_logs<'r>(
    rl: ResourceLogs,
    ring: &'r Ring,
    key: RoutingKey,
) -> Vec<(&'r str, ResourceLogs)> {
    let service = service_name(rl.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]));
    let service_backend = ring.route(service.as_bytes());
    if key == RoutingKey::Service {
        return service_backend.map(|b| (b, rl)).into_iter().collect();
    }
    let mut parts: BTreeMap<&'r str, ResourceLogs> = BTreeMap::new();
    for sl in rl.scope_logs {
        let by_backend = by_backend(sl.log_records, |r| &r.trace_id, ring, service_backend);
        for (b, log_records) in by_backend {
            parts
                .entry(b)
                .or_insert_with(|| ResourceLogs {
                    resource: rl.resource.clone(),
                    scope_logs: Vec::new(),
                    schema_url: rl.schema_url.clone(),
                })
                .scope_logs
                .push(ScopeLogs {
                    scope: sl.scope.clone(),
                    log_records,
                    schema_url: sl.schema_url.clone(),
                });
        }
    }
    parts.into_iter().collect()
}

/// `items` (spans or log records) by backend: grouped by trace, each trace routed once
/// by its id. An item without a trace id cannot be part of a sampled trace: it goes
/// with its service's items.
fn by_backend<'r, T>(
    items: Vec<T>,
    id: impl Fn(&T) -> &[u8],
    ring: &'r Ring,
    service_backend: Option<&'r str>,
) -> BTreeMap<&'r str, Vec<T>> {
    let mut traces = ByTrace::new();
    for item in items {
        traces.push(trace_id(id(&item)), item);
    }
    let mut out: BTreeMap<&'r str, Vec<T>> = BTreeMap::new();
    for (trace, items) in traces.into_groups() {
        match trace {
            Some(t) => {
                if let Some(b) = ring.route(&t) {
                    out.entry(b).or_default().extend(items);
                }
            }
            // Ids that are not 16 bytes (receivers reject them, other sources may
            // not): each item by its own bytes, the empty ones by service.
            None => {
                for item in items {
                    let raw = id(&item);
                    let b = if raw.is_empty() {
                        service_backend
                    } else {
                        ring.route(raw)
                    };
                    if let Some(b) = b {
                        out.entry(b).or_default().push(item);
                    }
                }
            }
        }
    }
    out
}
