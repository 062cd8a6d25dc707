//! Scoring with the deployed model: `healthml.predict` on a jsonb row, and evaluation on a relation.

use healthml_core::frame::Column;
use healthml_core::intervals::{metrics_with_intervals, IntervalOptions};
use healthml_core::metrics;
use healthml_core::metrics::metrics_to_json;
use healthml_core::threshold::ThresholdPolicy;
use healthml_core::train::target_labels;
use healthml_core::{Error, ErrorClass};
use pgrx::prelude::*;
use pgrx::{AnyElement, JsonB};

use crate::cache::deployed_model;
use crate::error::{raise, OrRaise};
use crate::inference_log::{self, Call};
use crate::spi::read_named_relation;
use crate::stats::{self, Function};

/// Probability of the positive class for one row (jsonb: source column → value) from the model
/// deployed as `model_name`. Missing keys are NULL (imputed by the recipe); keys that are not
/// columns of the training relation are an error.
#[pg_extern(stable, parallel_safe, cost = 100)]
fn predict(model_name: &str, features: JsonB) -> f64 {
    let started = stats::clock();
    let (id, model) = deployed_model(model_name);
    let p = predict_logged(id, &model, &features);
    stats::done(started, id, Function::Predict, 1);
    p
}

/// The probability of a jsonb row, the call logged if it is sampled.
fn predict_logged(model_id: i64, model: &healthml_core::model::TrainedModel, features: &JsonB) -> f64 {
    let cells = model.recipe.json_cells(json_row(features)).or_raise();
    let p = model.predict_cells(&cells);
    inference_log::record(model_id, Call::Predict, &cells, p);
    p
}

/// The object of a jsonb row argument, or an error saying what is expected.
pub(crate) fn json_row(features: &JsonB) -> &serde_json::Map<String, serde_json::Value> {
    features.0.as_object().unwrap_or_else(|| {
        raise(
            Error::invalid_parameter(format!("features must be a JSON object of column to value, got {}", features.0))
                .with_hint("pass to_jsonb(row) or a literal like '{\"time_in_hospital\": 3}'"),
        )
    })
}

/// Probability from the model with this id (deployed or not): what batch scoring uses to pin one
/// model for a whole run.
#[pg_extern(stable, parallel_safe, cost = 100)]
fn predict_by_id(model_id: i64, features: JsonB) -> f64 {
    let started = stats::clock();
    let p = predict_logged(model_id, &crate::cache::model(model_id), &features);
    stats::done(started, model_id, Function::Predict, 1);
    p
}

/// Probability of the positive class for a whole row (a table or view row, or `ROW(...)`) from the
/// model deployed as `model_name`, read straight from the row without a jsonb round trip. Every
/// input column of the model must be in the row; other columns are ignored.
#[pg_extern(stable, parallel_safe, cost = 100)]
fn predict_row(model_name: &str, row: AnyElement) -> f64 {
    let started = stats::clock();
    let (id, model) = deployed_model(model_name);
    let p = crate::row::predict_row(id, &model, &row, &|| format!("model \"{model_name}\""));
    stats::done(started, id, Function::PredictRow, 1);
    p
}

/// As `predict_row`, with one pinned model version (what batch scoring uses).
#[pg_extern(stable, parallel_safe, cost = 100)]
fn predict_row_by_id(model_id: i64, row: AnyElement) -> f64 {
    let started = stats::clock();
    let model = crate::cache::model(model_id);
    let p = crate::row::predict_row(model_id, &model, &row, &|| format!("model id {model_id}"));
    stats::done(started, model_id, Function::PredictRow, 1);
    p
}

/// The probability of the row of `relation` (a table with a primary key of one integer column)
/// whose key is `key`, from the model deployed as `model_name`: the row is read through the
/// primary key's index, without a query, so scoring one row costs little more than the lookup.
/// NULL when no row has that key.
#[pg_extern(stable, parallel_safe, strict, cost = 100)]
fn predict_by_key(model_name: &str, relation: crate::spi::Relation, key: i64) -> Option<f64> {
    let started = stats::clock();
    let (id, model) = deployed_model(model_name);
    let p = crate::row::with_keyed_row_cells(id, &model, &relation, key, &|| format!("model \"{model_name}\""), |cells| {
        let p = model.predict_cells(cells);
        inference_log::record(id, Call::PredictByKey, cells, p);
        p
    });
    stats::done(started, id, Function::PredictRow, 1);
    p
}

/// A relation scored by the deployed model: its rows, their labels (None: NULL target) and scores.
pub(crate) struct ScoredRelation {
    pub model_id: i64,
    pub source: String,
    pub frame: healthml_core::frame::Frame,
    pub labels: Vec<Option<bool>>,
    pub scores: Vec<f64>,
    pub threshold: f64,
    /// The model's `group_by` option (patients), the default group of its intervals.
    pub group_by: Option<String>,
}

impl ScoredRelation {
    /// The column whose groups the intervals resample: `option`'s (which must exist), else the
    /// model's `group_by` when the relation has it; `None`: every row is a group of its own.
    pub fn interval_column(&self, option: Option<&str>) -> Option<&Column> {
        match option {
            Some(name) => Some(self.frame.column(name).unwrap_or_else(|| {
                raise(
                    Error::new(ErrorClass::UndefinedColumn, format!("column \"{name}\" does not exist in {}", self.source))
                        .with_hint("option \"group_by\" names the column of the groups (patients) to resample"),
                )
            })),
            None => self.group_by.as_deref().and_then(|g| self.frame.column(g)),
        }
    }
}

/// Scores every row of `relation` (read as the caller) with the deployed model; the target and its
/// positive value are the model's own, so the relation needs the target column.
pub(crate) fn score_relation(model_name: &str, relation: crate::spi::Relation) -> ScoredRelation {
    let (id, model) = deployed_model(model_name);
    // the positive value is part of the training options, which analysts cannot read
    let (target, positive, group_by) = crate::spi::as_models_owner(|| {
        crate::spi::first_row(
            "SELECT target, options ->> 'positive', options ->> 'group_by' FROM healthml.models WHERE id = $1",
            &[id.into()],
            |column| {
                (
                    crate::spi::value::<String>(column, 1),
                    crate::spi::value::<String>(column, 2),
                    crate::spi::value::<String>(column, 3),
                )
            },
        )
        .unwrap_or_else(|| crate::error::own_objects_failed(&format!("reading model {id}"), "it has no row"))
    });
    let target = target.unwrap_or_default();
    let (source, frame) = read_named_relation(relation);
    let column = frame.column(&target).unwrap_or_else(|| {
        raise(
            Error::new(
                ErrorClass::UndefinedColumn,
                format!("{source} has no column \"{target}\", the target of model \"{model_name}\""),
            )
            .with_hint("use a relation with the training relation's columns, target included"),
        )
    });
    let labels = target_labels(&frame, column, positive.as_deref(), &source).or_raise();
    let scores = model.predict_frame(&frame).or_raise();
    ScoredRelation { model_id: id, source, frame, labels, scores, threshold: model.threshold, group_by }
}

/// Labels and probabilities of the deployed model on every labelled row of `relation`.
fn scored_rows(model_name: &str, relation: crate::spi::Relation) -> (Vec<bool>, Vec<f64>, f64) {
    let scored = score_relation(model_name, relation);
    let (labels, scores): (Vec<bool>, Vec<f64>) =
        scored.labels.iter().zip(scored.scores).filter_map(|(l, s)| l.map(|l| (l, s))).unzip();
    if labels.is_empty() {
        raise(
            Error::new(ErrorClass::InsufficientData, format!("{} has no labelled rows", scored.source))
                .with_hint("rows need a non-NULL target"),
        );
    }
    (labels, scores, scored.threshold)
}

/// Sets the decision threshold of the deployed model by a policy ('f1', 'recall>=0.7',
/// 'precision>=0.3', 'top_percent=10') measured on a labelled relation (read as the caller), and
/// records it in healthml.threshold_policies, where `healthml.flag` and `healthml.risk_tier` read it.
#[pg_extern(volatile)]
fn set_decision_threshold(
    model_name: &str,
    relation: crate::spi::Relation,
    policy: &str,
) -> TableIterator<
    'static,
    (
        name!(model_id, i64),
        name!(policy, String),
        name!(threshold, f64),
        name!(flagged_share, f64),
        name!(precision, Option<f64>),
        name!(recall, Option<f64>),
    ),
> {
    choose_threshold(model_name, relation, policy, "healthml.set_decision_threshold")
}

/// 0.1.0's name and argument order of `set_decision_threshold`, deprecated (removed in 0.3.0). A
/// function of its own, not a SQL wrapper: until `ALTER EXTENSION healthml UPDATE` runs, 0.1.0's
/// definition calls this symbol with this order.
#[pg_extern(volatile)]
fn set_threshold(
    model_name: &str,
    policy: &str,
    relation: crate::spi::Relation,
) -> TableIterator<
    'static,
    (
        name!(model_id, i64),
        name!(policy, String),
        name!(threshold, f64),
        name!(flagged_share, f64),
        name!(precision, Option<f64>),
        name!(recall, Option<f64>),
    ),
> {
    choose_threshold(model_name, relation, policy, "healthml.set_threshold")
}

fn choose_threshold(
    model_name: &str,
    relation: crate::spi::Relation,
    policy: &str,
    what: &str,
) -> TableIterator<
    'static,
    (
        name!(model_id, i64),
        name!(policy, String),
        name!(threshold, f64),
        name!(flagged_share, f64),
        name!(precision, Option<f64>),
        name!(recall, Option<f64>),
    ),
> {
    crate::spi::require_primary(what);
    let parsed = ThresholdPolicy::parse(policy).or_raise();
    let (id, _) = deployed_model(model_name);
    let computed_on = relation.qualified_name();
    let (labels, scores, _) = scored_rows(model_name, relation);
    let threshold = parsed.threshold(&labels, &scores).or_raise();
    let m = metrics::evaluate(&labels, &scores, threshold);
    let flagged = (m.confusion.tp + m.confusion.fp) as f64 / labels.len() as f64;
    let (precision, recall) = (m.confusion.precision(), m.confusion.recall());
    crate::spi::connect_mut(|client| {
        client
            .update(
                "INSERT INTO healthml.threshold_policies (model_id, policy, threshold, computed_on, rows, flagged_share, precision, recall)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                None,
                &[
                    id.into(),
                    parsed.text().into(),
                    threshold.into(),
                    computed_on.into(),
                    (labels.len() as i64).into(),
                    flagged.into(),
                    precision.into(),
                    recall.into(),
                ],
            )
            .unwrap_or_else(|e| crate::error::own_objects_failed("storing the threshold", e));
    });
    TableIterator::once((id, parsed.text(), threshold, flagged, precision, recall))
}

/// Metrics of the deployed model on a relation (jsonb: n, positives, auc, average_precision, brier,
/// log_loss, the confusion matrix, precision and recall at the model's threshold, calibration
/// intercept and slope) with their 95 % intervals from a bootstrap of the relation's groups (options
/// `group_by`, default the model's; `resamples`, 1000, 0 for none; `seed`, 42).
#[pg_extern(stable, name = "evaluate")]
fn evaluate_with_intervals(model_name: &str, relation: crate::spi::Relation, options: default!(JsonB, "'{}'")) -> JsonB {
    let parsed = IntervalOptions::from_json("healthml.evaluate", &options.0).or_raise();
    let scored = score_relation(model_name, relation);
    let by = scored.interval_column(parsed.group_by.as_deref());
    let (mut labels, mut scores, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    for (r, label) in scored.labels.iter().enumerate() {
        if let Some(y) = label {
            labels.push(*y);
            scores.push(scored.scores[r]);
            if let Some(by) = by {
                keys.push(scored.frame.cell_text(by, r).unwrap_or_default());
            }
        }
    }
    if labels.is_empty() {
        raise(
            Error::new(ErrorClass::InsufficientData, format!("{} has no labelled rows", scored.source))
                .with_hint("rows need a non-NULL target"),
        );
    }
    let groups = by.map(|by| (keys.as_slice(), by.name.as_str()));
    JsonB(metrics_with_intervals(&labels, &scores, scored.threshold, groups, parsed.bootstrap, false).or_raise())
}

/// 0.1.0's `evaluate(model_name, relation)`, without intervals: what its SQL definition calls until
/// `ALTER EXTENSION healthml UPDATE` replaces it (no SQL of its own in 0.2.0).
#[pg_extern(stable, sql = false)]
fn evaluate(model_name: &str, relation: crate::spi::Relation) -> JsonB {
    let (labels, scores, threshold) = scored_rows(model_name, relation);
    JsonB(metrics_to_json(&metrics::evaluate(&labels, &scores, threshold)))
}

/// ROC curve of the deployed model on a relation: one point per distinct score, from (0, 0).
#[pg_extern(stable)]
fn roc_curve(
    model_name: &str,
    relation: crate::spi::Relation,
) -> TableIterator<'static, (name!(threshold, f64), name!(fpr, f64), name!(tpr, f64))> {
    let (labels, scores, _) = scored_rows(model_name, relation);
    TableIterator::new(metrics::roc_curve(&labels, &scores).into_iter().map(|p| (p.threshold, p.fpr, p.tpr)))
}

/// Precision-recall curve of the deployed model on a relation, highest threshold first.
#[pg_extern(stable)]
fn pr_curve(
    model_name: &str,
    relation: crate::spi::Relation,
) -> TableIterator<'static, (name!(threshold, f64), name!(recall, f64), name!(precision, f64))> {
    let (labels, scores, _) = scored_rows(model_name, relation);
    TableIterator::new(metrics::pr_curve(&labels, &scores).into_iter().map(|p| (p.threshold, p.recall, p.precision)))
}

/// Reliability diagram of the deployed model on a relation: `bins` equal-width probability bins.
#[pg_extern(stable)]
fn calibration_curve(
    model_name: &str,
    relation: crate::spi::Relation,
    bins: default!(i32, 10),
) -> TableIterator<
    'static,
    (
        name!(bin, i32),
        name!(lower, f64),
        name!(upper, f64),
        name!(n, i64),
        name!(mean_predicted, Option<f64>),
        name!(observed_rate, Option<f64>),
    ),
> {
    if !(1..=1000).contains(&bins) {
        raise(Error::invalid_parameter(format!("bins must be between 1 and 1000, got {bins}")).with_hint("10 is usual"));
    }
    let (labels, scores, _) = scored_rows(model_name, relation);
    TableIterator::new(
        metrics::calibration_curve(&labels, &scores, bins as usize)
            .into_iter()
            .map(|b| (b.bin as i32, b.lower, b.upper, b.n as i64, b.mean_predicted, b.observed_rate)),
    )
}
