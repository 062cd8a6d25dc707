//! A trained model: the recipe that turns source rows into features, the estimator, and the decision
//! threshold, stored as versioned bytes with a sha256.

mod forest;
pub(crate) mod format1;
pub mod gbdt;
pub mod import;
mod leafshap;
pub use leafshap::set_explain_threads;
pub mod lightgbm;
pub mod logistic;
pub mod tree;
pub mod treeshap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::prep::recipe::{Cell, Recipe};

/// Bytes every payload starts with, so anything else is refused before it is parsed.
const MAGIC: &[u8; 4] = b"HMLM";
/// Version of the payload layout healthml writes (docs/payload-format.md). Bump it when the
/// serialized structs change, and keep a reader for every format a release wrote.
pub const PAYLOAD_FORMAT: u16 = 2;
/// The oldest format this healthml reads: format 1 is 0.1.0's (see `format1`).
pub const OLDEST_PAYLOAD_FORMAT: u16 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "algorithm", content = "model", rename_all = "snake_case")]
pub enum Estimator {
    Logistic(logistic::LogisticModel),
    Gbdt(gbdt::GbdtModel),
    /// A weighted average of members' log-odds (AutoML's blend). Each member keeps its own recipe;
    /// all members read the same source columns in the same order, so one row of cells feeds them all.
    Ensemble(Vec<EnsembleMember>),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct EnsembleMember {
    pub weight: f64,
    pub model: TrainedModel,
}

impl Estimator {
    pub fn algorithm(&self) -> &'static str {
        match self {
            Estimator::Logistic(_) => "logistic",
            Estimator::Gbdt(_) => "gbdt",
            Estimator::Ensemble(_) => "ensemble",
        }
    }
}

/// What a source column adds to a row's log-odds.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub column: String,
    /// The row's value of the column as given (NULL: `None`).
    pub value: Option<String>,
    pub contribution: f64,
}

/// How much a source column matters to a model overall.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Importance {
    pub column: String,
    pub mean_abs_contribution: f64,
    /// Share of the trees' total split gain from this column's features (gbdt).
    pub gain_share: Option<f64>,
    /// Largest |coefficient| among this column's features, on the recipe's scale (logistic).
    pub max_abs_coefficient: Option<f64>,
}

/// `base + Σ contributions = raw_score` (the log-odds), up to rounding.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub base: f64,
    pub raw_score: f64,
    /// The model's probability of the raw score (its scoring's).
    pub probability: f64,
    /// One per input column, in the recipe's order.
    pub contributions: Vec<Contribution>,
}

impl Explanation {
    /// The contributions by decreasing magnitude (ties by column name), the first `top_k`.
    pub fn top(&self, top_k: usize) -> Vec<&Contribution> {
        let mut ranked: Vec<&Contribution> = self.contributions.iter().collect();
        ranked.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()).then_with(|| a.column.cmp(&b.column)));
        ranked.truncate(top_k);
        ranked
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TrainedModel {
    pub recipe: Recipe,
    pub features: Vec<String>,
    pub estimator: Estimator,
    /// Probability at or above which a row is flagged.
    pub threshold: f64,
    /// Platt scaling of the estimator's log-odds, fitted on validation rows (absent: uncalibrated).
    #[serde(default)]
    pub calibration: Option<Platt>,
}

/// Calibrated log-odds = slope · log-odds + intercept.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub slope: f64,
    pub intercept: f64,
}

impl Platt {
    pub fn apply(&self, log_odds: f64) -> f64 {
        self.slope * log_odds + self.intercept
    }
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl TrainedModel {
    /// Builds a blend of trained members (weights summing to 1). Refused unless every member reads
    /// the same source columns, in the same order, the same way (number or level).
    pub fn ensemble(members: Vec<(f64, TrainedModel)>) -> Result<Self> {
        let first = members.first().ok_or_else(|| Error::invalid_parameter("an ensemble needs members"))?;
        let reads = |m: &TrainedModel| -> Vec<(String, bool)> {
            m.recipe.steps.iter().map(|s| (s.column().to_string(), s.is_numeric())).collect()
        };
        let shape = reads(&first.1);
        if members.iter().any(|(_, m)| reads(m) != shape || matches!(m.estimator, Estimator::Ensemble(_))) {
            return Err(Error::invalid_parameter("ensemble members must read the same columns the same way"));
        }
        let recipe = first.1.recipe.clone();
        let features = members
            .iter()
            .enumerate()
            .flat_map(|(i, (_, m))| m.features.iter().map(move |f| format!("m{}:{f}", i + 1)))
            .collect();
        let members = members.into_iter().map(|(weight, model)| EnsembleMember { weight, model }).collect();
        Ok(TrainedModel { recipe, features, estimator: Estimator::Ensemble(members), threshold: 0.5, calibration: None })
    }

    /// The features the estimator reads for one row of cells (for an ensemble: each member's
    /// features, one after the other).
    pub fn features_of_cells(&self, cells: &[Cell<'_>]) -> Vec<f64> {
        match &self.estimator {
            Estimator::Ensemble(members) => members.iter().flat_map(|m| m.model.features_of_cells(cells)).collect(),
            _ => self.recipe.apply_cells(cells),
        }
    }

    /// Column-major features of every row of a frame of source columns.
    pub fn features_of_frame(&self, frame: &Frame) -> Result<Vec<Vec<f64>>> {
        match &self.estimator {
            Estimator::Ensemble(members) => {
                let mut out = Vec::new();
                for m in members {
                    out.extend(m.model.features_of_frame(frame)?);
                }
                Ok(out)
            }
            _ => self.recipe.apply_frame(frame),
        }
    }

    /// Log-odds (calibrated, when the model is) for column-major features.
    pub fn raw_scores_from_features(&self, features: &[Vec<f64>], rows: usize) -> Vec<f64> {
        let raw = match &self.estimator {
            Estimator::Logistic(m) => m.raw_scores(features, rows),
            Estimator::Gbdt(m) => m.raw_scores(features, rows),
            Estimator::Ensemble(members) => {
                let mut total = vec![0.0; rows];
                let mut offset = 0;
                for m in members {
                    let width = m.model.features.len();
                    let scores = m.model.raw_scores_from_features(&features[offset..offset + width], rows);
                    for (t, z) in total.iter_mut().zip(scores) {
                        *t += m.weight * z;
                    }
                    offset += width;
                }
                total
            }
        };
        raw.into_iter().map(|z| self.calibrated(z)).collect()
    }

    /// The estimator's log-odds mapped through the calibration, if any.
    pub fn calibrated(&self, z: f64) -> f64 {
        self.calibration.as_ref().map_or(z, |c| c.apply(z))
    }

    /// Probabilities for every row of a frame of source columns.
    pub fn predict_frame(&self, frame: &Frame) -> Result<Vec<f64>> {
        let features = self.features_of_frame(frame)?;
        Ok(self.raw_scores_from_features(&features, frame.rows()).into_iter().map(|z| self.probability(z)).collect())
    }

    /// The probability of a (calibrated) log-odds: the sigmoid, in the arithmetic of the library
    /// an imported gbdt comes from.
    pub fn probability(&self, raw: f64) -> f64 {
        match (&self.estimator, &self.calibration) {
            (Estimator::Gbdt(g), None) => g.probability(raw),
            _ => sigmoid(raw),
        }
    }

    /// Log-odds of one row of features (the recipe's output).
    pub fn raw_score_features(&self, features: &[f64]) -> f64 {
        self.calibrated(match &self.estimator {
            Estimator::Logistic(m) => m.raw_score(features),
            Estimator::Gbdt(m) => m.raw_score(features),
            Estimator::Ensemble(members) => {
                let mut offset = 0;
                let mut total = 0.0;
                for m in members {
                    let width = m.model.features.len();
                    total += m.weight * m.model.raw_score_features(&features[offset..offset + width]);
                    offset += width;
                }
                total
            }
        })
    }

    /// Log-odds of one row given as a JSON object of source column → value.
    pub fn raw_score_json(&self, row: &Map<String, Value>) -> Result<f64> {
        Ok(self.raw_score_features(&self.features_of_cells(&self.recipe.json_cells(row)?)))
    }

    pub fn predict_json(&self, row: &Map<String, Value>) -> Result<f64> {
        self.raw_score_json(row).map(|z| self.probability(z))
    }

    /// One row's log-odds split exactly into a base value and a contribution per source column
    /// (the features of a one-hot column summed), from one cell per recipe step.
    pub fn explain_cells(&self, cells: &[Cell<'_>]) -> Explanation {
        let features = self.features_of_cells(cells);
        let (base, per_step) = self.step_contributions(&features);
        let contributions = per_step
            .into_iter()
            .map(|(step, contribution)| Contribution {
                column: self.recipe.steps[step].column().to_string(),
                value: cells.get(step).and_then(Cell::display),
                contribution,
            })
            .collect();
        let raw_score = self.raw_score_features(&features);
        Explanation { base, raw_score, probability: self.probability(raw_score), contributions }
    }

    /// The base value and (step index, contribution) per input column, from one row of features.
    pub fn step_contributions(&self, features: &[f64]) -> (f64, Vec<(usize, f64)>) {
        let (base, per_feature) = match &self.estimator {
            Estimator::Logistic(m) => m.contributions(features),
            Estimator::Gbdt(m) => m.contributions(features),
            Estimator::Ensemble(members) => {
                // The blend is linear in its members' log-odds, so its contributions are the
                // weighted sums of theirs, step by step (members share the steps).
                let mut base = 0.0;
                let mut totals: Vec<Option<f64>> = vec![None; self.recipe.steps.len()];
                let mut offset = 0;
                for m in members {
                    let width = m.model.features.len();
                    let (b, steps) = m.model.step_contributions(&features[offset..offset + width]);
                    base += m.weight * b;
                    for (step, c) in steps {
                        *totals[step].get_or_insert(0.0) += m.weight * c;
                    }
                    offset += width;
                }
                let per_step = totals.into_iter().enumerate().filter_map(|(s, t)| t.map(|t| (s, t)));
                return match &self.calibration {
                    Some(c) => (c.apply(base), per_step.map(|(s, x)| (s, x * c.slope)).collect()),
                    None => (base, per_step.collect()),
                };
            }
        };
        // Calibration is affine in the log-odds: it scales every contribution and moves the base.
        let (slope, base) = match &self.calibration {
            Some(c) => (c.slope, c.apply(base)),
            None => (1.0, base),
        };
        let mut per_step: Vec<(usize, f64)> = Vec::new();
        for (step, c) in self.recipe.feature_steps().into_iter().zip(per_feature.into_iter().map(|c| c * slope)) {
            match per_step.last_mut() {
                Some((last, total)) if *last == step => *total += c,
                _ => per_step.push((step, c)),
            }
        }
        (base, per_step)
    }

    /// Global importance of each input column: mean |contribution| over `rows` (column-major
    /// features), with the gain share of its features (trees) or its largest |coefficient| (logistic).
    /// Largest mean first.
    pub fn importance(&self, columns: &[Vec<f64>], rows: &[usize]) -> Vec<Importance> {
        let steps: Vec<usize> = match &self.estimator {
            Estimator::Ensemble(_) => (0..self.recipe.steps.len()).filter(|&i| self.recipe.steps[i].is_input()).collect(),
            _ => self.recipe.feature_steps(),
        };
        let mut out: Vec<Importance> = Vec::new();
        let mut index_of_step = std::collections::HashMap::new();
        for &step in &steps {
            index_of_step.entry(step).or_insert_with(|| {
                out.push(Importance {
                    column: self.recipe.steps[step].column().to_string(),
                    mean_abs_contribution: 0.0,
                    gain_share: None,
                    max_abs_coefficient: None,
                });
                out.len() - 1
            });
        }
        let mut row = vec![0.0; columns.len()];
        for &r in rows {
            for (x, c) in row.iter_mut().zip(columns) {
                *x = c[r];
            }
            for (step, c) in self.step_contributions(&row).1 {
                out[index_of_step[&step]].mean_abs_contribution += c.abs() / rows.len() as f64;
            }
        }
        match &self.estimator {
            Estimator::Gbdt(m) => {
                for (feature, share) in m.gain_shares() {
                    let slot = &mut out[index_of_step[&steps[feature]]].gain_share;
                    *slot = Some(slot.unwrap_or(0.0) + share);
                }
            }
            Estimator::Logistic(m) => {
                for (feature, b) in m.coefficients.iter().enumerate() {
                    let slot = &mut out[index_of_step[&steps[feature]]].max_abs_coefficient;
                    *slot = Some(slot.unwrap_or(0.0).max(b.abs()));
                }
            }
            // Members' gains and coefficients live on different scales: only the contributions compare.
            Estimator::Ensemble(_) => {}
        }
        out.sort_by(|a, b| b.mean_abs_contribution.total_cmp(&a.mean_abs_contribution).then_with(|| a.column.cmp(&b.column)));
        out
    }

    pub fn explain_json(&self, row: &Map<String, Value>) -> Result<Explanation> {
        Ok(self.explain_cells(&self.recipe.json_cells(row)?))
    }

    /// Probability for one row given as one cell per recipe step (see [`Recipe::apply_cells`]).
    pub fn predict_cells(&self, cells: &[Cell<'_>]) -> f64 {
        self.probability(self.raw_score_features(&self.features_of_cells(cells)))
    }

    pub fn to_payload(&self) -> Result<Vec<u8>> {
        let body =
            rmp_serde::to_vec_named(self).map_err(|e| Error::corrupted(format!("the model could not be serialized: {e}")))?;
        let mut out = Vec::with_capacity(body.len() + 6);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&PAYLOAD_FORMAT.to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Reads a payload, checking its magic, its format version and (when given) its sha256.
    pub fn from_payload(bytes: &[u8], expected_sha256: Option<&str>) -> Result<Self> {
        if let Some(expected) = expected_sha256 {
            let actual = sha256_hex(bytes);
            if actual != expected {
                return Err(Error::corrupted(format!("model payload sha256 {actual} does not match the stored {expected}"))
                    .with_hint("the payload was altered after training: retrain the model or restore it from a backup"));
            }
        }
        if bytes.len() < 6 || &bytes[..4] != MAGIC {
            return Err(Error::corrupted("model payload is not a healthml model")
                .with_hint("payloads are written by healthml.train only"));
        }
        let format = u16::from_le_bytes([bytes[4], bytes[5]]);
        let unreadable = |e: rmp_serde::decode::Error| {
            Error::corrupted(format!("model payload cannot be read: {e}")).with_hint("retrain the model")
        };
        let mut reader = rmp_serde::Deserializer::new(&bytes[6..]);
        // Real payloads nest about 20 levels; a crafted one must not recurse the stack away.
        reader.set_max_depth(MAX_PAYLOAD_NESTING);
        let model = match format {
            PAYLOAD_FORMAT => TrainedModel::deserialize(&mut reader).map_err(unreadable)?,
            1 => format1::TrainedModelV1::deserialize(&mut reader).map_err(unreadable)?.upgrade().map_err(|e| {
                Error::corrupted(format!("model payload is inconsistent: {}", e.message()))
                    .with_hint("payloads are written by healthml.train only: retrain the model, or restore its row from a backup")
            })?,
            _ => {
                return Err(Error::corrupted(format!(
                    "model payload format_version {format} is unknown to this healthml (it reads formats {OLDEST_PAYLOAD_FORMAT} to {PAYLOAD_FORMAT})"
                ))
                .with_hint(if format > PAYLOAD_FORMAT {
                    "a newer healthml wrote it: install that version and run ALTER EXTENSION healthml UPDATE, or retrain the model with this one"
                } else {
                    "payloads are written by healthml.train only: retrain the model, or restore its row from a backup"
                }))
            }
        };
        model.check(false).map_err(|problem| {
            Error::corrupted(format!("model payload is inconsistent: {problem}"))
                .with_hint("payloads are written by healthml.train only: retrain the model, or restore its row from a backup")
        })?;
        Ok(model)
    }

    /// Everything scoring and explaining index by, checked once when a payload is read, so that a
    /// payload written by anything but healthml.train (an admin may INSERT rows into healthml.models)
    /// gives an error, never a panic, an out-of-bounds read or an endless walk. `member`: inside an
    /// ensemble, where ensembles may not nest.
    fn check(&self, member: bool) -> std::result::Result<(), String> {
        self.recipe.check()?;
        let width = self.recipe.feature_steps().len();
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(format!("threshold {} is not a probability", self.threshold));
        }
        if let Some(c) = &self.calibration {
            if !c.slope.is_finite() || !c.intercept.is_finite() {
                return Err("the calibration is not finite".into());
            }
        }
        let same_width = |what: &str, n: usize| {
            if n == width {
                Ok(())
            } else {
                Err(format!("{what} has {n} entries for the recipe's {width} features"))
            }
        };
        match &self.estimator {
            Estimator::Logistic(m) => {
                same_width("the feature list", self.features.len())?;
                same_width("the coefficients", m.coefficients.len())?;
                if !m.feature_means.is_empty() {
                    same_width("the feature means", m.feature_means.len())?;
                }
                if !m.intercept.is_finite() || m.coefficients.iter().chain(&m.feature_means).any(|x| !x.is_finite()) {
                    return Err("a coefficient is not finite".into());
                }
            }
            Estimator::Gbdt(m) => {
                same_width("the feature list", self.features.len())?;
                m.check(width)?;
            }
            Estimator::Ensemble(_) if member => return Err("an ensemble member is itself an ensemble".into()),
            Estimator::Ensemble(members) => {
                if members.is_empty() {
                    return Err("the ensemble has no members".into());
                }
                let reads = |r: &Recipe| -> Vec<(String, bool)> {
                    r.steps.iter().map(|s| (s.column().to_string(), s.is_numeric())).collect()
                };
                let shape = reads(&self.recipe);
                let mut total = 0;
                for (i, m) in members.iter().enumerate() {
                    if !m.weight.is_finite() {
                        return Err(format!("member {} has no finite weight", i + 1));
                    }
                    if reads(&m.model.recipe) != shape {
                        return Err(format!("member {} reads other columns than the ensemble", i + 1));
                    }
                    m.model.check(true).map_err(|e| format!("member {}: {e}", i + 1))?;
                    total += m.model.features.len();
                }
                if total != self.features.len() {
                    return Err(format!("the feature list has {} entries for the members' {total}", self.features.len()));
                }
            }
        }
        Ok(())
    }
}

/// Nesting depth a payload may reach (an ensemble of trees nests about 15 levels): rmp_serde's own
/// default (1024) would let a crafted payload recurse deep into the server's stack before any
/// check runs.
const MAX_PAYLOAD_NESTING: usize = 48;
