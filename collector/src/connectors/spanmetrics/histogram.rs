//! The two duration histograms `spanmetrics` records: explicit bounds (OTLP's
//! `Histogram`: a value falls in the first bucket whose upper bound is at or above it)
//! and base-2 exponential (OTLP's `ExponentialHistogram`: bucket `i` at scale `s` holds
//! values in (2^(i/2^s), 2^((i+1)/2^s)], starting at the finest scale, 20, and halving
//! the resolution whenever a value would need more than `max_size` buckets).

use pdata::otlp::metrics::v1::exponential_histogram_data_point::Buckets;

/// Counts, sum, min and max shared by both kinds.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    fn observe(&mut self, v: f64) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum += v;
    }
}

/// An explicit-bounds histogram; the bounds are shared by every series.
#[derive(Debug, Clone)]
pub struct Explicit {
    pub stats: Stats,
    /// One more than the bounds: the last bucket is above every bound.
    pub counts: Vec<u64>,
}

impl Explicit {
    pub fn new(bounds: &[f64]) -> Self {
        Explicit {
            stats: Stats::default(),
            counts: vec![0; bounds.len() + 1],
        }
    }

    pub fn observe(&mut self, bounds: &[f64], v: f64) {
        self.stats.observe(v);
        // Upper bounds are inclusive: the first bound >= v.
        let i = bounds.partition_point(|b| *b < v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
    }
}

/// The finest scale OTLP allows; a histogram starts here and only gets coarser.
const MAX_SCALE: i32 = 20;
/// The coarsest scale (index = exponent >> 10): any f64 fits in a few buckets.
const MIN_SCALE: i32 = -10;

/// A base-2 exponential histogram of non-negative values (durations).
#[derive(Debug, Clone)]
pub struct Exponential {
    pub stats: Stats,
    pub scale: i32,
    pub zero_count: u64,
    /// Index of `counts[0]`.
    offset: i64,
    counts: Vec<u64>,
    max_size: usize,
}

/// The bucket index of `v > 0` at `scale`: `ceil(log2(v) * 2^scale) - 1`, computed at
/// scale 0 from the exponent for coarse scales so powers of two land exactly.
fn index(v: f64, scale: i32) -> i64 {
    if scale <= 0 {
        let (mantissa, exp) = frexp(v);
        // v = mantissa * 2^exp with mantissa in [0.5, 1): an exact power of two is the
        // upper (inclusive) edge of the bucket below.
        let idx0 = if mantissa == 0.5 { exp - 2 } else { exp - 1 } as i64;
        idx0 >> (-scale)
    } else {
        let factor = f64::from(1u32 << scale);
        (v.log2() * factor).ceil() as i64 - 1
    }
}

/// `v = m * 2^e` with `m` in [0.5, 1), for finite `v > 0`.
fn frexp(v: f64) -> (f64, i32) {
    let bits = v.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    if exp_bits == 0 {
        // Subnormal: scale up into the normal range first.
        let (m, e) = frexp(v * f64::from(1u32 << 30) * f64::from(1u32 << 24));
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (m, exp_bits - 1022)
}

impl Exponential {
    pub fn new(max_size: usize) -> Self {
        Exponential {
            stats: Stats::default(),
            scale: MAX_SCALE,
            zero_count: 0,
            offset: 0,
            counts: Vec::new(),
            max_size: max_size.max(1),
        }
    }

    pub fn observe(&mut self, v: f64) {
        self.stats.observe(v);
        if v <= 0.0 || !v.is_finite() {
            self.zero_count += 1;
            return;
        }
        let mut i = index(v, self.scale);
        if self.counts.is_empty() {
            self.offset = i;
            self.counts.push(1);
            return;
        }
        let lo = self.offset.min(i);
        let hi = (self.offset + self.counts.len() as i64 - 1).max(i);
        if hi - lo + 1 > self.max_size as i64 {
            // The smallest change of scale that fits the range in max_size buckets.
            let mut change = 0;
            while (hi >> change) - (lo >> change) + 1 > self.max_size as i64
                && self.scale - change > MIN_SCALE
            {
                change += 1;
            }
            self.downscale(change);
            i = index(v, self.scale);
        }
        if i < self.offset {
            let grow = (self.offset - i) as usize;
            let mut counts = vec![0; grow];
            counts.append(&mut self.counts);
            self.counts = counts;
            self.offset = i;
        }
        let at = (i - self.offset) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += 1;
    }

    /// Halves the resolution `change` times, merging buckets.
    fn downscale(&mut self, change: i32) {
        if change <= 0 {
            return;
        }
        let new_offset = self.offset >> change;
        let mut merged: Vec<u64> = Vec::new();
        for (k, c) in self.counts.iter().enumerate() {
            let idx = ((self.offset + k as i64) >> change) - new_offset;
            let idx = idx as usize;
            if idx >= merged.len() {
                merged.resize(idx + 1, 0);
            }
            merged[idx] += c;
        }
        self.offset = new_offset;
        self.counts = merged;
        self.scale -= change;
    }

    /// The positive buckets as OTLP carries them.
    pub fn positive(&self) -> Buckets {
        Buckets {
            offset: i32::try_from(self.offset).unwrap_or(i32::MAX),
            bucket_counts: self.counts.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_bounds_are_inclusive_upper_edges() {
        let bounds = [2.0, 4.0, 10.0];
        let mut h = Explicit::new(&bounds);
        for v in [0.0, 2.0, 2.5, 4.0, 9.0, 10.0, 11.0, 1e9] {
            h.observe(&bounds, v);
        }
        assert_eq!(h.counts, vec![2, 2, 2, 2]);
        assert_eq!((h.stats.count, h.stats.min, h.stats.max), (8, 0.0, 1e9));
    }

    #[test]
    fn exponential_indexes_match_the_definition() {
        // At scale 0, bucket i holds (2^i, 2^(i+1)].
        assert_eq!(index(1.0, 0), -1);
        assert_eq!(index(1.5, 0), 0);
        assert_eq!(index(2.0, 0), 0);
        assert_eq!(index(4.0, 0), 1);
        assert_eq!(index(4.1, 0), 2);
        // At scale -1, bucket i holds (4^i, 4^(i+1)].
        assert_eq!(index(4.0, -1), 0);
        assert_eq!(index(8.0, -1), 1);
        assert_eq!(index(16.0, -1), 1);
        assert_eq!(index(17.0, -1), 2);
        // At scale 1, buckets are half as wide in log2: sqrt(2) is the first edge above 1.
        assert_eq!(index(1.2, 1), 0);
        assert_eq!(index(1.5, 1), 1);
    }

    #[test]
    fn exponential_downscales_to_fit_max_size() {
        let mut h = Exponential::new(4);
        for v in [1.0, 2.0, 1000.0, 0.0, 3.0] {
            h.observe(v);
        }
        assert!(h.counts.len() <= 4, "{h:?}");
        assert_eq!(h.zero_count, 1);
        assert_eq!(h.counts.iter().sum::<u64>(), 4);
        // Every value lies in the bucket its index names at the final scale.
        let base = 2f64.powf(2f64.powi(-h.scale));
        for v in [1.0f64, 2.0, 3.0, 1000.0] {
            let i = index(v, h.scale);
            let (lo, hi) = (base.powi(i as i32), base.powi(i as i32 + 1));
            assert!(
                v > lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9),
                "{v} not in ({lo}, {hi}]"
            );
            assert!(h.counts[(i - h.offset) as usize] > 0);
        }
    }
}
