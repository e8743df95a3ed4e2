//! Startup errors: each names what is wrong and what to do.

use wasm_host::wasm::{LoadError, WasmProcessor, WasmSampler};

use crate::common::*;

fn load_err(cfg: &wasm_host::wasm::WasmProcessorConfig) -> LoadError {
    match WasmProcessor::load("wasm/t", cfg, &runtime()) {
        Ok(_) => panic!("expected a load error"),
        Err(e) => e,
    }
}

#[test]
fn missing_module() {
    let e = load_err(&wasm_host::wasm::WasmProcessorConfig::for_module(
        "/nonexistent/x.wasm",
    ));
    assert!(matches!(e, LoadError::ModuleUnreadable { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent/x.wasm"), "{e}");
}

#[test]
fn not_webassembly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.wasm");
    std::fs::write(&path, "hello").unwrap();
    let e = load_err(&wasm_host::wasm::WasmProcessorConfig::for_module(&path));
    assert!(matches!(e, LoadError::NotWasm { .. }), "{e}");
}

#[test]
fn core_module_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core.wasm");
    std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
    let e = load_err(&wasm_host::wasm::WasmProcessorConfig::for_module(&path));
    assert!(matches!(e, LoadError::CoreModule { .. }), "{e}");
    assert!(e.to_string().contains("not a component"), "{e}");
}

#[test]
fn incompatible_wit_version_names_both() {
    // The same guest with its package version rewritten to 0.2.0 (same
    // length, so the binary stays well-formed).
    let mut bytes = std::fs::read(guest("noop")).unwrap();
    let (from, to) = (
        b"tracemend:plugin/span-processor@0.1.0",
        b"tracemend:plugin/span-processor@0.2.0",
    );
    let mut replaced = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + to.len()].copy_from_slice(to);
            replaced += 1;
        }
        i += 1;
    }
    assert!(replaced > 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.wasm");
    std::fs::write(&path, &bytes).unwrap();
    let e = load_err(&wasm_host::wasm::WasmProcessorConfig::for_module(&path));
    let msg = e.to_string();
    assert!(matches!(e, LoadError::IncompatibleWit { .. }), "{msg}");
    assert!(msg.contains("0.2.0") && msg.contains("0.1.0"), "{msg}");
}

#[test]
fn wrong_world() {
    let e = load_err(&config("test_sampler"));
    assert!(matches!(e, LoadError::WrongWorld { .. }), "{e}");
    assert!(e.to_string().contains("processor"), "{e}");
    let r = WasmSampler::load("wasm/s", &config("noop"), &runtime());
    assert!(matches!(r, Err(LoadError::WrongWorld { .. })));
}

#[test]
fn guest_rejects_config_with_its_message() {
    let mut cfg = config("edit_all");
    cfg.config = serde_json::json!({ "fail": "rules[0].pattern is not a valid regex" });
    let e = load_err(&cfg);
    assert!(matches!(e, LoadError::Rejected { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("rules[0].pattern is not a valid regex"),
        "{e}"
    );

    let mut cfg = config("add_attribute");
    cfg.config = serde_json::json!({ "key": "team", "colour": "red" });
    let e = load_err(&cfg);
    assert!(e.to_string().contains("config.colour: unknown key"), "{e}");
}

#[test]
fn invalid_limits_and_missing_grant() {
    let mut cfg = config("noop");
    cfg.limits.memory_mib = 0;
    let e = load_err(&cfg);
    assert!(matches!(e, LoadError::Config(_)), "{e}");
    assert!(e.to_string().contains("limits.memory_mib"), "{e}");

    let mut cfg = config("noop");
    cfg.grants
        .data
        .insert("symbols".into(), "/nonexistent/symbols.idx".into());
    let e = load_err(&cfg);
    assert!(matches!(e, LoadError::Grant { .. }), "{e}");
    assert!(e.to_string().contains("grants.data.symbols"), "{e}");
}
