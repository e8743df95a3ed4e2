//! The tokio side: the timer decides traces on its own, `block_on_overflow`
//! waits for it, and shutdown decides what is left (and is safe twice).

use std::time::{Duration, Instant};

use wasm_host::tail_sampling::{TailSampling, TailSamplingError, TailSamplingMetrics};

use crate::common::*;

fn build(
    extra: &str,
) -> (
    TailSampling,
    std::sync::Arc<std::sync::Mutex<Vec<wasm_host::tail_sampling::Released>>>,
) {
    let config = yaml(&format!(
        "decision_wait: 200ms\n{extra}\npolicies: [{{name: all, type: always_sample}}]"
    ));
    let (sink, got) = collector();
    let ts = TailSampling::new(
        "tail_sampling",
        config.clone(),
        Box::new(sampler(&config)),
        TailSamplingMetrics::unregistered(),
        sink,
    )
    .expect("builds");
    (ts, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timer_decides_and_shutdown_drains() {
    let (ts, got) = build("num_traces: 100");
    ts.start().expect("timer starts");
    ts.consume(&request("svc", vec![], vec![span(&tid(1), 1, 0, 5)]))
        .await
        .expect("consumed");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(released_spans(&got).len(), 1, "decided by the timer");
    ts.consume(&request("svc", vec![], vec![span(&tid(2), 1, 0, 5)]))
        .await
        .expect("consumed");
    ts.shutdown().await;
    assert_eq!(released_spans(&got).len(), 2, "shutdown decided the rest");
    ts.shutdown().await;
    assert!(matches!(
        ts.consume(&request("svc", vec![], vec![span(&tid(3), 1, 0, 5)]))
            .await,
        Err(TailSamplingError::Stopped)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_on_overflow_waits_for_the_timer() {
    let (ts, got) = build("num_traces: 1\nblock_on_overflow: true");
    ts.start().expect("timer starts");
    ts.consume(&request("svc", vec![], vec![span(&tid(1), 1, 0, 5)]))
        .await
        .expect("consumed");
    let started = Instant::now();
    ts.consume(&request("svc", vec![], vec![span(&tid(2), 1, 0, 5)]))
        .await
        .expect("consumed");
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "waited for space"
    );
    assert_eq!(
        released_spans(&got).len(),
        1,
        "the first trace was decided on time, not early"
    );
    ts.shutdown().await;
    assert_eq!(released_spans(&got).len(), 2);
}
