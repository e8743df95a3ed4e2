//! `bytes_limiting`: the trace's protobuf bytes per second through a token
//! bucket (the host gives the size).

use super::{TokenBucket, Trace, Verdict, sampled_if};

/// Sampled while the bucket holds the trace's size in bytes.
pub(super) fn evaluate(t: &Trace<'_>, bucket: &mut TokenBucket) -> Verdict {
    sampled_if(bucket.allow(t.now_unix_nano, t.size_bytes as f64))
}
