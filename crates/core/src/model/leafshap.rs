//! Exact path-dependent TreeSHAP (the values of Lundberg et al.'s Algorithm 2) in f64, computed
//! leaf by leaf from each leaf's path, read once per model: no recursion and no path buffers to
//! extend and unwind per node.
//!
//! On the path to a leaf with value v, each of the d distinct features j it splits on has a zero
//! fraction z_j (the product of cover ratios of its splits on the path) and, for a row, a one
//! fraction o_j ∈ {0, 1} (whether the row takes the path at all of them). Feature i gets
//! v (o_i − z_i) Σ_k k!(d−1−k)!/d! · [t^k] Π_{j≠i} (z_j + o_j t). With H the features the row
//! follows and C the others, the product is Π_{C∖i} z_j · Π_{H∖i} (z_j + t). So with
//! P_S(t) = Π_{j∈S} (z_j + t), g(S) = Σ_k k!(d−1−k)!/d! · [t^k] P_S and Z = Π_{j∈C} z_j:
//! - i in H gets v (1 − z_i) · Z · g(H ∖ i), P_{H∖i} being P_H divided by (z_i + t);
//! - i in C gets v (0 − z_i) · (Z / z_i) · g(H) = −v · Z · g(H), the same for all of them.
//!
//! The division runs from the highest coefficient down (each step subtracts z_i ≤ 1 times the
//! last), so rounding does not grow with it. Tested against the node-by-node TreeSHAP in f64 on
//! random trees (repeated features on a path, ties, missing values, separate missing branches).

use crate::model::tree::Tree;

/// Paths of more distinct features than this make a model use the node-by-node TreeSHAP (the
/// row's hot set is a bit mask).
const MAX_PATH_FEATURES: usize = 24;

/// One tree's leaves and their paths, laid out flat: leaf `l`'s distinct features and zero
/// fractions are `slots[l]..slots[l + 1]` of `features` / `zero_fractions`, and its conditions
/// `conditions[l]..conditions[l + 1]` of `condition_nodes` / `condition_children` /
/// `condition_slots` (at that node the row must go to that child; it is a split on that slot's
/// feature).
#[derive(Debug, Default)]
struct TreePaths {
    values: Vec<f64>,
    slots: Vec<u32>,
    features: Vec<u32>,
    zero_fractions: Vec<f64>,
    conditions: Vec<u32>,
    condition_nodes: Vec<u32>,
    condition_children: Vec<u32>,
    condition_slots: Vec<u8>,
}

/// The leaf paths of a set of trees.
#[derive(Debug)]
pub struct LeafShap {
    trees: Vec<TreePaths>,
}

impl LeafShap {
    /// The paths of `trees`, or None when one has too many distinct features.
    pub fn new(trees: &[Tree]) -> Option<Self> {
        Some(LeafShap { trees: trees.iter().map(tree_paths).collect::<Option<_>>()? })
    }

    /// Adds each tree's Shapley values of `row` to `out` (one slot per feature); `next` is
    /// scratch space.
    pub fn add_contributions(&self, trees: &[Tree], row: &[f64], out: &mut [f64], next: &mut Vec<u32>) {
        let weights = shapley_weights();
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
                let c = &weights[d];
                // P_H's coefficients (m = |H|), and Z
                let mut p = [0.0f64; MAX_PATH_FEATURES + 1];
                p[0] = 1.0;
                let mut m = 0;
                let mut cold_product = 1.0;
                for (j, &z) in zero_fractions.iter().enumerate() {
                    if hot & (1 << j) != 0 {
                        m += 1;
                        for k in (1..=m).rev() {
                            p[k] = p[k - 1] + z * p[k];
                        }
                        p[0] *= z;
                    } else {
                        cold_product *= z;
                    }
                }
                let scale = value * cold_product;
                // g(H), needed only when some feature is cold (then m < d)
                let g_hot: f64 = if m < d { (0..=m).map(|k| c[k] * p[k]).sum() } else { 0.0 };
                let cold_share = -scale * g_hot;
                for (j, (&feature, &z)) in t.features[first..last].iter().zip(zero_fractions).enumerate() {
                    out[feature as usize] += if hot & (1 << j) != 0 {
                        // g(H ∖ j): the coefficients of P_H / (z_j + t), highest first
                        let mut q = p[m];
                        let mut g = c[m - 1] * q;
                        for k in (1..m).rev() {
                            q = p[k] - z * q;
                            g += c[k - 1] * q;
                        }
                        scale * (1.0 - z) * g
                    } else {
                        cold_share
                    };
                }
            }
        }
    }
}

/// k!(d−1−k)!/d! for every d ≤ MAX_PATH_FEATURES and k < d.
fn shapley_weights() -> &'static [Vec<f64>] {
    static WEIGHTS: std::sync::OnceLock<Vec<Vec<f64>>> = std::sync::OnceLock::new();
    WEIGHTS.get_or_init(|| {
        (0..=MAX_PATH_FEATURES).map(|d| (0..d).map(|k| factorial(k) * factorial(d - 1 - k) / factorial(d)).collect()).collect()
    })
}

fn factorial(n: usize) -> f64 {
    (1..=n).map(|k| k as f64).product()
}

/// Every leaf's path: its distinct features, their zero fractions, and the conditions.
fn tree_paths(tree: &Tree) -> Option<TreePaths> {
    let mut t = TreePaths { slots: vec![0], conditions: vec![0], ..TreePaths::default() };
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
            t.values.push(tree.value[node]);
            t.slots.push(t.features.len() as u32);
            t.conditions.push(t.condition_nodes.len() as u32);
            continue;
        }
        let mut children = vec![tree.left[node], tree.right[node]];
        if tree.has_missing_branch(node) {
            children.push(tree.missing[node]);
        }
        for child in children {
            let mut deeper = path.clone();
            deeper.push((node as u32, child));
            stack.push((child as usize, deeper));
        }
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tree::random::{random_rows, random_tree, Lcg};
    use crate::model::treeshap::{Arithmetic, TreeShap};

    #[test]
    fn leaf_by_leaf_gives_treeshaps_values() {
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
            let fast = LeafShap::new(&trees).expect("short paths");
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
    fn one_split_shares_the_leaf_as_shapley_says() {
        // root on feature 0 (cover 10) → leaves of value 1 (cover 4) and 3 (cover 6): a row going
        // left gets (1 − E) with E = (4·1 + 6·3) / 10 = 2.2 for feature 0
        let tree = Tree {
            feature: vec![0, -1, -1],
            threshold: vec![0.5, 0.0, 0.0],
            left: vec![1, 0, 0],
            right: vec![2, 0, 0],
            missing: vec![1, 0, 0],
            value: vec![0.0, 1.0, 3.0],
            cover: vec![10.0, 4.0, 6.0],
            gain: vec![1.0, 0.0, 0.0],
        };
        let shap = LeafShap::new(std::slice::from_ref(&tree)).unwrap();
        let mut out = vec![0.0];
        shap.add_contributions(std::slice::from_ref(&tree), &[0.0], &mut out, &mut Vec::new());
        assert!((out[0] - (1.0 - 2.2)).abs() < 1e-15, "{out:?}");
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
        println!("paths: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
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
        println!("leaf by leaf: {:.3} ms a row", started.elapsed().as_secs_f64() * 1e3 / rows.len() as f64);
    }
}
