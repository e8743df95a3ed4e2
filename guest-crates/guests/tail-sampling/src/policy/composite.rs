//! `composite`: sub-policies in order, each with a share of the spans per
//! second.

use super::{Policy, Trace, Verdict};

/// One sub-policy of a composite, with its share of spans per second.
pub(crate) struct SubPolicy {
    /// Read by tests; kept so a debugger shows which sub-policy is which.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) name: String,
    pub(crate) policy: Policy,
    pub(crate) allocated: i64,
    pub(crate) sampled: i64,
}

/// contrib's composite: sub-policies in order; the first that samples
/// decides, and the trace is kept if that sub-policy's spans this second
/// stay within its allocation. Unlike contrib, the total over all
/// sub-policies is also held to `max_total_spans_per_second` (contrib
/// checks each sub-policy's own count against the total).
pub(crate) struct Composite {
    max_total: i64,
    pub(super) subs: Vec<SubPolicy>,
    total: i64,
    second: u64,
}

impl Composite {
    pub(crate) fn new(max_total: i64, subs: Vec<SubPolicy>) -> Self {
        Composite {
            max_total,
            subs,
            total: 0,
            second: u64::MAX,
        }
    }

    pub(super) fn evaluate(&mut self, t: &Trace<'_>) -> Verdict {
        let second = t.now_unix_nano / 1_000_000_000;
        if second != self.second {
            self.second = second;
            self.total = 0;
            for s in &mut self.subs {
                s.sampled = 0;
            }
        }
        let spans = i64::try_from(t.span_count).unwrap_or(i64::MAX);
        for sub in &mut self.subs {
            if matches!(
                sub.policy.evaluate(t),
                Verdict::Sampled | Verdict::InvertSampled
            ) {
                let would = sub.sampled.saturating_add(spans);
                let total = self.total.saturating_add(spans);
                if would <= sub.allocated && total <= self.max_total {
                    sub.sampled = would;
                    self.total = total;
                    return Verdict::Sampled;
                }
                // Over budget: not sampled, and nothing counted, so a smaller
                // trace may still fit this second (as contrib).
                return Verdict::NotSampled;
            }
        }
        Verdict::NotSampled
    }

    /// Sub-policy names in evaluation order (for tests).
    #[cfg(test)]
    pub(crate) fn order(&self) -> Vec<(&str, i64)> {
        self.subs
            .iter()
            .map(|s| (s.name.as_str(), s.allocated))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::config;
    use crate::policy::Policy;

    #[test]
    fn composite_order_and_allocation() {
        // The contrib README's composite example: 50% and 25%, and an
        // unallocated always_sample that gets the remaining 25%.
        let c = config::parse(
            r#"{"policies":[{"name":"c","type":"composite","composite":{
                "max_total_spans_per_second":1000,
                "policy_order":["p3","p1"],
                "composite_sub_policy":[
                  {"name":"p1","type":"numeric_attribute","numeric_attribute":{"key":"key1","min_value":50}},
                  {"name":"p2","type":"string_attribute","string_attribute":{"key":"key2","values":["value1"]}},
                  {"name":"p3","type":"always_sample"}],
                "rate_allocation":[{"policy":"p1","percent":50},{"policy":"p2","percent":25}]}}]}"#,
        )
        .expect("valid");
        let Policy::Composite(comp) = &c.policies[0].policy else {
            panic!("not a composite")
        };
        assert_eq!(comp.order(), [("p3", 250), ("p1", 500), ("p2", 250)]);
    }
}
