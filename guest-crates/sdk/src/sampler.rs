//! The `sampler` world: decide keep or drop for one complete trace.

use crate::Batch;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "sampler",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "tracemend_sdk::sampler::bindings",
    });
}

#[doc(hidden)]
pub use bindings::exports::tracemend::plugin::trace_sampler::Guest;
#[doc(hidden)]
pub use bindings::tracemend::plugin::types::{Batch as RawBatch, Decision as RawDecision};

/// When this decision is made, Unix nanoseconds, as the host tells it: fixed
/// for one `sample` call. The only clock a sampler has; use it for rates.
pub fn decision_time_unix_nano() -> u64 {
    bindings::tracemend::plugin::sampler_context::decision_time_unix_nano()
}

/// Size in bytes of the trace being decided, encoded as an OTLP protobuf
/// `TracesData`, as the host measured it.
pub fn trace_size_bytes() -> u64 {
    bindings::tracemend::plugin::sampler_context::trace_size_bytes()
}

/// Whether the host found that the `ottl_condition` policy at `path` (its YAML path in
/// `policies`, e.g. `policies[0].and.and_sub_policy[1]`) holds for the trace being
/// decided. The host evaluates OTTL; a sampler only asks.
pub fn ottl_condition_holds(path: &str) -> bool {
    bindings::tracemend::plugin::sampler_context::ottl_condition_holds(path)
}

/// A tail sampler. Built once per instance by `configure`.
pub trait Sampler: Sized + 'static {
    /// Validates the YAML `config:` block (JSON text) and builds the sampler.
    fn configure(config: &str) -> Result<Self, String>;
    /// Returns `(keep, reason)` for one complete trace.
    fn sample(&mut self, trace: Batch<'_>) -> Result<(bool, String), String>;
}

thread_local! {
    static STATE: std::cell::RefCell<Option<Box<dyn std::any::Any>>> =
        const { std::cell::RefCell::new(None) };
}

#[doc(hidden)]
pub fn configure<S: Sampler>(config: &str) -> Result<(), String> {
    let s = S::configure(config)?;
    STATE.with(|st| *st.borrow_mut() = Some(Box::new(s)));
    Ok(())
}

#[doc(hidden)]
pub fn sample<S: Sampler>(raw: RawBatch) -> Result<RawDecision, String> {
    STATE.with(|st| {
        let mut g = st.borrow_mut();
        let s = g
            .as_mut()
            .and_then(|b| b.downcast_mut::<S>())
            .ok_or_else(|| "sample called before configure".to_string())?;
        let b = Batch::from_parts(
            &raw.arena,
            &raw.resources,
            &raw.scopes,
            &raw.spans,
            &raw.events,
            &raw.links,
            &raw.logs,
            &raw.values,
        );
        let (keep, reason) = s.sample(b)?;
        Ok(RawDecision { keep, reason })
    })
}

/// Exports a [`Sampler`] as the component's `sampler` world.
#[macro_export]
macro_rules! export_sampler {
    ($ty:ty) => {
        struct __TracemendSamplerExport;
        impl $crate::sampler::Guest for __TracemendSamplerExport {
            fn configure(config: String) -> Result<(), String> {
                $crate::sampler::configure::<$ty>(&config)
            }
            fn sample(
                trace: $crate::sampler::RawBatch,
            ) -> Result<$crate::sampler::RawDecision, String> {
                $crate::sampler::sample::<$ty>(trace)
            }
        }
        $crate::sampler::bindings::export_world!(
            __TracemendSamplerExport with_types_in $crate::sampler::bindings
        );
    };
}
