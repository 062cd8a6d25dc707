//! Gradient-boosted trees through forust (NaN-aware histogram GBDT with exact TreeSHAP), with early
//! stopping on a held-out, group-respecting validation slice.

use forust_ml::gradientbooster::GradientBooster;
use forust_ml::objective::ObjectiveType;
use forust_ml::metric::Metric;
use forust_ml::Matrix;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorClass, Result};
use crate::options::Options;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtParams {
    pub iterations: usize,
    pub learning_rate: f64,
    pub max_depth: usize,
    pub min_leaf_weight: f64,
    pub l2: f64,
    pub subsample: f64,
    pub colsample_bytree: f64,
    pub early_stopping_rounds: usize,
    pub nbins: u16,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            iterations: 1000,
            learning_rate: 0.05,
            max_depth: 5,
            min_leaf_weight: 20.0,
            l2: 1.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            early_stopping_rounds: 50,
            nbins: 256,
        }
    }
}

impl GbdtParams {
    pub fn from_json(hyperparams: &Value) -> Result<Self> {
        let d = GbdtParams::default();
        let mut o = Options::new("gbdt hyperparams", hyperparams)?;
        let p = GbdtParams {
            iterations: o.usize_in("iterations", d.iterations, 1, 100_000)?,
            learning_rate: o.f64_in("learning_rate", d.learning_rate, 1e-6, 1.0)?,
            max_depth: o.usize_in("max_depth", d.max_depth, 1, 32)?,
            min_leaf_weight: o.f64_in("min_leaf_weight", d.min_leaf_weight, 0.0, 1e9)?,
            l2: o.f64_in("l2", d.l2, 0.0, 1e9)?,
            subsample: o.f64_in("subsample", d.subsample, 0.01, 1.0)?,
            colsample_bytree: o.f64_in("colsample_bytree", d.colsample_bytree, 0.01, 1.0)?,
            early_stopping_rounds: o.usize_in("early_stopping_rounds", d.early_stopping_rounds, 1, 100_000)?,
            nbins: o.usize_in("nbins", d.nbins as usize, 2, 65_535)? as u16,
        };
        o.finish()?;
        Ok(p)
    }
}

#[derive(Serialize, Deserialize)]
pub struct GbdtModel {
    pub booster: GradientBooster,
    pub trees_used: usize,
}

impl std::fmt::Debug for GbdtModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbdtModel").field("trees_used", &self.trees_used).finish()
    }
}

/// Column-major features, flattened the way forust's Matrix reads them.
pub fn flatten(columns: &[Vec<f64>], rows: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(columns.len() * rows);
    for c in columns {
        out.extend_from_slice(&c[..rows]);
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub fn fit(
    train: &[Vec<f64>],
    train_labels: &[bool],
    train_weights: &[f64],
    valid: &[Vec<f64>],
    valid_labels: &[bool],
    valid_weights: &[f64],
    params: &GbdtParams,
    seed: u64,
) -> Result<GbdtModel> {
    let cols = train.len();
    let n = train_labels.len();
    let train_flat = flatten(train, n);
    let valid_flat = flatten(valid, valid_labels.len());
    let y: Vec<f64> = train_labels.iter().map(|&b| b as u8 as f64).collect();
    let vy: Vec<f64> = valid_labels.iter().map(|&b| b as u8 as f64).collect();
    let mut booster = GradientBooster::default()
        .set_objective_type(ObjectiveType::LogLoss)
        .set_iterations(params.iterations)
        .set_learning_rate(params.learning_rate as f32)
        .set_max_depth(params.max_depth)
        .set_min_leaf_weight(params.min_leaf_weight as f32)
        .set_l2(params.l2 as f32)
        .set_subsample(params.subsample as f32)
        .set_colsample_bytree(params.colsample_bytree)
        .set_nbins(params.nbins)
        .set_seed(seed)
        .set_evaluation_metric(Some(Metric::LogLoss))
        .set_early_stopping_rounds((!valid_labels.is_empty()).then_some(params.early_stopping_rounds));
    let data = Matrix::new(&train_flat, n, cols);
    let evaluation = (!valid_labels.is_empty())
        .then(|| vec![(Matrix::new(&valid_flat, valid_labels.len(), cols), vy.as_slice(), valid_weights)]);
    booster
        .fit(&data, &y, train_weights, evaluation)
        .map_err(|e| Error::new(ErrorClass::InsufficientData, format!("gradient boosting failed: {e}")))?;
    let trees_used = booster.prediction_iteration.unwrap_or(booster.trees.len());
    Ok(GbdtModel { booster, trees_used })
}

impl GbdtModel {
    pub fn raw_scores(&self, columns: &[Vec<f64>], rows: usize) -> Vec<f64> {
        let flat = flatten(columns, rows);
        self.booster.predict(&Matrix::new(&flat, rows, columns.len()), false)
    }

    pub fn raw_score(&self, row: &[f64]) -> f64 {
        self.booster.predict(&Matrix::new(row, 1, row.len()), false)[0]
    }
}
