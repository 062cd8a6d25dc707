//! A decision tree in healthml's own layout (payload format 2, docs/payload-format.md), which
//! scoring, TreeSHAP and the payload read; no training library's structs.

use serde::{Deserialize, Serialize};

/// One tree, node `i` described by entry `i` of every array; node 0 is the root and every child
/// comes after its parent. A leaf has `feature` −1 and its log-odds in `value`; an inner node sends
/// a row with a missing (NaN) feature to `missing`, one below `threshold` to `left`, any other to
/// `right` (`missing` may equal `left` or `right`). Floats that forust computes in f32 (values,
/// covers, gains) are stored as the f64 of that f32, so nothing is rounded on the way.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub feature: Vec<i32>,
    pub threshold: Vec<f64>,
    pub left: Vec<u32>,
    pub right: Vec<u32>,
    pub missing: Vec<u32>,
    /// A leaf's log-odds (an inner node's is the weight it would have as a leaf).
    pub value: Vec<f64>,
    /// Sum of the training rows' hessians that reached the node (TreeSHAP weighs paths by it).
    pub cover: Vec<f64>,
    /// The split's loss reduction (0 for a leaf): the gain importance.
    pub gain: Vec<f64>,
}

impl Tree {
    pub fn len(&self) -> usize {
        self.feature.len()
    }

    pub fn is_empty(&self) -> bool {
        self.feature.is_empty()
    }

    pub fn is_leaf(&self, node: usize) -> bool {
        self.feature[node] < 0
    }

    /// Whether a missing value takes a branch of its own (neither `left` nor `right`).
    pub fn has_missing_branch(&self, node: usize) -> bool {
        self.missing[node] != self.left[node] && self.missing[node] != self.right[node]
    }

    /// The child a row with `value` of the node's feature goes to.
    pub fn child(&self, node: usize, value: f64) -> usize {
        (if value.is_nan() {
            self.missing[node]
        } else if value < self.threshold[node] {
            self.left[node]
        } else {
            self.right[node]
        }) as usize
    }

    /// The longest root-to-leaf path, in edges (children come after their node, so one pass finds
    /// every node's depth).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.len()];
        for i in 0..self.len() {
            if !self.is_leaf(i) {
                for child in [self.left[i], self.right[i], self.missing[i]] {
                    depth[child as usize] = depth[i] + 1;
                }
            }
        }
        depth.into_iter().max().unwrap_or(0)
    }

    /// The cover-weighted mean of the leaves under `node`: the tree's expected value from the root.
    /// The same f64 arithmetic, in the same order, as forust's `get_average_leaf_weights`.
    pub fn expected_value(&self, node: usize) -> f64 {
        if self.is_leaf(node) {
            return self.value[node];
        }
        let (left, right, missing) = (self.left[node] as usize, self.right[node] as usize, self.missing[node] as usize);
        let mut w = self.cover[left] * self.expected_value(left);
        w += self.cover[right] * self.expected_value(right);
        if self.has_missing_branch(node) {
            w += self.cover[missing] * self.expected_value(missing);
        }
        w / self.cover[node]
    }
}

/// Random trees and rows for tests of what reads trees (scoring layouts, exports).
#[cfg(test)]
pub(crate) mod random {
    use super::Tree;

    /// A small deterministic generator (the tests need no crate for it).
    pub(crate) struct Lcg(pub(crate) u64);
    impl Lcg {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        pub(crate) fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }
    }

    /// Split points and row values drawn from one small set, so rows often equal a threshold;
    /// −0 and +0 both occur, and infinities.
    pub(crate) const VALUES: [f64; 9] = [-1.5, -0.0, 0.0, 0.25, 1.0, 2.5, f64::INFINITY, f64::NEG_INFINITY, 7.0];

    /// A random tree of at most `max_depth` levels; `missing_branches` gives some nodes a third
    /// child for missing values.
    pub(crate) fn random_tree(rng: &mut Lcg, features: usize, max_depth: usize, missing_branches: bool) -> Tree {
        let mut tree = Tree::default();
        fn grow(tree: &mut Tree, rng: &mut Lcg, features: usize, depth_left: usize, missing_branches: bool) -> u32 {
            let id = tree.len();
            tree.feature.push(-1);
            tree.threshold.push(0.0);
            tree.left.push(0);
            tree.right.push(0);
            tree.missing.push(0);
            tree.value.push((rng.next() % 1000) as f64 / 997.0 - 0.5);
            tree.cover.push(1.0);
            tree.gain.push(0.0);
            if depth_left == 0 || rng.below(5) == 0 {
                return id as u32;
            }
            tree.feature[id] = rng.below(features as u64) as i32;
            tree.threshold[id] = VALUES[rng.below(6)];
            let left = grow(tree, rng, features, depth_left - 1, missing_branches);
            let right = grow(tree, rng, features, depth_left - 1, missing_branches);
            tree.left[id] = left;
            tree.right[id] = right;
            tree.missing[id] = match rng.below(if missing_branches { 3 } else { 2 }) {
                0 => left,
                1 => right,
                _ => grow(tree, rng, features, depth_left - 1, missing_branches),
            };
            id as u32
        }
        grow(&mut tree, rng, features, max_depth, missing_branches);
        tree
    }

    pub(crate) fn random_rows(rng: &mut Lcg, features: usize, rows: usize) -> Vec<Vec<f64>> {
        (0..rows)
            .map(|_| {
                (0..features).map(|_| if rng.below(6) == 0 { f64::NAN } else { VALUES[rng.below(VALUES.len() as u64)] }).collect()
            })
            .collect()
    }
}
