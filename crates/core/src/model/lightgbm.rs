//! A gbdt model (or an AutoML blend of gbdts) written as a LightGBM text model (`version=v4`,
//! `objective=binary`), which LightGBM's `Booster(model_file=...)` and lleaves load and score as
//! healthml does (tested in `tests/e2e/` against the real packages). The model reads the model's
//! own features (`features_row` gives them for a row), in the model's feature order.
//!
//! What changes on the way, and why the scores stay equal:
//! - LightGBM sends a row left when `value <= threshold`, healthml when `value < threshold`: each
//!   threshold is written as the next double below it, which is the same test on every double.
//! - A missing value (NaN) goes the node's way: every split is written with missing type NaN and
//!   `default_left` set when healthml sends missing values left.
//! - LightGBM has no base score: the base score (and, for a calibrated model or a blend, the
//!   calibration's intercept and the members' weighted base scores) is added to the first tree's
//!   leaves, and a blend's or calibration's factors multiply every leaf. A plain gbdt's leaves are
//!   not rescaled, so LightGBM adds exactly the same doubles in the same order: bit-identical.
//! - LightGBM counts rows per node (`leaf_count`), healthml keeps the hessian sum (`cover`): the
//!   cover is written as `leaf_weight` / `internal_weight` and, rounded, as the counts that
//!   LightGBM's own TreeSHAP (`pred_contrib`) weighs paths by.

use std::fmt::Write;

use crate::error::{Error, ErrorClass, Result};
use crate::model::gbdt::GbdtModel;
use crate::model::tree::Tree;
use crate::model::treeshap::Arithmetic;
use crate::model::{Estimator, TrainedModel};

/// One gbdt's trees with what multiplies its leaves and where its features start.
struct Part<'a> {
    model: &'a GbdtModel,
    scale: f64,
    feature_offset: usize,
}

/// The LightGBM text model of a gbdt or a blend of gbdts.
pub fn to_lightgbm_text(model: &TrainedModel) -> Result<String> {
    let unsupported = |what: &str| {
        Error::invalid_parameter(format!("a {what} model has no trees to write as a LightGBM model")).with_hint(
            "export a gbdt version or an AutoML blend of gbdts; a logistic model's coefficients are in healthml.coefficients()",
        )
    };
    let (slope, intercept) = model.calibration.map_or((1.0, 0.0), |c| (c.slope, c.intercept));
    // Each gbdt's trees with their leaf factor, and the constant every row starts from (in
    // healthml's arithmetic: a plain gbdt's base score as it is).
    let (parts, constant) = match &model.estimator {
        Estimator::Gbdt(g) => {
            let constant = if model.calibration.is_none() { g.base_score } else { slope * g.base_score + intercept };
            (vec![Part { model: g, scale: slope, feature_offset: 0 }], constant)
        }
        Estimator::Ensemble(members) => {
            let (mut parts, mut offset, mut members_constant) = (Vec::new(), 0, 0.0);
            for m in members {
                let g = match &m.model.estimator {
                    Estimator::Gbdt(g) => g,
                    other => return Err(unsupported(&format!("blend with a {}", other.algorithm()))),
                };
                let (own_slope, own_intercept) = m.model.calibration.map_or((1.0, 0.0), |c| (c.slope, c.intercept));
                parts.push(Part { model: g, scale: slope * m.weight * own_slope, feature_offset: offset });
                members_constant += m.weight * (own_slope * g.base_score + own_intercept);
                offset += m.model.features.len();
            }
            (parts, slope * members_constant + intercept)
        }
        Estimator::Logistic(_) => return Err(unsupported("logistic")),
    };
    if parts.iter().any(|p| p.model.arithmetic == Arithmetic::Xgboost) {
        return Err(Error::new(
            ErrorClass::FeatureNotSupported,
            "a model imported from XGBoost cannot be written as a LightGBM model that scores the same",
        )
        .with_hint("XGBoost adds its leaves in f32 and LightGBM in f64: export the model from XGBoost itself"));
    }
    let names = lightgbm_feature_names(&model.features);
    let mut split_points: Vec<(f64, f64)> = vec![(f64::INFINITY, f64::NEG_INFINITY); names.len()];
    let mut blocks = Vec::new();
    for part in &parts {
        for tree in &part.model.trees {
            let i = blocks.len();
            let add = if i == 0 { constant } else { 0.0 };
            let body = tree_text(tree, part, add, &mut split_points).map_err(|m| {
                Error::invalid_parameter(format!("tree {i} cannot be written as a LightGBM tree: {m}"))
                    .with_hint("LightGBM trees send missing values left or right, never to a branch of their own")
            })?;
            blocks.push(format!("Tree={i}\n{body}\n\n"));
        }
    }
    let infos: Vec<String> =
        split_points.iter().map(|&(low, high)| if low <= high { format!("[{low}:{high}]") } else { "none".into() }).collect();
    let mut out = String::new();
    out.push_str("tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n");
    let _ = writeln!(out, "max_feature_idx={}", names.len().saturating_sub(1));
    out.push_str("objective=binary sigmoid:1\n");
    let _ = writeln!(out, "feature_names={}", names.join(" "));
    let _ = writeln!(out, "feature_infos={}", infos.join(" "));
    let sizes: Vec<String> = blocks.iter().map(|b| b.len().to_string()).collect();
    let _ = writeln!(out, "tree_sizes={}\n", sizes.join(" "));
    for b in &blocks {
        out.push_str(b);
    }
    out.push_str("end of trees\n\npandas_categorical:null\n");
    Ok(out)
}

/// Feature names as LightGBM's text format can hold them: one word each (LightGBM itself turns
/// spaces into `_`), no JSON punctuation (which LightGBM refuses in names), and distinct.
fn lightgbm_feature_names(features: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    features
        .iter()
        .map(|f| {
            let base: String =
                f.chars().map(|c| if c.is_ascii_alphanumeric() || "_-.=<>()+".contains(c) { c } else { '_' }).collect();
            let mut name = base.clone();
            let mut n = 2;
            while !seen.insert(name.clone()) {
                name = format!("{base}_{n}");
                n += 1;
            }
            name
        })
        .collect()
}

/// One tree's lines from `num_leaves` to `shrinkage`. Inner nodes are numbered in depth-first
/// order from the root (0), leaves left to right; a child that is a leaf is written `-(leaf + 1)`.
fn tree_text(tree: &Tree, part: &Part<'_>, add: f64, split_points: &mut [(f64, f64)]) -> std::result::Result<String, String> {
    let leaf_value = |node: usize| add + part.scale * tree.value[node];
    let mut inner: Vec<usize> = Vec::new();
    let mut leaves: Vec<usize> = Vec::new();
    // (node, its number): inner nodes get their position, leaves !position
    let mut number = vec![0i64; tree.len()];
    let mut stack = vec![0usize];
    while let Some(node) = stack.pop() {
        if tree.is_leaf(node) {
            number[node] = !(leaves.len() as i64);
            leaves.push(node);
        } else {
            if tree.has_missing_branch(node) {
                return Err(format!("node {node} has a separate branch for missing values"));
            }
            number[node] = inner.len() as i64;
            inner.push(node);
            stack.push(tree.right[node] as usize);
            stack.push(tree.left[node] as usize);
        }
    }
    let join = |values: Vec<String>| values.join(" ");
    let count = |cover: f64| format!("{}", cover.round().max(0.0) as i64);
    let mut thresholds = Vec::new();
    for &node in &inner {
        let threshold = tree.threshold[node];
        if threshold == f64::NEG_INFINITY {
            return Err(format!("node {node} splits at -infinity"));
        }
        let feature = part.feature_offset + tree.feature[node] as usize;
        let (low, high) = &mut split_points[feature];
        *low = low.min(threshold);
        *high = high.max(threshold);
        // value < t  ⇔  value <= the largest double below t
        thresholds.push(format!("{}", threshold.next_down()));
    }
    let mut s = String::new();
    let _ = writeln!(s, "num_leaves={}", leaves.len());
    s.push_str("num_cat=0\n");
    let _ = writeln!(
        s,
        "split_feature={}",
        join(inner.iter().map(|&n| (part.feature_offset + tree.feature[n] as usize).to_string()).collect())
    );
    let _ = writeln!(s, "split_gain={}", join(inner.iter().map(|&n| format!("{}", tree.gain[n])).collect()));
    let _ = writeln!(s, "threshold={}", join(thresholds));
    let decision = |n: usize| if tree.missing[n] == tree.left[n] { 8 + 2 } else { 8 };
    let _ = writeln!(s, "decision_type={}", join(inner.iter().map(|&n| decision(n).to_string()).collect()));
    let _ = writeln!(s, "left_child={}", join(inner.iter().map(|&n| number[tree.left[n] as usize].to_string()).collect()));
    let _ = writeln!(s, "right_child={}", join(inner.iter().map(|&n| number[tree.right[n] as usize].to_string()).collect()));
    let _ = writeln!(s, "leaf_value={}", join(leaves.iter().map(|&n| format!("{}", leaf_value(n))).collect()));
    let _ = writeln!(s, "leaf_weight={}", join(leaves.iter().map(|&n| format!("{}", tree.cover[n])).collect()));
    let _ = writeln!(s, "leaf_count={}", join(leaves.iter().map(|&n| count(tree.cover[n])).collect()));
    let _ = writeln!(s, "internal_value={}", join(inner.iter().map(|&n| format!("{}", leaf_value(n))).collect()));
    let _ = writeln!(s, "internal_weight={}", join(inner.iter().map(|&n| format!("{}", tree.cover[n])).collect()));
    let _ = writeln!(s, "internal_count={}", join(inner.iter().map(|&n| count(tree.cover[n])).collect()));
    s.push_str("is_linear=0\nshrinkage=1\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tree::random::{random_rows, random_tree, Lcg};
    use crate::model::{EnsembleMember, Platt};
    use crate::prep::recipe::Recipe;

    /// A LightGBM text model's trees: (split_feature, threshold, decision_type, left_child,
    /// right_child, leaf_value) of each.
    type Parsed = Vec<[Vec<f64>; 6]>;

    fn parse(text: &str) -> Parsed {
        text.split("\nTree=")
            .skip(1)
            .map(|block| {
                let field = |key: &str| -> Vec<f64> {
                    let line = block.lines().find(|l| l.starts_with(&format!("{key}="))).unwrap_or_else(|| panic!("no {key}"));
                    line[key.len() + 1..].split_whitespace().map(|v| v.parse().unwrap()).collect()
                };
                ["split_feature", "threshold", "decision_type", "left_child", "right_child", "leaf_value"].map(field)
            })
            .collect()
    }

    /// LightGBM's prediction, as LightGBM 4 computes it (`Tree::Predict`, `NumericalDecision`
    /// with missing type NaN): the sum of the trees' leaves from 0.
    fn lightgbm_raw_score(trees: &Parsed, row: &[f64]) -> f64 {
        let mut total = 0.0;
        for [features, thresholds, decisions, left, right, leaves] in trees {
            if leaves.len() == 1 {
                total += leaves[0];
                continue;
            }
            let mut node = 0i64;
            while node >= 0 {
                let n = node as usize;
                let value = row[features[n] as usize];
                assert_eq!(decisions[n] as i64 & 0b1100, 8, "missing type NaN");
                let go_left = if value.is_nan() { decisions[n] as i64 & 2 != 0 } else { value <= thresholds[n] };
                node = if go_left { left[n] } else { right[n] } as i64;
            }
            total += leaves[!node as usize];
        }
        total
    }

    fn trained(features: &[&str], estimator: Estimator, calibration: Option<Platt>) -> TrainedModel {
        TrainedModel {
            recipe: Recipe { format: 1, source: "t".into(), rows: 0, steps: Vec::new(), level_index: Default::default() },
            features: features.iter().map(|f| f.to_string()).collect(),
            estimator,
            threshold: 0.5,
            calibration,
        }
    }

    #[test]
    fn a_gbdt_is_written_so_that_lightgbm_adds_the_same_doubles() {
        let mut rng = Lcg(3);
        for (trees, depth) in [(1, 0), (5, 1), (60, 6), (7, 12)] {
            let forest: Vec<Tree> = (0..trees).map(|_| random_tree(&mut rng, 5, depth, false)).collect();
            let gbdt = GbdtModel::new(-1.375, forest);
            let model =
                trained(&["a", "b", "c", "d", "e"], Estimator::Gbdt(GbdtModel::new(gbdt.base_score, gbdt.trees.clone())), None);
            let text = to_lightgbm_text(&model).unwrap();
            let parsed = parse(&text);
            assert_eq!(parsed.len(), trees);
            for row in random_rows(&mut rng, 5, 500) {
                assert_eq!(
                    lightgbm_raw_score(&parsed, &row).to_bits(),
                    gbdt.raw_score(&row).to_bits(),
                    "{trees} trees of depth {depth}, row {row:?}"
                );
            }
            let sizes: Vec<usize> = text
                .lines()
                .find_map(|l| l.strip_prefix("tree_sizes="))
                .unwrap()
                .split(' ')
                .map(|s| s.parse().unwrap())
                .collect();
            let blocks: Vec<&str> = text.match_indices("Tree=").map(|(i, _)| &text[i..]).collect();
            for (size, block) in sizes.iter().zip(&blocks) {
                let next = block[1..].find("Tree=").or_else(|| block.find("end of trees")).unwrap();
                assert_eq!(
                    *size,
                    if block[1..].contains("Tree=") { next + 1 } else { next },
                    "tree_sizes are the blocks' lengths"
                );
            }
        }
    }

    #[test]
    fn a_calibrated_blend_is_one_model_over_both_members_features() {
        let mut rng = Lcg(5);
        let member = |rng: &mut Lcg, base: f64, slope: f64| {
            let trees = (0..30).map(|_| random_tree(rng, 3, 4, false)).collect();
            trained(&["x", "y", "z"], Estimator::Gbdt(GbdtModel::new(base, trees)), Some(Platt { slope, intercept: 0.25 }))
        };
        let members = vec![
            EnsembleMember { weight: 0.3, model: member(&mut rng, 0.5, 0.9) },
            EnsembleMember { weight: 0.7, model: member(&mut rng, -0.25, 1.1) },
        ];
        let blend = trained(
            &["m1:x", "m1:y", "m1:z", "m2:x", "m2:y", "m2:z"],
            Estimator::Ensemble(members),
            Some(Platt { slope: 1.2, intercept: -0.1 }),
        );
        let text = to_lightgbm_text(&blend).unwrap();
        assert!(text.contains("feature_names=m1_x m1_y m1_z m2_x m2_y m2_z\n"));
        let parsed = parse(&text);
        for row in random_rows(&mut rng, 6, 500) {
            let expected = blend.raw_score_features(&row);
            let got = lightgbm_raw_score(&parsed, &row);
            assert!((got - expected).abs() <= 1e-12 * expected.abs().max(1.0), "{got} against {expected}");
        }
    }

    #[test]
    fn names_become_distinct_words() {
        let names =
            lightgbm_feature_names(&["a b".into(), "a_b".into(), "diag=V58".into(), "age=[70-80)".into(), "{\"x\"}".into()]);
        assert_eq!(names, ["a_b", "a_b_2", "diag=V58", "age=_70-80)", "__x__"]);
    }

    #[test]
    fn what_lightgbm_cannot_hold_is_refused_with_a_hint() {
        let mut rng = Lcg(9);
        let with_branch = (0..40).map(|_| random_tree(&mut rng, 3, 4, true)).collect();
        let model = trained(&["a", "b", "c"], Estimator::Gbdt(GbdtModel::new(0.0, with_branch)), None);
        let e = to_lightgbm_text(&model).unwrap_err();
        assert!(e.message().contains("separate branch for missing values") && e.hint().is_some(), "{e:?}");
        let mut tree = random_tree(&mut Lcg(1), 1, 1, false);
        while tree.is_leaf(0) {
            tree = random_tree(&mut rng, 1, 1, false);
        }
        tree.threshold[0] = f64::NEG_INFINITY;
        let model = trained(&["a"], Estimator::Gbdt(GbdtModel::new(0.0, vec![tree])), None);
        assert!(to_lightgbm_text(&model).unwrap_err().message().contains("-infinity"));
        let logistic = crate::model::logistic::LogisticModel {
            intercept: 0.0,
            coefficients: Vec::new(),
            std_errors: Vec::new(),
            iterations: 1,
            converged: true,
            l2: 1.0,
            feature_means: Vec::new(),
        };
        let e = to_lightgbm_text(&trained(&[], Estimator::Logistic(logistic), None)).unwrap_err();
        assert!(e.message().contains("logistic") && e.hint().unwrap().contains("gbdt"));
    }
}
