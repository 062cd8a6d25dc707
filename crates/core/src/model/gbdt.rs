//! Gradient-boosted trees through forust (NaN-aware histogram GBDT with exact TreeSHAP), with early
//! stopping on a held-out, group-respecting validation slice.

use forust_ml::gradientbooster::GradientBooster;

use crate::model::forest::Forest;
pub use crate::model::tree::Tree;
use crate::model::treeshap::{Arithmetic, TreeShap};
use forust_ml::metric::Metric;
use forust_ml::objective::ObjectiveType;
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

/// A trained forest in healthml's own layout (payload format 2, docs/payload-format.md): only the
/// trees that predict, each as parallel arrays of its nodes. Training uses forust; scoring,
/// explaining and storing read only this, so no library's internal structs reach a stored model.
#[derive(Serialize, Deserialize)]
pub struct GbdtModel {
    /// Log-odds every row starts from.
    pub base_score: f64,
    pub trees: Vec<Tree>,
    /// Whose arithmetic scores and explanations reproduce: forust's for trees trained here,
    /// the library's own for imported ones. (Not written for forust's, so a model trained here
    /// has the same bytes as before imports existed.)
    #[serde(default, skip_serializing_if = "Arithmetic::is_forust")]
    pub arithmetic: Arithmetic,
    /// The prediction trees laid out for scoring, built on first use (never serialized).
    #[serde(skip)]
    forest: OnceLock<Forest>,
    #[serde(skip)]
    treeshap: OnceLock<TreeShap>,
}

/// A forust tree's nodes, as they are (forust's node indices are kept).
fn tree_from_forust(tree: &forust_ml::tree::Tree) -> Result<Tree> {
    let mut out = Tree::default();
    for n in &tree.nodes {
        let index = |i: usize| u32::try_from(i).map_err(|_| Error::corrupted(format!("a tree node refers to node {i}")));
        if n.is_leaf {
            out.feature.push(-1);
            out.threshold.push(0.0);
            out.left.push(0);
            out.right.push(0);
            out.missing.push(0);
        } else {
            let feature = i32::try_from(n.split_feature)
                .map_err(|_| Error::corrupted(format!("a tree node splits feature {}", n.split_feature)))?;
            out.feature.push(feature);
            out.threshold.push(n.split_value);
            out.left.push(index(n.left_child)?);
            out.right.push(index(n.right_child)?);
            out.missing.push(index(n.missing_node)?);
        }
        out.value.push(f64::from(n.weight_value));
        out.cover.push(f64::from(n.hessian_sum));
        out.gain.push(if n.is_leaf { 0.0 } else { f64::from(n.split_gain) });
    }
    Ok(out)
}

impl std::fmt::Debug for GbdtModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbdtModel").field("trees", &self.trees.len()).finish()
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

/// Rows to fit on: column-major features, a label and a weight per row.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub features: &'a [Vec<f64>],
    pub labels: &'a [bool],
    pub weights: &'a [f64],
}

/// Fits on `train`, stopping early on `valid` (no rows: no early stopping).
pub fn fit(train: Rows<'_>, valid: Rows<'_>, params: &GbdtParams, seed: u64) -> Result<GbdtModel> {
    // explained with healthml's own exact TreeSHAP (0.1.0's models keep forust's)
    Ok(GbdtModel { arithmetic: Arithmetic::Healthml, ..GbdtModel::from_forust(&fit_booster(train, valid, params, seed)?)? })
}

/// forust's booster, trained: [`fit`] keeps its prediction trees in healthml's layout.
fn fit_booster(train_rows: Rows<'_>, valid_rows: Rows<'_>, params: &GbdtParams, seed: u64) -> Result<GradientBooster> {
    let Rows { features: train, labels: train_labels, weights: train_weights } = train_rows;
    let Rows { features: valid, labels: valid_labels, weights: valid_weights } = valid_rows;
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
    Ok(booster)
}

/// The deepest tree a payload may hold: training caps `max_depth` at 32, and explaining a row
/// recurses once per level, so a crafted payload with a deeper chain of nodes is refused.
const MAX_TREE_DEPTH: usize = 64;

impl GbdtModel {
    pub fn new(base_score: f64, trees: Vec<Tree>) -> Self {
        GbdtModel { base_score, trees, arithmetic: Arithmetic::Forust, forest: OnceLock::new(), treeshap: OnceLock::new() }
    }

    /// Trees trained elsewhere, scored and explained in the arithmetic of the library that
    /// trained them.
    pub fn imported(base_score: f64, trees: Vec<Tree>, arithmetic: Arithmetic) -> Self {
        GbdtModel { arithmetic, ..GbdtModel::new(base_score, trees) }
    }

    /// The trees a forust booster predicts with (those up to its early-stopping iteration).
    pub fn from_forust(booster: &GradientBooster) -> Result<Self> {
        let used = booster.prediction_iteration.unwrap_or(booster.trees.len());
        let trees = booster
            .trees
            .get(..used)
            .ok_or_else(|| Error::corrupted(format!("{used} prediction trees of {} stored", booster.trees.len())))?;
        Ok(GbdtModel::new(booster.base_score, trees.iter().map(tree_from_forust).collect::<Result<_>>()?))
    }

    /// Checks what scoring and TreeSHAP index and recurse on in tree `t`: parallel arrays of one
    /// length, every child after its node and inside the tree (so every walk ends), every node
    /// reached from the root at one depth of at most MAX_TREE_DEPTH, split features below
    /// `n_features`, finite values.
    fn check_tree(tree: &Tree, t: usize, n_features: usize) -> std::result::Result<(), String> {
        let n = tree.len();
        let lengths = [
            tree.threshold.len(),
            tree.left.len(),
            tree.right.len(),
            tree.missing.len(),
            tree.value.len(),
            tree.cover.len(),
            tree.gain.len(),
        ];
        if n == 0 || lengths.iter().any(|&l| l != n) {
            return Err(format!("tree {t} has node arrays of lengths {n} and {lengths:?}"));
        }
        let mut depth = vec![usize::MAX; n];
        depth[0] = 0;
        for i in 0..n {
            if depth[i] == usize::MAX {
                return Err(format!("node {i} of tree {t} is not reached from its root"));
            }
            if depth[i] > MAX_TREE_DEPTH {
                return Err(format!("node {i} of tree {t} is at depth {} (at most {MAX_TREE_DEPTH})", depth[i]));
            }
            if !tree.cover[i].is_finite() {
                return Err(format!("node {i} of tree {t} has no finite cover"));
            }
            if tree.feature[i] < -1 {
                return Err(format!("node {i} of tree {t} has feature {} (a leaf has -1)", tree.feature[i]));
            }
            if tree.is_leaf(i) {
                if !tree.value[i].is_finite() {
                    return Err(format!("leaf {i} of tree {t} has no finite value"));
                }
                continue;
            }
            let feature = tree.feature[i] as usize;
            if feature >= n_features || tree.threshold[i].is_nan() || !tree.gain[i].is_finite() {
                return Err(format!("node {i} of tree {t} splits feature {feature} of {n_features} at {}", tree.threshold[i]));
            }
            for child in [tree.left[i], tree.right[i], tree.missing[i]] {
                let child = child as usize;
                if child <= i || child >= n || (depth[child] != usize::MAX && depth[child] != depth[i] + 1) {
                    return Err(format!("node {i} of tree {t} has child {child} (of {n} nodes)"));
                }
                depth[child] = depth[i] + 1;
            }
        }
        Ok(())
    }

    /// Checks trees read from a payload that `n_features` features feed (see [`Self::check_tree`]);
    /// the message names the first problem.
    pub fn check(&self, n_features: usize) -> std::result::Result<(), String> {
        if !self.base_score.is_finite() {
            return Err("the base score is not a finite number".into());
        }
        for (t, tree) in self.trees.iter().enumerate() {
            Self::check_tree(tree, t, n_features)?;
        }
        Ok(())
    }

    /// How many trees predict.
    pub fn trees_used(&self) -> usize {
        self.trees.len()
    }

    fn shap(&self) -> &TreeShap {
        self.treeshap.get_or_init(|| TreeShap::new(self.base_score, &self.trees, self.arithmetic))
    }

    fn forest(&self) -> &Forest {
        self.forest.get_or_init(|| Forest::new(self.base_score, &self.trees))
    }

    /// Log-odds of every row of column-major features.
    pub fn raw_scores(&self, columns: &[Vec<f64>], rows: usize) -> Vec<f64> {
        // XGBoost's f32 sums walk the trees node by node: no scoring layout is built for them
        let forest = (self.arithmetic != Arithmetic::Xgboost).then(|| self.forest());
        let (mut row, mut ranks) = (Vec::with_capacity(columns.len()), Vec::new());
        (0..rows)
            .map(|r| {
                row.clear();
                row.extend(columns.iter().map(|c| c[r]));
                match forest {
                    Some(forest) => forest.score(&row, &mut ranks),
                    None => self.xgboost_raw_score(&row),
                }
            })
            .collect()
    }

    /// Log-odds of one row of features (at least as many as the trees split on).
    pub fn raw_score(&self, row: &[f64]) -> f64 {
        if self.arithmetic == Arithmetic::Xgboost {
            return self.xgboost_raw_score(row);
        }
        self.forest().score(row, &mut Vec::new())
    }

    /// XGBoost's margin: the leaves added in f32, tree by tree, to the f32 base margin.
    fn xgboost_raw_score(&self, row: &[f64]) -> f64 {
        let mut margin = self.base_score as f32;
        for tree in &self.trees {
            let mut node = 0;
            while !tree.is_leaf(node) {
                node = tree.child(node, row[tree.feature[node] as usize]);
            }
            margin += tree.value[node] as f32;
        }
        f64::from(margin)
    }

    /// The probability of a log-odds: XGBoost's own f32 sigmoid for its models (its `predict`'s
    /// bits), else the f64 one.
    pub fn probability(&self, raw: f64) -> f64 {
        if self.arithmetic != Arithmetic::Xgboost {
            return crate::model::sigmoid(raw);
        }
        // common::Sigmoid(float): expf of at most 88.7, plus 1e-16 against a zero denominator
        let x = (-(raw as f32)).min(88.7);
        f64::from(1.0f32 / (x.exp() + 1.0 + 1e-16))
    }

    /// The layout scoring walks (see `forest`), in words, for benchmarks.
    pub fn scoring_layout(&self) -> String {
        self.forest().layout()
    }

    /// (feature index, share of the prediction trees' total split gain), for features with any
    /// split. Sums in f32 in forust's order (depth first: node, left, right, missing), so a model
    /// gives forust's `TotalGain` importance over the same trees.
    pub fn gain_shares(&self) -> Vec<(usize, f64)> {
        fn visit(tree: &Tree, node: usize, totals: &mut std::collections::BTreeMap<usize, f32>) {
            if tree.is_leaf(node) {
                return;
            }
            *totals.entry(tree.feature[node] as usize).or_insert(0.0) += tree.gain[node] as f32;
            visit(tree, tree.left[node] as usize, totals);
            visit(tree, tree.right[node] as usize, totals);
            if tree.has_missing_branch(node) {
                visit(tree, tree.missing[node] as usize, totals);
            }
        }
        let mut totals = std::collections::BTreeMap::new();
        for tree in &self.trees {
            visit(tree, 0, &mut totals);
        }
        let mut values: Vec<f32> = totals.values().copied().collect();
        values.sort_by(f32::total_cmp);
        let total: f32 = values.iter().sum();
        totals.into_iter().map(|(feature, gain)| (feature, f64::from(gain / total))).collect()
    }

    /// The log-odds of `row` as a base value plus one exact Shapley value per feature (TreeSHAP).
    pub fn contributions(&self, row: &[f64]) -> (f64, Vec<f64>) {
        let mut values = self.shap().contributions(&self.trees, row);
        let base = values.pop().unwrap_or(self.base_score);
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
        let mut columns: Vec<Vec<f64>> = (0..4).map(|_| Vec::with_capacity(rows)).collect();
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

    /// Rows of weight 1 (the weights leak: a test's few fits).
    fn rows<'a>(features: &'a [Vec<f64>], labels: &'a [bool]) -> Rows<'a> {
        Rows { features, labels, weights: Vec::leak(vec![1.0; labels.len()]) }
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
    fn scores_are_forusts_bit_for_bit() {
        let (x, y) = data(3000, 3);
        let (vx, vy) = data(500, 5);
        let params = GbdtParams { iterations: 120, ..GbdtParams::default() };
        let booster = fit_booster(rows(&x, &y), rows(&vx, &vy), &params, 1).unwrap();
        assert!(booster.prediction_iteration.unwrap() < booster.trees.len(), "early stopping kept trees that do not predict");
        let model = GbdtModel::from_forust(&booster).unwrap();
        // forust bins features (at most 256 bins) and keeps weights in f32: the smallest layout
        assert_eq!(model.scoring_layout(), "ranked, 2-byte nodes, f32 leaves");
        let (tx, _) = data(1000, 11);
        let flat = flatten(&tx, 1000);
        let expected = booster.predict(&Matrix::new(&flat, 1000, tx.len()), false);
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
        let booster = fit_booster(rows(&x, &y), rows(&vx, &vy), &params, 1).unwrap();
        let model = GbdtModel::from_forust(&booster).unwrap();
        let (tx, _) = data(200, 11);
        let flat = flatten(&tx, 200);
        let expected = booster.predict_contributions(
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

    #[test]
    fn gain_shares_are_forusts_total_gain_over_the_prediction_trees() {
        let (x, y) = data(3000, 3);
        let (vx, vy) = data(500, 5);
        let params = GbdtParams { iterations: 150, ..GbdtParams::default() };
        let mut booster = fit_booster(rows(&x, &y), rows(&vx, &vy), &params, 1).unwrap();
        let model = GbdtModel::from_forust(&booster).unwrap();
        booster.trees.truncate(booster.prediction_iteration.unwrap());
        let mut expected: Vec<(usize, f64)> = booster
            .calculate_feature_importance(forust_ml::gradientbooster::ImportanceMethod::TotalGain, true)
            .into_iter()
            .map(|(f, v)| (f, f64::from(v)))
            .collect();
        expected.sort_by_key(|(f, _)| *f);
        assert_eq!(model.gain_shares(), expected);
    }

    #[test]
    fn the_stored_layout_reads_back_as_it_was_written() {
        let (x, y) = data(2000, 3);
        let params = GbdtParams { iterations: 30, ..GbdtParams::default() };
        let model = fit(rows(&x, &y), Rows { features: &[], labels: &[], weights: &[] }, &params, 1).unwrap();
        assert_eq!(model.trees_used(), 30);
        let bytes = rmp_serde::to_vec_named(&model).unwrap();
        let back: GbdtModel = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back.trees, model.trees);
        assert_eq!(back.base_score.to_bits(), model.base_score.to_bits());
        assert!(back.check(4).is_ok());
        let (tx, _) = data(300, 11);
        assert_eq!(back.raw_scores(&tx, 300), model.raw_scores(&tx, 300));
    }
}
