//! The contract is language-neutral: a processor written in Python and built
//! with componentize-py (`guest-crates/python/build.sh`) loads from the same
//! YAML and changes spans. Its 18 MiB component imports WASI filesystem and
//! sockets, which the sandbox links but denies. Compiling it takes about a
//! minute, so this test uses a persistent cache next to the artifacts: the
//! first run pays, later runs load the precompiled artifact.

use std::time::Instant;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use wasm_host::wasm::{WasmProcessor, WasmProcessorConfig, WasmRuntime, WasmRuntimeOptions};

use crate::common::*;

fn python_guest() -> std::path::PathBuf {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-crates/target/python/py_processor.wasm");
    assert!(
        path.is_file(),
        "{} is missing: run `guest-crates/build.sh` (it builds the Python guest too)",
        path.display()
    );
    path
}

#[test]
fn python_processor_changes_spans() {
    let cache = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-crates/target/wasm-cache");
    let rt = WasmRuntime::without_registry(WasmRuntimeOptions {
        cache_dir: Some(cache),
        ..Default::default()
    })
    .unwrap();
    let yaml = format!(
        "module: {}\nconfig: {{ prefix: 'py:' }}\nlimits: {{ memory_mib: 256, call_timeout: 2s }}\n",
        python_guest().display()
    );
    let cfg: WasmProcessorConfig = serde_yaml::from_str(&yaml).unwrap();
    let started = Instant::now();
    let p = WasmProcessor::load("wasm/python", &cfg, &rt).unwrap();
    eprintln!("python guest loaded in {:?}", started.elapsed());

    let mut req = traces(2);
    req.resource_spans[0].scope_spans[0].spans[1].name = "healthz".into();
    let before = all_spans(&req).len();
    let applied = p.process_traces(&mut req).unwrap();
    assert_eq!(applied.spans_dropped, 1);
    let spans = all_spans(&req);
    assert_eq!(spans.len(), before - 1);
    for sp in spans {
        assert_eq!(sp.name, "py:/users/{id}");
        assert_eq!(attr(&sp.attributes, "lang"), Some(&s("python")));
        let Some(Value::KvlistValue(kv)) = attr(&sp.attributes, "py.attrs") else {
            panic!("py.attrs missing")
        };
        assert_eq!(attr(&kv.values, "count"), Some(&Value::IntValue(2)));
        assert_eq!(attr(&kv.values, "ok"), Some(&Value::BoolValue(true)));
    }

    let res = req.resource_spans[1].resource.as_ref().unwrap();
    assert_eq!(attr(&res.attributes, "py.service"), Some(&s("svc1")));
    let ev = &req.resource_spans[1].scope_spans[0].spans[0].events[0];
    assert_eq!(attr(&ev.attributes, "py.event"), Some(&s("exception")));

    let mut logs = logs(vec![None]);
    p.process_logs(&mut logs).unwrap();
    let rec = &logs.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(attr(&rec.attributes, "lang"), Some(&s("python")));

    // The guest's own validation message reaches the operator.
    let mut bad = cfg.clone();
    bad.config = serde_json::json!({ "prefix": "x", "colour": 1 });
    let e = WasmProcessor::load("wasm/python", &bad, &rt)
        .err()
        .expect("rejected");
    assert!(e.to_string().contains("config.colour: unknown key"), "{e}");
}
