//! The `memory_limiter` processor: refuses data while the process uses more memory than
//! the soft limit (`limit - spike_limit`), so receivers answer clients with a retryable
//! status instead of the collector running out of memory. Memory is the resident set
//! size, checked every `check_interval`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use pdata::{Batch, ConsumeError, Consumer, ProtobufIntake, Signal};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;
use tokio::task::JoinHandle;

use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError, Ignored, ignored};
use crate::factory::{PrepareEnv, PrepareError, Prepared, Processor};
use crate::telemetry::{ProcessorLabels, SelfMetrics};

/// `processors.memory_limiter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryLimiterConfig {
    /// How often memory is measured, e.g. `1s`. Required.
    #[serde(default, with = "humantime_serde")]
    pub check_interval: Option<Duration>,
    /// Hard limit in MiB. Either this or `limit_percentage` is required.
    #[serde(default)]
    pub limit_mib: u64,
    /// Headroom below the hard limit, in MiB; data is refused above `limit - spike`.
    /// Default 20% of the limit.
    #[serde(default)]
    pub spike_limit_mib: u64,
    /// Hard limit as a percentage of available memory (cgroup limit or total RAM).
    #[serde(default)]
    pub limit_percentage: u64,
    /// Headroom as a percentage of available memory.
    #[serde(default)]
    pub spike_limit_percentage: u64,
    /// Go garbage-collector pacing: tracemend has no garbage collector.
    #[serde(default)]
    pub min_gc_interval_when_soft_limited: Ignored,
    #[serde(default)]
    pub min_gc_interval_when_hard_limited: Ignored,
}

impl ComponentConfig for MemoryLimiterConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        match self.check_interval {
            None => errors.push(ConfigError::new("check_interval", "is required, e.g. `1s`")),
            Some(d) if d.is_zero() => {
                errors.push(ConfigError::new("check_interval", "must be greater than 0"))
            }
            _ => {}
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            errors.push(ConfigError::new(
                "limit_mib",
                "set limit_mib or limit_percentage",
            ));
        }
        if self.limit_mib > 0 && self.spike_limit_mib >= self.limit_mib {
            errors.push(ConfigError::new(
                "spike_limit_mib",
                "must be smaller than limit_mib",
            ));
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            errors.push(ConfigError::new(
                "limit_percentage",
                "percentages must be between 0 and 100",
            ));
        } else if self.limit_percentage > 0 && self.spike_limit_percentage >= self.limit_percentage
        {
            errors.push(ConfigError::new(
                "spike_limit_percentage",
                "must be smaller than limit_percentage",
            ));
        }
        errors
    }
}

impl MemoryLimiterConfig {
    /// (hard, soft) limits in bytes.
    fn limits(&self) -> (u64, u64) {
        const MIB: u64 = 1024 * 1024;
        if self.limit_mib > 0 {
            let spike = if self.spike_limit_mib > 0 {
                self.spike_limit_mib
            } else {
                self.limit_mib / 5
            };
            (self.limit_mib * MIB, (self.limit_mib - spike) * MIB)
        } else {
            let total = crate::memory::total_bytes().unwrap_or(u64::MAX / 2);
            let hard = total / 100 * self.limit_percentage;
            let spike = if self.spike_limit_percentage > 0 {
                total / 100 * self.spike_limit_percentage
            } else {
                hard / 5
            };
            (hard, hard.saturating_sub(spike))
        }
    }
}

/// The shared memory check; one per processor id, used by all its pipelines.
pub struct MemoryGauge {
    refusing: AtomicBool,
    last_rss: AtomicU64,
    interval: Duration,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl MemoryGauge {
    pub fn start(id: &str, cfg: &MemoryLimiterConfig) -> Arc<MemoryGauge> {
        let (hard, soft) = cfg.limits();
        let interval = cfg.check_interval.unwrap_or(Duration::from_secs(1));
        let gauge = Arc::new(MemoryGauge {
            refusing: AtomicBool::new(false),
            last_rss: AtomicU64::new(0),
            interval,
            task: std::sync::Mutex::new(None),
        });
        gauge.check(id, soft, hard);
        tracing::info!(
            processor = id,
            hard_limit_mib = hard >> 20,
            soft_limit_mib = soft >> 20,
            "Memory limiter started."
        );
        let g = gauge.clone();
        let id = id.to_string();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                g.check(&id, soft, hard);
            }
        });
        *gauge.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        gauge
    }

    fn check(&self, id: &str, soft: u64, hard: u64) {
        let Some(rss) = crate::memory::rss_bytes() else {
            return;
        };
        self.last_rss.store(rss, Ordering::Relaxed);
        let refuse = rss >= soft;
        let was = self.refusing.swap(refuse, Ordering::SeqCst);
        if refuse && !was {
            tracing::warn!(
                processor = id,
                rss_mib = rss >> 20,
                soft_limit_mib = soft >> 20,
                hard_limit_mib = hard >> 20,
                "Memory usage is above the soft limit; refusing data."
            );
        } else if !refuse && was {
            tracing::info!(
                processor = id,
                rss_mib = rss >> 20,
                "Memory usage is back below the soft limit; accepting data."
            );
        }
    }

    pub fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }
}

pub struct MemoryLimiter {
    gauge: Arc<MemoryGauge>,
    next: Arc<dyn Consumer>,
    refused: Counter,
    incoming: Counter,
}

impl MemoryLimiter {
    pub fn new(
        id: &str,
        signal: Signal,
        gauge: Arc<MemoryGauge>,
        next: Arc<dyn Consumer>,
        metrics: &SelfMetrics,
    ) -> Self {
        let labels = ProcessorLabels {
            processor: id.to_string(),
        };
        MemoryLimiter {
            gauge,
            next,
            refused: metrics
                .processor_refused
                .get(signal)
                .get_or_create(&labels)
                .clone(),
            incoming: metrics
                .processor_incoming
                .get(signal)
                .get_or_create(&labels)
                .clone(),
        }
    }
}

#[async_trait]
impl Consumer for MemoryLimiter {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.item_count() as u64;
        self.incoming.inc_by(items);
        if self.gauge.refusing.load(Ordering::SeqCst) {
            self.refused.inc_by(items);
            let rss = self.gauge.last_rss.load(Ordering::Relaxed) >> 20;
            return Err(ConsumeError::retryable(format!(
                "data refused due to high memory usage ({rss} MiB); retry later"
            ))
            .with_retry_after(self.gauge.interval));
        }
        self.next.consume(batch).await
    }

    /// Passes received bytes on to a next hop that takes them as they came (a WASM
    /// stage), so `memory_limiter` first in a pipeline does not cost the request its
    /// single read.
    fn protobuf_intake(&self) -> Option<&dyn ProtobufIntake> {
        self.next
            .protobuf_intake()
            .map(|_| self as &dyn ProtobufIntake)
    }
}

#[async_trait]
impl ProtobufIntake for MemoryLimiter {
    async fn consume_protobuf(
        &self,
        signal: Signal,
        body: &Bytes,
    ) -> Option<(usize, Result<(), ConsumeError>)> {
        // Refusing: the usual path refuses it, counting its items.
        if self.gauge.refusing.load(Ordering::SeqCst) {
            return None;
        }
        let (items, result) = self
            .next
            .protobuf_intake()?
            .consume_protobuf(signal, body)
            .await?;
        self.incoming.inc_by(items as u64);
        Some((items, result))
    }
}

impl AnyConfig for MemoryLimiterConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        let why = "tracemend has no garbage collector to run";
        ignored::warnings(
            "",
            &[
                (
                    "min_gc_interval_when_soft_limited",
                    &self.min_gc_interval_when_soft_limited,
                    why,
                ),
                (
                    "min_gc_interval_when_hard_limited",
                    &self.min_gc_interval_when_hard_limited,
                    why,
                ),
            ],
        )
    }
}

impl Processor for MemoryLimiterConfig {
    fn prepare(
        &self,
        _id: &ComponentId,
        _env: &PrepareEnv<'_>,
    ) -> Result<Box<dyn Prepared>, PrepareError> {
        Ok(Box::new(PreparedLimiter {
            config: self.clone(),
            gauge: OnceLock::new(),
        }))
    }
}

/// One gauge per component id, shared by the pipelines that list it; started with the
/// first pipeline's limiter (inside the runtime) and stopped at shutdown.
struct PreparedLimiter {
    config: MemoryLimiterConfig,
    gauge: OnceLock<Arc<MemoryGauge>>,
}

impl Prepared for PreparedLimiter {
    fn build(
        &self,
        id: &ComponentId,
        signal: Signal,
        next: Arc<dyn Consumer>,
        metrics: &SelfMetrics,
    ) -> anyhow::Result<Arc<dyn Consumer>> {
        let name = id.to_string();
        let gauge = self
            .gauge
            .get_or_init(|| MemoryGauge::start(&name, &self.config))
            .clone();
        Ok(Arc::new(MemoryLimiter::new(
            &name, signal, gauge, next, metrics,
        )))
    }

    fn stop(&self) {
        if let Some(g) = self.gauge.get() {
            g.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::testenv::logs;

    const MIB: u64 = 1024 * 1024;

    fn limiter_config(limit_mib: u64) -> MemoryLimiterConfig {
        MemoryLimiterConfig {
            check_interval: Some(Duration::from_millis(250)),
            limit_mib,
            ..Default::default()
        }
    }

    /// Counts what the limiter lets through.
    #[derive(Default)]
    struct Count(Mutex<usize>);

    #[async_trait]
    impl Consumer for Count {
        async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) += batch.item_count();
            Ok(())
        }
    }

    #[test]
    fn the_soft_limit_is_the_hard_limit_less_the_spike() {
        assert_eq!(limiter_config(100).limits(), (100 * MIB, 80 * MIB));
        let with_spike = MemoryLimiterConfig {
            spike_limit_mib: 30,
            ..limiter_config(100)
        };
        assert_eq!(with_spike.limits(), (100 * MIB, 70 * MIB));
        let by_share = MemoryLimiterConfig {
            check_interval: Some(Duration::from_secs(1)),
            limit_percentage: 50,
            spike_limit_percentage: 10,
            ..Default::default()
        };
        let total = crate::memory::total_bytes().expect("this machine's memory");
        let (hard, soft) = by_share.limits();
        assert_eq!(hard, total / 100 * 50);
        assert_eq!(soft, hard - total / 100 * 10);
    }

    #[test]
    fn each_rule_names_its_key() {
        let paths = |c: MemoryLimiterConfig| -> Vec<String> {
            c.validate().into_iter().map(|e| e.path).collect()
        };
        assert!(paths(limiter_config(100)).is_empty());
        assert_eq!(
            paths(MemoryLimiterConfig::default()),
            ["check_interval", "limit_mib"]
        );
        assert_eq!(
            paths(MemoryLimiterConfig {
                check_interval: Some(Duration::ZERO),
                ..limiter_config(100)
            }),
            ["check_interval"]
        );
        assert_eq!(
            paths(MemoryLimiterConfig {
                spike_limit_mib: 100,
                ..limiter_config(100)
            }),
            ["spike_limit_mib"]
        );
        assert_eq!(
            paths(MemoryLimiterConfig {
                limit_percentage: 101,
                ..limiter_config(0)
            }),
            ["limit_percentage"]
        );
        assert_eq!(
            paths(MemoryLimiterConfig {
                limit_percentage: 50,
                spike_limit_percentage: 50,
                ..limiter_config(0)
            }),
            ["spike_limit_percentage"]
        );
    }

    #[tokio::test]
    async fn below_the_soft_limit_data_passes() {
        // A terabyte: this process is far below it.
        let gauge = MemoryGauge::start("memory_limiter", &limiter_config(1 << 20));
        let next = Arc::new(Count::default());
        let metrics = SelfMetrics::new();
        let limiter = MemoryLimiter::new(
            "memory_limiter",
            Signal::Logs,
            gauge.clone(),
            next.clone(),
            &metrics,
        );
        limiter.consume(logs(3)).await.expect("accepted");
        assert_eq!(*next.0.lock().unwrap_or_else(|e| e.into_inner()), 3);
        gauge.stop();
    }

    #[tokio::test]
    async fn above_the_soft_limit_data_is_refused_retryably_and_counted() {
        // One MiB: this process's resident memory is always above it.
        let gauge = MemoryGauge::start("memory_limiter", &limiter_config(1));
        let next = Arc::new(Count::default());
        let metrics = SelfMetrics::new();
        let limiter = MemoryLimiter::new(
            "memory_limiter",
            Signal::Logs,
            gauge.clone(),
            next.clone(),
            &metrics,
        );
        let err = limiter.consume(logs(4)).await.expect_err("refused");
        assert!(err.is_retryable());
        assert_eq!(err.retry_after, Some(Duration::from_millis(250)));
        assert!(err.message.contains("high memory usage"), "{}", err.message);
        assert_eq!(*next.0.lock().unwrap_or_else(|e| e.into_inner()), 0);
        let labels = ProcessorLabels {
            processor: "memory_limiter".into(),
        };
        let refused = metrics
            .processor_refused
            .get(Signal::Logs)
            .get_or_create(&labels)
            .get();
        assert_eq!(refused, 4);
        gauge.stop();
    }
}
