//! The `processor` world: the [`Processor`] trait and [`export_processor!`].

use crate::{Batch, Edits};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "processor",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "tracemend_sdk::__private::bindings",
    });
}

/// A span/log processor. One value lives per instance: `configure` builds it
/// from the YAML `config:` block, then the host calls `process_traces` or
/// `process_logs` once per batch (never concurrently on one instance).
pub trait Processor: Sized + 'static {
    /// Validates the YAML `config:` block, given as JSON text (`{}` when the
    /// YAML has none), and builds the processor. An `Err` stops the collector
    /// at startup with this message, so name the key that is wrong.
    fn configure(config: &str) -> Result<Self, String>;

    /// Looks at a traces batch and records edits. `Err` is a fault: the batch
    /// follows the processor's `on_error` policy and no edit is applied.
    fn process_traces(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        let _ = (batch, edits);
        Ok(())
    }

    /// Looks at a logs batch and records edits.
    fn process_logs(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        let _ = (batch, edits);
        Ok(())
    }
}

/// Exports a [`Processor`] as the component's `processor` world.
///
/// ```ignore
/// tracemend_sdk::export_processor!(MyProcessor);
/// ```
#[macro_export]
macro_rules! export_processor {
    ($ty:ty) => {
        struct __TracemendProcessorExport;

        impl $crate::__private::Guest for __TracemendProcessorExport {
            fn configure(config: String) -> Result<(), String> {
                $crate::__private::configure::<$ty>(&config)
            }
            fn process_traces(
                batch: $crate::__private::RawBatch,
            ) -> Result<$crate::__private::RawEdits, String> {
                $crate::__private::process::<$ty>(batch, false)
            }
            fn process_logs(
                batch: $crate::__private::RawBatch,
            ) -> Result<$crate::__private::RawEdits, String> {
                $crate::__private::process::<$ty>(batch, true)
            }
        }

        $crate::__private::bindings::export_world!(
            __TracemendProcessorExport with_types_in $crate::__private::bindings
        );
    };
}

/// What the export macro expands to call. Not a stable API.
pub mod glue {
    use std::any::Any;
    use std::cell::RefCell;

    pub use super::bindings;
    pub use super::bindings::exports::tracemend::plugin::span_processor::Guest;
    pub use super::bindings::tracemend::plugin::types::{Batch as RawBatch, Edits as RawEdits};

    use super::Processor;
    use crate::{Batch, Edits};

    thread_local! {
        // A component instance is single-threaded; the state lives here
        // between calls. `Any` because a generic fn cannot own a static.
        static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
    }

    /// Builds and stores the processor.
    pub fn configure<P: Processor>(config: &str) -> Result<(), String> {
        let p = P::configure(config)?;
        STATE.with(|s| *s.borrow_mut() = Some(Box::new(p)));
        Ok(())
    }

    /// Runs one batch through the stored processor.
    pub fn process<P: Processor>(raw: RawBatch, logs: bool) -> Result<RawEdits, String> {
        STATE.with(|s| {
            let mut guard = s.borrow_mut();
            let p = guard
                .as_mut()
                .and_then(|b| b.downcast_mut::<P>())
                .ok_or_else(|| "process called before configure".to_string())?;
            let batch = Batch::from_parts(
                &raw.arena,
                &raw.resources,
                &raw.scopes,
                &raw.spans,
                &raw.events,
                &raw.links,
                &raw.logs,
                &raw.values,
            );
            let mut edits = Edits::new();
            if logs {
                p.process_logs(batch, &mut edits)?;
            } else {
                p.process_traces(batch, &mut edits)?;
            }
            let (rows, arena, values) = edits.into_parts();
            Ok(RawEdits {
                rows,
                arena,
                values,
            })
        })
    }
}
