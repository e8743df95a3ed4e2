//! Every `bindgen!` of the host, in one module so the generated code compiles
//! once. The three worlds share the `host` and `types` interfaces: the sampler
//! and assembler bindings reuse the processor's through `with`.

pub(crate) mod processor {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "processor",
    });
}

pub(crate) mod sampler {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sampler",
        with: {
            "tracemend:plugin/host": super::processor::tracemend::plugin::host,
            "tracemend:plugin/types": super::processor::tracemend::plugin::types,
        },
    });
}

pub(crate) mod assembler {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "envelope-assembler",
        with: {
            "tracemend:plugin/host": super::processor::tracemend::plugin::host,
            "tracemend:plugin/types": super::processor::tracemend::plugin::types,
        },
    });
}

pub(crate) use processor::tracemend::plugin::host;
pub(crate) use processor::tracemend::plugin::row_interest;
pub(crate) use processor::tracemend::plugin::types;
