//! Shared helpers: the guest, a runtime with an on-disk cache (the guest is
//! compiled once per test run, not per test), OTLP builders, and a sink that
//! collects what is released.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use wasm_host::tail_sampling::{Released, Sink, TailSamplingConfig, load_sampler};
use wasm_host::wasm::{WasmRuntime, WasmRuntimeOptions, WasmSampler};

/// The tail-sampling guest.
pub fn guest() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-crates/target/wasm32-wasip2/release/tail_sampling.wasm");
    assert!(
        path.is_file(),
        "{} is missing: run `guest-crates/build.sh` first",
        path.display()
    );
    path
}

/// One runtime for the whole test binary, with a component cache in the
/// target directory.
pub fn runtime() -> WasmRuntime {
    static RT: OnceLock<WasmRuntime> = OnceLock::new();
    RT.get_or_init(|| {
        WasmRuntime::without_registry(WasmRuntimeOptions {
            cache_dir: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tail-sampling-cache")),
            ..Default::default()
        })
        .expect("runtime")
    })
    .clone()
}

/// Parses a processor's YAML.
pub fn yaml(text: &str) -> TailSamplingConfig {
    serde_yaml::from_str(text).expect("valid tail_sampling YAML")
}

/// Loads the guest with `config`'s policies.
pub fn sampler(config: &TailSamplingConfig) -> WasmSampler {
    let mut c = config.clone();
    c.module = Some(guest());
    load_sampler("tail_sampling", &c, &runtime(), None).expect("sampler loads")
}

/// Loads the guest and returns the load error's text.
pub fn load_error(config: &TailSamplingConfig) -> String {
    let mut c = config.clone();
    c.module = Some(guest());
    match load_sampler("tail_sampling", &c, &runtime(), None) {
        Ok(_) => panic!("expected the policies to be rejected"),
        Err(e) => format!("{e:#}"),
    }
}

pub fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

/// A trace id from a number.
pub fn tid(n: u64) -> Vec<u8> {
    let mut id = vec![0u8; 16];
    id[..8].copy_from_slice(&n.to_be_bytes());
    id[8..].copy_from_slice(&(n ^ 0x5bd1_e995).to_le_bytes());
    id
}

/// A span of trace `trace`.
pub fn span(trace: &[u8], n: u64, start_ms: u64, dur_ms: u64) -> Span {
    Span {
        trace_id: trace.to_vec(),
        span_id: (n + 1).to_be_bytes().to_vec(),
        name: format!("op-{n}"),
        start_time_unix_nano: 1_700_000_000_000_000_000 + start_ms * 1_000_000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + (start_ms + dur_ms) * 1_000_000,
        ..Default::default()
    }
}

pub fn error(mut sp: Span) -> Span {
    sp.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    sp
}

pub fn with_attr(mut sp: Span, key: &str, v: Value) -> Span {
    sp.attributes.push(kv(key, v));
    sp
}

/// One request: `spans` under one resource with `service.name` and the
/// extra resource attributes.
pub fn request(
    service: &str,
    resource_attrs: Vec<KeyValue>,
    spans: Vec<Span>,
) -> ExportTraceServiceRequest {
    let mut attributes = vec![kv("service.name", s(service))];
    attributes.extend(resource_attrs);
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

/// A sink that keeps everything released.
pub fn collector() -> (Sink, Arc<Mutex<Vec<Released>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    (
        Arc::new(move |r: Released| g.lock().expect("lock").push(r)),
        got,
    )
}

/// Every released span, decoded: (trace id, span id, `tailsampling.policy`).
pub fn released_spans(got: &Mutex<Vec<Released>>) -> Vec<(Vec<u8>, Vec<u8>, Option<String>)> {
    let mut out = Vec::new();
    for r in got.lock().expect("lock").iter() {
        let req = r.decode().expect("released bytes decode");
        let mut n = 0;
        for rs in req.resource_spans {
            for ss in rs.scope_spans {
                for sp in ss.spans {
                    n += 1;
                    let policy = sp
                        .attributes
                        .iter()
                        .find(|a| a.key == "tailsampling.policy")
                        .and_then(|a| match a.value.as_ref().and_then(|v| v.value.as_ref()) {
                            Some(Value::StringValue(p)) => Some(p.clone()),
                            _ => None,
                        });
                    out.push((sp.trace_id, sp.span_id, policy));
                }
            }
        }
        assert_eq!(n, r.spans, "Released.spans matches its content");
    }
    out
}

/// contrib's probabilistic hash (FNV-1a 64 of salt then trace id), to know
/// the ground truth of a probabilistic policy.
pub fn fnv(salt: &str, id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in salt.as_bytes().iter().chain(id) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
