//! The `envelope-assembler` world: an error trace and its logs in, a Failure
//! Envelope (JSON) or nothing out.

use crate::Batch;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "envelope-assembler",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "tracemend_sdk::assembler::bindings",
    });
}

#[doc(hidden)]
pub use bindings::exports::tracemend::plugin::assembler::Guest;
#[doc(hidden)]
pub use bindings::tracemend::plugin::types::Batch as RawBatch;

/// An envelope assembler. Built once per instance by `configure`.
pub trait Assembler: Sized + 'static {
    /// Validates the YAML `config:` block (JSON text) and builds the assembler.
    fn configure(config: &str) -> Result<Self, String>;
    /// Returns the envelope JSON for one error trace and its logs, or `None`.
    fn assemble(&mut self, trace: Batch<'_>, logs: Batch<'_>) -> Result<Option<String>, String>;
}

thread_local! {
    static STATE: std::cell::RefCell<Option<Box<dyn std::any::Any>>> =
        const { std::cell::RefCell::new(None) };
}

fn view(raw: &RawBatch) -> Batch<'_> {
    Batch::from_parts(
        &raw.arena,
        &raw.resources,
        &raw.scopes,
        &raw.spans,
        &raw.events,
        &raw.links,
        &raw.logs,
        &raw.values,
    )
}

#[doc(hidden)]
pub fn configure<A: Assembler>(config: &str) -> Result<(), String> {
    let a = A::configure(config)?;
    STATE.with(|st| *st.borrow_mut() = Some(Box::new(a)));
    Ok(())
}

#[doc(hidden)]
pub fn assemble<A: Assembler>(trace: RawBatch, logs: RawBatch) -> Result<Option<String>, String> {
    STATE.with(|st| {
        let mut g = st.borrow_mut();
        let a = g
            .as_mut()
            .and_then(|b| b.downcast_mut::<A>())
            .ok_or_else(|| "assemble called before configure".to_string())?;
        a.assemble(view(&trace), view(&logs))
    })
}

/// Exports an [`Assembler`] as the component's `envelope-assembler` world.
#[macro_export]
macro_rules! export_assembler {
    ($ty:ty) => {
        struct __TracemendAssemblerExport;
        impl $crate::assembler::Guest for __TracemendAssemblerExport {
            fn configure(config: String) -> Result<(), String> {
                $crate::assembler::configure::<$ty>(&config)
            }
            fn assemble(
                trace: $crate::assembler::RawBatch,
                logs: $crate::assembler::RawBatch,
            ) -> Result<Option<String>, String> {
                $crate::assembler::assemble::<$ty>(trace, logs)
            }
        }
        $crate::assembler::bindings::export_world!(
            __TracemendAssemblerExport with_types_in $crate::assembler::bindings
        );
    };
}
