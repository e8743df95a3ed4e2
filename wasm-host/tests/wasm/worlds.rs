//! The sampler and assembler worlds, metrics, the cache, and concurrency.

use std::sync::Arc;

use prometheus_client::registry::Registry;
use wasm_host::wasm::{
    WasmAssembler, WasmProcessor, WasmProcessorConfig, WasmRuntime, WasmRuntimeOptions, WasmSampler,
};

use crate::common::*;

#[test]
fn sampler_keeps_errors_and_slow_traces() {
    let rt = runtime();
    let mut cfg = config("test_sampler");
    cfg.config = serde_json::json!({ "slow_ms": 1 });
    let s = WasmSampler::load("tail/wasm", &cfg, &rt).unwrap();
    let mut req = traces(1);
    let d = s.sample(&req).unwrap();
    assert_eq!((d.keep, d.reason.as_str()), (false, "ok"));
    req.resource_spans[0].scope_spans[0].spans[0].status = Some(error_status());
    let d = s.sample(&req).unwrap();
    assert_eq!((d.keep, d.reason.as_str()), (true, "error"));
    let mut slow = traces(1);
    slow.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano = 10_000_000;
    assert_eq!(s.sample(&slow).unwrap().reason, "slow");
}

#[test]
fn assembler_builds_an_envelope_for_error_traces() {
    let rt = runtime();
    let a = WasmAssembler::load("envelope/wasm", &config("test_assembler"), &rt).unwrap();
    let logs = logs(vec![None, None]);
    assert_eq!(a.assemble(&traces(1), &logs).unwrap(), None);
    let mut req = traces(1);
    req.resource_spans[0].scope_spans[0].spans[0].status = Some(error_status());
    let env = a.assemble(&req, &logs).unwrap().expect("envelope");
    let json: serde_json::Value = serde_json::from_str(&env).unwrap();
    assert_eq!(json["trace_id"], "07".repeat(16));
    assert_eq!(json["span"], "op-0-0-0");
    assert_eq!(json["logs"], 2);
}

#[test]
fn metrics_are_exported_per_processor() {
    let mut registry = Registry::default();
    let rt = WasmRuntime::new(
        WasmRuntimeOptions {
            cache_dir: None,
            ..Default::default()
        },
        &mut registry,
    )
    .unwrap();
    let p = WasmProcessor::load("wasm/edit_all", &config("edit_all"), &rt).unwrap();
    let mut cfg = config("hostile_trap_first_call");
    cfg.on_error = wasm_host::wasm::OnError::Drop;
    let bad = WasmProcessor::load("wasm/trap", &cfg, &rt).unwrap();
    p.process_traces(&mut traces(1)).unwrap();
    let _ = bad.process_traces(&mut traces(1));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for line in [
        "tracemend_wasm_calls_total{processor=\"wasm/edit_all\"} 1",
        "tracemend_wasm_faults_total{processor=\"wasm/trap\",kind=\"trap\"} 1",
        "tracemend_wasm_spans_dropped_total{processor=\"wasm/trap\",reason=\"on_error\"} 3",
        "tracemend_wasm_guest_counter_total{processor=\"wasm/edit_all\",name=\"batches\"} 1",
        "tracemend_wasm_call_duration_seconds_count{processor=\"wasm/edit_all\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(text.contains("tracemend_wasm_edits_applied_total{processor=\"wasm/edit_all\"}"));
}

#[test]
fn second_load_comes_from_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WasmRuntimeOptions {
        cache_dir: Some(dir.path().join("cache")),
        ..Default::default()
    };
    let cfg = config("noop");
    {
        let rt = WasmRuntime::without_registry(opts.clone()).unwrap();
        WasmProcessor::load("wasm/noop", &cfg, &rt).unwrap();
    }
    let files: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1, "one precompiled artifact");
    let rt = WasmRuntime::without_registry(opts).unwrap();
    let p = WasmProcessor::load("wasm/noop", &cfg, &rt).unwrap();
    let mut req = traces(1);
    let orig = req.clone();
    p.process_traces(&mut req).unwrap();
    assert_eq!(req, orig);
    // A corrupt artifact is discarded and rebuilt, not fatal.
    let path = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&path, b"garbage").unwrap();
    WasmProcessor::load("wasm/noop", &cfg, &rt).unwrap();
}

#[test]
fn concurrent_calls_use_separate_instances() {
    let rt = runtime();
    let mut cfg: WasmProcessorConfig = config("add_attribute");
    cfg.config = serde_json::json!({ "key": "k", "value": "v" });
    let p = Arc::new(WasmProcessor::load("wasm/add", &cfg, &rt).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let mut req = traces(4);
                    let a = p.process_traces(&mut req).unwrap();
                    assert_eq!(a.edits, 12);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Calls from inside a tokio multi-thread runtime (how the collector calls):
/// a guest touching WASI (the sandbox-escape guest opens files and sockets)
/// must still be served, not turned into a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_a_tokio_worker() {
    let rt = runtime();
    let p = WasmProcessor::load("wasm/escape", &config("hostile_sandbox_escape"), &rt).unwrap();
    let mut req = traces(1);
    let r = p.process_traces(&mut req);
    assert!(r.is_ok(), "{r:?}");
    let p = WasmProcessor::load("wasm/noop", &config("noop"), &rt).unwrap();
    assert!(p.process_traces(&mut traces(1)).is_ok());
}

/// Built-in guests are embedded in the binary and loaded from bytes.
#[test]
fn load_from_embedded_bytes() {
    let bytes = std::fs::read(guest("add_attribute")).unwrap();
    let mut cfg = WasmProcessorConfig::for_module("builtin:add_attribute");
    cfg.config = serde_json::json!({ "key": "k" });
    let p = WasmProcessor::load_bytes("wasm/add", &cfg, &bytes, &runtime()).unwrap();
    assert_eq!(p.process_traces(&mut traces(1)).unwrap().edits, 3);
    assert_eq!(p.name(), "wasm/add");
    assert!(p.health().is_serving());
}
