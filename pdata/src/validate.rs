//! Item-level validation on receipt: what the OTLP spec says can never be valid is
//! removed and reported to the client as a partial success, instead of failing the
//! whole request or forwarding data a backend will reject.

use crate::Payload;

fn valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}

fn valid_optional_id(id: &[u8], len: usize) -> bool {
    id.is_empty() || id.len() == len
}

/// Whether an item with no `reason` to remove it stays; a reason is noted.
fn kept(reason: Option<&'static str>, note: &mut impl FnMut(&'static str)) -> bool {
    match reason {
        Some(r) => {
            note(r);
            false
        }
        None => true,
    }
}

/// Removes invalid items; returns how many were removed and a message saying why.
pub(crate) fn remove_invalid(payload: &mut Payload) -> (usize, String) {
    let mut removed = 0;
    let mut reasons: Vec<&'static str> = Vec::new();
    let mut note = |reason: &'static str| {
        removed += 1;
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    };
    match payload {
        Payload::Traces(req) => {
            for rs in &mut req.resource_spans {
                for ss in &mut rs.scope_spans {
                    ss.spans.retain(|s| {
                        kept(
                            if !valid_id(&s.trace_id, 16) {
                                Some("trace_id must be 16 bytes and not all zero")
                            } else if !valid_id(&s.span_id, 8) {
                                Some("span_id must be 8 bytes and not all zero")
                            } else if !valid_optional_id(&s.parent_span_id, 8) {
                                Some("parent_span_id must be empty or 8 bytes")
                            } else {
                                None
                            },
                            &mut note,
                        )
                    });
                }
            }
        }
        Payload::Logs(req) => {
            for rl in &mut req.resource_logs {
                for sl in &mut rl.scope_logs {
                    sl.log_records.retain(|l| {
                        kept(
                            if !valid_optional_id(&l.trace_id, 16) {
                                Some("log trace_id must be empty or 16 bytes")
                            } else if !valid_optional_id(&l.span_id, 8) {
                                Some("log span_id must be empty or 8 bytes")
                            } else {
                                None
                            },
                            &mut note,
                        )
                    });
                }
            }
        }
        // Metric data points carry no ids that make them unusable.
        Payload::Metrics(_) => {}
    }
    let message = if removed == 0 {
        String::new()
    } else {
        format!("{removed} item(s) rejected: {}", reasons.join("; "))
    };
    (removed, message)
}
