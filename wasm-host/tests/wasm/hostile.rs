//! Hostile guests: the host survives each, applies `on_error`, counts the
//! fault by kind, and serves the next batch.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use wasm_host::wasm::{FaultKind, Health, OnError, WasmProcessor};

use crate::common::*;

fn hostile(name: &str, on_error: OnError) -> WasmProcessor {
    let mut cfg = config(name);
    cfg.on_error = on_error;
    // Short, so the infinite loop test is quick; but filling 16 MiB on a loaded
    // machine can take longer than that, and the memory bomb must meet the memory
    // limit, not the clock.
    cfg.limits.call_timeout = if name == "hostile_memory_bomb" {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(50)
    };
    cfg.limits.memory_mib = 16;
    WasmProcessor::load(&format!("wasm/{name}"), &cfg, &runtime()).unwrap()
}

/// Two calls, first with `pass` then with `drop`, both faulting as `kind`.
fn faults_as(name: &str, kind: FaultKind) {
    let p = hostile(name, OnError::Pass);
    let mut req = traces(2);
    let orig = req.clone();
    let f = p.process_traces(&mut req).expect_err("faults");
    assert_eq!(f.kind, kind, "{f}");
    assert!(!f.batch_dropped);
    assert_eq!(req, orig, "pass: batch unchanged, nothing half-applied");
    // The instance was rebuilt: the next call faults the same way rather
    // than hitting a dead instance.
    let f = p.process_traces(&mut req).expect_err("faults again");
    assert_eq!(f.kind, kind);
    assert_eq!(p.fault_count(kind), 2);
    assert!(matches!(
        p.health(),
        Health::Degraded {
            consecutive_faults: 2,
            ..
        }
    ));

    let p = hostile(name, OnError::Drop);
    let mut req = traces(2);
    let f = p.process_traces(&mut req).expect_err("faults");
    assert!(f.batch_dropped);
    assert!(req.resource_spans.is_empty(), "drop: batch discarded");
}

#[test]
fn infinite_loop_times_out() {
    let started = Instant::now();
    faults_as("hostile_infinite_loop", FaultKind::Timeout);
    // Three 50 ms deadlines plus setup, far from hanging.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn memory_bomb_hits_the_limit() {
    faults_as("hostile_memory_bomb", FaultKind::Memory);
}

#[test]
fn trap_on_first_call() {
    faults_as("hostile_trap_first_call", FaultKind::Trap);
}

#[test]
fn out_of_range_edit_index_applies_nothing() {
    faults_as("hostile_bad_edit_index", FaultKind::InvalidEdit);
    let p = hostile("hostile_bad_edit_index", OnError::Pass);
    let mut req = logs(vec![None]);
    let orig = req.clone();
    let f = p.process_logs(&mut req).expect_err("faults");
    assert_eq!(f.kind, FaultKind::InvalidEdit);
    assert!(f.message.contains("out of range"), "{f}");
    assert_eq!(req, orig);
}

#[test]
fn a_million_edits_is_refused() {
    let mut cfg = config("hostile_million_edits");
    cfg.limits.memory_mib = 256;
    cfg.limits.call_timeout = Duration::from_secs(5);
    let p = WasmProcessor::load("wasm/million", &cfg, &runtime()).unwrap();
    let mut req = traces(1);
    let orig = req.clone();
    let f = p
        .process_traces(&mut req)
        .expect_err("over limits.max_edits");
    assert_eq!(f.kind, FaultKind::InvalidEdit);
    assert!(f.message.contains("limits.max_edits"), "{f}");
    assert_eq!(req, orig);
}

#[test]
fn a_million_edits_within_a_raised_limit_apply() {
    let mut cfg = config("hostile_million_edits");
    cfg.limits.memory_mib = 256;
    cfg.limits.call_timeout = Duration::from_secs(20);
    cfg.limits.max_edits = 2_000_000;
    let p = WasmProcessor::load("wasm/million", &cfg, &runtime()).unwrap();
    let mut req = traces(1);
    let applied = p.process_traces(&mut req).expect("applied");
    assert_eq!(applied.edits, 1_000_000);
    let first = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(
        attr(&first.attributes, "k"),
        Some(&Value::IntValue(999_999))
    );
}

#[test]
fn sandbox_denies_files_sockets_env_and_clock() {
    let p = hostile("hostile_sandbox_escape", OnError::Pass);
    let mut req = traces(1);
    p.process_traces(&mut req)
        .expect("the guest handles the denials itself");
    let sp = all_spans(&req)[0];
    for key in ["escape.fs", "escape.net", "escape.env"] {
        let Some(Value::StringValue(v)) = attr(&sp.attributes, key) else {
            panic!("{key} missing")
        };
        assert!(v.starts_with("denied"), "{key} = {v}");
    }
    assert_eq!(
        attr(&sp.attributes, "escape.clock"),
        Some(&Value::IntValue(0)),
        "clock frozen"
    );
}

#[test]
fn repeated_faults_open_the_circuit() {
    let mut cfg = config("hostile_trap_first_call");
    cfg.circuit_breaker.consecutive_faults = 3;
    cfg.circuit_breaker.open_for = Duration::from_secs(3600);
    cfg.on_error = OnError::Drop;
    let p = WasmProcessor::load("wasm/trap", &cfg, &runtime()).unwrap();
    for _ in 0..3 {
        assert_eq!(
            p.process_traces(&mut traces(1)).unwrap_err().kind,
            FaultKind::Trap
        );
    }
    assert!(
        matches!(
            p.health(),
            Health::Unhealthy {
                consecutive_faults: 3,
                ..
            }
        ),
        "{:?}",
        p.health()
    );
    let mut req = traces(1);
    let f = p.process_traces(&mut req).unwrap_err();
    assert_eq!(f.kind, FaultKind::CircuitOpen);
    assert!(
        f.batch_dropped && req.resource_spans.is_empty(),
        "on_error still applies"
    );
    assert_eq!(p.fault_count(FaultKind::CircuitOpen), 1);
}
