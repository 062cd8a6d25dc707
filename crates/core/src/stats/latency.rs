//! Latency histograms for scoring statistics: counts of measured call latencies in quarter-octave
//! buckets, so that a fixed, small array per (model, function) in shared memory holds any latency
//! from a nanosecond to hours, and a percentile read from it is the upper bound of the bucket the
//! ranked call fell in: never below the measured latency and less than 2^(1/4) (19%) above it.

/// Bucket b holds latencies in [2^(b/4), 2^((b+1)/4)) nanoseconds; the last one also everything
/// longer (2^36 ns: 69 s).
pub const BUCKETS: usize = 144;

/// The bucket of a latency in nanoseconds.
pub fn bucket(ns: u64) -> usize {
    if ns <= 1 {
        return 0;
    }
    (((ns as f64).log2() * 4.0) as usize).min(BUCKETS - 1)
}

/// The upper bound of bucket `b`, in nanoseconds.
pub fn bucket_upper(b: usize) -> f64 {
    2f64.powf((b + 1) as f64 / 4.0)
}

/// The `q`-quantile (0 < q <= 1) of the latencies counted in `counts` (one count per bucket), in
/// microseconds: the upper bound of the bucket holding the call of rank ceil(q · calls). NaN when
/// nothing was counted.
pub fn percentile_us(counts: &[u64], q: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (b, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return bucket_upper(b) / 1000.0;
        }
    }
    f64::NAN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_lies_in_its_bucket() {
        for ns in [2u64, 3, 10, 999, 1_000, 4_321, 87_654, 1_000_000, 33_000_000, 60_000_000_000] {
            let b = bucket(ns);
            assert!(bucket_upper(b) > ns as f64, "{ns} ns: bucket {b} ends at {}", bucket_upper(b));
            assert!(b == 0 || bucket_upper(b - 1) <= ns as f64 * 1.000_000_1, "{ns} ns: bucket {b} starts above it");
            assert!(bucket_upper(b) < ns as f64 * 2f64.powf(0.25) * 1.000_001, "{ns} ns: at most a quarter octave above");
        }
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1, "anything longer goes to the last bucket");
        assert!((1..1_000_000u64).step_by(997).all(|ns| bucket(ns) <= bucket(ns + 1)), "buckets grow with the latency");
    }

    #[test]
    fn percentiles_read_the_ranked_call_from_above() {
        // 100 calls of 10 µs ... 1 ms: the true p95 is 950 µs, p99 990 µs
        let mut counts = vec![0u64; BUCKETS];
        let latencies: Vec<u64> = (1..=100).map(|i| i * 10_000).collect();
        for &ns in &latencies {
            counts[bucket(ns)] += 1;
        }
        for (q, truth_us) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0), (1.0, 1000.0)] {
            let p = percentile_us(&counts, q);
            assert!(p >= truth_us && p < truth_us * 2f64.powf(0.25), "q {q}: {p} µs against {truth_us} µs");
        }
        assert!(percentile_us(&[0; BUCKETS], 0.95).is_nan(), "nothing counted: no percentile");
        let mut one = vec![0u64; BUCKETS];
        one[bucket(5_000)] = 1;
        assert_eq!(percentile_us(&one, 0.95), percentile_us(&one, 0.01), "one call is every percentile");
    }
}
