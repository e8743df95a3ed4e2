//! More traces (or bytes) than the buffer may hold: the oldest are decided
//! early, counted, and the held count stays bounded.

use std::time::Instant;

use wasm_host::tail_sampling::{TailSampling, TailSamplingMetrics};

use crate::common::*;

#[test]
fn a_flood_beyond_num_traces_is_decided_early_not_dropped() {
    let config = yaml(
        "decision_wait: 30s\nnum_traces: 100\npolicies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]",
    );
    let metrics = TailSamplingMetrics::unregistered();
    let (sink, got) = collector();
    let ts = TailSampling::new(
        "tail_sampling",
        config.clone(),
        Box::new(sampler(&config)),
        metrics.clone(),
        sink,
    )
    .expect("builds");
    let now = Instant::now();
    let mut errors = std::collections::BTreeSet::new();
    for b in 0..10u64 {
        let spans = (0..200u64)
            .map(|i| {
                let n = b * 200 + i;
                let sp = span(&tid(n), n, 0, 5);
                if n % 10 == 0 {
                    errors.insert(tid(n));
                    error(sp)
                } else {
                    sp
                }
            })
            .collect();
        ts.consume_at(&request("svc", vec![], spans), now)
            .expect("keeps serving");
        let held = ts.stats().traces_held;
        assert!(held <= 100, "held {held} traces after batch {b}");
    }
    assert_eq!(ts.stats().traces_held, 100);
    assert_eq!(
        metrics.early_decisions("tail_sampling", "num_traces"),
        2_000 - 100
    );
    ts.shutdown_now(now);
    // Decided early with what had arrived: every error trace is still kept.
    let kept: std::collections::BTreeSet<Vec<u8>> = released_spans(&got)
        .into_iter()
        .map(|(t, _, _)| t)
        .collect();
    assert_eq!(kept, errors);
    assert_eq!(
        metrics.decided("tail_sampling", "errors", true)
            + metrics.decided("tail_sampling", "", false),
        2_000
    );
}

#[test]
fn a_flood_beyond_max_buffered_bytes_stays_within_it() {
    let config = yaml(
        "decision_wait: 30s\nnum_traces: 1000000\nmax_buffered_bytes: 262144\npolicies: [{name: all, type: always_sample}]",
    );
    let metrics = TailSamplingMetrics::unregistered();
    let (sink, got) = collector();
    let ts = TailSampling::new(
        "tail_sampling",
        config.clone(),
        Box::new(sampler(&config)),
        metrics.clone(),
        sink,
    )
    .expect("builds");
    let now = Instant::now();
    let blob = "x".repeat(2000);
    let mut sent = 0u64;
    for b in 0..20u64 {
        let spans: Vec<_> = (0..100u64)
            .map(|i| with_attr(span(&tid(b * 100 + i), i, 0, 5), "blob", s(&blob)))
            .collect();
        let span_bytes = prost::Message::encoded_len(&spans[0]) as u64;
        sent += spans.len() as u64;
        ts.consume_at(&request("svc", vec![], spans), now)
            .expect("keeps serving");
        let st = ts.stats();
        assert!(st.bytes_held <= 262_144, "{st:?}");
        // Memory charged per held span stays within 2x its protobuf size
        // (one-span traces: the worst case for per-trace bookkeeping).
        if st.spans_held > 0 {
            assert!(
                st.bytes_held <= 2 * st.spans_held * span_bytes,
                "{st:?} per {span_bytes}"
            );
        }
    }
    assert!(metrics.early_decisions("tail_sampling", "max_buffered_bytes") > 0);
    ts.shutdown_now(now);
    assert_eq!(
        released_spans(&got).len() as u64,
        sent,
        "all kept, none lost"
    );
}
