//! What a component type gives the registry ([`crate::components`]): one [`Factory`] per
//! type (its name, signals and description, how to parse its YAML) and, per kind, the
//! trait its parsed config implements to become a running part: [`Receiver`],
//! [`Processor`], [`Exporter`], [`Extension`], and for connectors a
//! [`ConnectorFactory`] with the signal pairs it joins and the [`Connector`] trait. The
//! service builds pipelines through these traits alone, without naming a concrete
//! component.
//!
//! This module sits between [`crate::config`] (which it depends on) and the components
//! (which depend on it); neither `config` nor this module imports a component.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pdata::{Consumer, Signal};
use serde_yaml::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{
    AnyConfig, ComponentConfig, ComponentId, ConfigError, PipelineId, parse_component,
};
use crate::receivers::Consumers;
use crate::storage::{DirStore, FileStorage};
use crate::telemetry::{Health, SelfMetrics};

/// Deserializes (unknown keys refused) and validates one component's YAML at a path.
pub type ParseFn = fn(&Value, &str) -> Result<Box<dyn AnyConfig>, Vec<ConfigError>>;

/// One component type of one kind: what `tracemend components` lists and how its YAML
/// becomes a config. `D` is the kind's trait (`dyn Exporter`, ...).
pub struct Factory<D: ?Sized + 'static> {
    /// The type name in YAML ids, e.g. `otlphttp`.
    pub ty: &'static str,
    /// The signals it handles (empty for extensions).
    pub signals: &'static [Signal],
    /// One line for `tracemend components`.
    pub about: &'static str,
    /// Deserializes (unknown keys refused) and validates its YAML.
    pub parse: ParseFn,
    /// The parsed config as the kind's trait; `None` for a config of another type.
    pub view: fn(&dyn AnyConfig) -> Option<&D>,
}

fn parse_boxed<T: ComponentConfig + AnyConfig>(
    value: &Value,
    path: &str,
) -> Result<Box<dyn AnyConfig>, Vec<ConfigError>> {
    parse_component::<T>(value, path).map(|c| Box::new(c) as Box<dyn AnyConfig>)
}

macro_rules! entry_constructor {
    ($(#[$doc:meta])* $name:ident, $view:ident, $trait:ident) => {
        fn $view<T: $trait + AnyConfig>(c: &dyn AnyConfig) -> Option<&(dyn $trait + 'static)> {
            c.downcast_ref::<T>().map(|t| t as &(dyn $trait + 'static))
        }

        $(#[$doc])*
        pub const fn $name<T: ComponentConfig + AnyConfig + $trait>(
            ty: &'static str,
            signals: &'static [Signal],
            about: &'static str,
        ) -> Factory<dyn $trait> {
            Factory {
                ty,
                signals,
                about,
                parse: parse_boxed::<T>,
                view: $view::<T>,
            }
        }
    };
}

entry_constructor!(
    /// The registry row of a receiver type whose config is `T`.
    receiver, view_receiver, Receiver
);
entry_constructor!(
    /// The registry row of a processor type whose config is `T`.
    processor, view_processor, Processor
);
entry_constructor!(
    /// The registry row of an exporter type whose config is `T`.
    exporter, view_exporter, Exporter
);
entry_constructor!(
    /// The registry row of an extension type whose config is `T`.
    extension, view_extension, Extension
);

/// The registry row of a connector type: like a [`Factory`], with the (exporter
/// pipeline signal, receiver pipeline signal) pairs it joins instead of signals.
pub struct ConnectorFactory {
    /// The type name in YAML ids, e.g. `spanmetrics`.
    pub ty: &'static str,
    /// (from, to): the signal of a pipeline it ends, the signal of a pipeline it feeds.
    pub pairs: &'static [(Signal, Signal)],
    /// One line for `tracemend components`.
    pub about: &'static str,
    /// Deserializes (unknown keys refused) and validates its YAML.
    pub parse: ParseFn,
    /// The parsed config as a [`Connector`]; `None` for a config of another type.
    pub view: fn(&dyn AnyConfig) -> Option<&dyn Connector>,
}

fn view_connector<T: Connector + AnyConfig>(
    c: &dyn AnyConfig,
) -> Option<&(dyn Connector + 'static)> {
    c.downcast_ref::<T>()
        .map(|t| t as &(dyn Connector + 'static))
}

/// The registry row of a connector type whose config is `T`.
pub const fn connector<T: ComponentConfig + AnyConfig + Connector>(
    ty: &'static str,
    pairs: &'static [(Signal, Signal)],
    about: &'static str,
) -> ConnectorFactory {
    ConnectorFactory {
        ty,
        pairs,
        about,
        parse: parse_boxed::<T>,
        view: view_connector::<T>,
    }
}

/// What a connector gets to build one instance: one per (id, `from`, `to`), shared by
/// every pipeline of signal `from` that lists it as an exporter.
pub struct ConnectorContext<'a> {
    /// The connector's id.
    pub id: &'a ComponentId,
    /// The signal it takes (the pipelines it ends).
    pub from: Signal,
    /// The signal it emits (the pipelines it feeds).
    pub to: Signal,
    /// Every pipeline of signal `to` that lists the connector as a receiver, by id, as
    /// the consumer at its head (its first processor, or its exporters).
    pub pipelines: &'a [(PipelineId, Arc<dyn Consumer>)],
    /// The collector's own metrics.
    pub metrics: &'a SelfMetrics,
}

impl ConnectorContext<'_> {
    /// Every downstream pipeline as one consumer (what all but `routing` feed).
    pub fn all_pipelines(&self) -> Arc<dyn Consumer> {
        crate::service::fan_out(self.pipelines.iter().map(|(_, c)| c.clone()).collect())
    }
}

/// A connector's config: the exporter of one pipeline and the receiver of others.
pub trait Connector: Send + Sync {
    /// The instance that takes `ctx.from` batches and feeds `ctx.pipelines`. It runs
    /// inside the tokio runtime; its `shutdown` flushes what it holds downstream (called
    /// after every pipeline feeding it has shut down, before the ones it feeds).
    fn build(&self, ctx: ConnectorContext<'_>) -> anyhow::Result<Arc<dyn Consumer>>;
}

/// A receiver's config: starts listening and feeds `consumers`.
#[async_trait]
pub trait Receiver: Send + Sync {
    /// Binds and starts serving; returns once it accepts data.
    async fn start(
        &self,
        id: &ComponentId,
        consumers: Consumers,
        metrics: &SelfMetrics,
    ) -> anyhow::Result<Box<dyn Running>>;
}

/// A started receiver.
#[async_trait]
pub trait Running: Send {
    /// Stops accepting and waits for requests in flight.
    async fn stop(self: Box<Self>);
}

/// What an exporter gets to build one instance (one per id and signal).
pub struct ExporterContext<'a> {
    /// The exporter's id.
    pub id: &'a ComponentId,
    /// The signal of this instance.
    pub signal: Signal,
    /// True for the first instance built for this id (one-time work, e.g. truncating
    /// the `file` exporter's output).
    pub first_of_id: bool,
    /// The persistent queue's storage, when [`AnyConfig::queue_storage`] names one.
    pub storage: Option<DirStore>,
    /// The collector's own metrics.
    pub metrics: &'a SelfMetrics,
    /// The health the `health_check` endpoint reports (an exporter marks itself
    /// unhealthy when its destination refuses its credentials).
    pub health: &'a Arc<Health>,
}

/// An exporter's config: builds the consumer at the end of a pipeline.
pub trait Exporter: Send + Sync {
    /// One instance for `ctx.signal`, shared by the pipelines of that signal.
    fn build(&self, ctx: ExporterContext<'_>) -> anyhow::Result<Arc<dyn Consumer>>;
}

/// What an extension gets to start.
pub struct ExtensionContext {
    /// The health the `health_check` endpoint reports.
    pub health: Arc<Health>,
    /// Cancelled at shutdown, after the pipelines have drained.
    pub stop: CancellationToken,
}

/// A started extension: a server task to wait for at shutdown, or storage for
/// persistent queues.
#[derive(Default)]
pub struct StartedExtension {
    /// A task that ends after [`ExtensionContext::stop`] is cancelled.
    pub task: Option<JoinHandle<()>>,
    /// Storage offered to exporters' persistent queues.
    pub storage: Option<FileStorage>,
}

/// An extension's config: starts it before any pipeline.
#[async_trait]
pub trait Extension: Send + Sync {
    /// Starts the extension.
    async fn start(
        &self,
        id: &ComponentId,
        ctx: &ExtensionContext,
    ) -> anyhow::Result<StartedExtension>;
}

/// A processor's config: made ready once per component id ([`Processor::prepare`],
/// also run by `tracemend validate`), then built into each pipeline that lists it.
pub trait Processor: Send + Sync {
    /// The work done once per id before any receiver opens (loading a WASM module), so a
    /// processor that cannot start stops startup with its YAML path.
    fn prepare(
        &self,
        id: &ComponentId,
        env: &PrepareEnv<'_>,
    ) -> Result<Box<dyn Prepared>, PrepareError>;
}

/// A processor made ready for its pipelines.
pub trait Prepared: Send + Sync {
    /// One pipeline's instance, passing what it keeps to `next`. Runs inside the
    /// tokio runtime.
    fn build(
        &self,
        id: &ComponentId,
        signal: Signal,
        next: Arc<dyn Consumer>,
        metrics: &SelfMetrics,
    ) -> anyhow::Result<Arc<dyn Consumer>>;

    /// Called once at shutdown, after every pipeline has shut down.
    fn stop(&self) {}
}

/// Why a processor could not be made ready, by where the config error points.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// `module:` names nothing loadable (`processors.<id>.module`).
    #[error("{0}")]
    Module(String),
    /// The processor refused to start (compile, instantiate, the guest refusing its
    /// config): `processors.<id>`.
    #[error("{0}")]
    Other(String),
    /// Not the processor's fault (the WebAssembly runtime did not start): stops
    /// startup as is.
    #[error(transparent)]
    Fatal(anyhow::Error),
}

/// What [`Processor::prepare`] gets: the collector's metrics and health (none for
/// `validate`), and resources its processors share, made once on first use (one
/// WebAssembly runtime for every guest).
pub struct PrepareEnv<'a> {
    /// Where runtime metric families register; `None` under `validate`.
    pub metrics: Option<&'a SelfMetrics>,
    /// Where processors add health probes; `None` under `validate`.
    pub health: Option<&'a Health>,
    shared: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl<'a> PrepareEnv<'a> {
    /// An environment with no resources made yet.
    pub fn new(metrics: Option<&'a SelfMetrics>, health: Option<&'a Health>) -> Self {
        PrepareEnv {
            metrics,
            health,
            shared: Mutex::new(HashMap::new()),
        }
    }

    /// The one `T` of this startup, made by `init` on first use.
    pub fn shared<T: Any + Send + Sync>(
        &self,
        init: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = shared.get(&TypeId::of::<T>())
            && let Ok(t) = found.clone().downcast::<T>()
        {
            return Ok(t);
        }
        let made = Arc::new(init()?);
        shared.insert(TypeId::of::<T>(), made.clone());
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_resource_is_made_once_per_type() {
        let env = PrepareEnv::new(None, None);
        let mut made = 0;
        let a = env
            .shared(|| {
                made += 1;
                Ok(7u32)
            })
            .expect("made");
        let b = env.shared(|| Ok(8u32)).expect("found");
        assert_eq!((*a, *b, made), (7, 7, 1));
        let s = env.shared(|| Ok("other type")).expect("made");
        assert_eq!(*s, "other type");
        assert!(env.shared::<u64>(|| anyhow::bail!("no")).is_err());
        assert_eq!(*env.shared(|| Ok(9u64)).expect("made after a failure"), 9);
    }
}
