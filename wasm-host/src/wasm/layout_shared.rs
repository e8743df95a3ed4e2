//! The row layout shared with the guest SDK; see `wit/layout.rs`.
#[path = "../../../wit/layout.rs"]
mod layout;
pub(crate) use layout::*;
