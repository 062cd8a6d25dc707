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

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::model::tree::Tree;

/// The trees are explained in this many contiguous runs, each summed on its own and the runs then
/// added in order, so a row's values are the same however many threads computed them.
const RUNS: usize = 4;
/// Below this many leaves a second thread costs more to start than it saves.
const THREADED_LEAVES: usize = 16_384;

/// An explanation thread's stack: it recurses nowhere and keeps a few path-sized arrays, and a
/// small stack starts faster than the default 2 MiB.
const EXPLAIN_STACK: usize = 64 * 1024;

/// Threads one explanation may use (1: the calling thread only), at most [`RUNS`].
static EXPLAIN_THREADS: AtomicUsize = AtomicUsize::new(1);

/// Sets how many threads one explanation may use (clamped to 1..=4): PostgreSQL's
/// `healthml.explain_threads`. The extra threads only compute; they never call back into the host.
pub fn set_explain_threads(threads: usize) {
    EXPLAIN_THREADS.store(threads.clamp(1, RUNS), Ordering::Relaxed);
}

/// Paths of more distinct features than this make a model use the node-by-node TreeSHAP (the
/// row's hot set is a bit mask).
const MAX_PATH_FEATURES: usize = 24;

/// One tree's leaves and their paths, laid out flat: leaf `l`'s distinct features and zero
/// fractions are `slots[l]..slots[l + 1]` of `features` / `zero_fractions`, and its conditions
/// `conditions[l]..conditions[l + 1]` of `condition_codes`: `node << 8 | way << 6 | slot`, at that
/// node the row must go that way (see [`way_of_child`]), a split on that slot's feature.
#[derive(Debug, Default)]
struct TreePaths {
    values: Vec<f64>,
    slots: Vec<u32>,
    features: Vec<u32>,
    zero_fractions: Vec<f64>,
    conditions: Vec<u32>,
    /// Whether leaf `l` and leaf `l + 1` are siblings under a split on a feature new to their path
    /// (its last distinct feature): they are explained together.
    paired: Vec<bool>,
    condition_codes: Vec<u32>,
    /// Per node, the ways of its right child and of its missing values: `right | missing << 2`.
    node_ways: Vec<u8>,
}

/// How a child is reached from its node: 1 the left child, 0 the right one, 2 a separate branch
/// for missing values (a child that is both left and right, or left and missing, is left).
fn way_of_child(tree: &Tree, node: usize, child: u32) -> u32 {
    if child == tree.left[node] {
        1
    } else if child == tree.right[node] {
        0
    } else {
        2
    }
}

/// The leaf paths of a set of trees.
#[derive(Debug)]
pub struct LeafShap {
    trees: Vec<TreePaths>,
    leaves: usize,
}

impl LeafShap {
    /// The paths of `trees`, or None when one has too many distinct features.
    pub fn new(trees: &[Tree]) -> Option<Self> {
        let trees: Vec<TreePaths> = trees.iter().map(tree_paths).collect::<Option<_>>()?;
        let leaves = trees.iter().map(|t| t.values.len()).sum();
        Some(LeafShap { trees, leaves })
    }

    /// The trees' Shapley values of `row`, one per feature, on up to `healthml.explain_threads`
    /// threads for a large model.
    pub fn contributions(&self, trees: &[Tree], row: &[f64]) -> Vec<f64> {
        let runs: Vec<Range<usize>> = (0..RUNS).map(|r| r * trees.len() / RUNS..(r + 1) * trees.len() / RUNS).collect();
        let explain_run = |range: &Range<usize>| {
            let mut out = vec![0.0; row.len()];
            add_contributions(&trees[range.clone()], &self.trees[range.clone()], row, &mut out, &mut Vec::new());
            out
        };
        let threads = if self.leaves < THREADED_LEAVES { 1 } else { EXPLAIN_THREADS.load(Ordering::Relaxed) };
        let per_run: Vec<Vec<f64>> = if threads <= 1 {
            runs.iter().map(explain_run).collect()
        } else {
            // thread k explains runs k, k + threads, ...; this thread takes the first share
            let explain_share = |k: usize| (k..RUNS).step_by(threads).map(|r| (r, explain_run(&runs[r]))).collect::<Vec<_>>();
            std::thread::scope(|scope| {
                let helpers: Vec<_> = (1..threads).map(|k| (k, spawn_without_signals(scope, move || explain_share(k)))).collect();
                let mut explained = explain_share(0);
                for (k, helper) in helpers {
                    explained.extend(match helper {
                        Some(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                        // a helper that could not start leaves its runs to this thread
                        None => explain_share(k),
                    });
                }
                let mut per_run = vec![Vec::new(); RUNS];
                for (r, out) in explained {
                    per_run[r] = out;
                }
                per_run
            })
        };
        let mut out = vec![0.0; row.len()];
        for run in &per_run {
            for (o, v) in out.iter_mut().zip(run) {
                *o += v;
            }
        }
        out
    }
}

/// Adds the Shapley values of `row` of each of `trees` (whose paths are `paths`) to `out` (one slot
/// per feature); `ways` is scratch space.
fn add_contributions(trees: &[Tree], paths: &[TreePaths], row: &[f64], out: &mut [f64], ways: &mut Vec<u8>) {
    let weights = shapley_weights();
    for (tree, t) in trees.iter().zip(paths) {
        // the way the row goes at every inner node, without branches: which way it goes is a coin
        // toss to the predictor
        ways.clear();
        ways.extend(tree.feature.iter().zip(&tree.threshold).zip(&t.node_ways).map(|((&feature, &threshold), &node_ways)| {
            let value = row.get(feature.max(0) as usize).copied().unwrap_or(0.0);
            let way = usize::from(value < threshold) | usize::from(value.is_nan()) << 1;
            let missing = node_ways >> 2;
            [node_ways & 3, 1, missing, missing][way]
        }));
        let goes = |code: u32| u32::from(ways[(code >> 8) as usize]) == (code >> 6) & 3;
        let mut l = 0;
        while l < t.values.len() {
            let (first, last) = (t.slots[l] as usize, t.slots[l + 1] as usize);
            let d = last - first;
            let conditions = &t.condition_codes[t.conditions[l] as usize..t.conditions[l + 1] as usize];
            let hot_of = |conditions: &[u32]| {
                conditions.iter().fold((1u32 << d) - 1, |hot, &code| hot & !(u32::from(!goes(code)) << (code & 0x3F)))
            };
            let features = &t.features[first..last];
            if t.paired[l] {
                // the last condition is the parent's split, on a feature the path has not split on
                let (&parent, shared) = conditions.split_last().expect("a pair's path ends in their parent");
                let hot = hot_of(shared);
                let (taken, other) = if goes(parent) { (l, l + 1) } else { (l + 1, l) };
                let z_taken = t.zero_fractions[t.slots[taken] as usize + d - 1];
                let z_other = t.zero_fractions[t.slots[other] as usize + d - 1];
                add_sibling_leaves(
                    (t.values[taken], z_taken),
                    (t.values[other], z_other),
                    features,
                    &t.zero_fractions[first..last - 1],
                    hot,
                    &weights[d],
                    out,
                );
                l += 2;
            } else {
                if d > 0 {
                    add_leaf(t.values[l], features, &t.zero_fractions[first..last], hot_of(conditions), &weights[d], out);
                }
                l += 1;
            }
        }
    }
}

/// The coefficients of P_H = Π_{j∈H} (z_j + t) (H: the set bits of `hot`), |H|, and the product of
/// the other zero fractions.
fn hot_polynomial(zero_fractions: &[f64], hot: u32, p: &mut [f64; MAX_PATH_FEATURES + 1]) -> (usize, f64) {
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
    (m, cold_product)
}

/// One leaf of value `value`, path features `features` with zero fractions `zero_fractions`, `hot`
/// the ones the row follows; `c` the Shapley weights of its d features.
fn add_leaf(value: f64, features: &[u32], zero_fractions: &[f64], hot: u32, c: &[f64], out: &mut [f64]) {
    let d = features.len();
    let mut p = [0.0f64; MAX_PATH_FEATURES + 1];
    let (m, cold_product) = hot_polynomial(zero_fractions, hot, &mut p);
    let scale = value * cold_product;
    // g(H), needed only when some feature is cold (then m < d)
    let g_hot: f64 = if m < d { (0..=m).map(|k| c[k] * p[k]).sum() } else { 0.0 };
    let cold_share = -scale * g_hot;
    for (j, (&feature, &z)) in features.iter().zip(zero_fractions).enumerate() {
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

/// Two sibling leaves under a split on feature f, the last of `features`, which their shared path
/// does not split on before: the row takes one of them (`taken`, f hot there) and not the other
/// (f cold), and the other features are hot or cold alike in both (`hot`, over the shared path's
/// `zero_fractions`). Both need P_0 = Π_{j∈H} (z_j + t) and, for each hot j, P_0 / (z_j + t) = Q_j:
/// the taken leaf's polynomials are those times (z_f + t), so
/// g(Q_j (z_f + t)) = Σ_k Q_j[k] (c_k z_f + c_{k+1}) comes from the same pass as g(Q_j).
fn add_sibling_leaves(
    (taken_value, z_taken): (f64, f64),
    (other_value, z_other): (f64, f64),
    features: &[u32],
    zero_fractions: &[f64],
    hot: u32,
    c: &[f64],
    out: &mut [f64],
) {
    let d = features.len();
    let mut p = [0.0f64; MAX_PATH_FEATURES + 1];
    let (m, cold_product) = hot_polynomial(zero_fractions, hot, &mut p);
    // c_k z_f + c_{k+1}, with c_d = 0
    let mut c_taken = [0.0f64; MAX_PATH_FEATURES + 1];
    for k in 0..d {
        c_taken[k] = c[k] * z_taken + c.get(k + 1).copied().unwrap_or(0.0);
    }
    let taken_scale = taken_value * cold_product;
    let other_scale = other_value * cold_product * z_other;
    let g_p: f64 = (0..=m).map(|k| c[k] * p[k]).sum();
    // f: hot in the taken leaf (its P_H ∖ f is P_0), cold in the other
    let f = features[d - 1] as usize;
    out[f] += taken_scale * (1.0 - z_taken) * g_p - other_scale * g_p;
    // the taken leaf's g(H ∪ f), for its cold features (there are some only when m < d − 1)
    let cold_share =
        if m + 1 < d { -taken_scale * (0..=m).map(|k| c_taken[k] * p[k]).sum::<f64>() - other_scale * g_p } else { 0.0 };
    for (j, (&feature, &z)) in features[..d - 1].iter().zip(zero_fractions).enumerate() {
        out[feature as usize] += if hot & (1 << j) != 0 {
            // Q_j = P_0 / (z_j + t), highest coefficient first
            let mut q = p[m];
            let (mut g_other, mut g_taken) = (c[m - 1] * q, c_taken[m - 1] * q);
            for k in (1..m).rev() {
                q = p[k] - z * q;
                g_other += c[k - 1] * q;
                g_taken += c_taken[k - 1] * q;
            }
            (1.0 - z) * (taken_scale * g_taken + other_scale * g_other)
        } else {
            cold_share
        };
    }
}

/// A thread that computes only, started with every signal blocked (it inherits the mask), so the
/// host's signal handlers keep running on the host's own thread. None when it could not start.
fn spawn_without_signals<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    work: impl FnOnce() -> T + Send + 'scope,
) -> Option<std::thread::ScopedJoinHandle<'scope, T>> {
    // SAFETY: sigfillset and pthread_sigmask only write the sets passed; the old mask is restored
    // right after the spawn (signals that arrive meanwhile stay pending, then are delivered).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let handle =
            std::thread::Builder::new().name("healthml-explain".into()).stack_size(EXPLAIN_STACK).spawn_scoped(scope, work).ok();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        handle
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
    // a condition keeps its node in 24 bits
    if tree.len() >= 1 << 24 {
        return None;
    }
    let node_ways = (0..tree.len())
        .map(|n| (way_of_child(tree, n, tree.right[n]) | way_of_child(tree, n, tree.missing[n]) << 2) as u8)
        .collect();
    let mut t = TreePaths { slots: vec![0], conditions: vec![0], node_ways, ..TreePaths::default() };
    // (node, the conditions on the way to it)
    let mut stack: Vec<(usize, Vec<(u32, u32)>)> = vec![(0, Vec::new())];
    while let Some((node, path)) = stack.pop() {
        if tree.is_leaf(node) {
            add_leaf_path(&mut t, tree, node, &path)?;
            t.paired.push(false);
            continue;
        }
        let (left, right) = (tree.left[node], tree.right[node]);
        let new_feature = path.iter().all(|&(at, _)| tree.feature[at as usize] != tree.feature[node]);
        if tree.is_leaf(left as usize)
            && tree.is_leaf(right as usize)
            && left != right
            && !tree.has_missing_branch(node)
            && new_feature
        {
            for child in [left, right] {
                let mut deeper = path.clone();
                deeper.push((node as u32, child));
                add_leaf_path(&mut t, tree, child as usize, &deeper)?;
            }
            t.paired.extend([true, false]);
            continue;
        }
        let mut children = vec![left, right];
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

/// Appends leaf `node`, reached by `path`; None when the path has too many distinct features.
fn add_leaf_path(t: &mut TreePaths, tree: &Tree, node: usize, path: &[(u32, u32)]) -> Option<()> {
    let first = t.features.len();
    for &(at, child) in path {
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
        t.condition_codes.push(at << 8 | way_of_child(tree, at as usize, child) << 6 | slot as u32);
    }
    if t.features.len() - first > MAX_PATH_FEATURES {
        return None;
    }
    t.values.push(tree.value[node]);
    t.slots.push(t.features.len() as u32);
    t.conditions.push(t.condition_codes.len() as u32);
    Some(())
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
            for row in random_rows(&mut rng, features, 300) {
                let want = classic.contributions(&trees, &row);
                let got = fast.contributions(&trees, &row);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{got:?} against {want:?} for {row:?}");
                }
            }
        }
    }

    /// `count` random trees of depth 6 whose covers add up: a leaf's is random, a node's the sum
    /// of its children's.
    fn covered_trees(rng: &mut Lcg, count: usize, features: usize) -> Vec<Tree> {
        let mut trees: Vec<Tree> = (0..count).map(|_| random_tree(rng, features, 6, false)).collect();
        for tree in &mut trees {
            for node in (0..tree.len()).rev() {
                tree.cover[node] = if tree.is_leaf(node) {
                    1.0 + (rng.next() % 100) as f64
                } else {
                    tree.cover[tree.left[node] as usize] + tree.cover[tree.right[node] as usize]
                };
            }
        }
        trees
    }

    #[test]
    fn a_large_model_explains_the_same_on_any_number_of_threads() {
        let mut rng = Lcg(17);
        let features = 12;
        let trees = covered_trees(&mut rng, 900, features);
        let fast = LeafShap::new(&trees).expect("short paths");
        assert!(fast.leaves >= THREADED_LEAVES, "{} leaves: too few to use threads", fast.leaves);
        let classic = TreeShap::new(0.0, &trees, Arithmetic::Lightgbm);
        for row in random_rows(&mut rng, features, 20) {
            let want = classic.contributions(&trees, &row);
            // other tests may set the threads meanwhile: every setting must give these bits
            let per_threads: Vec<Vec<u64>> = [1, 2, 3, 4, 9]
                .iter()
                .map(|&threads| {
                    set_explain_threads(threads);
                    fast.contributions(&trees, &row).iter().map(|v| v.to_bits()).collect()
                })
                .collect();
            set_explain_threads(1);
            assert!(per_threads.windows(2).all(|w| w[0] == w[1]), "threads changed the values of {row:?}");
            for (g, w) in per_threads[0].iter().map(|&b| f64::from_bits(b)).zip(&want) {
                assert!((g - w).abs() <= 1e-11 * w.abs().max(1.0), "{g} against {w} for {row:?}");
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
        let out = shap.contributions(std::slice::from_ref(&tree), &[0.0]);
        assert!((out[0] - (1.0 - 2.2)).abs() < 1e-15, "{out:?}");
    }

    #[test]
    #[ignore = "a timing, run by hand: cargo test --release -p healthml-core leafshap_speed -- --ignored --nocapture"]
    fn leafshap_speed() {
        let mut rng = Lcg(11);
        let features = 60;
        let count: usize = std::env::var("TREES").map_or(1200, |t| t.parse().unwrap());
        let trees = covered_trees(&mut rng, count, features);
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
        for threads in [1, 2] {
            set_explain_threads(threads);
            let started = std::time::Instant::now();
            for row in &rows {
                std::hint::black_box(fast.contributions(&trees, row));
            }
            println!(
                "leaf by leaf, {threads} threads: {:.3} ms a row",
                started.elapsed().as_secs_f64() * 1e3 / rows.len() as f64
            );
        }
        set_explain_threads(1);
    }
}
