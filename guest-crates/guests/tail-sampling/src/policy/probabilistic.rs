//! `probabilistic`: a salted hash of the trace id against a threshold, the
//! same traces contrib picks.

use super::{Trace, Verdict, sampled_if};

/// contrib's default `hash_salt`, so both pick the same traces.
pub(crate) const DEFAULT_HASH_SALT: &str = "default-hash-seed";

/// Sampled when the salted hash of the trace id is at most `threshold`.
pub(super) fn evaluate(t: &Trace<'_>, salt: &str, threshold: u64) -> Verdict {
    sampled_if(fnv1a64(salt.as_bytes(), &t.trace_id) <= threshold)
}

/// 64-bit FNV-1a over `salt` then the trace id, as contrib's
/// `hashTraceID`: the same trace hashes the same on every instance.
pub(crate) fn fnv1a64(salt: &[u8], id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in salt.iter().chain(id) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `ratio * u64::MAX` as contrib computes it (`big.Float` at 64-bit
/// precision, rounded to nearest even, then truncated), so a trace id is
/// sampled here exactly when contrib samples it. Ratios at or above 1 give
/// `u64::MAX`, at or below 0 give 0.
pub(crate) fn threshold(ratio: f64) -> u64 {
    if ratio.is_nan() || ratio <= 0.0 {
        return 0;
    }
    if ratio >= 1.0 {
        return u64::MAX;
    }
    // ratio = mant * 2^exp exactly, with mant < 2^53.
    let bits = ratio.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mant, exp) = if raw_exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), raw_exp - 1075)
    };
    // The exact product fits in 117 bits.
    let mut p = u128::from(u64::MAX) * u128::from(mant);
    let width = 128 - p.leading_zeros() as i32;
    let mut exp = exp;
    if width > 64 {
        // Round to 64 significant bits, ties to even.
        let shift = (width - 64) as u32;
        let rem = p & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        p >>= shift;
        if rem > half || (rem == half && p & 1 == 1) {
            p += 1;
        }
        exp += shift as i32;
    }
    // ratio < 1, so the value is below u64::MAX and exp is negative here.
    let v = if exp >= 0 {
        p.checked_shl(exp as u32).unwrap_or(u128::MAX)
    } else if -exp >= 128 {
        0
    } else {
        p >> (-exp) as u32
    };
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b"", b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a", b""), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foo", b""), 0xdcb27518fed9d577);
        assert_eq!(fnv1a64(b"fo", b"o"), 0xdcb27518fed9d577);
    }

    #[test]
    fn thresholds() {
        assert_eq!(threshold(0.0), 0);
        assert_eq!(threshold(-1.0), 0);
        assert_eq!(threshold(1.0), u64::MAX);
        assert_eq!(threshold(2.0), u64::MAX);
        // (2^64-1)/2 = 2^63 - 0.5 has exactly 64 significant bits, so no
        // rounding; truncation gives 2^63 - 1.
        assert_eq!(threshold(0.5), (1u64 << 63) - 1);
        let t = threshold(0.1);
        let approx = (u64::MAX as f64 * 0.1) as u64;
        assert!(t.abs_diff(approx) < 1 << 12, "{t} vs {approx}");
    }
}
