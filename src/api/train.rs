//! `healthml.train`: one call from a relation to a stored, evaluated model version.

use healthml_core::automl::{automl, Entry};
use healthml_core::guardrails::Guardrail;
use healthml_core::intervals::{clusters, metrics_with_intervals, paired_auc_difference, LEVEL};
use healthml_core::model::PAYLOAD_FORMAT;
use healthml_core::train::{train as train_model, Algorithm, RecipeSource, TrainOptions, TrainOutcome};
use healthml_core::Error;
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::api::recipe::load_recipe;
use crate::error::{raise, OrRaise};
use crate::spi::{read_named_relation_where, GroupSample, Relation};

/// Trains `algorithm` ('logistic', 'gbdt', or 'auto' for AutoML) to predict `target` from every other
/// column of `relation` (read as the calling user), evaluates it on held-out rows and stores it as the
/// next version of `model_name` in healthml.models (AutoML also stores its leaderboard in
/// healthml.automl_leaderboard). The options: docs/reference/models.md.
#[pg_extern(volatile)]
fn train(
    model_name: &str,
    relation: Relation,
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
    let trained = train_and_store(model_name, relation, target, algorithm, options);
    TableIterator::once((
        trained.id,
        model_name.to_string(),
        trained.version,
        trained.algorithm,
        trained.test_auc,
        trained.test_ap,
        JsonB(trained.metrics),
    ))
}

struct Trained {
    id: i64,
    version: i32,
    algorithm: String,
    test_auc: Option<f64>,
    test_ap: Option<f64>,
    metrics: serde_json::Value,
}

/// What `healthml.train` does, for it and for retraining: trains, stores the version (and an AutoML
/// leaderboard), reports guardrails. The relation and `test_where` are read as the current user.
fn train_and_store(model_name: &str, relation: Relation, target: &str, algorithm: &str, options: JsonB) -> Trained {
    crate::spi::require_primary("healthml.train");
    require_model_name(model_name);
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
    let (source, frame, test_mask) = read_named_relation_where(relation, parsed.test_where.as_deref(), group_sample(&parsed));
    let (outcome, leaderboard) = match named {
        Some(algorithm) => {
            (train_model(&frame, &source, target, algorithm, &parsed, stored_recipe, test_mask.as_deref()).or_raise(), None)
        }
        None => {
            let found = automl(&frame, &source, target, &parsed, stored_recipe, test_mask.as_deref()).or_raise();
            (found.outcome, Some(found.leaderboard))
        }
    };
    report_guardrails(&outcome.guardrails, named.is_none());
    let algorithm = outcome.model.estimator.algorithm();
    let mut tags = parsed.tags.clone();
    if named.is_none() && !tags.iter().any(|t| t == "automl") {
        tags.push("automl".into());
    }
    let test_auc = outcome.metrics["test"]["auc"].as_f64();
    let test_ap = outcome.metrics["test"]["average_precision"].as_f64();
    let (id, version) =
        store_version(model_name, algorithm, parsed.description.clone(), tags, &source, target, &options.0, &outcome);
    if let Some(entries) = leaderboard {
        store_leaderboard(id, &entries);
    }
    Trained { id, version, algorithm: algorithm.to_string(), test_auc, test_ap, metrics: outcome.metrics }
}

/// A new version needs a name to be found by.
pub(crate) fn require_model_name(model_name: &str) {
    if model_name.trim().is_empty() {
        raise(Error::invalid_parameter("model_name must not be empty").with_hint("name the model, e.g. 'readmission'"));
    }
}

/// Stores `outcome` as the next version of `model_name`; returns its id and version.
#[allow(clippy::too_many_arguments)]
pub(crate) fn store_version(
    model_name: &str,
    algorithm: &str,
    description: Option<String>,
    tags: Vec<String>,
    source: &str,
    target: &str,
    options: &serde_json::Value,
    outcome: &TrainOutcome,
) -> (i64, i32) {
    crate::spi::connect_mut(|client| {
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
                    description.into(),
                    tags.into(),
                    source.into(),
                    target.into(),
                    JsonB(options.clone()).into(),
                    JsonB(outcome.model.recipe.to_json()).into(),
                    outcome.model.features.clone().into(),
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
            .unwrap_or_else(|e| crate::error::own_objects_failed("storing the model", e))
    })
}

/// Guardrail findings reach the caller as they would from any PostgreSQL command: alerts as
/// WARNINGs, accepted leaks, and AutoML's warnings and exclusions, as NOTICEs (all of them, "ok"
/// included, are in the metrics).
fn report_guardrails(guardrails: &[Guardrail], automl: bool) {
    let by = if automl { "healthml AutoML guardrail" } else { "healthml guardrail" };
    for g in guardrails {
        match g.status {
            "alert" => crate::error::warn(format!("{by} {}: {}", g.check, g.message), g.remedy()),
            "accepted" => notice!("{by} {}: {}", g.check, g.message),
            "warn" | "excluded" if automl => notice!("{by} {}: {}", g.check, g.message),
            _ => {}
        }
    }
}

fn store_leaderboard(model_id: i64, entries: &[Entry]) {
    crate::spi::connect_mut(|client| {
        for e in entries {
            client
                .update(
                    "INSERT INTO healthml.automl_leaderboard (model_id, rank, candidate, algorithm, hyperparams, cv_auc,
                         cv_auc_sd, cv_average_precision, folds_done, seconds, started_after_seconds, status, chosen,
                         score_us, explain_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
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
                        e.score_us.into(),
                        e.explain_ms.into(),
                    ],
                )
                .unwrap_or_else(|err| crate::error::own_objects_failed("storing the AutoML leaderboard", err));
        }
    });
}

/// A stored model's training call, as stored: what retraining and comparing replay.
struct StoredTraining {
    label: String,
    name: String,
    source: String,
    target: String,
    algorithm: String,
    options: JsonB,
    created_by: String,
}

fn stored_training(model_id: i64) -> StoredTraining {
    let row = crate::spi::connect(|client| {
        client
            .select(
                "SELECT name, version, source, target, CASE WHEN metrics ? 'automl' THEN 'auto' ELSE algorithm END,
                        options, created_by::text
                 FROM healthml.models WHERE id = $1",
                Some(1),
                &[model_id.into()],
            )
            .map(|t| {
                (!t.is_empty()).then(|| {
                    let r = t.first();
                    let text = |i: usize| r.get::<String>(i).ok().flatten().unwrap_or_default();
                    StoredTraining {
                        label: format!("model \"{}\" version {}", text(1), r.get::<i32>(2).ok().flatten().unwrap_or_default()),
                        name: text(1),
                        source: text(3),
                        target: text(4),
                        algorithm: text(5),
                        options: r.get::<JsonB>(6).ok().flatten().unwrap_or(JsonB(serde_json::json!({}))),
                        created_by: text(7),
                    }
                })
            })
            .unwrap_or_else(|e| crate::error::own_objects_failed(&format!("reading model {model_id}"), e))
    });
    row.unwrap_or_else(|| {
        raise(
            Error::new(healthml_core::ErrorClass::UndefinedObject, format!("model id {model_id} does not exist"))
                .with_hint("pass ids from healthml.models"),
        )
    })
}

/// The training relation a model stored, opened again (its name is schema-qualified).
fn stored_source(stored: &StoredTraining) -> Relation {
    let oid = crate::spi::select_one::<pg_sys::Oid>("SELECT to_regclass($1)::oid", &[stored.source.as_str().into()])
        .unwrap_or_else(|| {
            raise(
                Error::new(
                    healthml_core::ErrorClass::UndefinedObject,
                    format!("the training relation {} of {} no longer exists", stored.source, stored.label),
                )
                .with_hint("recreate it, or train a new model on another relation"),
            )
        });
    Relation::open(oid)
}

/// Trains the next version of the model `champion_id` belongs to, with the champion's stored
/// relation, target, algorithm and options: as `healthml.retrain` does. The stored SQL (source,
/// test_where) runs as the role that trained the champion, which also owns the new version.
#[pg_extern(volatile, name = "_retrain_challenger")]
fn retrain_challenger(champion_id: i64) -> TableIterator<'static, (name!(model_id, i64), name!(version, i32))> {
    let stored = stored_training(champion_id);
    let trained = crate::spi::as_stored_by(&stored.created_by, &stored.label, || {
        train_and_store(&stored.name, stored_source(&stored), &stored.target, &stored.algorithm, JsonB(stored.options.0.clone()))
    });
    TableIterator::once((trained.id, trained.version))
}

/// Both models on the same held-out rows: the test rows of `challenger_id`'s training call, read
/// again from its source with its split options, as the role that trained it (its stored SQL is
/// never replayed with the rights of another role). What `healthml.retrain` decides on.
/// (`healthml.compare_models` takes the versions of a model by name.)
#[pg_extern(volatile, name = "compare_models_by_id")]
fn compare_models(champion_id: i64, challenger_id: i64) -> JsonB {
    let stored = stored_training(challenger_id);
    let parsed = TrainOptions::from_json(&stored.options.0).or_raise();
    let (source, frame, test_mask) = crate::spi::as_stored_by(&stored.created_by, &stored.label, || {
        read_named_relation_where(stored_source(&stored), parsed.test_where.as_deref(), group_sample(&parsed))
    });
    let target = stored.target;
    let prepared = healthml_core::train::prepare(&frame, &source, &target, &parsed, test_mask.as_deref()).or_raise();
    let split = &prepared.split;
    let test = frame.take_rows(&split.test_idx);
    let labels = split.labels_of(&split.test_idx);
    let keys: Vec<&str> = split.test_idx.iter().map(|&r| split.group_keys[r].as_str()).collect();
    let grouped = parsed.group_by.as_deref().map(|by| (keys.as_slice(), by));
    let scores_of = |id: i64| {
        let model = crate::cache::model(id);
        (model.predict_frame(&test).or_raise(), model.threshold)
    };
    let judge = |id: i64, (scores, threshold): &(Vec<f64>, f64)| {
        let mut out = metrics_with_intervals(&labels, scores, *threshold, grouped, parsed.bootstrap, false).or_raise();
        let mean_score = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
        let positives = labels.iter().filter(|&&y| y).count();
        let observed = positives as f64 / labels.len().max(1) as f64;
        out["model_id"] = serde_json::json!(id);
        out["mean_score"] = serde_json::json!(mean_score);
        out["calibration_ratio"] = serde_json::json!((observed > 0.0).then(|| mean_score / observed));
        out
    };
    let (champion, challenger) = (scores_of(champion_id), scores_of(challenger_id));
    let (groups, n_groups) = clusters(grouped.map(|(keys, _)| keys), labels.len());
    let difference = paired_auc_difference(&labels, &champion.0, &challenger.0, &groups, n_groups, parsed.bootstrap);
    JsonB(serde_json::json!({
        "relation": source,
        "rows": labels.len(),
        "champion": judge(champion_id, &champion),
        "challenger": judge(challenger_id, &challenger),
        // challenger minus champion, on the same resamples of the held-out groups
        "auc_difference": difference.map(|d| serde_json::json!({
            "estimate": d.estimate, "low": d.low, "high": d.high, "level": LEVEL,
            "resamples": parsed.bootstrap.resamples, "seed": parsed.bootstrap.seed, "grouped_by": parsed.group_by,
        })),
    }))
}

/// Whether the caller is inside an explicit transaction block (BEGIN ... COMMIT), where a procedure
/// cannot commit on its own.
#[pg_extern(volatile, parallel_safe, name = "_in_transaction_block")]
fn in_transaction_block() -> bool {
    unsafe { pg_sys::IsTransactionBlock() }
}

/// The groups option "sample" keeps, as the read of the training relation filters them.
fn group_sample(options: &TrainOptions) -> Option<GroupSample<'_>> {
    let share = options.sample?;
    let column = options.group_by.as_deref()?;
    Some(GroupSample { column, seed: options.seed, share })
}

/// Whether a group is in a training sample (option "sample" of healthml.train): the WHERE clause of
/// the read, pushed to the shards of a sharded relation. IMMUTABLE: the same key, seed and share
/// always give the same answer, on every server.
#[pg_extern(immutable, strict, parallel_safe, name = "_in_sample")]
fn in_sample(group_key: &str, seed: i64, share: f64) -> bool {
    healthml_core::split::in_sample(group_key.as_bytes(), seed as u64, share)
}

/// As [`in_sample`] for an integer key, which draws as its decimal text does; a call over an integer
/// column needs no cast through text, which postgres_fdw would not send to a shard.
#[pg_extern(immutable, strict, parallel_safe, name = "_in_sample")]
fn in_sample_integer(group_key: i64, seed: i64, share: f64) -> bool {
    healthml_core::split::in_sample(group_key.to_string().as_bytes(), seed as u64, share)
}
