//! Trees laid out for scoring, built from the stored [`Tree`]s on first use (never serialized).
//!
//! Most forests are scored as a [`RankedForest`]: every tree padded to one complete depth, each
//! node two or four bytes, the last level's nodes each beside its two leaves, and a row turned once
//! into the rank of each of its values among the forest's split points of that feature, so that
//! every step down a tree is an integer comparison without a branch. Trees of several hundred
//! nodes each then fit in the L2 cache, and eight trees walk side by side so that their loads
//! overlap. Forests it cannot hold (deep trees, a separate branch for
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

    /// Whether the ranked layout scores this forest.
    #[cfg(test)]
    pub(crate) fn is_ranked(&self) -> bool {
        matches!(self, Forest::Ranked(_))
    }

    /// The layout scoring this forest, in words (benchmarks print it).
    pub(crate) fn layout(&self) -> String {
        match self {
            Forest::Ranked(f) => format!("ranked, {}", f.layout()),
            Forest::Flat(_) => "node by node".to_string(),
        }
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
    /// At least 1: a lone leaf sits under a padding node.
    depth: usize,
    trees: usize,
    layout: Layout,
    /// Per feature, its distinct split points in ascending order.
    split_points: Vec<Vec<f64>>,
}

/// A single row's walk is bound by cache misses, not by arithmetic, so the layout is as small as
/// the forest allows: two-byte nodes when every slot and threshold index fits in a byte (a
/// histogram-binned forest of up to 127 features: `slot << 8 | index`, a padding node reading the
/// always-zero rank after the features' ranks), four-byte ones otherwise (`slot << 16 | index`);
/// four-byte leaves when every leaf value is an f32 (widened back exactly, so the sum is the same).
#[derive(Debug)]
enum Layout {
    NarrowSingle(Levels<u16, f32>),
    NarrowDouble(Levels<u16, f64>),
    WideSingle(Levels<u32, f32>),
    WideDouble(Levels<u32, f64>),
}

/// Per tree, its `2^(depth−1) − 1` upper nodes, then its last level's nodes each with its two
/// leaves: the last step and the leaf it reaches share a cache line.
struct Levels<N, L> {
    upper: Vec<N>,
    last: Vec<LastNode<N, L>>,
}

impl<N, L> std::fmt::Debug for Levels<N, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Levels {{ {} upper nodes, {} last ones }}", self.upper.len(), self.last.len())
    }
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
struct LastNode<N, L> {
    node: N,
    left: L,
    right: L,
}

impl<N: Node, L: Leaf> Levels<N, L> {
    /// From complete trees of `depth` ≥ 1: `nodes` (wide, `2^depth − 1` per tree) and `leaves`
    /// (`2^depth` per tree).
    fn new(depth: usize, nodes: &[u32], leaves: &[f64], narrow: impl Fn(u32) -> N, leaf: impl Fn(f64) -> L) -> Self {
        let (inner, upper) = ((1 << depth) - 1, (1 << (depth - 1)) - 1);
        let trees = leaves.len() >> depth;
        let mut levels = Levels { upper: Vec::with_capacity(upper * trees), last: Vec::with_capacity((upper + 1) * trees) };
        for t in 0..trees {
            let (nodes, leaves) = (&nodes[t * inner..(t + 1) * inner], &leaves[t * (inner + 1)..(t + 1) * (inner + 1)]);
            levels.upper.extend(nodes[..upper].iter().map(|&n| narrow(n)));
            levels.last.extend(nodes[upper..].iter().enumerate().map(|(k, &n)| LastNode {
                node: narrow(n),
                left: leaf(leaves[2 * k]),
                right: leaf(leaves[2 * k + 1]),
            }));
        }
        levels
    }
}

trait Node: Copy {
    /// (slot, threshold index)
    fn split(self) -> (usize, u32);
}

impl Node for u32 {
    #[inline(always)]
    fn split(self) -> (usize, u32) {
        ((self >> 16) as usize, self & 0xFFFF)
    }
}

impl Node for u16 {
    #[inline(always)]
    fn split(self) -> (usize, u32) {
        ((self >> 8) as usize, u32::from(self & 0xFF))
    }
}

trait Leaf: Copy {
    fn widen(self) -> f64;
}

impl Leaf for f64 {
    #[inline(always)]
    fn widen(self) -> f64 {
        self
    }
}

impl Leaf for f32 {
    #[inline(always)]
    fn widen(self) -> f64 {
        f64::from(self)
    }
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
        // a forest of lone leaves walks one padding node
        let depth = depth.max(1);
        let inner = (1 << depth) - 1;
        let mut nodes = vec![0; inner * trees.len()];
        let mut leaves = vec![0.0; (inner + 1) * trees.len()];
        for (t, tree) in trees.iter().enumerate() {
            place(
                tree,
                &split_points,
                depth,
                &mut nodes[t * inner..(t + 1) * inner],
                &mut leaves[t * (inner + 1)..(t + 1) * (inner + 1)],
            );
        }
        let padding_slot = 2 * features;
        let narrow = padding_slot <= 0xFF && split_points.iter().all(|points| points.len() <= 0x100);
        let to_narrow =
            |node: u32| if node == PADDING { (padding_slot << 8) as u16 } else { ((node >> 16) << 8 | (node & 0xFFFF)) as u16 };
        let single = leaves.iter().all(|&v| f64::from(v as f32).to_bits() == v.to_bits());
        let layout = match (narrow, single) {
            (true, true) => Layout::NarrowSingle(Levels::new(depth, &nodes, &leaves, to_narrow, |v| v as f32)),
            (true, false) => Layout::NarrowDouble(Levels::new(depth, &nodes, &leaves, to_narrow, |v| v)),
            (false, true) => Layout::WideSingle(Levels::new(depth, &nodes, &leaves, |n| n, |v| v as f32)),
            (false, false) => Layout::WideDouble(Levels::new(depth, &nodes, &leaves, |n| n, |v| v)),
        };
        Some(RankedForest { base_score, depth, trees: trees.len(), layout, split_points })
    }

    fn score(&self, row: &[f64], ranks: &mut Vec<u32>) -> f64 {
        ranks.clear();
        ranks.reserve(2 * self.split_points.len() + 1);
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
        // the padding slot of two-byte nodes: no index is below it
        ranks.push(0);
        assert!(
            ranks.len() == 2 * self.split_points.len() + 1,
            "a row of {} features for {}",
            row.len(),
            self.split_points.len()
        );
        match &self.layout {
            Layout::NarrowSingle(levels) => self.walk_depth(levels, ranks),
            Layout::NarrowDouble(levels) => self.walk_depth(levels, ranks),
            Layout::WideSingle(levels) => self.walk_depth(levels, ranks),
            Layout::WideDouble(levels) => self.walk_depth(levels, ranks),
        }
    }

    fn walk_depth<N: Node, L: Leaf>(&self, levels: &Levels<N, L>, ranks: &[u32]) -> f64 {
        match self.depth {
            1 => self.walk::<1, N, L>(levels, ranks),
            2 => self.walk::<2, N, L>(levels, ranks),
            3 => self.walk::<3, N, L>(levels, ranks),
            4 => self.walk::<4, N, L>(levels, ranks),
            5 => self.walk::<5, N, L>(levels, ranks),
            6 => self.walk::<6, N, L>(levels, ranks),
            7 => self.walk::<7, N, L>(levels, ranks),
            _ => self.walk::<8, N, L>(levels, ranks),
        }
    }

    fn walk<const DEPTH: usize, N: Node, L: Leaf>(&self, levels: &Levels<N, L>, ranks: &[u32]) -> f64 {
        let upper = (1 << (DEPTH - 1)) - 1;
        let goes_right = |node: N| {
            let (slot, index) = node.split();
            index < ranks[slot]
        };
        // the leaf of last-level node `k` of tree `t`
        let leaf = |t: usize, k: usize| {
            let last = levels.last[t * (upper + 1) + k];
            let (left, right) = (last.left, last.right);
            if goes_right(last.node) { right } else { left }.widen()
        };
        let mut total = self.base_score;
        let lanes_end = self.trees - self.trees % LANES;
        for first in (0..lanes_end).step_by(LANES) {
            let mut position = [0usize; LANES];
            for _ in 1..DEPTH {
                for (lane, p) in position.iter_mut().enumerate() {
                    *p = 2 * *p + 1 + usize::from(goes_right(levels.upper[(first + lane) * upper + *p]));
                }
            }
            // leaves added in tree order, as forust adds them
            for (lane, p) in position.iter().enumerate() {
                total += leaf(first + lane, p - upper);
            }
        }
        for t in lanes_end..self.trees {
            let mut p = 0;
            for _ in 1..DEPTH {
                p = 2 * p + 1 + usize::from(goes_right(levels.upper[t * upper + p]));
            }
            total += leaf(t, p - upper);
        }
        total
    }

    /// "wide" or "narrow" nodes, "f64" or "f32" leaves (tests and benchmarks say which one ran).
    fn layout(&self) -> String {
        match self.layout {
            Layout::NarrowSingle(_) => "2-byte nodes, f32 leaves",
            Layout::NarrowDouble(_) => "2-byte nodes, f64 leaves",
            Layout::WideSingle(_) => "4-byte nodes, f32 leaves",
            Layout::WideDouble(_) => "4-byte nodes, f64 leaves",
        }
        .to_string()
    }
}

/// Puts `tree` into one tree's `nodes` and `leaves` of a complete tree of `depth`.
fn place(tree: &Tree, split_points: &[Vec<f64>], depth: usize, nodes: &mut [u32], leaves: &mut [f64]) {
    struct Placing<'a> {
        tree: &'a Tree,
        split_points: &'a [Vec<f64>],
        depth: usize,
        nodes: &'a mut [u32],
        leaves: &'a mut [f64],
    }
    impl Placing<'_> {
        /// Node `node` at position `slot` of level `level`, then its subtree.
        fn at(&mut self, node: usize, slot: usize, level: usize) {
            let (tree, inner) = (self.tree, (1 << self.depth) - 1);
            if level == self.depth {
                self.leaves[slot - inner] = tree.value[node];
                return;
            }
            let (left, right) = if tree.is_leaf(node) {
                self.nodes[slot] = PADDING;
                (node, node)
            } else {
                let feature = tree.feature[node] as usize;
                let threshold = tree.threshold[node];
                let index = self.split_points[feature].partition_point(|p| *p < threshold) as u32;
                let missing_right = tree.missing[node] == tree.right[node] && tree.missing[node] != tree.left[node];
                let slot_of_rank = (2 * feature + usize::from(missing_right)) as u32;
                self.nodes[slot] = slot_of_rank << 16 | index;
                (tree.left[node] as usize, tree.right[node] as usize)
            };
            self.at(left, 2 * slot + 1, level + 1);
            self.at(right, 2 * slot + 2, level + 1);
        }
    }
    Placing { tree, split_points, depth, nodes, leaves }.at(0, 0, 0);
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
    fn every_node_and_leaf_width_scores_bit_for_bit_as_the_node_walk() {
        let mut rng = Lcg(13);
        let features = 6;
        let base: Vec<Tree> = (0..37).map(|_| random_tree(&mut rng, features, 6, false)).collect();
        let single_leaves = |trees: &[Tree]| -> Vec<Tree> {
            let mut trees = trees.to_vec();
            for tree in &mut trees {
                tree.value.iter_mut().for_each(|v| *v = f64::from(*v as f32));
            }
            trees
        };
        // 300 distinct split points on feature 0: more than a byte can index
        let many_points = |trees: &[Tree], rng: &mut Lcg| -> Vec<Tree> {
            let mut trees = trees.to_vec();
            let mut k = 0;
            while k < 300 {
                let mut tree = random_tree(rng, features, 8, false);
                for i in 0..tree.len() {
                    if tree.is_leaf(i) {
                        continue;
                    }
                    tree.feature[i] = 0;
                    tree.threshold[i] = -1.0 + k as f64 / 150.0;
                    k += 1;
                }
                trees.push(tree);
            }
            trees
        };
        let variants = [
            (base.clone(), "2-byte nodes, f64 leaves"),
            (single_leaves(&base), "2-byte nodes, f32 leaves"),
            (many_points(&base, &mut rng), "4-byte nodes, f64 leaves"),
            (single_leaves(&many_points(&base, &mut rng)), "4-byte nodes, f32 leaves"),
        ];
        let mut rows = random_rows(&mut rng, features, 1000);
        rows.extend((0..1000).map(|_| (0..features).map(|_| -1.5 + (rng.next() % 4000) as f64 / 1000.0).collect::<Vec<f64>>()));
        for (trees, layout) in variants {
            let ranked = RankedForest::new(0.375, &trees).expect("trees of depth 8 at most are ranked");
            assert_eq!(ranked.layout(), layout);
            let flat = FlatForest::new(0.375, &trees);
            let mut ranks = Vec::new();
            for row in &rows {
                assert_eq!(ranked.score(row, &mut ranks).to_bits(), flat.score(row).to_bits(), "{layout}, row {row:?}");
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
