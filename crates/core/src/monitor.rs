//! Monitoring a model in production: drift of the scored data against the distributions stored with
//! the model at training time, and subgroup audits of its scores against outcomes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorClass, Result};
use crate::frame::{ColumnData, Frame};
use crate::intervals::{clustered_bootstrap, clusters, BootstrapOptions, Intervals};
use crate::metrics::{self, Confusion};

/// Points of a numeric column's reference distribution (quantiles 0, 1%, ..., 100%) at which the
/// reference and current CDFs are compared (Kolmogorov-Smirnov).
const CDF_POINTS: usize = 101;
/// Bins of the population stability index: deciles of the training values, plus NULL.
const PSI_BINS: usize = 10;
/// Levels kept per categorical column; the rest are pooled.
const MAX_LEVELS: usize = 200;
/// An empty bin counts as this share in PSI and Jensen-Shannon (log of zero otherwise).
const EMPTY_SHARE: f64 = 1e-4;

/// A column's (or the score's) training distribution, stored with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Distribution {
    Numeric {
        /// Inner bin edges: bin i holds values in (edges[i-1], edges[i]].
        edges: Vec<f64>,
        /// Shares per bin, then the NULL share last.
        shares: Vec<f64>,
        /// Distinct points and the share of non-NULL training values at or below each.
        cdf_points: Vec<f64>,
        cdf: Vec<f64>,
    },
    Categorical {
        levels: Vec<String>,
        /// Shares per level, then the pooled other levels, then NULL.
        shares: Vec<f64>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnReference {
    pub column: String,
    pub distribution: Distribution,
}

/// What a model remembers of its training data, for drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub rows: usize,
    pub columns: Vec<ColumnReference>,
    /// Predicted probabilities on rows the model did not fit on (its validation slice).
    pub score: Distribution,
    pub score_rows: usize,
}

/// Values of one column, as drift reads them.
pub enum Values {
    Numbers(Vec<Option<f64>>),
    Levels(Vec<Option<String>>),
}

/// `columns`: (name, read as a number) for each input column of the model.
pub fn reference(frame: &Frame, columns: &[(String, bool)], scores: &[f64]) -> Result<Reference> {
    let mut out = Vec::new();
    for (name, numeric) in columns {
        let values = column_values(frame, name, *numeric)?;
        out.push(ColumnReference { column: name.clone(), distribution: fit(&values) });
    }
    let score_values = Values::Numbers(scores.iter().map(|&s| Some(s)).collect());
    Ok(Reference { rows: frame.rows(), columns: out, score: fit(&score_values), score_rows: scores.len() })
}

/// A column of the frame, as numbers or as level texts (integer codes as "1", not "1.0").
pub fn column_values(frame: &Frame, name: &str, numeric: bool) -> Result<Values> {
    let column = frame.column(name).ok_or_else(|| {
        Error::new(ErrorClass::UndefinedColumn, format!("column \"{name}\" of the model is missing"))
            .with_hint("drift compares the model's input columns: the relation must have all of them")
    })?;
    Ok(match (&column.data, numeric) {
        (ColumnData::Numeric(v), true) => Values::Numbers(v.clone()),
        (ColumnData::Categorical { codes, levels }, false) => {
            Values::Levels(codes.iter().map(|c| c.map(|c| levels[c as usize].clone())).collect())
        }
        (ColumnData::Categorical { codes, levels }, true) => {
            Values::Numbers(codes.iter().map(|c| c.and_then(|c| levels[c as usize].trim().parse().ok())).collect())
        }
        (ColumnData::Numeric(v), false) => Values::Levels(v.iter().map(|x| x.map(format_number)).collect()),
    })
}

pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn fit(values: &Values) -> Distribution {
    match values {
        Values::Numbers(v) => {
            let mut sorted: Vec<f64> = v.iter().flatten().copied().filter(|x| x.is_finite()).collect();
            sorted.sort_by(f64::total_cmp);
            let at = |q: f64| -> Option<f64> {
                (!sorted.is_empty()).then(|| sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)])
            };
            let mut edges: Vec<f64> = (1..PSI_BINS).filter_map(|i| at(i as f64 / PSI_BINS as f64)).collect();
            edges.dedup();
            let mut cdf_points: Vec<f64> = (0..CDF_POINTS).filter_map(|i| at(i as f64 / (CDF_POINTS - 1) as f64)).collect();
            cdf_points.dedup();
            let cdf = cdf_points.iter().map(|p| sorted.partition_point(|x| x <= p) as f64 / sorted.len().max(1) as f64).collect();
            let shares = numeric_shares(v, &edges);
            Distribution::Numeric { edges, shares, cdf_points, cdf }
        }
        Values::Levels(v) => {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for l in v.iter().flatten() {
                *counts.entry(l.as_str()).or_default() += 1;
            }
            let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            ranked.truncate(MAX_LEVELS);
            let levels: Vec<String> = ranked.iter().map(|(l, _)| l.to_string()).collect();
            let shares = level_shares(v, &levels);
            Distribution::Categorical { levels, shares }
        }
    }
}

fn numeric_shares(values: &[Option<f64>], edges: &[f64]) -> Vec<f64> {
    let mut counts = vec![0.0; edges.len() + 2];
    for v in values {
        match v {
            Some(x) if x.is_finite() => counts[edges.partition_point(|e| e < x)] += 1.0,
            _ => counts[edges.len() + 1] += 1.0,
        }
    }
    normalize(counts)
}

fn level_shares(values: &[Option<String>], levels: &[String]) -> Vec<f64> {
    let index: HashMap<&str, usize> = levels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    let mut counts = vec![0.0; levels.len() + 2];
    for v in values {
        match v {
            Some(l) => counts[index.get(l.as_str()).copied().unwrap_or(levels.len())] += 1.0,
            None => counts[levels.len() + 1] += 1.0,
        }
    }
    normalize(counts)
}

fn normalize(counts: Vec<f64>) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    counts.into_iter().map(|c| if total > 0.0 { c / total } else { 0.0 }).collect()
}

/// Population stability index: Σ (current − reference) · ln(current / reference).
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    reference
        .iter()
        .zip(current)
        .filter(|(r, c)| **r > 0.0 || **c > 0.0)
        .map(|(&r, &c)| {
            let (r, c) = (r.max(EMPTY_SHARE), c.max(EMPTY_SHARE));
            (c - r) * (c / r).ln()
        })
        .sum()
}

/// Jensen-Shannon divergence in bits (0 = same, 1 = disjoint).
pub fn jensen_shannon(p: &[f64], q: &[f64]) -> f64 {
    let kl = |a: &[f64], m: &[f64]| -> f64 { a.iter().zip(m).filter(|(x, _)| **x > 0.0).map(|(x, y)| x * (x / y).log2()).sum() };
    let m: Vec<f64> = p.iter().zip(q).map(|(a, b)| (a + b) / 2.0).collect();
    (0.5 * kl(p, &m) + 0.5 * kl(q, &m)).clamp(0.0, 1.0)
}

/// Thresholds of the drift status (PSI).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftLimits {
    pub warn: f64,
    pub alert: f64,
}

impl Default for DriftLimits {
    fn default() -> Self {
        DriftLimits { warn: 0.1, alert: 0.25 }
    }
}

/// One line of a drift report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// A column, or `(score)` for the predicted probabilities.
    pub feature: String,
    pub kind: &'static str,
    pub rows: usize,
    pub psi: f64,
    /// Kolmogorov-Smirnov distance (numeric columns and the score).
    pub ks: Option<f64>,
    /// Jensen-Shannon divergence in bits (categorical columns).
    pub js: Option<f64>,
    /// `ok`, `warn` or `alert`, by PSI.
    pub status: &'static str,
}

pub const SCORE_FEATURE: &str = "(score)";

/// Drift of `frame` (and its `scores`) from the reference.
pub fn drift(reference: &Reference, frame: &Frame, scores: &[f64], limits: DriftLimits) -> Result<Vec<Drift>> {
    if frame.rows() == 0 {
        return Err(Error::new(ErrorClass::InsufficientData, "the relation has no rows to compare")
            .with_hint("drift compares a non-empty relation with the training data"));
    }
    drift_with(reference, |column, numeric| column_values(frame, column, numeric), scores, limits)
}

/// Drift of the values `values_of(column, read as a number)` gives for each reference column, and
/// of `scores`, from the reference: what [`drift`] computes for a frame and the inference log for
/// logged calls.
pub fn drift_with(
    reference: &Reference,
    values_of: impl Fn(&str, bool) -> Result<Values>,
    scores: &[f64],
    limits: DriftLimits,
) -> Result<Vec<Drift>> {
    let status = |psi: f64| {
        if psi >= limits.alert {
            "alert"
        } else if psi >= limits.warn {
            "warn"
        } else {
            "ok"
        }
    };
    let mut out = Vec::new();
    for c in &reference.columns {
        let numeric = matches!(c.distribution, Distribution::Numeric { .. });
        let values = values_of(&c.column, numeric)?;
        out.push(compare(&c.column, &c.distribution, &values, status));
    }
    let values = Values::Numbers(scores.iter().map(|&s| Some(s)).collect());
    let mut score = compare(SCORE_FEATURE, &reference.score, &values, status);
    score.kind = "score";
    out.push(score);
    Ok(out)
}

fn compare(feature: &str, reference: &Distribution, values: &Values, status: impl Fn(f64) -> &'static str) -> Drift {
    match (reference, values) {
        (Distribution::Numeric { edges, shares, cdf_points, cdf }, Values::Numbers(v)) => {
            let current = numeric_shares(v, edges);
            let mut sorted: Vec<f64> = v.iter().flatten().copied().filter(|x| x.is_finite()).collect();
            sorted.sort_by(f64::total_cmp);
            let ks = (!sorted.is_empty()).then(|| {
                cdf_points
                    .iter()
                    .zip(cdf)
                    .map(|(p, f)| (sorted.partition_point(|x| x <= p) as f64 / sorted.len() as f64 - f).abs())
                    .fold(0.0, f64::max)
            });
            let psi = psi(shares, &current);
            Drift { feature: feature.to_string(), kind: "numeric", rows: v.len(), psi, ks, js: None, status: status(psi) }
        }
        (Distribution::Categorical { levels, shares }, Values::Levels(v)) => {
            let current = level_shares(v, levels);
            let psi = psi(shares, &current);
            Drift {
                feature: feature.to_string(),
                kind: "categorical",
                rows: v.len(),
                psi,
                ks: None,
                js: Some(jensen_shannon(shares, &current)),
                status: status(psi),
            }
        }
        // column_values reads each column the way its reference was fitted
        (_, values) => {
            let rows = match values {
                Values::Numbers(v) => v.len(),
                Values::Levels(v) => v.len(),
            };
            Drift { feature: feature.to_string(), kind: "unknown", rows, psi: 0.0, ks: None, js: None, status: "ok" }
        }
    }
}

/// One group of a subgroup audit (the first line is the whole relation, `group` None).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subgroup {
    pub group: Option<String>,
    pub overall: bool,
    pub n: usize,
    pub positives: usize,
    pub mean_score: f64,
    pub observed_rate: f64,
    pub auc: Option<f64>,
    /// Mean score / observed rate: 1 is calibrated in the large, above 1 over-predicts.
    pub calibration_ratio: Option<f64>,
    pub tpr: Option<f64>,
    pub fpr: Option<f64>,
    pub flagged_share: f64,
    pub auc_gap: Option<f64>,
    pub calibration_gap: Option<f64>,
    pub tpr_gap: Option<f64>,
    pub fpr_gap: Option<f64>,
    /// Every figure's 95 % interval (and the calibration intercept and slope) from resampling the
    /// group's patients (see [`crate::intervals`]).
    pub intervals: Intervals,
}

/// Per-group figures of scores against outcomes at `threshold`, with their gaps to the whole and
/// their intervals (`patients[r]`: row r's cluster; None: every row its own). Groups are ordered by
/// size (largest first), then by name; NULL is a group of its own.
pub fn subgroups(
    labels: &[bool],
    scores: &[f64],
    groups: &[Option<String>],
    threshold: f64,
    patients: Option<&[String]>,
    bootstrap: BootstrapOptions,
) -> Result<Vec<Subgroup>> {
    let figures = |group: Option<String>, overall: bool, rows: &[usize]| -> Result<Subgroup> {
        let y: Vec<bool> = rows.iter().map(|&r| labels[r]).collect();
        let s: Vec<f64> = rows.iter().map(|&r| scores[r]).collect();
        let keys: Option<Vec<&str>> = patients.map(|keys| rows.iter().map(|&r| keys[r].as_str()).collect());
        let (clusters, n_clusters) = clusters(keys.as_deref(), rows.len());
        let intervals = clustered_bootstrap(&y, &s, &clusters, n_clusters, bootstrap)?;
        let n = rows.len();
        let positives = y.iter().filter(|&&v| v).count();
        let mean_score = s.iter().sum::<f64>() / n.max(1) as f64;
        let observed_rate = positives as f64 / n.max(1) as f64;
        let c = Confusion::at(&y, &s, threshold);
        let negatives = c.fp + c.tn;
        Ok(Subgroup {
            group,
            overall,
            n,
            positives,
            mean_score,
            observed_rate,
            auc: metrics::auc(&y, &s),
            calibration_ratio: (positives > 0).then(|| mean_score / observed_rate),
            tpr: c.recall(),
            fpr: (negatives > 0).then(|| c.fp as f64 / negatives as f64),
            flagged_share: (c.tp + c.fp) as f64 / n.max(1) as f64,
            auc_gap: None,
            calibration_gap: None,
            tpr_gap: None,
            fpr_gap: None,
            intervals,
        })
    };
    let all: Vec<usize> = (0..labels.len()).collect();
    let whole = figures(None, true, &all)?;
    let mut members: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
    for (r, g) in groups.iter().enumerate() {
        members.entry(g.as_deref()).or_default().push(r);
    }
    let mut keyed: Vec<(Option<&str>, Vec<usize>)> = members.into_iter().collect();
    keyed.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    let gap = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
    let mut out = vec![whole.clone()];
    for (g, rows) in keyed {
        let mut s = figures(g.map(str::to_string), false, &rows)?;
        s.auc_gap = gap(s.auc, whole.auc);
        s.calibration_gap = gap(s.calibration_ratio, whole.calibration_ratio);
        s.tpr_gap = gap(s.tpr, whole.tpr);
        s.fpr_gap = gap(s.fpr, whole.fpr);
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{CategoricalBuilder, Column};

    fn frame(n: usize, shift: f64) -> Frame {
        let mut ward = CategoricalBuilder::default();
        let mut age = Vec::new();
        for i in 0..n {
            let u = ((i * 7919) % 1000) as f64 / 1000.0;
            age.push(if i % 50 == 0 { None } else { Some(20.0 + 70.0 * u + shift) });
            ward.push(Some(if (i + (shift as usize)).is_multiple_of(3) { "B" } else { "A" }));
        }
        Frame {
            columns: vec![
                Column::new("age", "float8", crate::frame::ValueKind::Real, ColumnData::Numeric(age)),
                Column::new("ward", "text", crate::frame::ValueKind::Text, ward.finish()),
            ],
        }
    }

    fn columns() -> Vec<(String, bool)> {
        vec![("age".into(), true), ("ward".into(), false)]
    }

    #[test]
    fn the_same_data_does_not_drift_and_a_shifted_one_does() {
        let training = frame(5000, 0.0);
        let scores: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        let reference = reference(&training, &columns(), &scores).unwrap();
        let every_other: Vec<f64> = scores.iter().step_by(2).copied().collect();
        let same = drift(&reference, &frame(3000, 0.0), &every_other, DriftLimits::default()).unwrap();
        assert!(same.iter().all(|d| d.status == "ok"), "{same:?}");
        assert_eq!(same.iter().map(|d| d.feature.as_str()).collect::<Vec<_>>(), ["age", "ward", SCORE_FEATURE]);
        let older = drift(&reference, &frame(3000, 30.0), &scores[500..], DriftLimits::default()).unwrap();
        let age = &older[0];
        assert_eq!(age.status, "alert", "{age:?}");
        assert!(age.ks.unwrap() > 0.3, "{age:?}");
        assert_eq!(older[2].status, "alert", "the upper half of the scores");
        // back through JSON, as stored with the model
        let back: Reference = serde_json::from_value(serde_json::to_value(&reference).unwrap()).unwrap();
        assert_eq!(back, reference);
    }

    #[test]
    fn psi_js_and_ks_values() {
        assert_eq!(psi(&[0.5, 0.5], &[0.5, 0.5]), 0.0);
        let p = psi(&[0.5, 0.5], &[0.9, 0.1]);
        assert!((p - (0.4 * (0.9f64 / 0.5).ln() + -0.4 * (0.1f64 / 0.5).ln())).abs() < 1e-12);
        assert!((jensen_shannon(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
        assert_eq!(jensen_shannon(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
    }

    #[test]
    fn subgroup_figures_and_gaps() {
        let labels = [true, false, false, true, false, false, true, true];
        let scores = [0.9, 0.2, 0.6, 0.7, 0.1, 0.3, 0.4, 0.8];
        let groups: Vec<Option<String>> = ["a", "a", "a", "a", "b", "b", "b", "b"].iter().map(|g| Some(g.to_string())).collect();
        let out = subgroups(&labels, &scores, &groups, 0.5, None, BootstrapOptions { resamples: 0, seed: 1 }).unwrap();
        assert_eq!(out.len(), 3);
        assert!(out[0].overall && out[0].n == 8 && out[0].positives == 4);
        let a = &out[1];
        assert_eq!(a.group.as_deref(), Some("a"));
        assert_eq!((a.tpr, a.fpr), (Some(1.0), Some(0.5)));
        assert!((a.mean_score - 0.6).abs() < 1e-12 && (a.calibration_ratio.unwrap() - 1.2).abs() < 1e-12);
        assert_eq!(a.tpr_gap, Some(1.0 - 0.75));
        assert_eq!(out[2].auc, Some(1.0));
    }
}
