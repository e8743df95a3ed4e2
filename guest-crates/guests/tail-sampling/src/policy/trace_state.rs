//! `trace_state`: a span whose W3C `tracestate` holds `key` with one of
//! the values.

use std::collections::HashSet;

use super::{Trace, Verdict, sampled_if};

/// Sampled when any span's trace state has one of `values` under `key`.
pub(super) fn evaluate(t: &Trace<'_>, key: &str, values: &HashSet<String>) -> Verdict {
    sampled_if(
        t.batch
            .spans()
            .any(|s| trace_state_get(s.trace_state(), key).is_some_and(|v| values.contains(v))),
    )
}

/// The value of `key` in a W3C `tracestate` header (`k1=v1,k2=v2`), or
/// `None` if absent or the header is malformed (contrib drops a trace state
/// it cannot parse).
fn trace_state_get<'a>(ts: &'a str, key: &str) -> Option<&'a str> {
    let mut found = None;
    for member in ts.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (k, v) = member.split_once('=')?;
        if k.is_empty() || v.is_empty() {
            return None;
        }
        if k == key && found.is_none() {
            found = Some(v);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_read_and_malformed_states_have_none() {
        assert_eq!(trace_state_get("a=1,b=2", "b"), Some("2"));
        assert_eq!(trace_state_get(" a=1 ,\tb=2\t", "a"), Some("1"));
        // The first occurrence of a key counts.
        assert_eq!(trace_state_get("a=1,a=2", "a"), Some("1"));
        assert_eq!(trace_state_get("a=1,,b=2", "c"), None);
        // A member without `=`, or with an empty key or value: malformed.
        assert_eq!(trace_state_get("a=1,junk", "a"), None);
        assert_eq!(trace_state_get("a=1,=2", "a"), None);
        assert_eq!(trace_state_get("a=", "a"), None);
    }
}
