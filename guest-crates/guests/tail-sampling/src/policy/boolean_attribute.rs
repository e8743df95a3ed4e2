//! `boolean_attribute`: a bool attribute equal to `value`.

use tracemend_sdk::Value;

use super::{Trace, Verdict, attribute_verdict};

/// Only bool attributes count (contrib's `Bool()` reads any other type as
/// false).
pub(super) fn evaluate(t: &Trace<'_>, key: &str, value: bool, invert: bool) -> Verdict {
    let hit = |v: Value<'_>| v.as_bool() == Some(value);
    attribute_verdict(t, key, hit, invert)
}
