//! Library-level tests of the `tail_sampling` processor with the real
//! tail-sampling guest (built by `guest-crates/build.sh`).

mod common;
mod deciding;
mod flood;
mod ground_truth;
mod readme;
mod timer;
