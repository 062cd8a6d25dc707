//! Binary classification metrics on (label, probability) pairs, as scikit-learn defines them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Probabilities are clipped to [EPS, 1 - EPS] for the log loss, as scikit-learn does.
const EPS: f64 = 1e-15;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub n: u64,
    pub positives: u64,
    pub auc: Option<f64>,
    pub average_precision: Option<f64>,
    pub brier: f64,
    pub log_loss: f64,
    pub threshold: f64,
    pub confusion: Confusion,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    pub fn_: u64,
}

impl Confusion {
    pub fn at(labels: &[bool], scores: &[f64], threshold: f64) -> Confusion {
        let mut c = Confusion { tp: 0, fp: 0, tn: 0, fn_: 0 };
        for (&y, &p) in labels.iter().zip(scores) {
            match (p >= threshold, y) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, false) => c.tn += 1,
                (false, true) => c.fn_ += 1,
            }
        }
        c
    }

    pub fn precision(&self) -> Option<f64> {
        let flagged = self.tp + self.fp;
        (flagged > 0).then(|| self.tp as f64 / flagged as f64)
    }

    pub fn recall(&self) -> Option<f64> {
        let positives = self.tp + self.fn_;
        (positives > 0).then(|| self.tp as f64 / positives as f64)
    }
}

pub fn evaluate(labels: &[bool], scores: &[f64], threshold: f64) -> Metrics {
    let n = labels.len();
    let positives = labels.iter().filter(|&&y| y).count() as u64;
    let brier = if n == 0 {
        f64::NAN
    } else {
        labels.iter().zip(scores).map(|(&y, &p)| (p - y as u8 as f64).powi(2)).sum::<f64>() / n as f64
    };
    let log_loss = if n == 0 {
        f64::NAN
    } else {
        -labels
            .iter()
            .zip(scores)
            .map(|(&y, &p)| {
                let p = p.clamp(EPS, 1.0 - EPS);
                if y {
                    p.ln()
                } else {
                    (1.0 - p).ln()
                }
            })
            .sum::<f64>()
            / n as f64
    };
    Metrics {
        n: n as u64,
        positives,
        auc: auc(labels, scores),
        average_precision: average_precision(labels, scores),
        brier,
        log_loss,
        threshold,
        confusion: Confusion::at(labels, scores, threshold),
    }
}

/// Area under the ROC curve (Mann-Whitney with mid-ranks for ties); `None` with only one class.
pub fn auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let pos = labels.iter().filter(|&&y| y).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += order[i..=j].iter().filter(|&&k| labels[k]).count() as f64 * mid_rank;
        i = j + 1;
    }
    let pos = pos as f64;
    Some((rank_sum_pos - pos * (pos + 1.0) / 2.0) / (pos * neg as f64))
}

/// Points of a curve over the distinct thresholds, highest threshold first:
/// (threshold, true positives, false positives) counted at score >= threshold.
fn cumulative_counts(labels: &[bool], scores: &[f64]) -> Vec<(f64, u64, u64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut i = 0;
    while i < order.len() {
        let threshold = scores[order[i]];
        while i < order.len() && scores[order[i]] == threshold {
            if labels[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push((threshold, tp, fp));
    }
    out
}

/// Average precision: Σ (Rₙ − Rₙ₋₁) Pₙ over thresholds (scikit-learn's definition, no interpolation).
pub fn average_precision(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let pos = labels.iter().filter(|&&y| y).count() as f64;
    if pos == 0.0 {
        return None;
    }
    let mut ap = 0.0;
    let mut last_recall = 0.0;
    for (_, tp, fp) in cumulative_counts(labels, scores) {
        let recall = tp as f64 / pos;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - last_recall) * precision;
        last_recall = recall;
    }
    Some(ap)
}

#[derive(Debug, Clone, PartialEq)]
pub struct RocPoint {
    pub threshold: f64,
    pub fpr: f64,
    pub tpr: f64,
}

/// ROC curve from (0, 0) (threshold +∞) to (1, 1), one point per distinct score.
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Vec<RocPoint> {
    let pos = labels.iter().filter(|&&y| y).count().max(1) as f64;
    let neg = (labels.len() - labels.iter().filter(|&&y| y).count()).max(1) as f64;
    std::iter::once(RocPoint { threshold: f64::INFINITY, fpr: 0.0, tpr: 0.0 })
        .chain(cumulative_counts(labels, scores).into_iter().map(|(t, tp, fp)| RocPoint {
            threshold: t,
            fpr: fp as f64 / neg,
            tpr: tp as f64 / pos,
        }))
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrPoint {
    pub threshold: f64,
    pub recall: f64,
    pub precision: f64,
}

/// Precision-recall curve, one point per distinct score, highest threshold first.
pub fn pr_curve(labels: &[bool], scores: &[f64]) -> Vec<PrPoint> {
    let pos = labels.iter().filter(|&&y| y).count().max(1) as f64;
    cumulative_counts(labels, scores)
        .into_iter()
        .map(|(t, tp, fp)| PrPoint { threshold: t, recall: tp as f64 / pos, precision: tp as f64 / (tp + fp) as f64 })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationBin {
    pub bin: usize,
    pub lower: f64,
    pub upper: f64,
    pub n: u64,
    pub mean_predicted: Option<f64>,
    pub observed_rate: Option<f64>,
}

/// `bins` equal-width probability bins over [0, 1]; the last bin includes 1.
pub fn calibration_curve(labels: &[bool], scores: &[f64], bins: usize) -> Vec<CalibrationBin> {
    let bins = bins.max(1);
    let mut n = vec![0u64; bins];
    let mut sum_p = vec![0.0; bins];
    let mut sum_y = vec![0.0; bins];
    for (&y, &p) in labels.iter().zip(scores) {
        let b = ((p.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        n[b] += 1;
        sum_p[b] += p;
        sum_y[b] += y as u8 as f64;
    }
    (0..bins)
        .map(|b| CalibrationBin {
            bin: b + 1,
            lower: b as f64 / bins as f64,
            upper: (b + 1) as f64 / bins as f64,
            n: n[b],
            mean_predicted: (n[b] > 0).then(|| sum_p[b] / n[b] as f64),
            observed_rate: (n[b] > 0).then(|| sum_y[b] / n[b] as f64),
        })
        .collect()
}

/// Metrics as the jsonb healthml stores and returns (train's test metrics, evaluate, compare_models).
pub fn metrics_to_json(m: &Metrics) -> Value {
    let Confusion { tp, fp, tn, fn_ } = m.confusion;
    json!({
        "n": m.n,
        "positives": m.positives,
        "auc": m.auc,
        "average_precision": m.average_precision,
        "brier": m.brier,
        "log_loss": m.log_loss,
        "threshold": m.threshold,
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn_},
        "precision": m.confusion.precision(),
        "recall": m.confusion.recall(),
    })
}

/// The probability threshold with the best F1 on (labels, scores).
pub fn best_f1_threshold(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let pos = labels.iter().filter(|&&y| y).count() as f64;
    if pos == 0.0 {
        return None;
    }
    pr_curve(labels, scores)
        .into_iter()
        .map(|p| {
            let f1 = if p.precision + p.recall > 0.0 { 2.0 * p.precision * p.recall / (p.precision + p.recall) } else { 0.0 };
            (f1, p.threshold)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.total_cmp(&a.1)))
        .map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn f1_threshold() {
        let y = [false, false, true, true, false];
        let p = [0.1, 0.2, 0.7, 0.9, 0.8];
        assert_eq!(best_f1_threshold(&y, &p), Some(0.7));
    }

    use super::*;

    #[test]
    fn auc_and_average_precision_match_scikit_learn() {
        // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        // sklearn.metrics.average_precision_score(same) == 0.8333333333333333
        let y = [false, false, true, true];
        let p = [0.1, 0.4, 0.35, 0.8];
        assert_eq!(auc(&y, &p), Some(0.75));
        assert!((average_precision(&y, &p).unwrap() - 0.8333333333333333).abs() < 1e-15);
    }

    #[test]
    fn ties_get_mid_ranks() {
        // roc_auc_score([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == 0.875
        assert_eq!(auc(&[false, true, false, true], &[0.5, 0.5, 0.2, 0.9]), Some(0.875));
        assert_eq!(auc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn brier_log_loss_and_confusion() {
        let y = [true, false, true, false];
        let p = [0.9, 0.2, 0.4, 0.6];
        let m = evaluate(&y, &p, 0.5);
        assert!((m.brier - (0.01 + 0.04 + 0.36 + 0.36) / 4.0).abs() < 1e-15);
        let ll = -(0.9f64.ln() + 0.8f64.ln() + 0.4f64.ln() + 0.4f64.ln()) / 4.0;
        assert!((m.log_loss - ll).abs() < 1e-15);
        assert_eq!(m.confusion, Confusion { tp: 1, fp: 1, tn: 1, fn_: 1 });
        assert_eq!((m.n, m.positives), (4, 2));
    }

    #[test]
    fn curves() {
        let y = [false, false, true, true];
        let p = [0.1, 0.4, 0.35, 0.8];
        let roc = roc_curve(&y, &p);
        assert_eq!(roc.first().map(|r| (r.fpr, r.tpr)), Some((0.0, 0.0)));
        assert_eq!(roc.last().map(|r| (r.fpr, r.tpr)), Some((1.0, 1.0)));
        assert_eq!(roc.len(), 5);
        let pr = pr_curve(&y, &p);
        assert_eq!((pr[0].recall, pr[0].precision), (0.5, 1.0));
        let cal = calibration_curve(&y, &p, 2);
        assert_eq!((cal[0].n, cal[1].n), (3, 1));
        assert_eq!(cal[1].observed_rate, Some(1.0));
    }
}
