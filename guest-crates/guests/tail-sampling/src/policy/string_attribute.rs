//! `string_attribute`: a string attribute equal to one of the values, or
//! matching one of the regexes (`enabled_regex_matching`).

use std::collections::HashSet;

use regex::Regex;
use tracemend_sdk::Value;

use super::{Trace, Verdict, attribute_verdict};

/// How `string_attribute` compares values.
pub(crate) enum StringMatcher {
    Exact(HashSet<String>),
    /// Unanchored, like Go's `MatchString`: `val.*` matches `xvalue`.
    Regex(Vec<Regex>),
}

impl StringMatcher {
    fn matches(&self, s: &str) -> bool {
        match self {
            StringMatcher::Exact(set) => set.contains(s),
            StringMatcher::Regex(res) => res.iter().any(|r| r.is_match(s)),
        }
    }
}

/// As contrib: an empty string never matches, and only string values are
/// compared.
pub(super) fn evaluate(t: &Trace<'_>, key: &str, matcher: &StringMatcher, invert: bool) -> Verdict {
    let hit = |v: Value<'_>| {
        v.as_str()
            .is_some_and(|s| !s.is_empty() && matcher.matches(s))
    };
    attribute_verdict(t, key, hit, invert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_values_and_unanchored_regexes() {
        let exact = StringMatcher::Exact(["value".to_owned()].into_iter().collect());
        assert!(exact.matches("value"));
        assert!(!exact.matches("xvalue"));
        let re = StringMatcher::Regex(vec![Regex::new("val.*").expect("pattern")]);
        assert!(re.matches("xvalue"));
        assert!(!re.matches("other"));
    }
}
