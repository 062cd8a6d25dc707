//! Exact TreeSHAP on healthml's trees, without allocating per node.
//!
//! forust's own implementation clones a growing path vector at every node, builds a child list per
//! node and recomputes each tree's expected value on every call: about 7 ms per row for a few
//! hundred depth-6 trees. This is the same algorithm (Lundberg et al. 2018, Algorithm 2) with the
//! same f32 arithmetic in the same order, on preallocated per-depth path buffers, so its values are
//! bit-identical to forust's on the same trees (tested) and an explanation costs a fraction of a
//! millisecond.
//!
//! The arithmetic is that of the library the trees come from: forust's f32 for healthml's own
//! trees (its bits), f64 for LightGBM's (as its `pred_contrib`), and XGBoost's f32 with a buffer
//! per tree (as its `pred_contribs`, bit for bit).

use std::ops::{Add, AddAssign, Div, Mul, Sub};

use serde::{Deserialize, Serialize};

use crate::model::leafshap::LeafShap;
use crate::model::tree::Tree;

/// Whose arithmetic a gbdt's scores and explanations reproduce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arithmetic {
    /// forust's (models trained by healthml 0.1.0): leaves summed in f64, TreeSHAP in f32.
    #[default]
    Forust,
    /// healthml's own (models trained since 0.2.0): leaves summed in f64 as forust does, exact
    /// TreeSHAP values in f64 computed leaf by leaf (`leafshap`), about twice as fast.
    Healthml,
    /// LightGBM's: leaves summed in f64, TreeSHAP in f64.
    Lightgbm,
    /// XGBoost's: leaves summed in f32 from the base margin, the probability in f32, TreeSHAP in
    /// f32 into a buffer per tree, the expected values in f32.
    Xgboost,
}

impl Arithmetic {
    pub fn is_forust(&self) -> bool {
        *self == Arithmetic::Forust
    }
}

trait Float:
    Copy + Default + PartialEq + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + AddAssign
{
    const ZERO: Self;
    const ONE: Self;
    fn of(x: f64) -> Self;
    fn count(n: usize) -> Self;
    fn wide(self) -> f64;
}

impl Float for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn of(x: f64) -> Self {
        x as f32
    }
    fn count(n: usize) -> Self {
        n as f32
    }
    fn wide(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn of(x: f64) -> Self {
        x
    }
    fn count(n: usize) -> Self {
        n as f64
    }
    fn wide(self) -> f64 {
        self
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct PathElement<F> {
    feature: usize,
    zero_fraction: F,
    one_fraction: F,
    pweight: F,
}

/// What explaining rows with a set of trees needs besides the trees: their expected values.
#[derive(Debug)]
pub struct TreeShap {
    base_score: f64,
    expected_values: Vec<f64>,
    /// Longest root-to-leaf path + 2: the size of one level's path buffer.
    width: usize,
    arithmetic: Arithmetic,
    /// healthml's arithmetic: every leaf's path (None: a path too long, the node walk in f64 instead).
    leaves: Option<LeafShap>,
}

impl TreeShap {
    /// For trees whose structure is checked (children after their node, depth bounded).
    pub fn new(base_score: f64, trees: &[Tree], arithmetic: Arithmetic) -> Self {
        let depth = trees.iter().map(Tree::depth).max().unwrap_or(0);
        let expected_values = trees
            .iter()
            .map(|t| if arithmetic == Arithmetic::Xgboost { f64::from(mean_value_f32(t, 0)) } else { t.expected_value(0) })
            .collect();
        let leaves = if arithmetic == Arithmetic::Healthml { LeafShap::new(trees) } else { None };
        TreeShap { base_score, expected_values, width: depth + 2, arithmetic, leaves }
    }

    /// One Shapley value per feature, then the bias (base score + expected values), as forust's
    /// `predict_contributions(.., Shapley, ..)` lays them out for one row.
    /// `trees` are the ones this was built from.
    pub fn contributions(&self, trees: &[Tree], row: &[f64]) -> Vec<f64> {
        match self.arithmetic {
            Arithmetic::Forust => self.contributions_in::<f32>(trees, row),
            Arithmetic::Lightgbm => self.contributions_in::<f64>(trees, row),
            Arithmetic::Healthml => match &self.leaves {
                Some(leaves) => {
                    let mut out = leaves.contributions(trees, row);
                    out.push(self.base_score + self.expected_values.iter().sum::<f64>());
                    out
                }
                None => self.contributions_in::<f64>(trees, row),
            },
            Arithmetic::Xgboost => self.xgboost_contributions(trees, row),
        }
    }

    fn contributions_in<F: Float>(&self, trees: &[Tree], row: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; row.len() + 1];
        let bias = row.len();
        out[bias] += self.base_score;
        // One path buffer per recursion level: level d's path is copied into level d + 1's slot.
        let mut paths = vec![PathElement::<F>::default(); self.width * (self.width + 1)];
        for (tree, expected) in trees.iter().zip(&self.expected_values) {
            out[bias] += expected;
            self.recurse(tree, row, &mut out, &mut paths, 0, 0, 0, F::ONE, F::ONE, row.len() + 100);
        }
        out
    }

    /// XGBoost's `PredictContributionKernel`: each tree into a zeroed f32 buffer (its expected
    /// value first), added to the row's f32 total; the base margin last.
    fn xgboost_contributions(&self, trees: &[Tree], row: &[f64]) -> Vec<f64> {
        let bias = row.len();
        let (mut total, mut this_tree) = (vec![0f32; row.len() + 1], vec![0f32; row.len() + 1]);
        let mut paths = vec![PathElement::<f32>::default(); self.width * (self.width + 1)];
        for (tree, expected) in trees.iter().zip(&self.expected_values) {
            this_tree.fill(0.0);
            this_tree[bias] += *expected as f32;
            self.recurse(tree, row, &mut this_tree, &mut paths, 0, 0, 0, 1.0, 1.0, row.len() + 100);
            for (t, c) in total.iter_mut().zip(&this_tree) {
                *t += c;
            }
        }
        total[bias] += self.base_score as f32;
        total.into_iter().map(f64::from).collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn recurse<F: Float, A: Float>(
        &self,
        tree: &Tree,
        row: &[f64],
        out: &mut [A],
        paths: &mut [PathElement<F>],
        level: usize,
        node: usize,
        mut unique_depth: usize,
        parent_zero_fraction: F,
        parent_one_fraction: F,
        parent_feature: usize,
    ) {
        let current = &mut paths[level * self.width..(level + 1) * self.width];
        extend_path(current, unique_depth, parent_zero_fraction, parent_one_fraction, parent_feature);
        if tree.is_leaf(node) {
            // forust keeps leaf values in f32: the stored f64 is that f32, so this is exact.
            let leaf = F::of(tree.value[node]);
            for i in 1..=unique_depth {
                let w = unwound_path_sum(current, unique_depth, i);
                let el = current[i];
                out[el.feature] += A::of((w * (el.one_fraction - el.zero_fraction) * leaf).wide());
            }
            return;
        }
        let split_feature = tree.feature[node] as usize;
        let next = tree.child(node, row[split_feature]);
        let (left, right, missing) = (tree.left[node] as usize, tree.right[node] as usize, tree.missing[node] as usize);
        let (children, count) = hot_then_cold(next, left, right, missing, tree.has_missing_branch(node));
        let mut incoming_zero_fraction = F::ONE;
        let mut incoming_one_fraction = F::ONE;
        let path_index = (0..=unique_depth).find(|&i| current[i].feature == split_feature).unwrap_or(unique_depth + 1);
        if path_index != unique_depth + 1 {
            incoming_zero_fraction = current[path_index].zero_fraction;
            incoming_one_fraction = current[path_index].one_fraction;
            unwind_path(current, unique_depth, path_index);
            unique_depth -= 1;
        }
        let cover = F::of(tree.cover[node]);
        for (i, &child) in children[..count].iter().enumerate() {
            // Each child starts from this level's path (forust clones it), in the next level's buffer.
            let (current, deeper) = paths[level * self.width..].split_at_mut(self.width);
            deeper[..=unique_depth].copy_from_slice(&current[..=unique_depth]);
            let zero_fraction = (F::of(tree.cover[child]) / cover) * incoming_zero_fraction;
            let one_fraction = if i == 0 { incoming_one_fraction } else { F::ZERO };
            self.recurse(tree, row, out, paths, level + 1, child, unique_depth + 1, zero_fraction, one_fraction, split_feature);
        }
    }
}

/// XGBoost's `FillNodeMeanValues`: the cover-weighted mean of the leaves under `node`, in f32.
fn mean_value_f32(tree: &Tree, node: usize) -> f32 {
    if tree.is_leaf(node) {
        return tree.value[node] as f32;
    }
    let (left, right) = (tree.left[node] as usize, tree.right[node] as usize);
    let mut result = mean_value_f32(tree, left) * tree.cover[left] as f32;
    result += mean_value_f32(tree, right) * tree.cover[right] as f32;
    result / tree.cover[node] as f32
}

fn hot_then_cold(next: usize, left: usize, right: usize, missing: usize, missing_branch: bool) -> ([usize; 3], usize) {
    if missing_branch {
        let order = if next == right {
            [right, left, missing]
        } else if next == left {
            [left, right, missing]
        } else {
            [missing, left, right]
        };
        (order, 3)
    } else if next == right {
        ([right, left, 0], 2)
    } else {
        ([left, right, 0], 2)
    }
}

fn extend_path<F: Float>(path: &mut [PathElement<F>], unique_depth: usize, zero_fraction: F, one_fraction: F, feature: usize) {
    path[unique_depth] =
        PathElement { feature, zero_fraction, one_fraction, pweight: if unique_depth == 0 { F::ONE } else { F::ZERO } };
    for i in (0..unique_depth).rev() {
        path[i + 1].pweight += (one_fraction * path[i].pweight * F::count(i + 1)) / F::count(unique_depth + 1);
        path[i].pweight = (zero_fraction * path[i].pweight * F::count(unique_depth - i)) / F::count(unique_depth + 1);
    }
}

fn unwind_path<F: Float>(path: &mut [PathElement<F>], unique_depth: usize, path_index: usize) {
    let one_fraction = path[path_index].one_fraction;
    let zero_fraction = path[path_index].zero_fraction;
    let mut next_one_portion = path[unique_depth].pweight;
    for i in (0..unique_depth).rev() {
        if one_fraction != F::ZERO {
            let tmp = path[i].pweight;
            path[i].pweight = (next_one_portion * F::count(unique_depth + 1)) / (F::count(i + 1) * one_fraction);
            next_one_portion = tmp - (path[i].pweight * zero_fraction * F::count(unique_depth - i)) / F::count(unique_depth + 1);
        } else {
            path[i].pweight = (path[i].pweight * F::count(unique_depth + 1)) / (zero_fraction * F::count(unique_depth - i));
        }
    }
    for i in path_index..unique_depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_path_sum<F: Float>(path: &[PathElement<F>], unique_depth: usize, path_index: usize) -> F {
    let one_fraction = path[path_index].one_fraction;
    let zero_fraction = path[path_index].zero_fraction;
    let mut next_one_portion = path[unique_depth].pweight;
    let mut total = F::ZERO;
    for i in (0..unique_depth).rev() {
        if one_fraction != F::ZERO {
            let tmp = (next_one_portion * F::count(unique_depth + 1)) / (F::count(i + 1) * one_fraction);
            total += tmp;
            next_one_portion = path[i].pweight - tmp * zero_fraction * (F::count(unique_depth - i) / F::count(unique_depth + 1));
        } else if zero_fraction != F::ZERO {
            total += (path[i].pweight / zero_fraction) / (F::count(unique_depth - i) / F::count(unique_depth + 1));
        }
    }
    total
}
