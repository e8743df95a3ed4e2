//! Email addresses: found by their regex alone, once an `@` gates them in.

/// An address: a local part, `@`, dot-separated host labels and a
/// top-level domain of two to 24 letters.
pub(super) const PATTERN: &str = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b";
