//! From a frame and a target to a trained, evaluated, serialized model.
//!
//! Rows are split by group (a patient never sits on both sides): the test rows come from the caller's
//! `test_where` mask or from a hash of the group; a validation slice of the training groups drives
//! early stopping and the decision threshold. The recipe is fitted on training rows only.

use serde_json::{json, Value};

use crate::error::{Error, ErrorClass, Result};
use crate::frame::{ColumnData, Frame};
use crate::guardrails::{conclude_leakage, data_guardrails, Guardrail};
use crate::intervals::{metrics_with_intervals, BootstrapOptions};
use crate::metrics::{self, best_f1_threshold};
use crate::model::gbdt::{self, GbdtParams};
use crate::model::logistic::{self, LogisticParams};
use crate::model::{sha256_hex, sigmoid, Estimator, Platt, TrainedModel};
use crate::monitor;
use crate::options::{AutomlOptions, LeakageOptions, Options};
use crate::prep::recipe::{fit_recipe, target_encode, Encoding, Recipe, RecipeOptions, Step};
use crate::split::{group_fraction, in_fraction};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Logistic,
    Gbdt,
}

impl Algorithm {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "logistic" => Ok(Algorithm::Logistic),
            "gbdt" => Ok(Algorithm::Gbdt),
            other => Err(Error::invalid_parameter(format!("unknown algorithm \"{other}\""))
                .with_hint("use 'logistic', 'gbdt', or 'auto' for AutoML")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Logistic => "logistic",
            Algorithm::Gbdt => "gbdt",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassWeight {
    None,
    Balanced,
}

/// Where the recipe comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum RecipeSource {
    /// Fit one on the training rows with these options (the default: no options).
    Fit(RecipeOptions),
    /// A stored recipe, by name; the shell resolves it.
    Stored(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub exclude: Vec<String>,
    pub group_by: Option<String>,
    pub test_where: Option<String>,
    pub test_fraction: f64,
    pub seed: u64,
    /// Train on this share of the groups (by a hash of the group key and `seed`), read as a WHERE
    /// clause so that the other rows are never read (on shards, never sent).
    pub sample: Option<f64>,
    pub class_weight: ClassWeight,
    pub positive: Option<String>,
    pub hyperparams: Value,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub recipe: RecipeSource,
    /// Platt scaling on the validation rows; by default only with class weights (which distort
    /// probabilities on purpose).
    pub calibrate: bool,
    /// AutoML's own options (budget, folds, caps), when any is given.
    pub automl: Option<AutomlOptions>,
    /// The leakage checks' limits and accepted columns (every training runs them).
    pub leakage: LeakageOptions,
    /// The test metrics' intervals: `resamples` of the test rows' groups, from `seed`.
    pub bootstrap: BootstrapOptions,
}

/// Training keeps columns however many NULLs they have (unless every value is NULL), unlike
/// standardize: a model learns from missingness, which the recipe keeps as a level.
pub const TRAINING_DROP_THRESHOLD: f64 = 1.0;

/// Validation rows on which global importance (mean |contribution|) is measured and stored.
pub const IMPORTANCE_ROWS: usize = 500;

/// Share of training groups held out to stop boosting and to choose the threshold.
pub const VALIDATION_FRACTION: f64 = 0.15;
/// Folds (by group) of the out-of-fold target rates a model fits on, and their hash salt.
const TARGET_FOLDS: usize = 5;
const TARGET_FOLD_SALT: u64 = 0x007A_46E7;
/// Salt of the validation slice's group hash, so it is independent of the test split's.
const VALIDATION_SALT: u64 = 0x005E_ED0F_7A11;

impl TrainOptions {
    pub fn from_json(options: &Value) -> Result<Self> {
        let mut o = Options::new("healthml.train", options)?;
        let exclude = o.strings("exclude")?;
        let group_by = single_name(&mut o, "group_by")?;
        let test_where = match o.raw("test_where") {
            None => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "option \"test_where\" of healthml.train must be a SQL condition as a string, got {other}"
                ))
                .with_hint(r#"for example {"test_where": "patient_nbr % 5 = 0"}"#))
            }
        };
        let test_fraction = o.f64_in("test_fraction", 0.2, 0.01, 0.9)?;
        let seed = o.usize_in("seed", 42, 0, u32::MAX as usize)? as u64;
        let sample = match o.raw("sample") {
            None => None,
            Some(value) => match value.as_f64() {
                Some(share) if share > 0.0 && share <= 1.0 => Some(share),
                _ => {
                    return Err(Error::invalid_parameter(format!(
                        "option \"sample\" of healthml.train must be the share of groups to train on, above 0 and at most 1, got {value}"
                    ))
                    .with_hint(r#"for example {"group_by": "patient_nbr", "sample": 0.1}: every row of a tenth of the patients"#))
                }
            },
        };
        if sample.is_some() && group_by.is_none() {
            return Err(Error::invalid_parameter(
                "option \"sample\" of healthml.train draws whole groups, but no \"group_by\" is given",
            )
            .with_hint(r#"name the column whose rows belong together, e.g. {"group_by": "patient_nbr", "sample": 0.1}"#));
        }
        let class_weight = match o.choice("class_weight", "none", &["none", "balanced"])? {
            "balanced" => ClassWeight::Balanced,
            _ => ClassWeight::None,
        };
        let positive = match o.raw("positive") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "option \"positive\" of healthml.train must be the target value that counts as positive, got {other}"
                )))
            }
        };
        let hyperparams = match o.raw("hyperparams") {
            None => json!({}),
            Some(v @ Value::Object(_)) => v,
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "option \"hyperparams\" of healthml.train must be an object, got {other}"
                )))
            }
        };
        let description = match o.raw("description") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => return Err(Error::invalid_parameter(format!("option \"description\" must be text, got {other}"))),
        };
        let tags = o.strings("tags")?;
        let recipe = match o.raw("recipe") {
            None => RecipeSource::Fit(RecipeOptions::default()),
            Some(Value::String(name)) => RecipeSource::Stored(name),
            Some(inline @ Value::Object(_)) => RecipeSource::Fit(RecipeOptions::from_json(&inline)?),
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "option \"recipe\" of healthml.train must be a stored recipe's name or recipe options, got {other}"
                )))
            }
        };
        let calibrate = match o.choice("calibration", "auto", &["auto", "none", "platt"])? {
            "platt" => true,
            "none" => false,
            _ => class_weight == ClassWeight::Balanced,
        };
        let automl = AutomlOptions::take(&mut o)?;
        let leakage = LeakageOptions::take(&mut o)?;
        let bootstrap = BootstrapOptions::take(&mut o, Some(seed))?;
        o.finish()?;
        Ok(TrainOptions {
            automl,
            leakage,
            bootstrap,
            calibrate,
            exclude,
            group_by,
            test_where,
            test_fraction,
            seed,
            sample,
            class_weight,
            positive,
            hyperparams,
            description,
            tags,
            recipe,
        })
    }
}

fn single_name(o: &mut Options<'_>, key: &'static str) -> Result<Option<String>> {
    match o.raw(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => {
            Err(Error::invalid_parameter(format!("option \"{key}\" of {} must be a column name, got {other}", o.function())))
        }
    }
}

#[derive(Debug)]
pub struct TrainOutcome {
    pub model: TrainedModel,
    pub payload: Vec<u8>,
    pub sha256: String,
    pub metrics: Value,
    pub hyperparams: Value,
    pub train_rows: usize,
    pub test_rows: usize,
    pub fingerprint: String,
    /// The training rows' distributions, for drift (see [`crate::monitor`]).
    pub reference: Value,
    /// What the guardrails found (also in the metrics, as `guardrails`).
    pub guardrails: Vec<Guardrail>,
}

/// Labelled rows of a training call, split by group: a patient is on one side only.
#[derive(Debug)]
pub struct Split {
    /// True / false / unknown (NULL target) per frame row.
    pub labels: Vec<Option<bool>>,
    /// The group key per frame row (the row itself without `group_by`).
    pub group_keys: Vec<String>,
    pub train_idx: Vec<usize>,
    pub test_idx: Vec<usize>,
    pub unlabeled: usize,
    pub train_positives: usize,
}

impl Split {
    pub fn labels_of(&self, rows: &[usize]) -> Vec<bool> {
        rows.iter().map(|&r| self.labels[r].unwrap_or(false)).collect()
    }
}

/// A checked training call: the frame, its feature columns and the split.
pub struct Prepared<'a> {
    pub frame: &'a Frame,
    pub source: &'a str,
    pub target: &'a str,
    /// Everything but the target, the group key and the excluded columns.
    pub feature_frame: Frame,
    pub split: Split,
}

/// A recipe and an estimator fitted on some rows, not yet calibrated or thresholded.
pub struct Fitted {
    pub model: TrainedModel,
    pub hyperparams: Value,
    /// The rows (of the frame) held out of the fit for early stopping, calibration and the threshold.
    pub valid_rows: Vec<usize>,
}

/// `test_mask[i]`: row i is a test row (from the caller's `test_where`); `None`: hash the groups.
pub fn train(
    frame: &Frame,
    source: &str,
    target: &str,
    algorithm: Algorithm,
    options: &TrainOptions,
    stored_recipe: Option<Recipe>,
    test_mask: Option<&[bool]>,
) -> Result<TrainOutcome> {
    if options.automl.is_some() {
        return Err(Error::invalid_parameter(format!(
            "options \"budget_seconds\", \"folds\", \"exclude_flagged\", \"max_score_us\", \"max_explain_ms\" and \"blend_gain_per_cost_doubling\" are AutoML's, but the algorithm is '{}'",
            algorithm.as_str()
        ))
        .with_hint("pass algorithm => 'auto', or leave those options out"));
    }
    let prepared = prepare(frame, source, target, options, test_mask)?;
    let mut guardrails = data_guardrails(&prepared, options, options.leakage.feature_auc());
    let train_idx = prepared.split.train_idx.clone();
    let fitted = fit_candidate(&prepared, &train_idx, algorithm, &options.hyperparams, options, stored_recipe.as_ref())?;
    let mut outcome = finish(&prepared, fitted, options, json!({}))?;
    conclude_leakage(&mut guardrails, &outcome.metrics, options.leakage.model_auc(false), &options.leakage.accepted);
    outcome.metrics["guardrails"] = json!(guardrails);
    outcome.guardrails = guardrails;
    Ok(outcome)
}

pub fn prepare<'a>(
    frame: &'a Frame,
    source: &'a str,
    target: &'a str,
    options: &TrainOptions,
    test_mask: Option<&[bool]>,
) -> Result<Prepared<'a>> {
    let target_column = frame.column(target).ok_or_else(|| {
        Error::new(ErrorClass::UndefinedColumn, format!("target column \"{target}\" does not exist in {source}"))
            .with_hint(format!("columns of {source}: {}", column_list(frame)))
    })?;
    for name in options.exclude.iter().chain(&options.group_by).chain(&options.leakage.accepted) {
        if frame.column(name).is_none() {
            return Err(Error::new(ErrorClass::UndefinedColumn, format!("column \"{name}\" does not exist in {source}"))
                .with_hint(format!("columns of {source}: {}", column_list(frame))));
        }
    }
    if frame.rows() == 0 {
        if let Some(share) = options.sample {
            return Err(Error::new(
                ErrorClass::InsufficientData,
                format!("the sample of {share} of the groups of {source} has no rows to train on"),
            )
            .with_hint("raise \"sample\", or leave it out to train on every row"));
        }
        return Err(Error::new(ErrorClass::InsufficientData, format!("{source} has no rows to train on"))
            .with_hint("train on a relation with labelled rows"));
    }
    let labels = target_labels(frame, target_column, options.positive.as_deref(), source)?;
    let group_keys: Vec<String> = match options.group_by.as_deref().and_then(|g| frame.column(g)) {
        Some(col) => (0..frame.rows()).map(|r| frame.cell_text(col, r).unwrap_or_default()).collect(),
        None => (0..frame.rows()).map(|r| format!("row {r}")).collect(),
    };
    let mut train_idx = Vec::new();
    let mut test_idx = Vec::new();
    let mut unlabeled = 0usize;
    for r in 0..frame.rows() {
        if labels[r].is_none() {
            unlabeled += 1;
            continue;
        }
        let is_test = match test_mask {
            Some(mask) => mask[r],
            None => in_fraction(group_keys[r].as_bytes(), options.seed, options.test_fraction),
        };
        if is_test {
            test_idx.push(r);
        } else {
            train_idx.push(r);
        }
    }
    let train_positives = train_idx.iter().filter(|&&r| labels[r] == Some(true)).count();
    if train_idx.is_empty() || train_positives == 0 || train_positives == train_idx.len() {
        return Err(Error::new(
            ErrorClass::InsufficientData,
            format!("target \"{target}\" has one class in the {} training rows of {source}", train_idx.len()),
        )
        .with_hint("a binary target needs both classes among the training rows: check \"positive\" and \"test_where\""));
    }
    if test_idx.is_empty() {
        return Err(Error::new(ErrorClass::InsufficientData, format!("no test rows in {source}"))
            .with_hint("\"test_where\" matched no labelled row, or the table is too small for \"test_fraction\""));
    }
    let feature_frame =
        frame.select(|c| c != target && Some(c) != options.group_by.as_deref() && !options.exclude.iter().any(|e| e == c));
    Ok(Prepared {
        frame,
        source,
        target,
        feature_frame,
        split: Split { labels, group_keys, train_idx, test_idx, unlabeled, train_positives },
    })
}

/// Fits a recipe (or takes the stored one) and an estimator on `rows` of the frame. A slice of their
/// groups is held out (by hash, so the same rows give the same slice) to stop boosting early.
pub fn fit_candidate(
    prepared: &Prepared<'_>,
    rows: &[usize],
    algorithm: Algorithm,
    hyperparams: &Value,
    options: &TrainOptions,
    stored_recipe: Option<&Recipe>,
) -> Result<Fitted> {
    let split = &prepared.split;
    let train_frame = prepared.feature_frame.take_rows(rows);
    let train_labels = split.labels_of(rows);
    // Out-of-fold target rates of the training rows, per feature, when the recipe target-encodes.
    let mut target_rates = Vec::new();
    let mut recipe = match (&options.recipe, stored_recipe) {
        (_, Some(recipe)) => recipe.clone(),
        (RecipeSource::Fit(recipe_options), None) => {
            let mut recipe_options = recipe_options.clone();
            // A column that is mostly NULL still informs a model: NULL is a level of its own.
            recipe_options.drop_threshold.get_or_insert(TRAINING_DROP_THRESHOLD);
            let encoding = *recipe_options.encoding.get_or_insert(match algorithm {
                Algorithm::Logistic => Encoding::OneHot,
                Algorithm::Gbdt => Encoding::Frequency,
            });
            if encoding == Encoding::Target {
                recipe_options.encoding = Some(Encoding::Frequency);
            }
            let mut recipe = fit_recipe(&train_frame, prepared.source, &recipe_options)?.0;
            if encoding == Encoding::Target {
                let fold: Vec<usize> = rows
                    .iter()
                    .map(|&r| {
                        let f = group_fraction(split.group_keys[r].as_bytes(), options.seed ^ TARGET_FOLD_SALT);
                        ((f * TARGET_FOLDS as f64) as usize).min(TARGET_FOLDS - 1)
                    })
                    .collect();
                target_rates = target_encode(&mut recipe, &train_frame, &train_labels, &fold, TARGET_FOLDS)?;
            }
            recipe
        }
        (RecipeSource::Stored(name), None) => {
            return Err(Error::new(ErrorClass::UndefinedObject, format!("recipe \"{name}\" was not loaded")))
        }
    };
    // The target, the group key and excluded columns are columns of the source all the same: scoring
    // a whole source row (to_jsonb of it) must accept and ignore them.
    for column in &prepared.frame.columns {
        if !recipe.steps.iter().any(|s| s.column() == column.name) {
            recipe.steps.push(Step::Exclude { column: column.name.clone() });
        }
    }
    let features = recipe.feature_names();
    let mut train_x = recipe.apply_frame(&train_frame)?;
    for (feature, rates) in target_rates {
        train_x[feature] = rates;
    }
    let weights = sample_weights(&train_labels, options.class_weight);
    let is_valid: Vec<bool> = rows
        .iter()
        .map(|&r| in_fraction(split.group_keys[r].as_bytes(), options.seed ^ VALIDATION_SALT, VALIDATION_FRACTION))
        .collect();
    let positions = |valid: bool| -> Vec<usize> { (0..rows.len()).filter(|&i| is_valid[i] == valid).collect() };
    let (pos_valid, pos_fit) = (positions(true), positions(false));
    let pick = |cols: &[Vec<f64>], pos: &[usize]| -> Vec<Vec<f64>> {
        cols.iter().map(|c| pos.iter().map(|&i| c[i]).collect()).collect()
    };
    let pick_labels = |pos: &[usize]| -> Vec<bool> { pos.iter().map(|&i| train_labels[i]).collect() };
    let pick_weights = |pos: &[usize]| -> Vec<f64> { pos.iter().map(|&i| weights[i]).collect() };

    let (estimator, hyperparams) = match algorithm {
        Algorithm::Logistic => {
            let d = LogisticParams::default();
            let mut o = Options::new("logistic hyperparams", hyperparams)?;
            let params = LogisticParams {
                l2: o.f64_in("l2", d.l2, 0.0, 1e9)?,
                max_iter: o.usize_in("max_iter", d.max_iter, 1, 1000)?,
                tol: o.f64_in("tol", d.tol, 1e-14, 1.0)?,
            };
            o.finish()?;
            let model = logistic::fit(&train_x, &train_labels, &weights, &params)?;
            (Estimator::Logistic(model), serde_json::to_value(&params).unwrap_or(Value::Null))
        }
        Algorithm::Gbdt => {
            let params = GbdtParams::from_json(hyperparams)?;
            let (fit_x, fit_y, fit_w) = (pick(&train_x, &pos_fit), pick_labels(&pos_fit), pick_weights(&pos_fit));
            let (valid_x, valid_y, valid_w) = (pick(&train_x, &pos_valid), pick_labels(&pos_valid), pick_weights(&pos_valid));
            let model = gbdt::fit(
                gbdt::Rows { features: &fit_x, labels: &fit_y, weights: &fit_w },
                gbdt::Rows { features: &valid_x, labels: &valid_y, weights: &valid_w },
                &params,
                options.seed,
            )?;
            (Estimator::Gbdt(model), serde_json::to_value(&params).unwrap_or(Value::Null))
        }
    };
    Ok(Fitted {
        model: TrainedModel { recipe, features, estimator, threshold: 0.5, calibration: None },
        hyperparams,
        valid_rows: pos_valid.iter().map(|&i| rows[i]).collect(),
    })
}

/// Calibrates (when asked) and thresholds a fitted model on its validation rows, evaluates it on the
/// test rows, measures global importance and serializes it. `report` is merged into the metrics.
pub fn finish(prepared: &Prepared<'_>, fitted: Fitted, options: &TrainOptions, report: Value) -> Result<TrainOutcome> {
    let split = &prepared.split;
    let Fitted { mut model, hyperparams, valid_rows } = fitted;
    let valid_x = model.features_of_frame(&prepared.feature_frame.take_rows(&valid_rows))?;
    let valid_labels = split.labels_of(&valid_rows);
    let valid_raw = model.raw_scores_from_features(&valid_x, valid_labels.len());
    let mut calibration_json = json!({"method": "none"});
    if options.calibrate {
        let platt = fit_platt(&valid_raw, &valid_labels)?;
        let brier = |map: &dyn Fn(f64) -> f64| {
            let p: Vec<f64> = valid_raw.iter().map(|&z| sigmoid(map(z))).collect();
            metrics::evaluate(&valid_labels, &p, 0.5).brier
        };
        calibration_json = json!({
            "method": "platt", "slope": platt.slope, "intercept": platt.intercept, "fitted_on_rows": valid_labels.len(),
            "validation_brier_before": brier(&|z| z),
            "validation_brier_after": brier(&|z| platt.apply(z)),
        });
        model.calibration = Some(platt);
    }
    let valid_p: Vec<f64> = valid_raw.iter().map(|&z| sigmoid(model.calibrated(z))).collect();
    model.threshold = best_f1_threshold(&valid_labels, &valid_p).unwrap_or(0.5);

    let test_labels = split.labels_of(&split.test_idx);
    let test_p = model.predict_frame(&prepared.feature_frame.take_rows(&split.test_idx))?;
    let payload = model.to_payload()?;
    let sha256 = sha256_hex(&payload);
    let fit = fit_report(&model);
    // Global importance on a fixed sample of validation rows: deterministic, and rows the trees did
    // not fit on.
    let sample: Vec<usize> = (0..valid_labels.len().min(IMPORTANCE_ROWS)).collect();
    let importance = model.importance(&valid_x, &sample);
    let train_rows = split.train_idx.len();
    let inputs: Vec<(String, bool)> =
        model.recipe.steps.iter().filter(|s| s.is_input()).map(|s| (s.column().to_string(), s.is_numeric())).collect();
    let reference = monitor::reference(&prepared.feature_frame.take_rows(&split.train_idx), &inputs, &valid_p)?;
    let test_groups: Vec<&str> = split.test_idx.iter().map(|&r| split.group_keys[r].as_str()).collect();
    let grouped = options.group_by.as_deref().map(|by| (test_groups.as_slice(), by));
    let mut metrics_json = json!({
        "test": metrics_with_intervals(&test_labels, &test_p, model.threshold, grouped, options.bootstrap, true)?,
        "validation": {"n": valid_labels.len(), "auc": metrics::auc(&valid_labels, &valid_p)},
        "train_rows": train_rows,
        "train_positive_rate": split.train_positives as f64 / train_rows as f64,
        "unlabeled_rows": split.unlabeled,
        "threshold_policy": "f1 on validation rows",
        "calibration": calibration_json,
        "importance": importance,
        "importance_rows": sample.len(),
        "fit": fit,
    });
    if let (Some(out), Value::Object(extra)) = (metrics_json.as_object_mut(), report) {
        out.extend(extra);
    }
    Ok(TrainOutcome {
        payload,
        sha256,
        metrics: metrics_json,
        hyperparams,
        train_rows,
        test_rows: split.test_idx.len(),
        fingerprint: fingerprint(prepared.frame),
        reference: serde_json::to_value(&reference).unwrap_or(Value::Null),
        model,
        guardrails: Vec::new(),
    })
}

/// What the fit itself reports: coefficients with their inference (logistic), trees (gbdt), members.
fn fit_report(model: &TrainedModel) -> Value {
    match &model.estimator {
        Estimator::Logistic(m) => {
            let coefficients: Vec<Value> = m
                .inference(&model.features)
                .into_iter()
                .map(|(feature, b, se, z, p, odds)| {
                    json!({"feature": feature, "coefficient": b, "std_error": se, "z": finite(z),
                           "p_value": finite(p), "odds_ratio": finite(odds)})
                })
                .collect();
            json!({"iterations": m.iterations, "converged": m.converged, "coefficients": coefficients})
        }
        Estimator::Gbdt(m) => json!({"trees": m.trees_used()}),
        Estimator::Ensemble(members) => json!({
            "members": members.iter().map(|m| {
                let mut member = fit_report(&m.model);
                member["algorithm"] = json!(m.model.estimator.algorithm());
                member["weight"] = json!(m.weight);
                member
            }).collect::<Vec<_>>()
        }),
    }
}

/// Platt scaling: a one-feature logistic regression of the labels on the log-odds, unweighted (the
/// probabilities must match the real class balance, whatever weights the estimator was fitted with).
fn fit_platt(raw: &[f64], labels: &[bool]) -> Result<Platt> {
    if raw.is_empty() || labels.iter().all(|&y| y) || !labels.iter().any(|&y| y) {
        return Err(Error::new(ErrorClass::InsufficientData, "calibration needs both classes among the validation rows")
            .with_hint("train on more rows, or pass \"calibration\": \"none\""));
    }
    let params = LogisticParams { l2: 0.0, ..LogisticParams::default() };
    let fit = logistic::fit(&[raw.to_vec()], labels, &vec![1.0; labels.len()], &params)?;
    Ok(Platt { slope: fit.coefficients[0], intercept: fit.intercept })
}

/// JSON has no NaN or Infinity: those become null.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn column_list(frame: &Frame) -> String {
    frame.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// True / false / unknown (NULL target) per row.
pub fn target_labels(
    frame: &Frame,
    column: &crate::frame::Column,
    positive: Option<&str>,
    source: &str,
) -> Result<Vec<Option<bool>>> {
    let rows = frame.rows();
    let name = &column.name;
    let boolean = column.kind == crate::frame::ValueKind::Boolean;
    let positive: String = match (positive, &column.data) {
        (Some(p), _) => p.to_string(),
        (None, _) if boolean => "true".to_string(),
        (None, ColumnData::Numeric(values)) if values.iter().flatten().all(|&x| x == 0.0 || x == 1.0) => "1".to_string(),
        (None, _) => {
            let mut seen: Vec<String> = (0..rows).filter_map(|r| frame.cell_text(column, r)).take(1000).collect();
            seen.sort();
            seen.dedup();
            seen.truncate(5);
            return Err(Error::invalid_parameter(format!(
                "target \"{name}\" of {source} is not boolean: say which value is positive"
            ))
            .with_hint(format!("pass options '{{\"positive\": \"...\"}}' with one of its values, e.g. {}", seen.join(", "))));
        }
    };
    if let ColumnData::Numeric(_) = column.data {
        if positive.trim().parse::<f64>().is_err() {
            return Err(Error::invalid_parameter(format!(
                "\"positive\": \"{positive}\" is not a number, but target \"{name}\" is numeric"
            )));
        }
    }
    let positive_number = positive.trim().parse::<f64>().ok();
    Ok((0..rows)
        .map(|r| match &column.data {
            ColumnData::Numeric(v) => v[r].map(|x| Some(x) == positive_number),
            ColumnData::Categorical { codes, levels } => codes[r].map(|c| levels[c as usize] == positive),
        })
        .collect())
}

fn sample_weights(labels: &[bool], class_weight: ClassWeight) -> Vec<f64> {
    match class_weight {
        ClassWeight::None => vec![1.0; labels.len()],
        ClassWeight::Balanced => {
            let n = labels.len() as f64;
            let pos = labels.iter().filter(|&&y| y).count() as f64;
            let (wp, wn) = (n / (2.0 * pos), n / (2.0 * (n - pos)));
            labels.iter().map(|&y| if y { wp } else { wn }).collect()
        }
    }
}

/// sha256 over column names, types and every value: the same data gives the same fingerprint.
pub fn fingerprint(frame: &Frame) -> String {
    let mut bytes = Vec::with_capacity(frame.rows() * frame.columns.len() * 8);
    for c in &frame.columns {
        bytes.extend_from_slice(c.name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(c.sql_type.as_bytes());
        bytes.push(0);
        match &c.data {
            ColumnData::Numeric(v) => {
                for x in v {
                    match x {
                        Some(x) => bytes.extend_from_slice(&x.to_le_bytes()),
                        None => bytes.extend_from_slice(b"NULL\0\0\0\0"),
                    }
                }
            }
            ColumnData::Categorical { codes, levels } => {
                for code in codes {
                    match code {
                        Some(c) => {
                            bytes.extend_from_slice(levels[*c as usize].as_bytes());
                            bytes.push(0);
                        }
                        None => bytes.extend_from_slice(b"\xffNULL\0"),
                    }
                }
            }
        }
    }
    sha256_hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{CategoricalBuilder, Column};

    /// Patients with several visits; risk rises with `visits` and the "B" ward.
    fn frame(n: usize) -> Frame {
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut patient = Vec::new();
        let mut visits = Vec::new();
        let mut ward = CategoricalBuilder::default();
        let mut label = CategoricalBuilder::default();
        for i in 0..n {
            let v = (next() * 6.0).floor();
            let w = if next() < 0.4 { "B" } else { "A" };
            let z = -2.0 + 0.5 * v + if w == "B" { 1.0 } else { 0.0 };
            patient.push(Some((i / 3) as f64));
            visits.push(Some(v));
            ward.push(Some(w));
            label.push(Some(if next() < sigmoid(z) { "yes" } else { "no" }));
        }
        Frame {
            columns: vec![
                Column::new("patient", "integer", crate::frame::ValueKind::Integer, ColumnData::Numeric(patient)),
                Column::new("visits", "integer", crate::frame::ValueKind::Integer, ColumnData::Numeric(visits)),
                Column::new("ward", "text", crate::frame::ValueKind::Text, ward.finish()),
                Column::new("outcome", "text", crate::frame::ValueKind::Text, label.finish()),
            ],
        }
    }

    fn options() -> TrainOptions {
        TrainOptions::from_json(&json!({"group_by": "patient", "positive": "yes", "hyperparams": {}})).unwrap()
    }

    #[test]
    fn logistic_and_gbdt_learn_the_signal() {
        let f = frame(6000);
        for algorithm in [Algorithm::Logistic, Algorithm::Gbdt] {
            let out = train(&f, "t", "outcome", algorithm, &options(), None, None).unwrap();
            let auc = out.metrics["test"]["auc"].as_f64().unwrap();
            assert!(auc > 0.65, "{algorithm:?}: {auc}");
            assert!(out.test_rows > 900 && out.test_rows < 1500, "{}", out.test_rows);
        }
    }

    /// The frame with a column that copies the outcome (as a code the target does not share).
    fn with_copied_outcome(mut f: Frame) -> Frame {
        let ColumnData::Categorical { codes, levels } = &f.column("outcome").unwrap().data else { unreachable!() };
        let mut copy = CategoricalBuilder::default();
        for c in codes {
            copy.push(c.map(|c| if levels[c as usize] == "yes" { "coded 1" } else { "coded 2" }));
        }
        f.columns.push(Column::new("discharge_code", "text", crate::frame::ValueKind::Text, copy.finish()));
        f
    }

    #[test]
    fn every_training_reports_leakage_and_accepts_only_what_it_is_told() {
        let f = with_copied_outcome(frame(3000));
        for algorithm in [Algorithm::Logistic, Algorithm::Gbdt] {
            let out = train(&f, "t", "outcome", algorithm, &options(), None, None).unwrap();
            let find = |check: &str| out.guardrails.iter().find(|g| g.check == check).unwrap().clone();
            let column = find("leakage_single_column");
            assert_eq!((column.column.as_deref(), column.status), (Some("discharge_code"), "alert"), "{algorithm:?}");
            assert!(column.value > 0.99 && column.limit == 0.9, "{column:?}");
            let model = find("leakage_model");
            assert_eq!((model.status, model.limit), ("alert", 0.95), "{algorithm:?}: {model:?}");
            assert_eq!(out.metrics["guardrails"], json!(out.guardrails), "the metrics keep the findings");

            let accepting = TrainOptions::from_json(&json!({"group_by": "patient", "positive": "yes",
                "accept_leakage": ["discharge_code"], "leakage_model_auc": 1.0}))
            .unwrap();
            let out = train(&f, "t", "outcome", algorithm, &accepting, None, None).unwrap();
            let statuses: Vec<_> = out.guardrails.iter().filter(|g| g.check.starts_with("leakage")).map(|g| g.status).collect();
            assert_eq!(statuses, ["accepted", "ok"], "{algorithm:?}: {:?}", out.guardrails);
            assert!(out.guardrails[1].message.ends_with("derived from it); accepted (accept_leakage)"), "{:?}", out.guardrails);
        }
        // the data without the copy: the strongest column is reported, nothing is flagged
        let out = train(&frame(3000), "t", "outcome", Algorithm::Logistic, &options(), None, None).unwrap();
        assert!(out.guardrails.iter().all(|g| g.status != "alert"), "{:?}", out.guardrails);
        // an accepted column must exist
        let unknown =
            TrainOptions::from_json(&json!({"group_by": "patient", "positive": "yes", "accept_leakage": ["nope"]})).unwrap();
        let err = train(&f, "t", "outcome", Algorithm::Logistic, &unknown, None, None).unwrap_err();
        assert_eq!(err.class(), ErrorClass::UndefinedColumn, "{err:?}");
    }

    #[test]
    fn training_is_reproducible_to_the_byte() {
        let f = frame(3000);
        for algorithm in [Algorithm::Logistic, Algorithm::Gbdt] {
            let a = train(&f, "t", "outcome", algorithm, &options(), None, None).unwrap();
            let b = train(&f, "t", "outcome", algorithm, &options(), None, None).unwrap();
            assert_eq!(a.sha256, b.sha256, "{algorithm:?}");
            let back = TrainedModel::from_payload(&a.payload, Some(&a.sha256)).unwrap();
            assert_eq!(back.features, a.model.features);
            // a whole source row, target and group key included, scores
            let row = json!({"patient": 1, "visits": 3, "ward": "B", "outcome": "yes"});
            let p = back.predict_json(row.as_object().unwrap()).unwrap();
            assert!(p > 0.0 && p < 1.0);
        }
    }

    #[test]
    fn sample_takes_a_share_of_groups_and_needs_them() {
        let o = TrainOptions::from_json(&json!({"group_by": "patient", "sample": 0.25})).unwrap();
        assert_eq!(o.sample, Some(0.25));
        assert_eq!(options().sample, None);
        for bad in [json!(0), json!(1.5), json!(-0.1), json!("half")] {
            let err = TrainOptions::from_json(&json!({"group_by": "patient", "sample": bad})).unwrap_err();
            assert_eq!(err.class().sqlstate(), "22023");
            assert!(err.message().contains("share of groups"), "{}", err.message());
        }
        let ungrouped = TrainOptions::from_json(&json!({"sample": 0.5})).unwrap_err();
        assert!(ungrouped.message().contains("no \"group_by\""), "{}", ungrouped.message());
        assert!(ungrouped.hint().unwrap().contains("group_by"));
    }

    #[test]
    fn groups_never_straddle_the_split() {
        let f = frame(3000);
        let o = options();
        let patient = f.column("patient").unwrap();
        let mut side = std::collections::HashMap::new();
        for r in 0..f.rows() {
            let key = f.cell_text(patient, r).unwrap();
            let test = in_fraction(key.as_bytes(), o.seed, o.test_fraction);
            assert_eq!(*side.entry(key).or_insert(test), test);
        }
    }

    #[test]
    fn bad_targets_are_refused() {
        let f = frame(300);
        let e = train(&f, "t", "nope", Algorithm::Logistic, &options(), None, None).unwrap_err();
        assert_eq!(e.class(), ErrorClass::UndefinedColumn);
        let no_positive = TrainOptions::from_json(&json!({})).unwrap();
        let e = train(&f, "t", "outcome", Algorithm::Logistic, &no_positive, None, None).unwrap_err();
        assert!(e.hint().unwrap().contains("no, yes"), "{:?}", e.hint());
        let one_class = TrainOptions::from_json(&json!({"positive": "maybe"})).unwrap();
        let e = train(&f, "t", "outcome", Algorithm::Logistic, &one_class, None, None).unwrap_err();
        assert!(e.message().contains("one class"), "{e}");
        assert!(TrainOptions::from_json(&json!({"seeed": 1})).is_err());
        assert!(Algorithm::parse("forest").is_err());
    }

    #[test]
    fn tampered_payloads_are_refused() {
        let f = frame(600);
        let out = train(&f, "t", "outcome", Algorithm::Logistic, &options(), None, None).unwrap();
        let mut bytes = out.payload.clone();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(TrainedModel::from_payload(&bytes, Some(&out.sha256)).is_err());
        let mut future = out.payload.clone();
        future[4] = 9;
        let e = TrainedModel::from_payload(&future, None).unwrap_err();
        assert!(e.message().contains("format_version 9"), "{e}");
    }

    /// A payload read back, used the way the server uses it: scored from JSON and from a frame,
    /// explained. Errors are fine; a panic is not.
    fn read_and_use(bytes: &[u8], f: &Frame) -> std::thread::Result<Result<()>> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let model = TrainedModel::from_payload(bytes, None)?;
            let row = json!({"patient": 1, "visits": 3, "ward": "B", "outcome": "yes"});
            let row = row.as_object().unwrap();
            model.predict_json(row)?;
            model.explain_json(row)?;
            model.predict_frame(&f.take_rows(&[0, 1, 2]))?;
            Ok(())
        }))
    }

    fn three_payloads(f: &Frame) -> [(&'static str, Vec<u8>); 3] {
        let logistic = train(f, "t", "outcome", Algorithm::Logistic, &options(), None, None).unwrap();
        let gbdt = train(f, "t", "outcome", Algorithm::Gbdt, &options(), None, None).unwrap();
        let blend = TrainedModel::ensemble(vec![(0.4, logistic.model), (0.6, gbdt.model)]).unwrap().to_payload().unwrap();
        [("logistic", logistic.payload), ("gbdt", gbdt.payload), ("ensemble", blend)]
    }

    #[test]
    fn truncated_and_bit_flipped_payloads_give_errors_never_panics() {
        let f = frame(1500);
        // a fixed xorshift: the same payloads on every run
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (name, payload) in three_payloads(&f) {
            assert!(matches!(read_and_use(&payload, &f), Ok(Ok(()))), "{name}: the real payload reads");
            let cuts = (0..64.min(payload.len())).chain((1..100).map(|i| i * payload.len() / 100));
            for cut in cuts {
                match read_and_use(&payload[..cut], &f) {
                    Ok(Err(e)) => assert_eq!(e.class(), ErrorClass::DataCorrupted, "{name} cut at {cut}: {e}"),
                    Ok(Ok(())) => panic!("{name} cut at {cut} of {} was read", payload.len()),
                    Err(_) => panic!("{name} cut at {cut} panicked"),
                }
            }
            for trial in 0..300 {
                let mut bytes = payload.clone();
                for _ in 0..1 + next() % 8 {
                    let bit = (next() % (8 * (bytes.len() as u64 - 6))) as usize + 48;
                    bytes[bit / 8] ^= 1 << (bit % 8);
                }
                // A flip may still give a readable model (another number somewhere): only a panic fails.
                assert!(read_and_use(&bytes, &f).is_ok(), "{name}: flip trial {trial} panicked");
            }
        }
    }

    #[test]
    fn hand_crafted_payloads_are_refused_by_what_they_break() {
        let f = frame(1500);
        let [(_, logistic), (_, gbdt), _] = three_payloads(&f);
        let refused = |model: &TrainedModel, expected: &str| {
            let bytes = model.to_payload().unwrap();
            match read_and_use(&bytes, &f) {
                Ok(Err(e)) => {
                    assert_eq!(e.class(), ErrorClass::DataCorrupted, "{e}");
                    assert!(e.message().contains(expected), "{e} (expected {expected:?})");
                    assert!(e.hint().is_some());
                }
                other => panic!("{expected}: not refused ({:?})", other.map(|r| r.map_err(|e| e.to_string()))),
            }
        };
        let gbdt_model = || TrainedModel::from_payload(&gbdt, None).unwrap();
        fn first_tree(m: &mut TrainedModel) -> &mut crate::model::gbdt::Tree {
            match &mut m.estimator {
                crate::model::Estimator::Gbdt(g) => &mut g.trees[0],
                _ => unreachable!(),
            }
        }
        let split = |m: &mut TrainedModel| (0..first_tree(m).len()).find(|&i| !first_tree(m).is_leaf(i)).unwrap();

        let mut m = gbdt_model();
        let i = split(&mut m);
        first_tree(&mut m).left[i] = i as u32; // a cycle: scoring would never end
        refused(&m, "has child");
        let mut m = gbdt_model();
        let i = split(&mut m);
        first_tree(&mut m).right[i] = 1_000_000;
        refused(&m, "has child");
        let mut m = gbdt_model();
        let i = split(&mut m);
        first_tree(&mut m).feature[i] = 10_000;
        refused(&m, "splits feature");
        let mut m = gbdt_model();
        first_tree(&mut m).cover.pop();
        refused(&m, "node arrays");
        let mut m = gbdt_model();
        let i = split(&mut m);
        first_tree(&mut m).cover[i] = f64::INFINITY;
        refused(&m, "cover");
        // a chain deeper than any trained tree: explaining it would recurse that deep
        let mut m = gbdt_model();
        let tree = first_tree(&mut m);
        *tree = crate::model::gbdt::Tree::default();
        for d in 0..5000u32 {
            tree.feature.push(if d == 4999 { -1 } else { 0 });
            tree.threshold.push(0.5);
            for children in [&mut tree.left, &mut tree.right, &mut tree.missing] {
                children.push(d + 1);
            }
            for (values, x) in [(&mut tree.value, 0.1), (&mut tree.cover, 1.0), (&mut tree.gain, 1.0)] {
                values.push(x);
            }
        }
        refused(&m, "depth");
        let mut m = gbdt_model();
        m.threshold = f64::NAN;
        refused(&m, "threshold");

        let mut m = TrainedModel::from_payload(&logistic, None).unwrap();
        if let crate::model::Estimator::Logistic(l) = &mut m.estimator {
            l.coefficients.pop();
        }
        refused(&m, "coefficients");
        let mut m = TrainedModel::from_payload(&logistic, None).unwrap();
        m.features.push("extra".into());
        refused(&m, "feature list");

        // ensembles do not nest
        let inner = TrainedModel::ensemble(vec![(1.0, gbdt_model())]).unwrap();
        let nested = TrainedModel {
            recipe: inner.recipe.clone(),
            features: inner.features.clone(),
            estimator: crate::model::Estimator::Ensemble(vec![crate::model::EnsembleMember { weight: 1.0, model: inner }]),
            threshold: 0.5,
            calibration: None,
        };
        refused(&nested, "itself an ensemble");

        // nesting deeper than any payload's (40 ensembles in each other): refused by the reader,
        // before it recurses far into the stack
        let mut deep = gbdt_model();
        for _ in 0..40 {
            deep = TrainedModel {
                recipe: deep.recipe.clone(),
                features: deep.features.clone(),
                estimator: crate::model::Estimator::Ensemble(vec![crate::model::EnsembleMember { weight: 1.0, model: deep }]),
                threshold: 0.5,
                calibration: None,
            };
        }
        match read_and_use(&deep.to_payload().unwrap(), &f) {
            Ok(Err(e)) => assert!(e.message().contains("depth limit"), "{e}"),
            _ => panic!("a 100,000-deep payload was not refused"),
        }
    }

    /// Payload format 1 (0.1.0's, a forust booster inside) is checked as strictly: the committed
    /// 0.1.0 gbdt payload, altered the ways a crafted one could be.
    #[test]
    fn crafted_format_1_payloads_are_refused() {
        use crate::model::format1::{EstimatorV1, TrainedModelV1};
        let released: &[u8] = include_bytes!("../../../tests/fixtures/0.1.0/gbdt.payload");
        assert_eq!(u16::from_le_bytes([released[4], released[5]]), 1);
        let rows: Vec<Value> = include_str!("../../../tests/fixtures/0.1.0/rows.jsonl")
            .lines()
            .take(50)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let read = || rmp_serde::from_slice::<TrainedModelV1>(&released[6..]).unwrap();
        let refused = |model: TrainedModelV1, expected: &str| {
            let mut bytes = released[..6].to_vec();
            bytes.extend(rmp_serde::to_vec_named(&model).unwrap());
            let outcome = std::panic::catch_unwind(|| {
                TrainedModel::from_payload(&bytes, None)
                    .map(|m| rows.iter().for_each(|r| drop(m.explain_json(r.as_object().unwrap()))))
            });
            match outcome {
                Ok(Err(e)) => {
                    assert_eq!(e.class(), ErrorClass::DataCorrupted, "{e}");
                    assert!(e.message().contains(expected), "{e} (expected {expected:?})");
                    assert!(e.hint().is_some());
                }
                Ok(Ok(())) => panic!("{expected}: not refused"),
                Err(_) => panic!("{expected}: panicked"),
            }
        };
        fn booster(m: &mut TrainedModelV1) -> &mut forust_ml::gradientbooster::GradientBooster {
            match &mut m.estimator {
                EstimatorV1::Gbdt(g) => &mut g.booster,
                _ => unreachable!(),
            }
        }
        assert!(TrainedModel::from_payload(released, None).is_ok());
        let mut m = read();
        let nodes = &mut booster(&mut m).trees[0].nodes;
        let i = nodes.iter().position(|n| !n.is_leaf).unwrap();
        nodes[i].left_child = i;
        refused(m, "has child");
        let mut m = read();
        booster(&mut m).trees[1].nodes[0].split_feature = usize::MAX;
        refused(m, "splits feature");
        let mut m = read();
        let b = booster(&mut m);
        b.prediction_iteration = Some(b.trees.len() + 5);
        refused(m, "prediction trees");
        let mut m = read();
        if let EstimatorV1::Gbdt(g) = &mut m.estimator {
            g.trees_used += 1;
        }
        refused(m, "trees_used");
    }

    #[test]
    fn explanations_add_up_to_the_log_odds() {
        let f = frame(3000);
        for algorithm in [Algorithm::Logistic, Algorithm::Gbdt] {
            let out = train(&f, "t", "outcome", algorithm, &options(), None, None).unwrap();
            for (visits, ward) in [(0, "A"), (3, "B"), (5, "B"), (2, "Z")] {
                let row = json!({"visits": visits, "ward": ward});
                let e = out.model.explain_json(row.as_object().unwrap()).unwrap();
                let total = e.base + e.contributions.iter().map(|c| c.contribution).sum::<f64>();
                // forust accumulates TreeSHAP over f32 node covers: exact to about 1e-8, not to the last bit
                assert!((total - e.raw_score).abs() < 1e-6, "{algorithm:?}: {total} vs {}", e.raw_score);
                assert_eq!(e.raw_score, out.model.raw_score_json(row.as_object().unwrap()).unwrap());
                // one contribution per source column, one-hot levels summed back into "ward"
                let columns: Vec<&str> = e.contributions.iter().map(|c| c.column.as_str()).collect();
                assert_eq!(columns, ["visits", "ward"], "{algorithm:?}");
                assert_eq!(e.contributions[1].value.as_deref(), Some(ward));
            }
            let high = out.model.explain_json(json!({"visits": 5, "ward": "B"}).as_object().unwrap()).unwrap();
            assert!(high.top(1)[0].contribution > 0.0, "{algorithm:?}: the riskiest row's top reason raises the risk");
        }
    }

    #[test]
    fn importance_ranks_the_signal_first() {
        let f = frame(3000);
        for algorithm in [Algorithm::Logistic, Algorithm::Gbdt] {
            let out = train(&f, "t", "outcome", algorithm, &options(), None, None).unwrap();
            let importance = out.metrics["importance"].as_array().unwrap();
            assert_eq!(importance.len(), 2, "{algorithm:?}: one entry per input column");
            assert_eq!(importance[0]["column"], "visits", "{algorithm:?}: the strongest signal first");
            assert!(
                importance[0]["mean_abs_contribution"].as_f64().unwrap()
                    > importance[1]["mean_abs_contribution"].as_f64().unwrap()
            );
            let weight = if algorithm == Algorithm::Gbdt { "gain_share" } else { "max_abs_coefficient" };
            assert!(importance.iter().all(|i| i[weight].as_f64().is_some()), "{algorithm:?}: {weight} for each column");
            let validation_rows = out.metrics["validation"]["n"].as_u64().unwrap();
            assert_eq!(out.metrics["importance_rows"].as_u64().unwrap(), validation_rows.min(IMPORTANCE_ROWS as u64));
        }
    }

    #[test]
    fn platt_calibration_repairs_balanced_weights() {
        // About 10% positives, as readmissions: balanced weights then inflate every probability.
        let mut f = frame(6000);
        if let ColumnData::Categorical { codes, levels } = &mut f.columns[3].data {
            let yes = levels.iter().position(|l| l == "yes").unwrap() as u32;
            let no = levels.iter().position(|l| l == "no").unwrap() as u32;
            for (r, code) in codes.iter_mut().enumerate() {
                if *code == Some(yes) && r % 4 != 0 {
                    *code = Some(no);
                }
            }
        }
        let train_with = |extra: Value| {
            let mut o = json!({"group_by": "patient", "positive": "yes", "class_weight": "balanced"});
            o.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            train(&f, "t", "outcome", Algorithm::Logistic, &TrainOptions::from_json(&o).unwrap(), None, None).unwrap()
        };
        let raw = train_with(json!({"calibration": "none"}));
        let calibrated = train_with(json!({}));
        assert_eq!(calibrated.metrics["calibration"]["method"], "platt", "balanced weights calibrate by default");
        let brier = |o: &TrainOutcome| o.metrics["test"]["brier"].as_f64().unwrap();
        assert!(brier(&calibrated) < brier(&raw), "{} vs {}", brier(&calibrated), brier(&raw));
        let auc = |o: &TrainOutcome| o.metrics["test"]["auc"].as_f64().unwrap();
        assert!((auc(&calibrated) - auc(&raw)).abs() < 1e-12, "a monotone map keeps the ranking");
        // explanations still add up to the (calibrated) log-odds
        let row = json!({"visits": 4, "ward": "B"});
        let e = calibrated.model.explain_json(row.as_object().unwrap()).unwrap();
        let total = e.base + e.contributions.iter().map(|c| c.contribution).sum::<f64>();
        assert!((total - e.raw_score).abs() < 1e-9);
        assert!(TrainOptions::from_json(&json!({"calibration": "isotonic"})).is_err());
    }
}
