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
