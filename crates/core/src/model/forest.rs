//! Trees laid out for scoring, built from the stored [`Tree`]s on first use (never serialized).
//!
//! Most forests are scored as a [`RankedForest`]: every tree padded to one complete depth, each
//! node four bytes, and a row turned once into the rank of each of its values among the forest's
//! split points of that feature, so that every step down a tree is an integer comparison without a
//! branch. Trees of several hundred nodes each then fit in the L2 cache, and eight trees walk side
//! by side so that their loads overlap. Forests it cannot hold (deep trees, a separate branch for
//! missing values, tens of thousands of split points on one feature) are walked node by node as a
//! [`FlatForest`]. Both add the trees' leaves in tree order from the base score, so their scores
//! are bit-identical to each other and to forust's `predict` (tested).

use crate::model::tree::Tree;

#[derive(Debug)]
pub(crate) enum Forest {
    Ranked(RankedForest),
    Flat(FlatForest),
}

impl Forest {
    pub(crate) fn new(base_score: f64, trees: &[Tree]) -> Self {
        match RankedForest::new(base_score, trees) {
            Some(ranked) => Forest::Ranked(ranked),
            None => Forest::Flat(FlatForest::new(base_score, trees)),
        }
    }

    /// Log-odds of one row of features; NaN is missing.
    pub(crate) fn score(&self, row: &[f64], ranks: &mut Vec<u32>) -> f64 {
        match self {
            Forest::Ranked(f) => f.score(row, ranks),
            Forest::Flat(f) => f.score(row),
        }
    }

    /// Whether the ranked layout scores this forest (tests and benchmarks say which one ran).
    pub(crate) fn is_ranked(&self) -> bool {
        matches!(self, Forest::Ranked(_))
    }
}

/// The deepest trees the ranked layout pads: a complete tree of depth 8 holds 255 nodes and 256
/// leaves (3 KiB); deeper ones would grow the layout past what its speed is worth.
const MAX_RANKED_DEPTH: usize = 8;
/// A padding node's threshold index: above every rank, so every row goes left (its two subtrees
/// are copies of one leaf).
const PADDING: u32 = 0xFFFF;
/// The rank a missing value has on the side of nodes that send missing values right: above every
/// threshold index (at most 0xFFFE), so every such node sends it right.
const MISSING_RIGHT: u32 = 0x1_0000;
/// Trees walked side by side: enough loads in flight to hide the L2 latency of each.
const LANES: usize = 8;

/// Every tree as a complete binary tree of depth `depth` in breadth-first order (node `i`'s children
/// are `2i + 1` and `2i + 2`), shallower leaves copied down. A node is `slot << 16 | index`:
/// `index` is its threshold's position among the sorted distinct split points of its feature, and
/// `slot` is `2 × feature`, plus one when a missing value goes right. A row's ranks hold, per
/// feature, the number of its split points at or below the row's value, twice: at `2 × feature`
/// (0 when the value is missing) and at `2 × feature + 1` (`MISSING_RIGHT` when missing). A row
/// goes right at a node exactly when `index < ranks[slot]`: `threshold ≤ value`, the same test as
/// `!(value < threshold)`, and a missing value goes the way the node sends it.
#[derive(Debug)]
pub(crate) struct RankedForest {
    base_score: f64,
    depth: usize,
    trees: usize,
    nodes: Vec<u32>,
    /// `2^depth` leaf values per tree, left to right.
    leaves: Vec<f64>,
    /// Per feature, its distinct split points in ascending order.
    split_points: Vec<Vec<f64>>,
}

impl RankedForest {
    fn new(base_score: f64, trees: &[Tree]) -> Option<Self> {
        let mut depth = 0;
        let mut features = 0;
        for tree in trees {
            let mut node_depth = vec![0usize; tree.len()];
            for i in 0..tree.len() {
                if tree.is_leaf(i) {
                    continue;
                }
                if tree.has_missing_branch(i) {
                    return None;
                }
                for child in [tree.left[i], tree.right[i]] {
                    node_depth[child as usize] = node_depth[i] + 1;
                }
                depth = depth.max(node_depth[i] + 1);
                features = features.max(tree.feature[i] as usize + 1);
            }
        }
        // slot = 2 × feature + 1 must fit in 16 bits
        if depth > MAX_RANKED_DEPTH || features > 0x7FFF {
            return None;
        }
        let mut split_points: Vec<Vec<f64>> = vec![Vec::new(); features];
        for tree in trees {
            for i in (0..tree.len()).filter(|&i| !tree.is_leaf(i)) {
                split_points[tree.feature[i] as usize].push(tree.threshold[i]);
            }
        }
        for points in &mut split_points {
            points.sort_by(f64::total_cmp);
            // −0 and +0 compare equal, as the walk compares them: one split point
            points.dedup();
            if points.len() >= PADDING as usize {
                return None;
            }
        }
        let inner = (1 << depth) - 1;
        let mut forest = RankedForest {
            base_score,
            depth,
            trees: trees.len(),
            nodes: vec![0; inner * trees.len()],
            leaves: vec![0.0; (inner + 1) * trees.len()],
            split_points,
        };
        for (t, tree) in trees.iter().enumerate() {
            forest.place(tree, 0, t, 0, 0);
        }
        Some(forest)
    }

    /// Puts node `node` of `tree` (number `t`) at position `slot` of level `level`, then its subtree.
    fn place(&mut self, tree: &Tree, node: usize, t: usize, slot: usize, level: usize) {
        let inner = (1 << self.depth) - 1;
        if level == self.depth {
            self.leaves[t * (inner + 1) + slot - inner] = tree.value[node];
            return;
        }
        let (left, right) = if tree.is_leaf(node) {
            self.nodes[t * inner + slot] = PADDING;
            (node, node)
        } else {
            let feature = tree.feature[node] as usize;
            let threshold = tree.threshold[node];
            let index = self.split_points[feature].partition_point(|p| *p < threshold) as u32;
            let missing_right = tree.missing[node] == tree.right[node] && tree.missing[node] != tree.left[node];
            let slot_of_rank = (2 * feature + usize::from(missing_right)) as u32;
            self.nodes[t * inner + slot] = slot_of_rank << 16 | index;
            (tree.left[node] as usize, tree.right[node] as usize)
        };
        self.place(tree, left, t, 2 * slot + 1, level + 1);
        self.place(tree, right, t, 2 * slot + 2, level + 1);
    }

    fn score(&self, row: &[f64], ranks: &mut Vec<u32>) -> f64 {
        ranks.clear();
        ranks.reserve(2 * self.split_points.len());
        for (points, &value) in self.split_points.iter().zip(row) {
            let (left_side, right_side) = if value.is_nan() {
                (0, MISSING_RIGHT)
            } else {
                let rank = points.partition_point(|p| *p <= value) as u32;
                (rank, rank)
            };
            ranks.push(left_side);
            ranks.push(right_side);
        }
        assert!(ranks.len() == 2 * self.split_points.len(), "a row of {} features for {}", row.len(), self.split_points.len());
        match self.depth {
            0 => self.walk::<0>(ranks),
            1 => self.walk::<1>(ranks),
            2 => self.walk::<2>(ranks),
            3 => self.walk::<3>(ranks),
            4 => self.walk::<4>(ranks),
            5 => self.walk::<5>(ranks),
            6 => self.walk::<6>(ranks),
            7 => self.walk::<7>(ranks),
            _ => self.walk::<8>(ranks),
        }
    }

    fn walk<const DEPTH: usize>(&self, ranks: &[u32]) -> f64 {
        let inner = (1 << DEPTH) - 1;
        let step = |node: u32, position: usize| -> usize {
            let goes_right = (node & 0xFFFF) < ranks[(node >> 16) as usize];
            2 * position + 1 + usize::from(goes_right)
        };
        let mut total = self.base_score;
        let lanes_end = self.trees - self.trees % LANES;
        for first in (0..lanes_end).step_by(LANES) {
            let mut position = [0usize; LANES];
            for _ in 0..DEPTH {
                for (lane, p) in position.iter_mut().enumerate() {
                    *p = step(self.nodes[(first + lane) * inner + *p], *p);
                }
            }
            // leaves added in tree order, as forust adds them
            for (lane, p) in position.iter().enumerate() {
                total += self.leaves[(first + lane) * (inner + 1) + p - inner];
            }
        }
        for t in lanes_end..self.trees {
            let mut p = 0;
            for _ in 0..DEPTH {
                p = step(self.nodes[t * inner + p], p);
            }
            total += self.leaves[t * (inner + 1) + p - inner];
        }
        total
    }
}

/// Every tree's nodes in one array of small nodes, walked node by node: any tree the payload
/// checks allow (any depth, a separate branch for missing values). Same comparisons and the same
/// summation order as forust's `predict`.
#[derive(Debug, Default)]
pub(crate) struct FlatForest {
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

impl FlatForest {
    fn new(base_score: f64, trees: &[Tree]) -> Self {
        let mut roots = Vec::with_capacity(trees.len());
        let mut nodes = Vec::with_capacity(trees.iter().map(Tree::len).sum());
        for tree in trees {
            let offset = nodes.len() as u32;
            roots.push(offset);
            nodes.extend((0..tree.len()).map(|i| {
                if tree.is_leaf(i) {
                    FlatNode { value: tree.value[i], feature: LEAF, left: 0, right: 0, missing: 0 }
                } else {
                    FlatNode {
                        value: tree.threshold[i],
                        feature: tree.feature[i] as u32,
                        left: offset + tree.left[i],
                        right: offset + tree.right[i],
                        missing: offset + tree.missing[i],
                    }
                }
            }));
        }
        FlatForest { base_score, roots, nodes }
    }

    fn score(&self, row: &[f64]) -> f64 {
        let mut total = self.base_score;
        for &root in &self.roots {
            let mut node = &self.nodes[root as usize];
            while node.feature != LEAF {
                let v = row[node.feature as usize];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tree::random::{random_rows, random_tree, Lcg};

    #[test]
    fn the_ranked_walk_scores_bit_for_bit_as_the_node_walk() {
        let mut rng = Lcg(7);
        for (trees, max_depth) in [(0, 0), (1, 0), (3, 1), (17, 4), (40, 6), (9, 8)] {
            let features = 5;
            let forest: Vec<Tree> = (0..trees).map(|_| random_tree(&mut rng, features, max_depth, false)).collect();
            let base = 0.125;
            let ranked = RankedForest::new(base, &forest).expect("trees of depth 8 at most are ranked");
            let flat = FlatForest::new(base, &forest);
            let mut ranks = Vec::new();
            for row in random_rows(&mut rng, features, 2000) {
                assert_eq!(
                    ranked.score(&row, &mut ranks).to_bits(),
                    flat.score(&row).to_bits(),
                    "{trees} trees of depth {max_depth}, row {row:?}"
                );
            }
        }
    }

    #[test]
    fn forests_the_ranked_layout_cannot_hold_are_walked_node_by_node() {
        let mut rng = Lcg(11);
        let deep: Vec<Tree> = (0..3).map(|_| random_tree(&mut rng, 4, 12, false)).collect();
        assert!(deep.iter().any(|t| (0..t.len()).count() > 511), "a tree deeper than 8 levels was drawn");
        let with_missing_branch: Vec<Tree> = (0..30).map(|_| random_tree(&mut rng, 4, 4, true)).collect();
        assert!(with_missing_branch.iter().any(|t| (0..t.len()).any(|i| !t.is_leaf(i) && t.has_missing_branch(i))));
        for trees in [deep, with_missing_branch] {
            let forest = Forest::new(0.0, &trees);
            assert!(!forest.is_ranked());
            let flat = FlatForest::new(0.0, &trees);
            let mut ranks = Vec::new();
            for row in random_rows(&mut rng, 4, 200) {
                assert_eq!(forest.score(&row, &mut ranks).to_bits(), flat.score(&row).to_bits());
            }
        }
    }
}
