//! Email addresses: found by their regex alone, once an `@` (or its
//! percent-encoding `%40`) gates them in.

/// An address: a local part, `@` or `%40` (a query string or form body
/// carries `alice%40example.com`), dot-separated host labels and a
/// top-level domain of two to 24 letters.
pub(super) const PATTERN: &str = r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b";
