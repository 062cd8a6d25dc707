//! Exact path-dependent TreeSHAP (the values of Lundberg et al.'s Algorithm 2) in f64, computed
//! leaf by leaf from tables built once per model, in O(depth) per leaf and row instead of
//! TreeSHAP's O(depth²).
//!
//! On the path to a leaf with value v, each of the d distinct features j it splits on has a zero
//! fraction z_j (the product of cover ratios of its splits on the path) and, for a row, a one
//! fraction o_j ∈ {0, 1} (whether the row takes the path at all of them). Feature i gets
//! v (o_i − z_i) Σ_k k!(d−1−k)!/d! · [t^k] Π_{j≠i} (z_j + o_j t). With H the features the row
//! follows and C the others, the product is Π_{C∖i} z_j · Π_{H∖i} (z_j + t), so with
//! g(S) = Σ_k k!(d−1−k)!/d! · [t^k] Π_{j∈S} (z_j + t), precomputed for every subset S of the
//! path's features, and P = Π_{j∈C} z_j:
//! - i in H gets v (1 − z_i) · P · g(H ∖ i);
//! - i in C gets v (0 − z_i) · (P / z_i) · g(H) = −v · P · g(H).
//!
//! Tested against the node-by-node TreeSHAP in f64 on random trees (duplicate features on a path,
//! ties, missing values, separate missing branches).

use crate::model::tree::Tree;

/// Paths longer than this (in distinct features) make a model use the node-by-node TreeSHAP: a
/// leaf's table has 2^d entries.
const MAX_PATH_FEATURES: usize = 12;
/// Nor are tables built beyond this many entries for a whole model (8 bytes each: 16 MB, kept by
/// each backend that explains with the model).
const MAX_TABLE_ENTRIES: usize = 1 << 21;

/// One tree's leaves, their paths and tables, laid out flat: leaf `l`'s distinct features and zero
/// fractions are `slots[l]..slots[l + 1]` of `features` / `zero_fractions`, its conditions
/// `conditions[l]..conditions[l + 1]` of `condition_nodes` / `condition_children` /
/// `condition_slots` (at that node the row must go to that child; it is a split on that slot's
/// feature), and its 2^d values of g start at `tables[l]` of `g`.
#[derive(Debug, Default)]
struct TreeTables {
    values: Vec<f64>,
    slots: Vec<u32>,
    features: Vec<u32>,
    zero_fractions: Vec<f64>,
    conditions: Vec<u32>,
    condition_nodes: Vec<u32>,
    condition_children: Vec<u32>,
    condition_slots: Vec<u8>,
    tables: Vec<u32>,
    g: Vec<f64>,
}

/// The tables of a set of trees.
#[derive(Debug)]
pub struct LeafShap {
    trees: Vec<TreeTables>,
}

impl LeafShap {
    /// The tables of `trees`, or None when a path is too long or the tables too large for them.
    pub fn new(trees: &[Tree]) -> Option<Self> {
        let mut entries = 0usize;
        let mut out = Vec::with_capacity(trees.len());
        for tree in trees {
            let tables = tree_tables(tree)?;
            entries += tables.g.len();
            if entries > MAX_TABLE_ENTRIES {
                return None;
            }
            out.push(tables);
        }
        Some(LeafShap { trees: out })
    }

    /// Adds each tree's Shapley values of `row` to `out` (one slot per feature); `next` is
    /// scratch space.
    pub fn add_contributions(&self, trees: &[Tree], row: &[f64], out: &mut [f64], next: &mut Vec<u32>) {
        for (tree, t) in trees.iter().zip(&self.trees) {
            // the child the row takes at every inner node
            next.clear();
            for n in 0..tree.len() {
                let feature = tree.feature[n];
                next.push(if feature < 0 { 0 } else { tree.child(n, row[feature as usize]) as u32 });
            }
            for (l, &value) in t.values.iter().enumerate() {
                let (first, last) = (t.slots[l] as usize, t.slots[l + 1] as usize);
                let d = last - first;
                if d == 0 {
                    continue;
                }
                let mut hot = (1u32 << d) - 1;
                for c in t.conditions[l] as usize..t.conditions[l + 1] as usize {
                    if next[t.condition_nodes[c] as usize] != t.condition_children[c] {
                        hot &= !(1 << t.condition_slots[c]);
                    }
                }
                let zero_fractions = &t.zero_fractions[first..last];
                let mut cold_product = 1.0;
                for (j, z) in zero_fractions.iter().enumerate() {
                    if hot & (1 << j) == 0 {
                        cold_product *= z;
                    }
                }
                let g = &t.g[t.tables[l] as usize..t.tables[l] as usize + (1 << d)];
                let scale = value * cold_product;
                let cold_share = -scale * g[hot as usize];
                for (j, (&feature, &z)) in t.features[first..last].iter().zip(zero_fractions).enumerate() {
                    out[feature as usize] +=
                        if hot & (1 << j) != 0 { scale * (1.0 - z) * g[(hot & !(1 << j)) as usize] } else { cold_share };
                }
            }
        }
    }
}

/// Every leaf's path and its table of g over the subsets of the path's features.
fn tree_tables(tree: &Tree) -> Option<TreeTables> {
    let mut t = TreeTables { slots: vec![0], conditions: vec![0], ..TreeTables::default() };
    // (node, the conditions on the way to it)
    let mut stack: Vec<(usize, Vec<(u32, u32)>)> = vec![(0, Vec::new())];
    while let Some((node, path)) = stack.pop() {
        if tree.is_leaf(node) {
            let first = t.features.len();
            for &(at, child) in &path {
                let feature = tree.feature[at as usize] as u32;
                let slot = match t.features[first..].iter().position(|&f| f == feature) {
                    Some(slot) => slot,
                    None => {
                        t.features.push(feature);
                        t.zero_fractions.push(1.0);
                        t.features.len() - 1 - first
                    }
                };
                t.zero_fractions[first + slot] *= tree.cover[child as usize] / tree.cover[at as usize];
                t.condition_nodes.push(at);
                t.condition_children.push(child);
                t.condition_slots.push(slot as u8);
            }
            if t.features.len() - first > MAX_PATH_FEATURES {
                return None;
            }
            t.tables.push(t.g.len() as u32);
            let weights = subset_weights(&t.zero_fractions[first..]);
            t.g.extend(weights);
            t.values.push(tree.value[node]);
            t.slots.push(t.features.len() as u32);
            t.conditions.push(t.condition_nodes.len() as u32);
            continue;
        }
        let (left, right, missing) = (tree.left[node], tree.right[node], tree.missing[node]);
        let mut children = vec![left, right];
        if tree.has_missing_branch(node) {
            children.push(missing);
        }
        for child in children {
            let mut deeper = path.clone();
            deeper.push((node as u32, child));
            stack.push((child as usize, deeper));
        }
    }
    Some(t)
}

/// g(S) = Σ_k k!(d−1−k)!/d! · [t^k] Π_{j∈S} (z_j + t) for every subset S (a bit mask) of the d
/// zero fractions; the full set, never asked for, gets 0.
fn subset_weights(z: &[f64]) -> Vec<f64> {
    let d = z.len();
    // k!(d−1−k)!/d! for k < d
    let weights: Vec<f64> = (0..d).map(|k| factorial(k) * factorial(d - 1 - k) / factorial(d)).collect();
    // the coefficients of Π_{j∈S} (z_j + t), each mask from the mask without its lowest bit
    let mut polynomials = vec![vec![0.0; d + 1]; 1 << d];
    polynomials[0][0] = 1.0;
    for mask in 1usize..(1 << d) {
        let j = mask.trailing_zeros() as usize;
        let (before, after) = polynomials.split_at_mut(mask);
        let (from, to) = (&before[mask & (mask - 1)], &mut after[0]);
        for k in 0..=d {
            to[k] = z[j] * from[k] + if k > 0 { from[k - 1] } else { 0.0 };
        }
    }
    polynomials
        .iter()
        .enumerate()
        .map(|(mask, p)| if mask == (1 << d) - 1 { 0.0 } else { (0..d).map(|k| weights[k] * p[k]).sum() })
        .collect()
}

fn factorial(n: usize) -> f64 {
    (1..=n).map(|k| k as f64).product()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tree::random::{random_rows, random_tree, Lcg};
    use crate::model::treeshap::{Arithmetic, TreeShap};

    #[test]
    fn leaf_tables_give_treeshaps_values() {
        let mut rng = Lcg(5);
        for missing_branches in [false, true] {
            let features = 4;
            let mut trees: Vec<Tree> = (0..40).map(|_| random_tree(&mut rng, features, 7, missing_branches)).collect();
            for tree in &mut trees {
                // covers that differ from node to node, a child's no more than its node's
                for node in 0..tree.len() {
                    tree.cover[node] = 1.0 + (rng.next() % 100) as f64;
                }
                for node in (0..tree.len()).rev() {
                    if !tree.is_leaf(node) {
                        let mut children = vec![tree.left[node], tree.right[node]];
                        if tree.has_missing_branch(node) {
                            children.push(tree.missing[node]);
                        }
                        tree.cover[node] = children.iter().map(|&c| tree.cover[c as usize]).sum();
                    }
                }
            }
            let classic = TreeShap::new(0.25, &trees, Arithmetic::Lightgbm);
            let fast = LeafShap::new(&trees).expect("small trees have tables");
            let mut next = Vec::new();
            for row in random_rows(&mut rng, features, 300) {
                let want = classic.contributions(&trees, &row);
                let mut got = vec![0.0; features];
                fast.add_contributions(&trees, &row, &mut got, &mut next);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{got:?} against {want:?} for {row:?}");
                }
            }
        }
    }

    #[test]
    fn subset_weights_are_the_shapley_weights() {
        // one feature: g(∅) = 0!0!/1! = 1
        assert_eq!(subset_weights(&[0.3]), vec![1.0, 0.0]);
        // two features: g(∅) = 0!1!/2! = 1/2; g({j}) = 1/2 · z_j + 1/2 · 1
        let g = subset_weights(&[0.2, 0.6]);
        assert_eq!(g[0], 0.5);
        assert!((g[1] - (0.5 * 0.2 + 0.5)).abs() < 1e-15 && (g[2] - (0.5 * 0.6 + 0.5)).abs() < 1e-15);
    }

    #[test]
    #[ignore = "a timing, run by hand: cargo test --release -p healthml-core leafshap_speed -- --ignored --nocapture"]
    fn leafshap_speed() {
        let mut rng = Lcg(11);
        let features = 60;
        let mut trees: Vec<Tree> = (0..1200).map(|_| random_tree(&mut rng, features, 6, false)).collect();
        for tree in &mut trees {
            for node in (0..tree.len()).rev() {
                tree.cover[node] = if tree.is_leaf(node) {
                    1.0 + (rng.next() % 100) as f64
                } else {
                    tree.cover[tree.left[node] as usize] + tree.cover[tree.right[node] as usize]
                };
            }
        }
        let rows = random_rows(&mut rng, features, 200);
        let started = std::time::Instant::now();
        let fast = LeafShap::new(&trees).unwrap();
        let entries: usize = fast.trees.iter().map(|t| t.g.len()).sum();
        println!("tables: {:.1} ms, {entries} entries", started.elapsed().as_secs_f64() * 1e3);
        for arithmetic in [Arithmetic::Forust, Arithmetic::Lightgbm] {
            let classic = TreeShap::new(0.0, &trees, arithmetic);
            let started = std::time::Instant::now();
            for row in &rows {
                std::hint::black_box(classic.contributions(&trees, row));
            }
            println!("{arithmetic:?}: {:.3} ms a row", started.elapsed().as_secs_f64() * 1e3 / rows.len() as f64);
        }
        let (mut out, mut next) = (vec![0.0; features], Vec::new());
        let started = std::time::Instant::now();
        for row in &rows {
            out.fill(0.0);
            fast.add_contributions(&trees, row, &mut out, &mut next);
            std::hint::black_box(&out);
        }
        println!("leaf tables: {:.3} ms a row", started.elapsed().as_secs_f64() * 1e3 / rows.len() as f64);
    }
}
