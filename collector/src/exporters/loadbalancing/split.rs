//! Splitting a batch into one part per backend: every span (and log record) of a trace
//! in one part, or every resource of a service with `routing_key: service`.

use std::collections::BTreeMap;

use pdata::Payload;
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
        let mut by_backend: BTreeMap<&'r str, Vec<_>> = BTreeMap::new();
        for span in ss.spans {
            // A span without a trace id cannot be part of a sampled trace; keep the
            // service's spans together.
            let b = if span.trace_id.is_empty() {
                service_backend
            } else {
                ring.route(&span.trace_id)
            };
            if let Some(b) = b {
                by_backend.entry(b).or_default().push(span);
            }
        }
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
        let mut by_backend: BTreeMap<&'r str, Vec<_>> = BTreeMap::new();
        for rec in sl.log_records {
            let b = if rec.trace_id.is_empty() {
                service_backend
            } else {
                ring.route(&rec.trace_id)
            };
            if let Some(b) = b {
                by_backend.entry(b).or_default().push(rec);
            }
        }
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
