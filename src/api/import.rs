//! `healthml.import_model`: a model trained elsewhere, stored as an ordinary version.

use healthml_core::model::import::{import_model as read_model, imported_version, ImportOptions};
use pgrx::prelude::*;
use pgrx::JsonB;

use healthml_core::prep::recipe::{parse_qualified_name, quote_ident};

use crate::error::{raise_with, OrRaise};
use crate::spi::{read_named_relation, Relation};

/// The relation a name in the options stands for, resolved as a regclass argument would be (an
/// unqualified name in the caller's search_path); the name is parsed here and quoted again, never
/// pasted into SQL as it came.
fn relation_oid(name: &str) -> pg_sys::Oid {
    let Some(parts) = parse_qualified_name(name) else {
        raise_with(
            PgSqlErrorCode::ERRCODE_INVALID_NAME,
            format!("evaluate_on {name:?} is not a relation name"),
            Some("name a table or view, e.g. \"readmission.cohort\" (double-quote parts with other characters)"),
        )
    };
    let quoted: Vec<String> = parts.iter().map(|p| quote_ident(p)).collect();
    crate::spi::select_one::<pg_sys::Oid>("SELECT pg_catalog.to_regclass($1)::pg_catalog.oid", &[quoted.join(".").into()])
        .unwrap_or_else(|| {
            raise_with(
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                format!("relation {name:?} of evaluate_on does not exist"),
                Some("name an existing table or view, schema-qualified, e.g. \"readmission.cohort\""),
            )
        })
}

/// Reads `model` (`format` 'lightgbm': LightGBM's text model format; 'xgboost': XGBoost's JSON
/// model format) and stores it as the next version of `model_name`: its features read from columns
/// as the options map them, measured on the relation `evaluate_on` (read as the caller) when it is
/// given. Then deploy, rollback, thresholds, monitoring and explanations work as for a model
/// trained here. The options: docs/reference/models.md.
#[pg_extern(volatile)]
fn import_model(
    model_name: &str,
    format: &str,
    model: &str,
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
    crate::spi::require_primary("healthml.import_model");
    crate::api::train::require_model_name(model_name);
    let parsed = ImportOptions::from_json(&options.0).or_raise();
    let trained = read_model(format, model, &parsed).or_raise();
    let evaluation = parsed.evaluate_on.as_deref().map(|name| read_named_relation(Relation::open(relation_oid(name))));
    let target = parsed.target.clone().unwrap_or_default();
    let outcome = imported_version(
        trained,
        format,
        model,
        evaluation.as_ref().map(|(source, frame)| (frame, source.as_str(), target.as_str())),
    )
    .or_raise();
    let source = evaluation.as_ref().map_or_else(|| format!("imported ({format})"), |(source, _)| source.clone());
    let mut tags = parsed.tags.clone();
    if !tags.iter().any(|t| t == "imported") {
        tags.push("imported".into());
    }
    let (id, version) = crate::api::train::store_version(
        model_name,
        "gbdt",
        parsed.description.clone(),
        tags,
        &source,
        &target,
        &options.0,
        &outcome,
    );
    TableIterator::once((
        id,
        model_name.to_string(),
        version,
        "gbdt".to_string(),
        outcome.metrics["test"]["auc"].as_f64(),
        outcome.metrics["test"]["average_precision"].as_f64(),
        JsonB(outcome.metrics),
    ))
}
