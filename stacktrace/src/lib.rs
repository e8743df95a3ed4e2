//! Stack-trace parsing shared by the edge guests (envelope assembly, symbolize)
//! and the repair engine.
