//! Why a row scores what it scores: exact per-column contributions to the log-odds (TreeSHAP for
//! gbdt, β·(x − mean) for logistic), as rows or jsonb, and what-if analysis on top of them.

use healthml_core::model::{Explanation, TrainedModel};
use healthml_core::{Error, ErrorClass};
use pgrx::prelude::*;
use pgrx::{AnyElement, JsonB};
use serde_json::{json, Map, Value};
use std::rc::Rc;

use crate::api::score::json_row;
use crate::cache::deployed_model;
use crate::error::{raise, OrRaise};
use crate::stats::{self, Function};

/// The top `top_k` contributions of one row (jsonb: source column → value) to the score of the
/// model deployed as `model_name`, largest magnitude first. `value` is the row's value as given.
#[pg_extern(stable, parallel_safe, cost = 10000)]
fn explain(
    model_name: &str,
    features: JsonB,
    top_k: default!(i32, 5),
) -> TableIterator<'static, (name!(feature, String), name!(value, Option<String>), name!(contribution, f64))> {
    explain_features(|| deployed_model(model_name), &features, top_k)
}

/// As `explain`, for a whole typed row (a table or view alias), read like `predict_row` reads it.
#[pg_extern(stable, parallel_safe, cost = 10000)]
fn explain_row(
    model_name: &str,
    row: AnyElement,
    top_k: default!(i32, 5),
) -> TableIterator<'static, (name!(feature, String), name!(value, Option<String>), name!(contribution, f64))> {
    let top_k = checked_top_k(top_k);
    let started = stats::clock();
    let (id, model) = deployed_model(model_name);
    let e = explain_typed_row(id, &model, &row, &|| format!("model \"{model_name}\""));
    stats::done(started, id, Function::Explain, 1);
    reasons(&e, top_k)
}

/// As `explain`, with one model version by id (deployed or not), as `predict_by_id` scores.
#[pg_extern(stable, parallel_safe, cost = 10000)]
fn explain_by_id(
    model_id: i64,
    features: JsonB,
    top_k: default!(i32, 5),
) -> TableIterator<'static, (name!(feature, String), name!(value, Option<String>), name!(contribution, f64))> {
    explain_features(|| (model_id, crate::cache::model(model_id)), &features, top_k)
}

/// The top `top_k` reasons of one jsonb row with the model `lookup` finds, timed with the lookup
/// in the scoring statistics.
fn explain_features(
    lookup: impl FnOnce() -> (i64, Rc<TrainedModel>),
    features: &JsonB,
    top_k: i32,
) -> TableIterator<'static, (name!(feature, String), name!(value, Option<String>), name!(contribution, f64))> {
    let top_k = checked_top_k(top_k);
    let started = stats::clock();
    let (id, model) = lookup();
    let e = model.explain_json(json_row(features)).or_raise();
    stats::done(started, id, Function::Explain, 1);
    reasons(&e, top_k)
}

/// As `explain_row`, with one pinned model version (what batch scoring uses).
#[pg_extern(stable, parallel_safe, cost = 10000)]
fn explain_row_by_id(
    model_id: i64,
    row: AnyElement,
    top_k: default!(i32, 5),
) -> TableIterator<'static, (name!(feature, String), name!(value, Option<String>), name!(contribution, f64))> {
    let top_k = checked_top_k(top_k);
    let started = stats::clock();
    let model = crate::cache::model(model_id);
    let e = explain_typed_row(model_id, &model, &row, &|| format!("model id {model_id}"));
    stats::done(started, model_id, Function::Explain, 1);
    reasons(&e, top_k)
}

fn explain_typed_row(model_id: i64, model: &TrainedModel, row: &AnyElement, model_label: &dyn Fn() -> String) -> Explanation {
    crate::row::with_row_cells(model_id, model, row, model_label, |cells| model.explain_cells(cells))
}

/// The whole explanation of one row as jsonb: probability, raw_score (log-odds), base (the log-odds
/// of an average training row) and every column's contribution, largest first. base + the sum of the
/// contributions = raw_score. (0.1.0 called it `explanation`; the C symbol keeps that name.)
#[pg_extern(stable, parallel_safe, cost = 10000, name = "explain_jsonb")]
fn explanation(model_name: &str, features: JsonB) -> JsonB {
    let started = stats::clock();
    let (id, model) = deployed_model(model_name);
    let e = model.explain_json(json_row(&features)).or_raise();
    stats::done(started, id, Function::Explain, 1);
    JsonB(json!({
        "probability": e.probability,
        "raw_score": e.raw_score,
        "base": e.base,
        "contributions": reasons_json(&e, usize::MAX),
    }))
}

/// What if some of the row's values were different: the score before and after `changes` (jsonb:
/// column → new value, null to make it missing), the change, and the top reasons of the new score.
#[pg_extern(stable, parallel_safe, cost = 10000)]
fn what_if(
    model_name: &str,
    features: JsonB,
    changes: JsonB,
    top_k: default!(i32, 5),
) -> TableIterator<'static, (name!(score_before, f64), name!(score_after, f64), name!(change, f64), name!(reasons_after, JsonB))>
{
    let top_k = checked_top_k(top_k);
    let (_, model) = deployed_model(model_name);
    let before = json_row(&features);
    let Some(changes) = changes.0.as_object() else {
        raise(
            Error::invalid_parameter(format!("changes must be a JSON object of column to new value, got {}", changes.0))
                .with_hint("for example '{\"number_inpatient\": 0, \"a1c_result\": \"Norm\"}'"),
        )
    };
    check_changes(&model, model_name, changes);
    let mut after: Map<String, Value> = before.clone();
    after.extend(changes.iter().map(|(k, v)| (k.clone(), v.clone())));
    let score_before = model.predict_json(before).or_raise();
    let explained = model.explain_json(&after).or_raise();
    let score_after = explained.probability;
    TableIterator::once((score_before, score_after, score_after - score_before, JsonB(reasons_json(&explained, top_k))))
}

/// A change must name an input of the model: a misspelt or unused column would change nothing and
/// the analyst would read "no effect" into it.
fn check_changes(model: &TrainedModel, model_name: &str, changes: &Map<String, Value>) {
    let inputs: Vec<&str> = model.recipe.steps.iter().filter(|s| s.is_input()).map(|s| s.column()).collect();
    if let Some(unknown) = changes.keys().find(|k| !inputs.contains(&k.as_str())) {
        raise(
            Error::new(
                ErrorClass::UndefinedColumn,
                format!("changes names \"{unknown}\", which is not an input of model \"{model_name}\""),
            )
            .with_hint(format!("inputs of the model: {}", inputs.join(", "))),
        );
    }
}

fn checked_top_k(top_k: i32) -> usize {
    if top_k <= 0 {
        raise(
            Error::invalid_parameter(format!("top_k must be at least 1, got {top_k}"))
                .with_hint("5 is usual; a model has one reason per input column"),
        );
    }
    top_k as usize
}

fn reasons(
    e: &Explanation,
    top_k: usize,
) -> TableIterator<'static, (name!(feature, String), name!(value, Option<String>), name!(contribution, f64))> {
    let rows: Vec<_> = e.top(top_k).into_iter().map(|c| (c.column.clone(), c.value.clone(), c.contribution)).collect();
    TableIterator::new(rows)
}

fn reasons_json(e: &Explanation, top_k: usize) -> Value {
    Value::Array(
        e.top(top_k)
            .into_iter()
            .map(|c| json!({"feature": c.column, "value": c.value, "contribution": c.contribution}))
            .collect(),
    )
}
