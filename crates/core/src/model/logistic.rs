//! Weighted, L2-penalized logistic regression by Newton's method (IRLS), with the inference table a
//! statistician expects: standard errors, z, p-values and odds ratios.
//!
//! The design matrix after one-hot encoding is mostly zeros, so rows are kept sparse and the Hessian
//! is accumulated over each row's non-zeros only: a few hundred features cost milliseconds per pass.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorClass, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    /// Penalty λ·‖β‖²/2 on the coefficients (never on the intercept).
    pub l2: f64,
    pub max_iter: usize,
    /// Stop when no coefficient moves by more than this.
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams { l2: 1.0, max_iter: 50, tol: 1e-8 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
    /// Standard errors from the inverse penalized Hessian at the optimum: intercept first.
    pub std_errors: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    pub l2: f64,
    /// Mean of each feature over the training rows: the reference point of explanations. Empty in
    /// models trained before explanations existed (they explain against zero).
    #[serde(default)]
    pub feature_means: Vec<f64>,
}

/// Rows as (feature index, value) lists without zeros; index 0 is reserved for the intercept.
struct SparseRows {
    starts: Vec<usize>,
    index: Vec<u32>,
    value: Vec<f64>,
}

impl SparseRows {
    fn from_columns(columns: &[Vec<f64>], rows: usize) -> Self {
        let mut starts = Vec::with_capacity(rows + 1);
        let mut index = Vec::new();
        let mut value = Vec::new();
        starts.push(0);
        for r in 0..rows {
            index.push(0);
            value.push(1.0);
            for (j, col) in columns.iter().enumerate() {
                let x = col[r];
                if x != 0.0 {
                    index.push(j as u32 + 1);
                    value.push(x);
                }
            }
            starts.push(index.len());
        }
        SparseRows { starts, index, value }
    }

    fn row(&self, r: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.starts[r], self.starts[r + 1]);
        (&self.index[a..b], &self.value[a..b])
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Fits on column-major features. `weights` are per-row sample weights (class weights folded in).
pub fn fit(columns: &[Vec<f64>], labels: &[bool], weights: &[f64], params: &LogisticParams) -> Result<LogisticModel> {
    let n = labels.len();
    let p = columns.len() + 1;
    if n == 0 {
        return Err(Error::new(ErrorClass::InsufficientData, "no training rows for logistic regression"));
    }
    let rows = SparseRows::from_columns(columns, n);
    let y: Vec<f64> = labels.iter().map(|&b| b as u8 as f64).collect();
    let mut beta = vec![0.0; p];
    let total_w: f64 = weights.iter().sum();
    let mean_y = y.iter().zip(weights).map(|(y, w)| y * w).sum::<f64>() / total_w;
    beta[0] = (mean_y / (1.0 - mean_y)).ln();
    let mut converged = false;
    let mut iterations = 0;
    let mut hessian = vec![0.0; p * p];
    for iter in 0..params.max_iter {
        iterations = iter + 1;
        let grad = accumulate(&rows, &y, weights, &beta, params.l2, &mut hessian);
        let step = solve_spd(&hessian, &grad, p).ok_or_else(singular)?;
        let mut largest = 0.0f64;
        for (b, s) in beta.iter_mut().zip(&step) {
            *b += s;
            largest = largest.max(s.abs());
        }
        if !largest.is_finite() {
            return Err(singular());
        }
        if largest < params.tol {
            converged = true;
            break;
        }
    }
    accumulate(&rows, &y, weights, &beta, params.l2, &mut hessian);
    let inverse = invert_spd(&hessian, p).ok_or_else(singular)?;
    let std_errors = (0..p).map(|j| inverse[j * p + j].max(0.0).sqrt()).collect();
    Ok(LogisticModel {
        intercept: beta[0],
        coefficients: beta[1..].to_vec(),
        std_errors,
        iterations,
        converged,
        l2: params.l2,
        feature_means: columns.iter().map(|c| c[..n].iter().sum::<f64>() / n as f64).collect(),
    })
}

fn singular() -> Error {
    Error::new(ErrorClass::InsufficientData, "the logistic regression's Hessian is singular")
        .with_hint("raise hyperparams.l2, or drop constant or duplicated columns")
}

/// Gradient of the penalized log-likelihood, and its negative Hessian into `hessian` (full p×p).
fn accumulate(rows: &SparseRows, y: &[f64], w: &[f64], beta: &[f64], l2: f64, hessian: &mut [f64]) -> Vec<f64> {
    let p = beta.len();
    hessian.iter_mut().for_each(|h| *h = 0.0);
    let mut grad = vec![0.0; p];
    for r in 0..y.len() {
        let (idx, val) = rows.row(r);
        let eta: f64 = idx.iter().zip(val).map(|(&j, &x)| beta[j as usize] * x).sum();
        let mu = sigmoid(eta);
        let resid = w[r] * (y[r] - mu);
        let curvature = w[r] * mu * (1.0 - mu);
        for (a, (&ja, &xa)) in idx.iter().zip(val).enumerate() {
            let ja = ja as usize;
            grad[ja] += resid * xa;
            let cx = curvature * xa;
            let row = &mut hessian[ja * p..(ja + 1) * p];
            for (&jb, &xb) in idx[a..].iter().zip(&val[a..]) {
                row[jb as usize] += cx * xb;
            }
        }
    }
    for j in 1..p {
        grad[j] -= l2 * beta[j];
        hessian[j * p + j] += l2;
    }
    // Only the upper triangle (row index <= column index) was filled: mirror it.
    for a in 0..p {
        for b in (a + 1)..p {
            hessian[b * p + a] = hessian[a * p + b];
        }
    }
    grad
}

/// Cholesky factor L (lower) of a symmetric positive definite p×p matrix.
fn cholesky(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= l[i * p + k] * l[j * p + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * p + i] = s.sqrt();
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    Some(l)
}

fn solve_with_factor(l: &[f64], b: &[f64], p: usize) -> Vec<f64> {
    let mut z = vec![0.0; p];
    for i in 0..p {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * p + k] * z[k];
        }
        z[i] = s / l[i * p + i];
    }
    let mut x = vec![0.0; p];
    for i in (0..p).rev() {
        let mut s = z[i];
        for k in (i + 1)..p {
            s -= l[k * p + i] * x[k];
        }
        x[i] = s / l[i * p + i];
    }
    x
}

fn solve_spd(a: &[f64], b: &[f64], p: usize) -> Option<Vec<f64>> {
    cholesky(a, p).map(|l| solve_with_factor(&l, b, p))
}

fn invert_spd(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, p)?;
    let mut inverse = vec![0.0; p * p];
    let mut e = vec![0.0; p];
    for j in 0..p {
        e.iter_mut().for_each(|x| *x = 0.0);
        e[j] = 1.0;
        let col = solve_with_factor(&l, &e, p);
        for i in 0..p {
            inverse[i * p + j] = col[i];
        }
    }
    Some(inverse)
}

impl LogisticModel {
    pub fn raw_score(&self, row: &[f64]) -> f64 {
        self.intercept + self.coefficients.iter().zip(row).map(|(b, x)| b * x).sum::<f64>()
    }

    pub fn raw_scores(&self, columns: &[Vec<f64>], rows: usize) -> Vec<f64> {
        let mut out = vec![self.intercept; rows];
        for (b, col) in self.coefficients.iter().zip(columns) {
            if *b != 0.0 {
                for (o, x) in out.iter_mut().zip(col) {
                    *o += b * x;
                }
            }
        }
        out
    }

    /// The log-odds of `row` as a base value (the score of the average training row) plus one
    /// contribution per feature, β·(x − mean): exact for a linear model, and what SHAP gives for it.
    pub fn contributions(&self, row: &[f64]) -> (f64, Vec<f64>) {
        let mean = |j: usize| self.feature_means.get(j).copied().unwrap_or(0.0);
        let base = self.intercept + self.coefficients.iter().enumerate().map(|(j, b)| b * mean(j)).sum::<f64>();
        (base, self.coefficients.iter().zip(row).enumerate().map(|(j, (b, x))| b * (x - mean(j))).collect())
    }

    /// (name, coefficient, std error, z, p-value, odds ratio), intercept first.
    pub fn inference(&self, features: &[String]) -> Vec<(String, f64, f64, f64, f64, f64)> {
        std::iter::once(("(intercept)".to_string(), self.intercept))
            .chain(features.iter().cloned().zip(self.coefficients.iter().copied()))
            .zip(&self.std_errors)
            .map(|((name, b), &se)| {
                let z = if se > 0.0 { b / se } else { f64::NAN };
                (name, b, se, z, two_sided_p(z), b.exp())
            })
            .collect()
    }
}

/// Two-sided p-value of a standard normal z: erfc(|z| / √2).
pub fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y = 1 with probability σ(0.5 + 2·x1 − x2) on a deterministic grid.
    fn data() -> (Vec<Vec<f64>>, Vec<bool>) {
        let n = 4000;
        let mut x1 = Vec::new();
        let mut x2 = Vec::new();
        let mut y = Vec::new();
        let mut state = 12345u64;
        for i in 0..n {
            let a = ((i % 40) as f64 - 20.0) / 10.0;
            let b = if i % 3 == 0 { 1.0 } else { 0.0 };
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            x1.push(a);
            x2.push(b);
            y.push(u < sigmoid(0.5 + 2.0 * a - b));
        }
        (vec![x1, x2], y)
    }

    #[test]
    fn recovers_the_generating_coefficients() {
        let (x, y) = data();
        let w = vec![1.0; y.len()];
        let m = fit(&x, &y, &w, &LogisticParams { l2: 1e-6, ..Default::default() }).unwrap();
        assert!(m.converged && m.iterations < 15, "{m:?}");
        // each estimate within three of its own standard errors of the truth
        for (estimate, truth, se) in [
            (m.intercept, 0.5, m.std_errors[0]),
            (m.coefficients[0], 2.0, m.std_errors[1]),
            (m.coefficients[1], -1.0, m.std_errors[2]),
        ] {
            assert!((estimate - truth).abs() < 3.0 * se, "{estimate} vs {truth} (se {se})");
        }
        let inference = m.inference(&["x1".into(), "x2".into()]);
        assert!(inference[1].4 < 1e-6, "x1 is highly significant");
        assert!((inference[1].5 - m.coefficients[0].exp()).abs() < 1e-12);
    }

    #[test]
    fn l2_shrinks_and_weights_count() {
        let (x, y) = data();
        let w = vec![1.0; y.len()];
        let loose = fit(&x, &y, &w, &LogisticParams { l2: 1e-6, ..Default::default() }).unwrap();
        let tight = fit(&x, &y, &w, &LogisticParams { l2: 1000.0, ..Default::default() }).unwrap();
        assert!(tight.coefficients[0].abs() < loose.coefficients[0].abs());
        let doubled = fit(&x, &y, &vec![2.0; y.len()], &LogisticParams { l2: 2e-6, ..Default::default() }).unwrap();
        assert!((doubled.coefficients[0] - loose.coefficients[0]).abs() < 1e-6, "weights 2 with l2 x2 is the same problem");
    }

    #[test]
    fn separable_data_stays_finite_with_l2() {
        let x = vec![vec![-2.0, -1.0, 1.0, 2.0]];
        let y = vec![false, false, true, true];
        let m = fit(&x, &y, &[1.0; 4], &LogisticParams::default()).unwrap();
        assert!(m.coefficients[0].is_finite() && m.coefficients[0] > 0.0);
    }

    #[test]
    fn p_values() {
        assert!((two_sided_p(1.959963984540054) - 0.05).abs() < 1e-6);
        assert!((two_sided_p(0.0) - 1.0).abs() < 1e-6);
        assert!(two_sided_p(10.0) < 1e-20);
    }

    #[test]
    fn scores_by_row_and_by_column_agree() {
        let (x, y) = data();
        let m = fit(&x, &y, &vec![1.0; y.len()], &LogisticParams::default()).unwrap();
        let by_col = m.raw_scores(&x, y.len());
        for r in [0, 17, 3999] {
            assert!((m.raw_score(&[x[0][r], x[1][r]]) - by_col[r]).abs() < 1e-12);
        }
    }
}
