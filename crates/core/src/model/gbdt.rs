//! Gradient-boosted trees through forust (NaN-aware histogram GBDT with exact TreeSHAP), with early
//! stopping on a held-out, group-respecting validation slice.

use forust_ml::gradientbooster::{GradientBooster, ImportanceMethod};

use crate::model::treeshap::TreeShap;
use forust_ml::objective::ObjectiveType;
use forust_ml::metric::Metric;
use forust_ml::Matrix;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::OnceLock;

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
            max_depth: 6,
            min_leaf_weight: 20.0,
            l2: 1.0,
            // Row and column subsampling: chosen on the validation AUC of the readmission pack
            // (benches/REPORT.md), the usual remedy for many weak, correlated columns.
            subsample: 0.8,
            colsample_bytree: 0.3,
            early_stopping_rounds: 100,
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
    /// The prediction trees laid out for scoring, built on first use (never serialized).
    #[serde(skip)]
    flat: OnceLock<FlatForest>,
    #[serde(skip)]
    treeshap: OnceLock<TreeShap>,
}

/// Every prediction tree's nodes in one array of small nodes. forust keeps ~80-byte nodes in one
/// allocation per tree, so scoring one row through hundreds of trees is a chain of cache misses;
/// here a path stays within a few cache lines. Same comparisons and the same summation order as
/// forust's `predict`, so scores are bit-identical (tested).
#[derive(Debug, Default)]
struct FlatForest {
    base_score: f64,
    roots: Vec<u32>,
    nodes: Vec<FlatNode>,
}

#[derive(Debug, Clone, Copy)]
struct FlatNode {
    /// The split value, or the leaf's weight for a leaf.
    value: f64,
    /// `LEAF` for a leaf.
    feature: u32,
    left: u32,
    right: u32,
    missing: u32,
}

const LEAF: u32 = u32::MAX;

/// The trees a booster predicts with: those up to the early-stopping iteration.
pub fn prediction_trees(booster: &GradientBooster) -> &[forust_ml::tree::Tree] {
    &booster.trees[..booster.prediction_iteration.unwrap_or(booster.trees.len())]
}

impl FlatForest {
    fn new(booster: &GradientBooster) -> Self {
        let trees = prediction_trees(booster);
        let mut roots = Vec::with_capacity(trees.len());
        let mut nodes = Vec::with_capacity(trees.iter().map(|t| t.nodes.len()).sum());
        for tree in trees {
            let offset = nodes.len() as u32;
            roots.push(offset);
            nodes.extend(tree.nodes.iter().map(|n| {
                if n.is_leaf {
                    FlatNode { value: n.weight_value as f64, feature: LEAF, left: 0, right: 0, missing: 0 }
                } else {
                    FlatNode {
                        value: n.split_value,
                        feature: n.split_feature as u32,
                        left: offset + n.left_child as u32,
                        right: offset + n.right_child as u32,
                        missing: offset + n.missing_node as u32,
                    }
                }
            }));
        }
        FlatForest { base_score: booster.base_score, roots, nodes }
    }

    /// `value(feature)` of the row; NaN is missing (forust's default `missing`).
    fn score(&self, value: impl Fn(usize) -> f64) -> f64 {
        let mut total = self.base_score;
        for &root in &self.roots {
            let mut node = &self.nodes[root as usize];
            while node.feature != LEAF {
                let v = value(node.feature as usize);
                let next = if v.is_nan() {
                    node.missing
                } else if v < node.value {
                    node.left
                } else {
                    node.right
                };
                node = &self.nodes[next as usize];
            }
            total += node.value;
        }
        total
    }
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

/// forust samples floor(columns × fraction) columns per tree: on a narrow table a small fraction
/// would give trees without a column to split on. Sample at least one.
fn at_least_one_column(fraction: f64, columns: usize) -> f64 {
    if columns == 0 || (columns as f64 * fraction).floor() >= 1.0 {
        fraction
    } else {
        // 1.5/n, not 1/n: (1/n)·n can round to just below 1 (n = 49), and floor() would give 0.
        (1.5 / columns as f64).min(1.0)
    }
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
        .set_colsample_bytree(at_least_one_column(params.colsample_bytree, cols))
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
    Ok(GbdtModel { booster, trees_used, flat: OnceLock::new(), treeshap: OnceLock::new() })
}

/// The deepest tree a payload may hold: training caps `max_depth` at 32, and explaining a row
/// recurses once per level, so a crafted payload with a deeper chain of nodes is refused.
const MAX_TREE_DEPTH: usize = 64;

impl GbdtModel {
    /// Checks what scoring and TreeSHAP index and recurse on, for trees read from a payload that
    /// `n_features` features feed: the prediction trees' count, every node's children (after the node
    /// itself, so every walk ends), split features, depths (the stored one, which sizes TreeSHAP's
    /// buffers, must be the real one) and finite values. The message names the first problem.
    pub fn check(&self, n_features: usize) -> std::result::Result<(), String> {
        let booster = &self.booster;
        let used = booster.prediction_iteration.unwrap_or(booster.trees.len());
        if used > booster.trees.len() || self.trees_used != used {
            return Err(format!("{} prediction trees of {} stored (trees_used {})", used, booster.trees.len(), self.trees_used));
        }
        if !booster.base_score.is_finite() {
            return Err("the base score is not a finite number".into());
        }
        for (t, tree) in booster.trees[..used].iter().enumerate() {
            let nodes = &tree.nodes;
            if nodes.is_empty() {
                return Err(format!("tree {t} has no nodes"));
            }
            let mut depth = vec![usize::MAX; nodes.len()];
            depth[0] = 0;
            for (i, node) in nodes.iter().enumerate() {
                if depth[i] == usize::MAX {
                    return Err(format!("node {i} of tree {t} is not reached from its root"));
                }
                if node.depth != depth[i] || depth[i] > MAX_TREE_DEPTH {
                    return Err(format!("node {i} of tree {t} is at depth {} (stored {}, at most {MAX_TREE_DEPTH})", depth[i], node.depth));
                }
                if node.is_leaf {
                    if !node.weight_value.is_finite() {
                        return Err(format!("leaf {i} of tree {t} has no finite value"));
                    }
                    continue;
                }
                if node.split_feature >= n_features || node.split_value.is_nan() || !node.hessian_sum.is_finite() {
                    return Err(format!("node {i} of tree {t} splits feature {} of {n_features} at {}", node.split_feature, node.split_value));
                }
                for child in [node.left_child, node.right_child, node.missing_node] {
                    if child <= i || child >= nodes.len() || (depth[child] != usize::MAX && depth[child] != depth[i] + 1) {
                        return Err(format!("node {i} of tree {t} has child {child} (of {} nodes)", nodes.len()));
                    }
                    depth[child] = depth[i] + 1;
                }
            }
        }
        Ok(())
    }

    fn shap(&self) -> &TreeShap {
        self.treeshap.get_or_init(|| TreeShap::new(&self.booster))
    }

    fn forest(&self) -> &FlatForest {
        self.flat.get_or_init(|| FlatForest::new(&self.booster))
    }

    /// Log-odds of every row of column-major features.
    pub fn raw_scores(&self, columns: &[Vec<f64>], rows: usize) -> Vec<f64> {
        let forest = self.forest();
        (0..rows).map(|r| forest.score(|j| columns[j][r])).collect()
    }

    pub fn raw_score(&self, row: &[f64]) -> f64 {
        self.forest().score(|j| row[j])
    }

    /// (feature index, share of the total split gain), for features with any split.
    pub fn gain_shares(&self) -> Vec<(usize, f64)> {
        let mut shares: Vec<(usize, f64)> = self
            .booster
            .calculate_feature_importance(ImportanceMethod::TotalGain, true)
            .into_iter()
            .map(|(feature, share)| (feature, share as f64))
            .collect();
        shares.sort_by_key(|(feature, _)| *feature);
        shares
    }

    /// The log-odds of `row` as a base value plus one exact Shapley value per feature (TreeSHAP).
    pub fn contributions(&self, row: &[f64]) -> (f64, Vec<f64>) {
        let mut values = self.shap().contributions(&self.booster, row);
        let base = values.pop().unwrap_or(self.booster.base_score);
        (base, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with a NaN now and then, a signal in the first two columns.
    fn data(rows: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<bool>) {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut columns = vec![Vec::with_capacity(rows); 4];
        let mut labels = Vec::with_capacity(rows);
        for _ in 0..rows {
            let x: Vec<f64> = (0..4).map(|j| if j == 1 && next() < 0.1 { f64::NAN } else { next() * 10.0 }).collect();
            let signal = x[0] - 5.0 + if x[1].is_nan() { 2.0 } else { x[1] / 5.0 - 1.0 };
            labels.push(next() < 1.0 / (1.0 + (-signal).exp()));
            for (c, v) in columns.iter_mut().zip(x) {
                c.push(v);
            }
        }
        (columns, labels)
    }

    #[test]
    fn narrow_tables_still_sample_a_column() {
        assert_eq!(at_least_one_column(0.3, 100), 0.3);
        assert_eq!(at_least_one_column(0.3, 2), 0.75);
        assert!((1..200).all(|n| (n as f64 * at_least_one_column(0.01, n)).floor() >= 1.0));
        assert_eq!(at_least_one_column(0.3, 1), 1.0);
        assert!((3.0 * at_least_one_column(0.3, 3)).floor() >= 1.0);
    }

    #[test]
    fn flat_forest_scores_exactly_like_forust() {
        let (x, y) = data(3000, 3);
        let (vx, vy) = data(500, 5);
        let params = GbdtParams { iterations: 120, ..GbdtParams::default() };
        let model = fit(&x, &y, &vec![1.0; y.len()], &vx, &vy, &vec![1.0; vy.len()], &params, 1).unwrap();
        let (tx, _) = data(1000, 11);
        let flat = flatten(&tx, 1000);
        let expected = model.booster.predict(&Matrix::new(&flat, 1000, tx.len()), false);
        assert_eq!(model.raw_scores(&tx, 1000), expected);
        let row: Vec<f64> = tx.iter().map(|c| c[7]).collect();
        assert_eq!(model.raw_score(&row), expected[7]);
        assert!(tx[1].iter().any(|v| v.is_nan()), "the test data has missing values");
    }

    #[test]
    fn treeshap_is_bit_identical_to_forust() {
        let (x, y) = data(3000, 3);
        let (vx, vy) = data(500, 5);
        let params = GbdtParams { iterations: 80, max_depth: 5, ..GbdtParams::default() };
        let model = fit(&x, &y, &vec![1.0; y.len()], &vx, &vy, &vec![1.0; vy.len()], &params, 1).unwrap();
        let (tx, _) = data(200, 11);
        let flat = flatten(&tx, 200);
        let expected = model.booster.predict_contributions(
            &Matrix::new(&flat, 200, tx.len()),
            forust_ml::gradientbooster::ContributionsMethod::Shapley,
            false,
        );
        for r in 0..200 {
            let row: Vec<f64> = tx.iter().map(|c| c[r]).collect();
            let (base, values) = model.contributions(&row);
            let want = &expected[r * (tx.len() + 1)..(r + 1) * (tx.len() + 1)];
            assert_eq!(values, want[..tx.len()], "row {r}");
            assert_eq!(base, want[tx.len()], "row {r}");
        }
    }
}
