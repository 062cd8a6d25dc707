//! Quantiles of sorted data.

/// The `p`-quantile of ascending `sorted` values by linear interpolation between order statistics
/// (Hyndman & Fan type 7: PostgreSQL's `percentile_cont`, pandas' and NumPy's default).
pub fn quantile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_percentile_cont() {
        // SELECT percentile_cont(ARRAY[0, 0.25, 0.5, 0.9, 1]) WITHIN GROUP (ORDER BY x)
        //   FROM unnest(ARRAY[1, 2, 4, 10]) x;  ->  {1, 1.75, 3, 8.2, 10}
        let xs = [1.0, 2.0, 4.0, 10.0];
        let got: Vec<f64> = [0.0, 0.25, 0.5, 0.9, 1.0].iter().map(|&p| quantile_sorted(&xs, p).unwrap()).collect();
        let want = [1.0, 1.75, 3.0, 8.2, 10.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert_eq!(quantile_sorted(&[5.0], 0.3), Some(5.0));
        assert_eq!(quantile_sorted(&[], 0.5), None);
        assert_eq!(quantile_sorted(&xs, 1.5), None);
    }
}
