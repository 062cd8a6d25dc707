//! `healthml.train`: one call from a relation to a stored, evaluated model version.

use healthml_core::automl::{automl, Entry, Guardrail};
use healthml_core::model::PAYLOAD_FORMAT;
use healthml_core::train::{train as train_model, Algorithm, RecipeSource, TrainOptions};
use healthml_core::Error;
use pgrx::prelude::*;
use pgrx::{JsonB, PgRelation};

use crate::api::recipe::load_recipe;
use crate::error::{raise, OrRaise};
use crate::spi::read_named_relation_where;

/// Trains `algorithm` ('logistic', 'gbdt', or 'auto' for AutoML) to predict `target` from every other
/// column of `relation` (read as the calling user), evaluates it on held-out rows and stores it as the
/// next version of `model_name` in healthml.models (AutoML also stores its leaderboard in
/// healthml.automl_leaderboard). See the README for the options.
#[pg_extern(volatile)]
fn train(
    model_name: &str,
    relation: PgRelation,
    target: &str,
    algorithm: default!(&str, "'gbdt'"),
    options: default!(JsonB, "'{}'"),
) -> TableIterator<
    'static,
    (
        name!(model_id, i64),
        name!(name, String),
        name!(version, i32),
        name!(algorithm, String),
        name!(test_auc, Option<f64>),
        name!(test_average_precision, Option<f64>),
        name!(metrics, JsonB),
    ),
> {
    if model_name.trim().is_empty() {
        raise(Error::invalid_parameter("model_name must not be empty").with_hint("name the model, e.g. 'readmission'"));
    }
    // None: AutoML chooses.
    let named = (algorithm != "auto").then(|| Algorithm::parse(algorithm).or_raise());
    let parsed = TrainOptions::from_json(&options.0).or_raise();
    if let Some(condition) = &parsed.test_where {
        if condition.contains(';') {
            raise(
                Error::invalid_parameter(format!("test_where must be one SQL condition, got {condition:?}"))
                    .with_hint("remove the \";\": e.g. \"patient_nbr % 5 = 0\""),
            );
        }
    }
    let stored_recipe = match &parsed.recipe {
        RecipeSource::Stored(name) => Some(load_recipe(name).1),
        RecipeSource::Fit(_) => None,
    };
    let (source, frame, test_mask) = read_named_relation_where(relation, parsed.test_where.as_deref());
    let (outcome, leaderboard) = match named {
        Some(algorithm) => {
            (train_model(&frame, &source, target, algorithm, &parsed, stored_recipe, test_mask.as_deref()).or_raise(), None)
        }
        None => {
            let found = automl(&frame, &source, target, &parsed, stored_recipe, test_mask.as_deref()).or_raise();
            report_guardrails(&found.guardrails);
            (found.outcome, Some(found.leaderboard))
        }
    };
    let algorithm = outcome.model.estimator.algorithm();
    let mut tags = parsed.tags.clone();
    if named.is_none() && !tags.iter().any(|t| t == "automl") {
        tags.push("automl".into());
    }
    let features: Vec<String> = outcome.model.features.clone();
    let recipe_json = outcome.model.recipe.to_json();
    let test_auc = outcome.metrics["test"]["auc"].as_f64();
    let test_ap = outcome.metrics["test"]["average_precision"].as_f64();
    let (id, version) = Spi::connect_mut(|client| {
        client
            .update(
                "INSERT INTO healthml.models (name, version, algorithm, description, tags, source, target, options,
                     recipe, features, hyperparams, metrics, train_rows, test_rows, data_fingerprint,
                     format_version, payload, payload_sha256, reference)
                 VALUES ($1, coalesce((SELECT max(version) FROM healthml.models WHERE name = $1), 0) + 1,
                         $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                 RETURNING id, version",
                Some(1),
                &[
                    model_name.into(),
                    algorithm.into(),
                    parsed.description.clone().into(),
                    tags.into(),
                    source.clone().into(),
                    target.into(),
                    options.into(),
                    JsonB(recipe_json).into(),
                    features.into(),
                    JsonB(outcome.hyperparams.clone()).into(),
                    JsonB(outcome.metrics.clone()).into(),
                    (outcome.train_rows as i64).into(),
                    (outcome.test_rows as i64).into(),
                    outcome.fingerprint.clone().into(),
                    (PAYLOAD_FORMAT as i32).into(),
                    outcome.payload.clone().into(),
                    outcome.sha256.clone().into(),
                    JsonB(outcome.reference.clone()).into(),
                ],
            )
            .and_then(|t| t.first().get_two::<i64, i32>())
            .map(|(id, version)| (id.unwrap_or_default(), version.unwrap_or_default()))
            .unwrap_or_else(|e| error!("storing the model failed: {e}"))
    });
    if let Some(entries) = leaderboard {
        store_leaderboard(id, &entries);
    }
    TableIterator::once((
        id,
        model_name.to_string(),
        version,
        algorithm.to_string(),
        test_auc,
        test_ap,
        JsonB(outcome.metrics),
    ))
}

/// Guardrail findings reach the caller as they would from any PostgreSQL command: alerts as
/// WARNINGs, warnings and exclusions as NOTICEs (all of them, "ok" included, are in the metrics).
fn report_guardrails(guardrails: &[Guardrail]) {
    for g in guardrails {
        match g.status {
            "alert" => warning!("healthml AutoML guardrail {}: {}", g.check, g.message),
            "warn" => notice!("healthml AutoML guardrail {}: {}", g.check, g.message),
            "excluded" => notice!("healthml AutoML guardrail {}: {}", g.check, g.message),
            _ => {}
        }
    }
}

fn store_leaderboard(model_id: i64, entries: &[Entry]) {
    Spi::connect_mut(|client| {
        for e in entries {
            client
                .update(
                    "INSERT INTO healthml.automl_leaderboard (model_id, rank, candidate, algorithm, hyperparams, cv_auc,
                         cv_auc_sd, cv_average_precision, folds_done, seconds, started_after_seconds, status, chosen)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    None,
                    &[
                        model_id.into(),
                        e.rank.map(|r| r as i32).into(),
                        e.candidate.clone().into(),
                        e.algorithm.clone().into(),
                        JsonB(e.hyperparams.clone()).into(),
                        e.cv_auc.into(),
                        e.cv_auc_sd.into(),
                        e.cv_average_precision.into(),
                        (e.folds_done as i32).into(),
                        e.seconds.into(),
                        e.started_after_seconds.into(),
                        e.status.clone().into(),
                        e.chosen.into(),
                    ],
                )
                .unwrap_or_else(|err| error!("storing the AutoML leaderboard failed: {err}"));
        }
    });
}

/// Both models on the same held-out rows: the test rows of `challenger_id`'s training call, read
/// again from its source with its split options (as the caller). What `healthml.retrain` decides on.
#[pg_extern(volatile)]
fn compare_models(champion_id: i64, challenger_id: i64) -> JsonB {
    let (source, target, options) = Spi::connect(|client| {
        client
            .select("SELECT source, target, options FROM healthml.models WHERE id = $1", Some(1), &[challenger_id.into()])
            .and_then(|t| if t.is_empty() { Ok((None, None, None)) } else { t.first().get_three::<String, String, JsonB>() })
            .unwrap_or_else(|e| error!("reading model {challenger_id} failed: {e}"))
    });
    let (Some(source), Some(target), Some(options)) = (source, target, options) else {
        raise(Error::new(healthml_core::ErrorClass::UndefinedObject, format!("model id {challenger_id} does not exist"))
            .with_hint("pass ids from healthml.models"))
    };
    let parsed = TrainOptions::from_json(&options.0).or_raise();
    let relation = PgRelation::open_with_name_and_share_lock(&source).unwrap_or_else(|_| {
        raise(Error::new(healthml_core::ErrorClass::UndefinedObject, format!("the training relation {source} no longer exists"))
            .with_hint("recreate it, or train a new model on another relation"))
    });
    let (source, frame, test_mask) = read_named_relation_where(relation, parsed.test_where.as_deref());
    let prepared = healthml_core::train::prepare(&frame, &source, &target, &parsed, test_mask.as_deref()).or_raise();
    let test = frame.take_rows(&prepared.split.test_idx);
    let labels = prepared.split.labels_of(&prepared.split.test_idx);
    let judge = |id: i64| {
        let model = crate::cache::model(id);
        let scores = model.predict_frame(&test).or_raise();
        let m = healthml_core::metrics::evaluate(&labels, &scores, model.threshold);
        let mean_score = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
        let observed = m.positives as f64 / (m.n.max(1)) as f64;
        let mut out = healthml_core::train::metrics_to_json(&m);
        out["model_id"] = serde_json::json!(id);
        out["mean_score"] = serde_json::json!(mean_score);
        out["calibration_ratio"] = serde_json::json!((observed > 0.0).then(|| mean_score / observed));
        out
    };
    JsonB(serde_json::json!({
        "relation": source,
        "rows": labels.len(),
        "champion": judge(champion_id),
        "challenger": judge(challenger_id),
    }))
}

/// Whether the caller is inside an explicit transaction block (BEGIN ... COMMIT), where a procedure
/// cannot commit on its own.
#[pg_extern(volatile, parallel_safe)]
fn in_transaction_block() -> bool {
    unsafe { pg_sys::IsTransactionBlock() }
}

extension_sql_file!(
    "../../sql/extension/operations.sql",
    name = "operations",
    requires = ["models_tables", train, compare_models, in_transaction_block]
);
