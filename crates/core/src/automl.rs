//! AutoML: guardrails on the data, then a patient-grouped k-fold search over logistic and gbdt
//! configurations within a time budget, a leaderboard, and a blend of the best candidates when their
//! out-of-fold predictions say it helps.
//!
//! Only training rows take part in the search: the test rows are touched once, by the final model,
//! so its test metrics compare fairly with a hand-trained model's on the same split.

use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::frame::Frame;

use crate::guardrails::{conclude_leakage, data_guardrails, flagged_columns};
use crate::metrics;
use crate::model::tree::Tree;
use crate::model::{Estimator, TrainedModel};
use crate::options::AutomlOptions;
use crate::prep::recipe::{Encoding, Recipe};
use crate::split::group_fraction;
use crate::train::{self, Algorithm, Fitted, Prepared, RecipeSource, TrainOptions, TrainOutcome};

/// Salt of the fold assignment's group hash (independent of the test split and validation slice).
const FOLD_SALT: u64 = 0xF01D_5EED;
/// A blend must beat the best single candidate's out-of-fold AUC by this much to be chosen: a
/// smaller gain is noise, and a single model is simpler to explain.
pub const ENSEMBLE_MIN_GAIN: f64 = 0.0005;
/// How many of the best candidates may enter the blend.
const ENSEMBLE_POOL: usize = 3;
/// Rounds of greedy selection (with replacement): weights are multiples of 1/rounds.
const ENSEMBLE_ROUNDS: usize = 10;
/// One configuration the search tries.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: &'static str,
    pub algorithm: Algorithm,
    pub hyperparams: Value,
    /// How categorical columns are encoded (None: the algorithm's default, or the caller's recipe).
    pub encoding: Option<Encoding>,
}

impl Candidate {
    /// The training options this candidate fits with: the caller's, with its encoding unless the
    /// caller fixed one (or a stored recipe).
    fn options(&self, options: &TrainOptions) -> TrainOptions {
        let mut options = options.clone();
        if let (RecipeSource::Fit(recipe), Some(encoding)) = (&mut options.recipe, self.encoding) {
            recipe.encoding.get_or_insert(encoding);
        }
        options
    }
}

/// The search space, most promising and cheapest first, so a short budget still tries both
/// families. The gbdt defaults are the ones chosen on the readmission pack's validation rows.
pub fn candidates() -> Vec<Candidate> {
    let c = |name, algorithm, hyperparams| Candidate { name, algorithm, hyperparams, encoding: None };
    let target =
        |name, hyperparams| Candidate { name, algorithm: Algorithm::Gbdt, hyperparams, encoding: Some(Encoding::Target) };
    vec![
        c("logistic l2=1", Algorithm::Logistic, json!({"l2": 1.0})),
        c("gbdt depth 6", Algorithm::Gbdt, json!({})),
        target("gbdt depth 6, target-encoded", json!({})),
        c("gbdt depth 4", Algorithm::Gbdt, json!({"max_depth": 4})),
        c("logistic l2=30", Algorithm::Logistic, json!({"l2": 30.0})),
        c("gbdt depth 8, min leaf 100", Algorithm::Gbdt, json!({"max_depth": 8, "min_leaf_weight": 100.0})),
        c("gbdt depth 5, columns 0.5", Algorithm::Gbdt, json!({"max_depth": 5, "colsample_bytree": 0.5})),
        c("gbdt depth 3, rate 0.1", Algorithm::Gbdt, json!({"max_depth": 3, "learning_rate": 0.1})),
        c("logistic l2=300", Algorithm::Logistic, json!({"l2": 300.0})),
        c("gbdt depth 6, rate 0.02", Algorithm::Gbdt, json!({"learning_rate": 0.02, "iterations": 2000})),
        target("gbdt depth 6, rate 0.02, target-encoded", json!({"learning_rate": 0.02, "iterations": 2000})),
    ]
}

/// One row of the leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// 1 = best out-of-fold AUC; `None` for candidates the budget cut.
    pub rank: Option<usize>,
    pub candidate: String,
    pub algorithm: String,
    pub hyperparams: Value,
    /// AUC of the pooled out-of-fold predictions.
    pub cv_auc: Option<f64>,
    /// Standard deviation of the per-fold AUCs.
    pub cv_auc_sd: Option<f64>,
    pub cv_average_precision: Option<f64>,
    pub folds_done: usize,
    pub seconds: f64,
    /// Microseconds to score one row (its features computed), measured on the candidate's last
    /// fold model; a blend's is the sum of its members'.
    pub score_us: Option<f64>,
    /// Milliseconds to explain one row (every feature's exact contribution), measured likewise.
    pub explain_ms: Option<f64>,
    /// Seconds into the search when the candidate was admitted (or refused).
    pub started_after_seconds: f64,
    /// `ranked`, `ensemble`, `stopped: budget`, `skipped: budget`, or `over cap: ...` (ranked, but
    /// costlier to serve than `max_score_us` or `max_explain_ms` allow).
    pub status: String,
    pub chosen: bool,
}

/// Everything AutoML found, next to the final model.
#[derive(Debug)]
pub struct AutomlOutcome {
    pub outcome: TrainOutcome,
    pub leaderboard: Vec<Entry>,
}

pub fn automl(
    frame: &Frame,
    source: &str,
    target: &str,
    options: &TrainOptions,
    stored_recipe: Option<Recipe>,
    test_mask: Option<&[bool]>,
) -> Result<AutomlOutcome> {
    let started = Instant::now();
    let settings = options.automl.clone().unwrap_or_default();
    if !matches!(options.hyperparams, Value::Object(ref m) if m.is_empty()) {
        return Err(Error::invalid_parameter("AutoML chooses the hyperparameters: option \"hyperparams\" does not apply")
            .with_hint("leave \"hyperparams\" out, or train one algorithm by name with them"));
    }
    let mut prepared = train::prepare(frame, source, target, options, test_mask)?;
    let mut guardrails = data_guardrails(&prepared, options, options.leakage.feature_auc());
    let with_exclusions;
    let options = match flagged_columns(&mut guardrails, &settings) {
        flagged if flagged.is_empty() => options,
        flagged => {
            let mut o = options.clone();
            o.exclude.extend(flagged);
            with_exclusions = o;
            prepared = train::prepare(frame, source, target, &with_exclusions, test_mask)?;
            &with_exclusions
        }
    };

    let split = &prepared.split;
    let k = settings.folds;
    let fold_of: Vec<usize> = split
        .train_idx
        .iter()
        .map(|&r| ((group_fraction(split.group_keys[r].as_bytes(), options.seed ^ FOLD_SALT) * k as f64) as usize).min(k - 1))
        .collect();
    let fold_rows = |f: usize, inside: bool| -> Vec<usize> {
        split.train_idx.iter().zip(&fold_of).filter(|(_, &g)| (g == f) == inside).map(|(&r, _)| r).collect()
    };
    let folds: Vec<(Vec<usize>, Vec<usize>)> = (0..k).map(|f| (fold_rows(f, false), fold_rows(f, true))).collect();
    if folds.iter().any(|(fit, held)| held.is_empty() || fit.is_empty()) {
        return Err(Error::new(
            crate::ErrorClass::InsufficientData,
            format!("{source} has too few groups of training rows for {k}-fold cross-validation"),
        )
        .with_hint("pass fewer \"folds\", or train on more rows"));
    }
    // Out-of-fold predictions are kept in the order of the concatenated held-out folds.
    let oof_labels: Vec<bool> = folds.iter().flat_map(|(_, held)| split.labels_of(held)).collect();

    let budget = settings.budget_seconds;
    let elapsed = || started.elapsed().as_secs_f64();
    let mut entries: Vec<Entry> = Vec::new();
    let mut oof: Vec<Option<Vec<f64>>> = Vec::new();
    // Seconds per fold fit, by algorithm, of the candidates run so far.
    let mut fold_seconds: Vec<(Algorithm, f64)> = Vec::new();
    let search = candidates();
    // Each candidate's scoring work (last fold model), what the blend rule weighs.
    let mut work = vec![0.0; search.len()];
    for (index, candidate) in search.iter().enumerate() {
        let now = elapsed();
        let estimate = estimate_fold_seconds(&fold_seconds, candidate.algorithm);
        let reserve = refit_reserve(&entries, &fold_seconds, k);
        let mut entry = Entry {
            rank: None,
            candidate: candidate.name.to_string(),
            algorithm: candidate.algorithm.as_str().to_string(),
            hyperparams: candidate.hyperparams.clone(),
            cv_auc: None,
            cv_auc_sd: None,
            cv_average_precision: None,
            folds_done: 0,
            seconds: 0.0,
            score_us: None,
            explain_ms: None,
            started_after_seconds: now,
            status: "skipped: budget".into(),
            chosen: false,
        };
        // The first candidate always runs: AutoML must end with a model.
        if index > 0 && now + estimate * k as f64 + reserve > budget {
            entries.push(entry);
            oof.push(None);
            continue;
        }
        let mut scores = Vec::with_capacity(oof_labels.len());
        let mut fold_aucs = Vec::with_capacity(k);
        let mut last_fold = None;
        for (fit_rows, held_rows) in &folds {
            let fold_started = Instant::now();
            let fitted = train::fit_candidate(
                &prepared,
                fit_rows,
                candidate.algorithm,
                &candidate.hyperparams,
                &candidate.options(options),
                stored_recipe.as_ref(),
            )?;
            let held = log_odds(&fitted.model, &prepared, held_rows)?;
            fold_aucs.push(metrics::auc(&split.labels_of(held_rows), &held).unwrap_or(0.5));
            scores.extend(held);
            fold_seconds.push((candidate.algorithm, fold_started.elapsed().as_secs_f64()));
            entry.folds_done += 1;
            last_fold = Some((fitted.model, held_rows));
            if entry.folds_done < k && index > 0 && elapsed() + reserve > budget {
                entry.status = "stopped: budget".into();
                break;
            }
        }
        if let (true, Some((model, held_rows))) = (entry.folds_done == k, &last_fold) {
            let (score_us, explain_ms) = serving_cost(model, &prepared, held_rows)?;
            entry.score_us = Some(score_us);
            entry.explain_ms = Some(explain_ms);
            work[index] = scoring_work(model);
        }
        entry.seconds = elapsed() - now;
        if entry.folds_done == k {
            entry.status = match over_cap(entry.score_us, entry.explain_ms, &settings) {
                Some(why) => why,
                None => "ranked".into(),
            };
            entry.cv_auc = metrics::auc(&oof_labels, &scores);
            entry.cv_average_precision = metrics::average_precision(&oof_labels, &scores);
            entry.cv_auc_sd = Some(standard_deviation(&fold_aucs));
            oof.push(Some(scores));
        } else {
            oof.push(None);
        }
        entries.push(entry);
    }

    // Rank the completed candidates; ties by search order.
    let mut order: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].cv_auc.is_some()).collect();
    order.sort_by(|&a, &b| entries[b].cv_auc.unwrap_or(0.0).total_cmp(&entries[a].cv_auc.unwrap_or(0.0)).then(a.cmp(&b)));
    for (rank, &i) in order.iter().enumerate() {
        entries[i].rank = Some(rank + 1);
    }
    let eligible: Vec<usize> = order.iter().copied().filter(|&i| entries[i].status == "ranked").collect();
    let Some(&best) = eligible.first() else {
        let cheapest = order
            .iter()
            .map(|&i| &entries[i])
            .min_by(|a, b| a.score_us.unwrap_or(f64::INFINITY).total_cmp(&b.score_us.unwrap_or(f64::INFINITY)));
        return Err(Error::invalid_parameter("no AutoML candidate is within the serving caps (max_score_us, max_explain_ms)")
            .with_hint(match cheapest {
                Some(e) => format!(
                    "the cheapest, {}, scores a row in {:.1} µs and explains one in {:.2} ms: raise the caps, or leave them out",
                    e.candidate,
                    e.score_us.unwrap_or(f64::NAN),
                    e.explain_ms.unwrap_or(f64::NAN)
                ),
                None => "raise the caps, or leave them out".into(),
            }));
    };
    let pool: Vec<usize> = eligible.iter().copied().take(ENSEMBLE_POOL).collect();
    let blend = select_blend(&pool, &oof, &oof_labels);
    let best_auc = entries[best].cv_auc.unwrap_or(0.0);
    let blend_cost = |cost: fn(&Entry) -> Option<f64>| -> Option<f64> {
        blend.members.iter().map(|&(i, _)| cost(&entries[i])).sum::<Option<f64>>()
    };
    let (blend_score_us, blend_explain_ms) = (blend_cost(|e| e.score_us), blend_cost(|e| e.explain_ms));
    let blend_over_cap = over_cap(blend_score_us, blend_explain_ms, &settings);
    let blend_work = blend.members.iter().map(|&(i, _)| work[i]).sum::<f64>();
    let required_gain = blend_required_gain(work[best], blend_work, settings.blend_gain_per_cost_doubling);
    let use_blend = blend.members.len() > 1 && blend_over_cap.is_none() && blend.auc >= best_auc + required_gain;
    if blend.members.len() > 1 {
        let names: Vec<String> = blend.members.iter().map(|&(i, w)| format!("{:.2} × {}", w, entries[i].candidate)).collect();
        entries.push(Entry {
            rank: None,
            candidate: format!("ensemble of {}", names.join(" + ")),
            algorithm: "ensemble".into(),
            hyperparams: json!(blend
                .members
                .iter()
                .map(|&(i, w)| json!({"candidate": entries[i].candidate, "weight": w}))
                .collect::<Vec<_>>()),
            cv_auc: Some(blend.auc),
            cv_auc_sd: None,
            cv_average_precision: metrics::average_precision(&oof_labels, &blend.scores),
            folds_done: k,
            seconds: 0.0,
            score_us: blend_score_us,
            explain_ms: blend_explain_ms,
            started_after_seconds: elapsed(),
            status: blend_over_cap.clone().unwrap_or_else(|| "ensemble".into()),
            chosen: false,
        });
    }

    // Refit the winner(s) on every training row and evaluate once on the test rows.
    let train_rows = split.train_idx.clone();
    let refit = |i: usize| -> Result<Fitted> {
        let c = &search[i];
        train::fit_candidate(&prepared, &train_rows, c.algorithm, &c.hyperparams, &c.options(options), stored_recipe.as_ref())
    };
    let mut chosen_note = format!("best single candidate: {}", entries[best].candidate);
    let fitted = if use_blend {
        let mut members = Vec::new();
        let mut valid_rows = Vec::new();
        let mut hyperparams = Vec::new();
        for &(i, weight) in &blend.members {
            let f = refit(i)?;
            valid_rows = f.valid_rows;
            hyperparams.push(json!({"candidate": entries[i].candidate, "weight": weight, "hyperparams": f.hyperparams}));
            members.push((weight, f.model));
        }
        match TrainedModel::ensemble(members) {
            Ok(model) => {
                chosen_note =
                    format!("ensemble: out-of-fold AUC {:.4} against {:.4} for the best single candidate", blend.auc, best_auc);
                Fitted { model, hyperparams: json!({"members": hyperparams}), valid_rows }
            }
            // Members whose recipes read the columns differently cannot share one row of cells.
            Err(_) => {
                chosen_note = "best single candidate (the blend's members read the columns differently)".into();
                refit(best)?
            }
        }
    } else {
        if let (true, Some(why)) = (blend.members.len() > 1, &blend_over_cap) {
            chosen_note = format!("best single candidate: {} (the blend is {why})", entries[best].candidate);
        } else if blend.members.len() > 1 {
            chosen_note = format!(
                "best single candidate: {} (the blend's out-of-fold AUC {:.4} gains less than the {required_gain:.4} its serving cost requires)",
                entries[best].candidate, blend.auc
            );
        }
        refit(best)?
    };
    let chosen = match fitted.model.estimator {
        crate::model::Estimator::Ensemble(_) => entries.iter().position(|e| e.algorithm == "ensemble"),
        _ => Some(best),
    };
    if let Some(i) = chosen {
        entries[i].chosen = true;
    }
    let search_seconds = elapsed();
    let report = json!({
        "automl": {
            "budget_seconds": budget,
            "folds": k,
            "search_seconds": search_seconds,
            "candidates": search.len(),
            "evaluated": entries.iter().filter(|e| e.status == "ranked").count(),
            "chosen": chosen_note,
            "chosen_algorithm": fitted.model.estimator.algorithm(),
            "max_score_us": settings.max_score_us,
            "max_explain_ms": settings.max_explain_ms,
            "blend_gain_per_cost_doubling": settings.blend_gain_per_cost_doubling,
        }
    });
    let mut outcome = train::finish(&prepared, fitted, options, report)?;
    conclude_leakage(&mut guardrails, &outcome.metrics, options.leakage.model_auc(true), &options.leakage.accepted);
    // Where every model keeps them, and where AutoML's models of 0.1.0 kept them.
    outcome.metrics["guardrails"] = json!(guardrails);
    outcome.metrics["automl"]["guardrails"] = json!(guardrails);
    outcome.metrics["automl"]["leaderboard"] = json!(entries);
    outcome.metrics["automl"]["total_seconds"] = json!(elapsed());
    outcome.guardrails = guardrails;
    Ok(AutomlOutcome { outcome, leaderboard: entries })
}

/// Rows a candidate's serving cost is measured on, at most: scoring, and explaining.
const COST_SCORE_ROWS: usize = 1000;
const COST_EXPLAIN_ROWS: usize = 50;

/// (µs to score a row, ms to explain a row) under `model`, on held-out rows of its last fold: one
/// row at a time from its features, as a single-row call does after reading the row.
fn serving_cost(model: &TrainedModel, prepared: &Prepared<'_>, rows: &[usize]) -> Result<(f64, f64)> {
    let rows = &rows[..rows.len().min(COST_SCORE_ROWS)];
    let columns = model.features_of_frame(&prepared.feature_frame.take_rows(rows))?;
    let features: Vec<Vec<f64>> = (0..rows.len()).map(|r| columns.iter().map(|c| c[r]).collect()).collect();
    let score_all = || std::hint::black_box(features.iter().map(|f| model.raw_score_features(f)).sum::<f64>());
    // an untimed pass builds the scoring layout, as a backend's first call does
    score_all();
    let started = Instant::now();
    score_all();
    let score_us = started.elapsed().as_secs_f64() * 1e6 / features.len().max(1) as f64;
    let explained = &features[..features.len().min(COST_EXPLAIN_ROWS)];
    let started = Instant::now();
    for f in explained {
        std::hint::black_box(model.step_contributions(f));
    }
    Ok((score_us, started.elapsed().as_secs_f64() * 1e3 / explained.len().max(1) as f64))
}

/// Why a candidate of these costs may not be chosen (`over cap: ...`), if it may not.
fn over_cap(score_us: Option<f64>, explain_ms: Option<f64>, settings: &AutomlOptions) -> Option<String> {
    match (score_us, settings.max_score_us, explain_ms, settings.max_explain_ms) {
        (Some(us), Some(cap), _, _) if us > cap => Some(format!("over cap: scores a row in {us:.1} µs (max_score_us {cap})")),
        (_, _, Some(ms), Some(cap)) if ms > cap => Some(format!("over cap: explains a row in {ms:.2} ms (max_explain_ms {cap})")),
        _ => None,
    }
}

/// The work of scoring one row, in steps: a gbdt walks `depth` levels of each tree (the ranked
/// layout pads every tree to the deepest); a logistic model's multiply-adds count one step per
/// eight coefficients. Counted, not timed, so that the blend rule chooses the same model on every
/// run (measured microseconds vary from run to run).
fn scoring_work(model: &TrainedModel) -> f64 {
    match &model.estimator {
        Estimator::Gbdt(g) => (g.trees.len() * g.trees.iter().map(Tree::depth).max().unwrap_or(0).max(1)) as f64,
        Estimator::Logistic(m) => 1.0 + m.coefficients.len() as f64 / 8.0,
        Estimator::Ensemble(members) => members.iter().map(|m| scoring_work(&m.model)).sum(),
    }
}

/// The out-of-fold AUC a blend must gain over the best single candidate: `ENSEMBLE_MIN_GAIN`,
/// plus `per_doubling` for each doubling of the scoring work (none when the blend is no costlier).
fn blend_required_gain(best_work: f64, blend_work: f64, per_doubling: f64) -> f64 {
    let doublings = if best_work > 0.0 && blend_work > best_work { (blend_work / best_work).log2() } else { 0.0 };
    ENSEMBLE_MIN_GAIN + per_doubling * doublings
}

/// Log-odds of `rows` of the frame under `model`.
fn log_odds(model: &TrainedModel, prepared: &Prepared<'_>, rows: &[usize]) -> Result<Vec<f64>> {
    let features = model.features_of_frame(&prepared.feature_frame.take_rows(rows))?;
    Ok(model.raw_scores_from_features(&features, rows.len()))
}

/// Seconds one fold of `algorithm` is expected to take: the mean of that algorithm's folds so far,
/// or, before the first, twice the slowest fold of any algorithm (trees usually cost more).
fn estimate_fold_seconds(seen: &[(Algorithm, f64)], algorithm: Algorithm) -> f64 {
    let same: Vec<f64> = seen.iter().filter(|(a, _)| *a == algorithm).map(|(_, s)| *s).collect();
    if !same.is_empty() {
        return same.iter().sum::<f64>() / same.len() as f64;
    }
    2.0 * seen.iter().map(|(_, s)| *s).fold(0.0, f64::max)
}

/// Time kept back for refitting the blend's possible members on all training rows: a full fit is
/// about k/(k-1) folds.
fn refit_reserve(entries: &[Entry], seen: &[(Algorithm, f64)], k: usize) -> f64 {
    let mut ranked: Vec<&Entry> = entries.iter().filter(|e| e.cv_auc.is_some()).collect();
    ranked.sort_by(|a, b| b.cv_auc.unwrap_or(0.0).total_cmp(&a.cv_auc.unwrap_or(0.0)));
    let per_fold: f64 = ranked
        .iter()
        .take(ENSEMBLE_POOL)
        .map(|e| estimate_fold_seconds(seen, if e.algorithm == "logistic" { Algorithm::Logistic } else { Algorithm::Gbdt }))
        .sum();
    per_fold * k as f64 / (k as f64 - 1.0)
}

fn standard_deviation(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

struct Blend {
    /// (candidate index, weight), weights summing to 1.
    members: Vec<(usize, f64)>,
    auc: f64,
    scores: Vec<f64>,
}

/// Greedy ensemble selection with replacement (Caruana et al., 2004) over the pool's out-of-fold
/// log-odds: add, round after round, the member that most raises the blend's AUC; stop when none does.
fn select_blend(pool: &[usize], oof: &[Option<Vec<f64>>], labels: &[bool]) -> Blend {
    let n = labels.len();
    let mut counts = vec![0usize; pool.len()];
    let mut sum = vec![0.0; n];
    let mut best_auc = f64::NEG_INFINITY;
    for round in 0..ENSEMBLE_ROUNDS {
        let mut best_pick: Option<(usize, f64)> = None;
        for (p, &i) in pool.iter().enumerate() {
            let Some(scores) = &oof[i] else { continue };
            let trial: Vec<f64> = sum.iter().zip(scores).map(|(s, x)| (s + x) / (round + 1) as f64).collect();
            let auc = metrics::auc(labels, &trial).unwrap_or(0.5);
            if best_pick.is_none_or(|(_, a)| auc > a) {
                best_pick = Some((p, auc));
            }
        }
        match best_pick {
            Some((p, auc)) if auc > best_auc => {
                counts[p] += 1;
                for (s, x) in sum.iter_mut().zip(oof[pool[p]].as_deref().unwrap_or_default()) {
                    *s += x;
                }
                best_auc = auc;
            }
            _ => break,
        }
    }
    let total: usize = counts.iter().sum();
    let members: Vec<(usize, f64)> =
        pool.iter().zip(&counts).filter(|(_, &c)| c > 0).map(|(&i, &c)| (i, c as f64 / total.max(1) as f64)).collect();
    let scores = sum.iter().map(|s| s / total.max(1) as f64).collect();
    Blend { members, auc: best_auc, scores }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{CategoricalBuilder, Column, ColumnData};
    use crate::model::sigmoid;

    /// Patients with several visits; risk rises with `visits` and the "B" ward, and an interaction
    /// (old age in ward B) that only trees see.
    fn frame(n: usize, leak: bool) -> Frame {
        let mut state = 11u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut patient, mut visits, mut age, mut copy) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut ward = CategoricalBuilder::default();
        let mut label = CategoricalBuilder::default();
        for i in 0..n {
            let v = (next() * 6.0).floor();
            let a = (next() * 60.0 + 30.0).floor();
            let w = if next() < 0.4 { "B" } else { "A" };
            let z = -2.5 + 0.4 * v + if w == "B" { 0.6 } else { 0.0 } + if w == "B" && a > 70.0 { 1.2 } else { 0.0 };
            let y = next() < sigmoid(z);
            patient.push(Some((i / 3) as f64));
            visits.push(Some(v));
            age.push(if next() < 0.05 { None } else { Some(a) });
            copy.push(Some(if y { 1.0 } else { 0.0 } + 0.01 * next()));
            ward.push(Some(w));
            label.push(Some(if y { "yes" } else { "no" }));
        }
        let mut columns = vec![
            Column::new("patient", "integer", crate::frame::ValueKind::Integer, ColumnData::Numeric(patient)),
            Column::new("visits", "integer", crate::frame::ValueKind::Integer, ColumnData::Numeric(visits)),
            Column::new("age", "integer", crate::frame::ValueKind::Integer, ColumnData::Numeric(age)),
            Column::new("ward", "text", crate::frame::ValueKind::Text, ward.finish()),
            Column::new("outcome", "text", crate::frame::ValueKind::Text, label.finish()),
        ];
        if leak {
            columns.push(Column::new("outcome_copy", "float8", crate::frame::ValueKind::Real, ColumnData::Numeric(copy)));
        }
        Frame { columns }
    }

    fn options(extra: Value) -> TrainOptions {
        let mut o = json!({"group_by": "patient", "positive": "yes"});
        o.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        TrainOptions::from_json(&o).unwrap()
    }

    #[test]
    fn searches_ranks_and_ends_with_a_model() {
        let f = frame(4000, false);
        let opts = options(json!({"budget_seconds": 600, "leakage_model_auc": 0.95}));
        let out = automl(&f, "t", "outcome", &opts, None, None).unwrap();
        let ranked: Vec<&Entry> = out.leaderboard.iter().filter(|e| e.rank.is_some()).collect();
        assert_eq!(ranked.len(), candidates().len(), "a generous budget evaluates every candidate");
        let mut ranks: Vec<usize> = ranked.iter().filter_map(|e| e.rank).collect();
        ranks.sort();
        assert_eq!(ranks, (1..=ranked.len()).collect::<Vec<_>>());
        for pair in ranked.windows(2).filter(|w| w[0].rank < w[1].rank) {
            assert!(pair[0].cv_auc >= pair[1].cv_auc);
        }
        assert_eq!(out.leaderboard.iter().filter(|e| e.chosen).count(), 1, "exactly one entry is chosen");
        for e in &ranked {
            assert!(e.score_us.unwrap() > 0.0 && e.explain_ms.unwrap() > 0.0, "{e:?} records what it costs to serve");
        }
        let auc = out.outcome.metrics["test"]["auc"].as_f64().unwrap();
        assert!(auc > 0.65, "{auc}");
        assert_eq!(out.outcome.metrics["automl"]["folds"], 3);
        assert!(out.outcome.guardrails.iter().any(|g| g.check == "leakage_model" && g.status == "ok"));
        // the chosen model's payload scores, and explanations still add up
        let back = TrainedModel::from_payload(&out.outcome.payload, Some(&out.outcome.sha256)).unwrap();
        let row = json!({"visits": 4, "ward": "B", "age": 80});
        let e = back.explain_json(row.as_object().unwrap()).unwrap();
        let total = e.base + e.contributions.iter().map(|c| c.contribution).sum::<f64>();
        assert!((total - e.raw_score).abs() < 1e-6);
        // deterministic to the byte
        let again = automl(&f, "t", "outcome", &opts, None, None).unwrap();
        assert_eq!(again.outcome.sha256, out.outcome.sha256);
    }

    #[test]
    fn a_tiny_budget_still_ends_with_a_model_and_says_what_it_skipped() {
        let f = frame(3000, false);
        let out = automl(&f, "t", "outcome", &options(json!({"budget_seconds": 0.001})), None, None).unwrap();
        assert_eq!(out.leaderboard[0].status, "ranked", "the first candidate always runs");
        assert!(out.leaderboard[1..].iter().all(|e| e.status.ends_with("budget")), "{:?}", out.leaderboard);
        assert!(out.leaderboard[1..].iter().all(|e| e.started_after_seconds > 0.001 || e.status == "skipped: budget"));
        assert_eq!(out.outcome.metrics["automl"]["chosen_algorithm"], "logistic");
    }

    #[test]
    fn guardrails_report_leaks_imbalance_and_missing_values() {
        let f = frame(3000, true);
        let out = automl(&f, "t", "outcome", &options(json!({"budget_seconds": 0.001})), None, None).unwrap();
        let find = |check: &str| out.outcome.guardrails.iter().filter(|g| g.check == check).collect::<Vec<_>>();
        let leak = find("leakage_single_column");
        assert_eq!(leak.len(), 1);
        assert_eq!(leak[0].column.as_deref(), Some("outcome_copy"));
        assert_eq!(leak[0].status, "alert");
        assert!(leak[0].value > 0.99);
        let model = find("leakage_model");
        assert_eq!(model[0].status, "alert", "a model on a copied outcome is too good to be true");
        assert_eq!(find("class_imbalance")[0].status, "ok");
        assert!(find("missing_values").is_empty(), "5% missing is not reported");
    }

    #[test]
    fn exclude_flagged_leaves_the_leak_out_and_says_so() {
        let f = frame(3000, true);
        let out =
            automl(&f, "t", "outcome", &options(json!({"budget_seconds": 0.001, "exclude_flagged": true})), None, None).unwrap();
        let leak = out
            .outcome
            .guardrails
            .iter()
            .find(|g| g.check == "leakage_single_column" && g.column.as_deref() == Some("outcome_copy"))
            .unwrap();
        assert_eq!(leak.status, "excluded");
        assert!(leak.message.ends_with("derived from it); excluded (exclude_flagged)"), "{}", leak.message);
        assert!(!out.outcome.model.features.iter().any(|c| c == "outcome_copy"), "{:?}", out.outcome.model.features);
        let model = out.outcome.guardrails.iter().find(|g| g.check == "leakage_model").unwrap();
        assert_eq!(model.status, "ok", "without the copied outcome the model is plausible again: {}", model.message);
        // without the option the same data keeps the column (reported only)
        let kept = automl(&f, "t", "outcome", &options(json!({"budget_seconds": 0.001})), None, None).unwrap();
        assert!(kept.outcome.model.features.iter().any(|c| c == "outcome_copy"));
    }

    #[test]
    fn bad_options_are_refused() {
        for bad in [
            json!({"budget_seconds": 0}),
            json!({"budget_seconds": -5}),
            json!({"budget_seconds": "fast"}),
            json!({"folds": 1}),
            json!({"max_score_us": 0}),
            json!({"max_score_us": "fast"}),
            json!({"max_explain_ms": -1}),
            json!({"blend_gain_per_cost_doubling": 0.5}),
        ] {
            let mut o = json!({"positive": "yes"});
            o.as_object_mut().unwrap().extend(bad.as_object().unwrap().clone());
            let e = TrainOptions::from_json(&o).unwrap_err();
            let key = bad.as_object().unwrap().keys().next().unwrap().clone();
            assert!(e.message().contains(&key) && e.hint().is_some(), "{e}");
        }
        let f = frame(600, false);
        let e =
            train::train(&f, "t", "outcome", Algorithm::Gbdt, &options(json!({"budget_seconds": 5})), None, None).unwrap_err();
        assert!(e.message().contains("AutoML"), "{e}");
        let e = automl(&f, "t", "outcome", &options(json!({"hyperparams": {"l2": 3}})), None, None).unwrap_err();
        assert!(e.message().contains("hyperparams"), "{e}");
    }

    #[test]
    fn serving_caps_keep_costlier_candidates_from_being_chosen() {
        let f = frame(1500, false);
        for caps in [json!({"max_score_us": 1e-9}), json!({"max_explain_ms": 1e-12})] {
            let mut o = json!({"budget_seconds": 600});
            o.as_object_mut().unwrap().extend(caps.as_object().unwrap().clone());
            let e = automl(&f, "t", "outcome", &options(o), None, None).unwrap_err();
            assert!(e.message().contains("serving caps") && e.hint().unwrap().contains("the cheapest"), "{e}");
        }
        let generous = automl(
            &f,
            "t",
            "outcome",
            &options(json!({"budget_seconds": 600, "max_score_us": 1e9, "max_explain_ms": 1e9})),
            None,
            None,
        )
        .unwrap();
        assert!(generous.leaderboard.iter().all(|e| !e.status.starts_with("over cap")));
        let settings = AutomlOptions { max_score_us: Some(5.0), max_explain_ms: Some(0.5), ..AutomlOptions::default() };
        assert_eq!(over_cap(Some(4.0), Some(0.4), &settings), None);
        assert_eq!(over_cap(Some(6.0), Some(0.4), &settings).unwrap(), "over cap: scores a row in 6.0 µs (max_score_us 5)");
        assert_eq!(
            over_cap(Some(4.0), Some(0.75), &settings).unwrap(),
            "over cap: explains a row in 0.75 ms (max_explain_ms 0.5)"
        );
    }

    #[test]
    fn a_blend_must_gain_more_the_more_it_costs() {
        assert_eq!(blend_required_gain(100.0, 100.0, 0.001), ENSEMBLE_MIN_GAIN);
        assert_eq!(blend_required_gain(100.0, 80.0, 0.001), ENSEMBLE_MIN_GAIN);
        assert!((blend_required_gain(100.0, 400.0, 0.001) - (ENSEMBLE_MIN_GAIN + 0.002)).abs() < 1e-15);
        assert_eq!(blend_required_gain(100.0, 400.0, 0.0), ENSEMBLE_MIN_GAIN);
    }

    #[test]
    fn blends_only_what_helps() {
        let labels: Vec<bool> = (0..400).map(|i| i % 4 == 0).collect();
        // two candidates each right on a different half of the positives: the blend beats both
        let a: Vec<f64> = (0..400).map(|i| if i % 4 == 0 && i < 200 { 2.0 } else { (i % 7) as f64 * 0.1 }).collect();
        let b: Vec<f64> = (0..400).map(|i| if i % 4 == 0 && i >= 200 { 2.0 } else { (i % 5) as f64 * 0.1 }).collect();
        let oof = vec![Some(a.clone()), Some(b)];
        let blend = select_blend(&[0, 1], &oof, &labels);
        assert_eq!(blend.members.len(), 2);
        assert!((blend.members.iter().map(|m| m.1).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(blend.auc > metrics::auc(&labels, &a).unwrap());
        // a copy adds nothing: one member
        let same = select_blend(&[0, 1], &[Some(a.clone()), Some(a)], &labels);
        assert_eq!(same.members.len(), 1);
    }

    #[test]
    fn an_ensemble_scores_and_explains_as_the_weighted_blend_of_its_members() {
        let f = frame(3000, false);
        let o = TrainOptions::from_json(&json!({"group_by": "patient", "positive": "yes"})).unwrap();
        let prepared = train::prepare(&f, "t", "outcome", &o, None).unwrap();
        let rows = prepared.split.train_idx.clone();
        let fit = |a| train::fit_candidate(&prepared, &rows, a, &json!({}), &o, None).unwrap().model;
        let (logistic, gbdt) = (fit(Algorithm::Logistic), fit(Algorithm::Gbdt));
        let row = json!({"visits": 3, "ward": "B", "age": 75, "patient": 9, "outcome": "no"});
        let row = row.as_object().unwrap();
        let (z1, z2) = (logistic.raw_score_json(row).unwrap(), gbdt.raw_score_json(row).unwrap());
        let blend = TrainedModel::ensemble(vec![(0.3, fit(Algorithm::Logistic)), (0.7, fit(Algorithm::Gbdt))]).unwrap();
        let blend = TrainedModel::from_payload(&blend.to_payload().unwrap(), None).unwrap();
        let z = blend.raw_score_json(row).unwrap();
        assert!((z - (0.3 * z1 + 0.7 * z2)).abs() < 1e-12, "{z} vs {}", 0.3 * z1 + 0.7 * z2);
        assert_eq!(blend.predict_json(row).unwrap(), sigmoid(z));
        let e = blend.explain_json(row).unwrap();
        let total = e.base + e.contributions.iter().map(|c| c.contribution).sum::<f64>();
        assert!((total - z).abs() < 1e-6);
        let columns: Vec<&str> = e.contributions.iter().map(|c| c.column.as_str()).collect();
        assert_eq!(columns, ["visits", "age", "ward"], "one contribution per input column, in recipe order");
        let frame_p = blend.predict_frame(&f.take_rows(&[0, 1, 2])).unwrap();
        let json_p: Vec<f64> = (0..3)
            .map(|r| {
                let row: serde_json::Map<String, Value> = f
                    .columns
                    .iter()
                    .map(|c| {
                        (
                            c.name.clone(),
                            f.cell_text(c, r).map_or(Value::Null, |t| t.parse::<f64>().map_or(json!(t), |x| json!(x))),
                        )
                    })
                    .collect();
                blend.predict_json(&row).unwrap()
            })
            .collect();
        for (a, b) in frame_p.iter().zip(&json_p) {
            assert!((a - b).abs() < 1e-12);
        }
        // members must read the same columns
        let mut other = fit(Algorithm::Logistic);
        other.recipe.steps.reverse();
        assert!(TrainedModel::ensemble(vec![(0.5, other), (0.5, fit(Algorithm::Gbdt))]).is_err());
    }
}
