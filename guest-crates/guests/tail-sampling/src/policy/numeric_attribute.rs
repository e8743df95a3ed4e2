//! `numeric_attribute`: an int attribute within `[min_value, max_value]`.

use tracemend_sdk::Value;

use super::{Trace, Verdict, attribute_verdict};

/// Only int attributes count: contrib reads any value with `Int()`, which
/// makes a double or string attribute look like 0 and match ranges that
/// include 0.
pub(super) fn evaluate(t: &Trace<'_>, key: &str, min: i64, max: i64, invert: bool) -> Verdict {
    let hit = |v: Value<'_>| v.as_int().is_some_and(|i| i >= min && i <= max);
    attribute_verdict(t, key, hit, invert)
}
