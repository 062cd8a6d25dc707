//! Uncertainty of the metrics: 95 % intervals from a bootstrap that resamples groups (patients), not
//! rows. A patient with several encounters contributes correlated rows; resampling rows would treat
//! them as independent and give intervals that are too narrow. Each resample draws as many groups as
//! there are, with replacement, and weighs every row by how often its group was drawn; the metrics
//! are then computed with those weights (AUC, average precision and Brier exactly as scikit-learn
//! computes them with `sample_weight`). Intervals are percentiles of the resampled values (numpy's
//! default, linear interpolation). The generator is healthml's own (splitmix64), so a seed gives the
//! same resamples on every machine and in every release, and the test oracle can replay them.

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::metrics;
use crate::options::Options;

/// Two-sided coverage of every interval.
pub const LEVEL: f64 = 0.95;
/// Resamples unless told otherwise: enough for stable 2.5 % and 97.5 % percentiles.
pub const DEFAULT_RESAMPLES: usize = 1000;
/// Probabilities are clipped to [EPS, 1 - EPS] before their log-odds are taken.
const EPS: f64 = 1e-15;

/// How many resamples, from which seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapOptions {
    /// 0: no intervals.
    pub resamples: usize,
    pub seed: u64,
}

impl BootstrapOptions {
    /// Reads `resamples` (0 to 100,000) and, unless the caller's own `seed` is shared, `seed`.
    pub fn take(o: &mut Options<'_>, seed: Option<u64>) -> Result<Self> {
        let resamples = o.usize_in("resamples", DEFAULT_RESAMPLES, 0, 100_000)?;
        let seed = match seed {
            Some(s) => s,
            None => o.usize_in("seed", 42, 0, u32::MAX as usize)? as u64,
        };
        Ok(BootstrapOptions { resamples, seed })
    }
}

/// The options of a function that reports intervals (`evaluate`, `subgroup_report`): the group
/// column (default: the model's `group_by`), `resamples` and `seed`.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalOptions {
    pub group_by: Option<String>,
    pub bootstrap: BootstrapOptions,
}

impl IntervalOptions {
    pub fn from_json(function: &'static str, options: &Value) -> Result<Self> {
        let mut o = Options::new(function, options)?;
        let group_by = match o.raw("group_by") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "option \"group_by\" of {function} must be a column name, got {other}"
                ))
                .with_hint(r#"for example {"group_by": "patient_nbr"}"#))
            }
        };
        let bootstrap = BootstrapOptions::take(&mut o, None)?;
        o.finish()?;
        Ok(IntervalOptions { group_by, bootstrap })
    }
}

/// splitmix64: tiny, fast, and the same sequence everywhere (the Python oracle replays it).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A draw in 0..n (the high half of a 128-bit product: no modulo bias worth the name at these n).
    fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
}

/// An estimate on the rows as they are, and its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// Group index per row, from any keys: groups numbered in the byte order of their keys, so the
/// resamples do not depend on the order the rows were read in.
pub fn group_index<K: AsRef<[u8]>>(keys: &[K]) -> (Vec<usize>, usize) {
    let mut distinct: Vec<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let index = keys.iter().map(|k| distinct.binary_search(&k.as_ref()).unwrap_or_default()).collect();
    (index, distinct.len())
}

/// The groups of `rows` rows: those of `keys` ([`group_index`]), or every row its own.
pub fn clusters<K: AsRef<[u8]>>(keys: Option<&[K]>, rows: usize) -> (Vec<usize>, usize) {
    match keys {
        Some(keys) => group_index(keys),
        None => ((0..rows).collect(), rows),
    }
}

/// Rows sorted by score once: each resample's weighted AUC and average precision are then one pass.
struct Ranked<'a> {
    labels: &'a [bool],
    scores: &'a [f64],
    /// Row indices by descending score.
    order: Vec<usize>,
    /// Exclusive end (in `order`) of the tie block each position belongs to.
    block_end: Vec<usize>,
}

impl<'a> Ranked<'a> {
    fn new(labels: &'a [bool], scores: &'a [f64]) -> Self {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let mut block_end = vec![0; order.len()];
        let mut i = 0;
        while i < order.len() {
            let mut j = i + 1;
            while j < order.len() && scores[order[j]] == scores[order[i]] {
                j += 1;
            }
            block_end[i..j].fill(j);
            i = j;
        }
        Ranked { labels, scores, order, block_end }
    }

    /// Weighted AUC and average precision (None with one class), from the top score down.
    fn auc_and_ap(&self, weights: &[f64]) -> (Option<f64>, Option<f64>) {
        let (mut tp, mut fp) = (0.0, 0.0);
        let (mut area, mut ap_sum) = (0.0, 0.0);
        let mut i = 0;
        while i < self.order.len() {
            let end = self.block_end[i];
            let (mut block_tp, mut block_fp) = (0.0, 0.0);
            for &r in &self.order[i..end] {
                if self.labels[r] {
                    block_tp += weights[r];
                } else {
                    block_fp += weights[r];
                }
            }
            // the block's negatives rank below every positive seen so far, and tie with the block's
            // own positives (half a pair each)
            area += block_fp * (tp + 0.5 * block_tp);
            tp += block_tp;
            fp += block_fp;
            if block_tp > 0.0 {
                ap_sum += block_tp * tp / (tp + fp);
            }
            i = end;
        }
        let (positives, negatives) = (tp, fp);
        let auc = (positives > 0.0 && negatives > 0.0).then(|| area / (positives * negatives));
        let ap = (positives > 0.0).then(|| ap_sum / positives);
        (auc, ap)
    }

    fn brier(&self, weights: &[f64]) -> f64 {
        let (mut sum, mut total) = (0.0, 0.0);
        for ((&y, &p), &w) in self.labels.iter().zip(self.scores).zip(weights) {
            sum += w * (p - y as u8 as f64).powi(2);
            total += w;
        }
        sum / total
    }
}

/// Calibration intercept and slope: the weighted logistic regression of the outcome on the scores'
/// log-odds (1 and 0 for a perfectly calibrated model). Newton's method on two parameters; `None`
/// with one class, or when the fit does not converge (scores that separate the classes).
pub fn calibration_fit(labels: &[bool], scores: &[f64], weights: Option<&[f64]>) -> Option<(f64, f64)> {
    let x: Vec<f64> = scores.iter().map(|&p| logit(p)).collect();
    calibration_fit_logits(labels, &x, weights, (0.0, 1.0))
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

/// As [`calibration_fit`] on log-odds, Newton started from `start` (a resample starts from the
/// estimate on all rows, a few steps away).
fn calibration_fit_logits(labels: &[bool], x: &[f64], weights: Option<&[f64]>, start: (f64, f64)) -> Option<(f64, f64)> {
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    let (mut pos, mut neg) = (0.0, 0.0);
    for (i, &y) in labels.iter().enumerate() {
        if y {
            pos += w(i);
        } else {
            neg += w(i);
        }
    }
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    let (mut a, mut b) = start;
    for _ in 0..100 {
        // gradient and Hessian of the weighted log-likelihood
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, (&y, &xi)) in labels.iter().zip(x).enumerate() {
            let wi = w(i);
            if wi == 0.0 {
                continue;
            }
            let p = 1.0 / (1.0 + (-(a + b * xi)).exp());
            let r = wi * (y as u8 as f64 - p);
            let v = wi * p * (1.0 - p);
            ga += r;
            gb += r * xi;
            haa += v;
            hab += v * xi;
            hbb += v * xi * xi;
        }
        let det = haa * hbb - hab * hab;
        if !(det.is_finite() && det > 0.0) {
            return None;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a += da;
        b += db;
        if !(a.is_finite() && b.is_finite()) {
            return None;
        }
        if da.abs() < 1e-12 * (1.0 + a.abs()) && db.abs() < 1e-12 * (1.0 + b.abs()) {
            return Some((a, b));
        }
    }
    None
}

/// The percentile at `q` (0-1) of sorted values, interpolated linearly (numpy's default).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn interval(estimate: Option<f64>, mut values: Vec<f64>) -> Option<Interval> {
    let estimate = estimate?;
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - LEVEL) / 2.0;
    Some(Interval { estimate, low: percentile(&values, tail), high: percentile(&values, 1.0 - tail) })
}

/// Each resample's row weights: how often the row's group was drawn.
fn resample_weights(groups: &[usize], n_groups: usize, options: BootstrapOptions) -> impl Iterator<Item = Vec<f64>> + '_ {
    let mut rng = SplitMix64(options.seed);
    let mut drawn = vec![0u32; n_groups];
    (0..options.resamples).map(move |_| {
        drawn.fill(0);
        for _ in 0..n_groups {
            drawn[rng.below(n_groups)] += 1;
        }
        groups.iter().map(|&g| drawn[g] as f64).collect()
    })
}

/// The metrics' intervals on one set of scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intervals {
    pub auc: Option<Interval>,
    pub average_precision: Option<Interval>,
    pub brier: Option<Interval>,
    pub calibration_intercept: Option<Interval>,
    pub calibration_slope: Option<Interval>,
    /// Resamples that had both classes (the others have no AUC and are left out of every interval).
    pub resamples_used: usize,
    pub resamples: usize,
    pub seed: u64,
    pub groups: usize,
    pub level: f64,
}

impl Intervals {
    pub fn to_json(&self, grouped_by: Option<&str>) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["grouped_by"] = json!(grouped_by);
        v["method"] = json!("percentile bootstrap, groups resampled with replacement");
        v
    }
}

/// 95 % intervals of AUC, average precision, Brier and the calibration intercept and slope, from
/// `options.resamples` group resamples. `groups[i]` is row i's group (see [`group_index`]).
pub fn clustered_bootstrap(
    labels: &[bool],
    scores: &[f64],
    groups: &[usize],
    n_groups: usize,
    options: BootstrapOptions,
) -> Result<Intervals> {
    if labels.len() != scores.len() || labels.len() != groups.len() {
        return Err(Error::invalid_parameter("the bootstrap needs a label, a score and a group for every row"));
    }
    let ranked = Ranked::new(labels, scores);
    let logits: Vec<f64> = scores.iter().map(|&p| logit(p)).collect();
    let ones = vec![1.0; labels.len()];
    let (auc, ap) = ranked.auc_and_ap(&ones);
    let brier = (!labels.is_empty()).then(|| ranked.brier(&ones));
    let calibration = calibration_fit_logits(labels, &logits, None, (0.0, 1.0));

    let mut samples: [Vec<f64>; 5] = Default::default();
    let mut used = 0;
    if n_groups > 0 {
        for weights in resample_weights(groups, n_groups, options) {
            let (Some(a), Some(p)) = ranked.auc_and_ap(&weights) else { continue };
            used += 1;
            samples[0].push(a);
            samples[1].push(p);
            samples[2].push(ranked.brier(&weights));
            let start = calibration.unwrap_or((0.0, 1.0));
            if let Some((intercept, slope)) = calibration_fit_logits(labels, &logits, Some(&weights), start) {
                samples[3].push(intercept);
                samples[4].push(slope);
            }
        }
    }
    let [s_auc, s_ap, s_brier, s_intercept, s_slope] = samples;
    Ok(Intervals {
        auc: interval(auc, s_auc),
        average_precision: interval(ap, s_ap),
        brier: interval(brier, s_brier),
        calibration_intercept: interval(calibration.map(|c| c.0), s_intercept),
        calibration_slope: interval(calibration.map(|c| c.1), s_slope),
        resamples_used: used,
        resamples: options.resamples,
        seed: options.seed,
        groups: n_groups,
        level: LEVEL,
    })
}

/// Metrics as healthml stores and returns them ([`metrics::metrics_to_json`]), plus the calibration
/// intercept and slope and, unless `options.resamples` is 0, every figure's interval from resampling
/// the groups of `group_keys` (each row its own group without them); `with_curves`: also the
/// [`curves`] a model card draws.
pub fn metrics_with_intervals<K: AsRef<[u8]>>(
    labels: &[bool],
    scores: &[f64],
    threshold: f64,
    group_keys: Option<(&[K], &str)>,
    options: BootstrapOptions,
    with_curves: bool,
) -> Result<Value> {
    let mut out = metrics::metrics_to_json(&metrics::evaluate(labels, scores, threshold));
    let (groups, n_groups) = clusters(group_keys.map(|(keys, _)| keys), labels.len());
    let intervals = clustered_bootstrap(labels, scores, &groups, n_groups, options)?;
    out["calibration_intercept"] = json!(intervals.calibration_intercept.map(|i| i.estimate));
    out["calibration_slope"] = json!(intervals.calibration_slope.map(|i| i.estimate));
    if options.resamples > 0 {
        out["intervals"] = intervals.to_json(group_keys.map(|(_, by)| by));
    }
    if with_curves {
        out["curves"] = curves(labels, scores, &groups, n_groups, options);
    }
    Ok(out)
}

/// Most points a stored ROC or precision-recall curve keeps: enough to draw it, small in the registry.
pub const CURVE_POINTS: usize = 200;
/// Equal-width probability bins of the stored calibration curve.
pub const CALIBRATION_BINS: usize = 10;

/// At most `max` of `points`, evenly spaced, the first and the last kept.
fn thin<T: Clone>(points: &[T], max: usize) -> Vec<T> {
    if points.len() <= max {
        return points.to_vec();
    }
    (0..max).map(|i| points[i * (points.len() - 1) / (max - 1)].clone()).collect()
}

/// One bin of the calibration curve, with the 95 % interval of its observed rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationBand {
    pub lower: f64,
    pub upper: f64,
    pub n: u64,
    pub mean_predicted: Option<f64>,
    pub observed_rate: Option<f64>,
    pub observed_low: Option<f64>,
    pub observed_high: Option<f64>,
}

/// The curves a model card draws, as stored in a model's test metrics (`curves`): ROC and
/// precision-recall points (thinned to [`CURVE_POINTS`]), and the calibration curve in
/// [`CALIBRATION_BINS`] bins with each bin's observed rate resampled like every other interval.
pub fn curves(labels: &[bool], scores: &[f64], groups: &[usize], n_groups: usize, options: BootstrapOptions) -> Value {
    let roc: Vec<[f64; 2]> = metrics::roc_curve(labels, scores).iter().map(|p| [p.fpr, p.tpr]).collect();
    let pr: Vec<[f64; 2]> = metrics::pr_curve(labels, scores).iter().map(|p| [p.recall, p.precision]).collect();
    let bin_of = |p: f64| ((p.clamp(0.0, 1.0) * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
    let rates = |weights: Option<&[f64]>| -> Vec<Option<f64>> {
        let (mut total, mut positive) = ([0.0; CALIBRATION_BINS], [0.0; CALIBRATION_BINS]);
        for (i, (&y, &p)) in labels.iter().zip(scores).enumerate() {
            let w = weights.map_or(1.0, |w| w[i]);
            total[bin_of(p)] += w;
            positive[bin_of(p)] += w * y as u8 as f64;
        }
        (0..CALIBRATION_BINS).map(|b| (total[b] > 0.0).then(|| positive[b] / total[b])).collect()
    };
    let mut resampled: Vec<Vec<f64>> = vec![Vec::new(); CALIBRATION_BINS];
    if n_groups > 0 {
        for weights in resample_weights(groups, n_groups, options) {
            for (b, rate) in rates(Some(&weights)).into_iter().enumerate() {
                if let Some(r) = rate {
                    resampled[b].push(r);
                }
            }
        }
    }
    let observed = rates(None);
    let bins: Vec<CalibrationBand> = metrics::calibration_curve(labels, scores, CALIBRATION_BINS)
        .into_iter()
        .zip(observed)
        .zip(resampled)
        .map(|((bin, observed), values)| {
            let band = interval(observed, values);
            CalibrationBand {
                lower: bin.lower,
                upper: bin.upper,
                n: bin.n,
                mean_predicted: bin.mean_predicted,
                observed_rate: bin.observed_rate,
                observed_low: band.map(|b| b.low),
                observed_high: band.map(|b| b.high),
            }
        })
        .collect();
    json!({"roc": thin(&roc, CURVE_POINTS), "pr": thin(&pr, CURVE_POINTS), "calibration": bins})
}

/// The AUC of `challenger` minus that of `champion` on the same rows, with the interval of the
/// difference from paired resamples (both models scored on every resample's rows).
pub fn paired_auc_difference(
    labels: &[bool],
    champion: &[f64],
    challenger: &[f64],
    groups: &[usize],
    n_groups: usize,
    options: BootstrapOptions,
) -> Option<Interval> {
    let (a, b) = (Ranked::new(labels, champion), Ranked::new(labels, challenger));
    let ones = vec![1.0; labels.len()];
    let estimate = Some(b.auc_and_ap(&ones).0? - a.auc_and_ap(&ones).0?);
    let differences: Vec<f64> = if n_groups == 0 {
        Vec::new()
    } else {
        resample_weights(groups, n_groups, options).filter_map(|w| Some(b.auc_and_ap(&w).0? - a.auc_and_ap(&w).0?)).collect()
    };
    interval(estimate, differences)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> (Vec<bool>, Vec<f64>, Vec<usize>) {
        let mut rng = SplitMix64(3);
        let mut labels = Vec::new();
        let mut scores = Vec::new();
        let mut groups = Vec::new();
        for i in 0..n {
            let p = (rng.below(1000) as f64 + 0.5) / 1000.0;
            // a few tied scores, and patients of one to four rows
            let p = if i % 7 == 0 { 0.25 } else { p };
            labels.push((rng.below(1000) as f64) / 1000.0 < p * 0.8);
            scores.push(p);
            groups.push(i / (1 + i % 4));
        }
        let keys: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        let (index, _) = group_index(&keys);
        (labels, scores, index)
    }

    #[test]
    fn unit_weights_give_the_plain_metrics() {
        let (y, p, _) = data(2000);
        let ranked = Ranked::new(&y, &p);
        let ones = vec![1.0; y.len()];
        let (auc, ap) = ranked.auc_and_ap(&ones);
        assert!((auc.unwrap() - metrics::auc(&y, &p).unwrap()).abs() < 1e-12);
        assert!((ap.unwrap() - metrics::average_precision(&y, &p).unwrap()).abs() < 1e-12);
        assert!((ranked.brier(&ones) - metrics::evaluate(&y, &p, 0.5).brier).abs() < 1e-15);
    }

    #[test]
    fn integer_weights_are_repeated_rows() {
        let (y, p, _) = data(500);
        let weights: Vec<f64> = (0..y.len()).map(|i| (i % 3) as f64).collect();
        let (mut ry, mut rp) = (Vec::new(), Vec::new());
        for i in 0..y.len() {
            for _ in 0..(i % 3) {
                ry.push(y[i]);
                rp.push(p[i]);
            }
        }
        let (auc, ap) = Ranked::new(&y, &p).auc_and_ap(&weights);
        assert!((auc.unwrap() - metrics::auc(&ry, &rp).unwrap()).abs() < 1e-12);
        assert!((ap.unwrap() - metrics::average_precision(&ry, &rp).unwrap()).abs() < 1e-12);
        let (a, b) = calibration_fit(&y, &p, Some(&weights)).unwrap();
        let (ra, rb) = calibration_fit(&ry, &rp, None).unwrap();
        assert!((a - ra).abs() < 1e-9 && (b - rb).abs() < 1e-9, "{a} {b} {ra} {rb}");
    }

    #[test]
    fn a_calibrated_model_has_intercept_zero_and_slope_one() {
        // outcomes drawn from the scores themselves
        let mut rng = SplitMix64(11);
        let p: Vec<f64> = (0..50_000).map(|_| 0.02 + 0.96 * rng.below(1_000_000) as f64 / 1e6).collect();
        let y: Vec<bool> = p.iter().map(|&p| (rng.below(1_000_000) as f64 / 1e6) < p).collect();
        let (a, b) = calibration_fit(&y, &p, None).unwrap();
        assert!(a.abs() < 0.05 && (b - 1.0).abs() < 0.05, "{a} {b}");
        // overconfident scores (log-odds doubled) have a slope near 1/2
        let sharp: Vec<f64> = p.iter().map(|&p| 1.0 / (1.0 + (-2.0 * logit(p)).exp())).collect();
        let (_, b) = calibration_fit(&y, &sharp, None).unwrap();
        assert!((b - 0.5).abs() < 0.03, "{b}");
    }

    #[test]
    fn intervals_cover_the_estimate_are_seeded_and_widen_with_clustering() {
        let (y, p, g) = data(3000);
        let n_groups = g.iter().max().unwrap() + 1;
        let options = BootstrapOptions { resamples: 400, seed: 7 };
        let a = clustered_bootstrap(&y, &p, &g, n_groups, options).unwrap();
        let b = clustered_bootstrap(&y, &p, &g, n_groups, options).unwrap();
        assert_eq!(a, b, "the same seed gives the same intervals");
        let c = clustered_bootstrap(&y, &p, &g, n_groups, BootstrapOptions { seed: 8, ..options }).unwrap();
        assert_ne!(a.auc, c.auc);
        for i in [a.auc, a.average_precision, a.brier, a.calibration_intercept, a.calibration_slope] {
            let i = i.unwrap();
            assert!(i.low < i.estimate && i.estimate < i.high, "{i:?}");
        }
        assert_eq!(a.resamples_used, 400);
        // the same rows in groups of 40 identical copies: a row bootstrap would be 40 times too sure
        let rows: Vec<usize> = (0..y.len()).collect();
        let blocks: Vec<usize> = (0..y.len()).map(|i| i % 75).collect();
        let by_row = clustered_bootstrap(&y, &p, &rows, y.len(), options).unwrap().auc.unwrap();
        let by_block = clustered_bootstrap(&y, &p, &blocks, 75, options).unwrap().auc.unwrap();
        assert_eq!(by_row.estimate, by_block.estimate);
        assert!(by_row.high - by_row.low > 0.0);
        // 75 groups of 40 unrelated rows: about as wide as by row (rows within a block are independent)
        let ratio = (by_block.high - by_block.low) / (by_row.high - by_row.low);
        assert!(ratio > 0.7 && ratio < 1.4, "{ratio}");
    }

    #[test]
    fn correlated_rows_widen_the_interval() {
        // each patient's rows are copies of one row: resampling rows understates the uncertainty
        let (y, p, _) = data(600);
        let copies = 10;
        let y10: Vec<bool> = y.iter().flat_map(|&v| std::iter::repeat_n(v, copies)).collect();
        let p10: Vec<f64> = p.iter().flat_map(|&v| std::iter::repeat_n(v, copies)).collect();
        let patient: Vec<usize> = (0..y10.len()).map(|i| i / copies).collect();
        let rows: Vec<usize> = (0..y10.len()).collect();
        let options = BootstrapOptions { resamples: 300, seed: 1 };
        let by_patient = clustered_bootstrap(&y10, &p10, &patient, y.len(), options).unwrap().auc.unwrap();
        let by_row = clustered_bootstrap(&y10, &p10, &rows, y10.len(), options).unwrap().auc.unwrap();
        let ratio = (by_patient.high - by_patient.low) / (by_row.high - by_row.low);
        assert!(ratio > 2.5, "by patient {by_patient:?}, by row {by_row:?}: {ratio}");
    }

    #[test]
    fn the_paired_difference_of_a_model_with_itself_is_zero() {
        let (y, p, g) = data(1000);
        let n_groups = g.iter().max().unwrap() + 1;
        let options = BootstrapOptions { resamples: 200, seed: 3 };
        let same = paired_auc_difference(&y, &p, &p, &g, n_groups, options).unwrap();
        assert_eq!((same.estimate, same.low, same.high), (0.0, 0.0, 0.0));
        // a noisier challenger is worse with confidence
        let mut rng = SplitMix64(5);
        let noisy: Vec<f64> = p.iter().map(|&v| (v + 0.5 * rng.below(1000) as f64 / 1000.0) / 1.5).collect();
        let worse = paired_auc_difference(&y, &p, &noisy, &g, n_groups, options).unwrap();
        assert!(worse.high < 0.0, "{worse:?}");
    }

    #[test]
    fn one_class_or_no_rows_give_no_interval() {
        let none =
            clustered_bootstrap(&[true, true], &[0.2, 0.4], &[0, 1], 2, BootstrapOptions { resamples: 10, seed: 1 }).unwrap();
        assert_eq!((none.auc, none.calibration_slope, none.resamples_used), (None, None, 0));
        let empty = clustered_bootstrap(&[], &[], &[], 0, BootstrapOptions { resamples: 10, seed: 1 }).unwrap();
        assert_eq!((empty.auc, empty.brier), (None, None));
    }

    #[test]
    fn curves_are_thinned_and_the_calibration_band_holds_each_bin() {
        let (y, p, g) = data(3000);
        let n_groups = g.iter().max().unwrap() + 1;
        let c = curves(&y, &p, &g, n_groups, BootstrapOptions { resamples: 200, seed: 2 });
        let roc = c["roc"].as_array().unwrap();
        assert_eq!(roc.len(), CURVE_POINTS);
        assert_eq!((roc[0][0].as_f64(), roc[0][1].as_f64()), (Some(0.0), Some(0.0)));
        assert_eq!((roc[CURVE_POINTS - 1][0].as_f64(), roc[CURVE_POINTS - 1][1].as_f64()), (Some(1.0), Some(1.0)));
        let bins = c["calibration"].as_array().unwrap();
        assert_eq!(bins.len(), CALIBRATION_BINS);
        for b in bins.iter().filter(|b| b["n"].as_u64().unwrap() > 50) {
            let (low, rate, high) =
                (b["observed_low"].as_f64().unwrap(), b["observed_rate"].as_f64().unwrap(), b["observed_high"].as_f64().unwrap());
            assert!(low <= rate && rate <= high && high - low < 0.3, "{b}");
        }
        assert_eq!(thin(&[1, 2, 3], 5), vec![1, 2, 3]);
        assert_eq!(thin(&(0..=10).collect::<Vec<_>>(), 3), vec![0, 5, 10]);
    }

    #[test]
    fn the_generator_is_splitmix64() {
        // the reference sequence of splitmix64 seeded with 0 (Vigna's splitmix64.c)
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next(), 0x6E78_9E6A_A1B9_65F4);
    }
}
