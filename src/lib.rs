//! healthml: the PostgreSQL shell over `healthml-core`.
//!
//! Each module here converts SQL values, calls the core, and maps core errors to SQLSTATEs through
//! [`error`]. No statistics or model logic lives in this crate.

// A set-returning function's Rust type is pgrx's `TableIterator<(name!(column, type), ...)>`: the
// SQL result's column list, which a type alias would only hide.
#![allow(clippy::type_complexity)]

::pgrx::pg_module_magic!(name, version);

use pgrx::prelude::*;

mod aggregates;
mod api;
mod cache;
mod clinical;
mod error;
mod inference_log;
mod row;
mod settings;
mod spi;
mod stats;
mod version;

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    stats::init();
    inference_log::init();
    cache::init();
}

// The manifest: every hand-written SQL file of the extension, in the order they build on each other
// (pgrx places the functions src/ defines where a file `requires` them). A new file is registered
// here, and its objects go into the next version's upgrade script too (sql/healthml--*--*.sql).

// Before anything else: healthml needs a UTF-8 database.
pgrx::extension_sql_file!("../sql/extension/bootstrap.sql", name = "bootstrap", bootstrap);
// Recipes fitted by healthml.standardize.
pgrx::extension_sql_file!("../sql/extension/recipes.sql", name = "recipes");
// Models, deployments and the registry's readers.
pgrx::extension_sql_file!("../sql/extension/registry.sql", name = "registry");
pgrx::extension_sql_file!("../sql/extension/automl.sql", name = "automl", requires = ["registry"]);
pgrx::extension_sql_file!("../sql/extension/deploy.sql", name = "deploy", requires = ["registry", cache::_deployments_changed]);
pgrx::extension_sql_file!("../sql/extension/thresholds.sql", name = "thresholds", requires = ["registry"]);
pgrx::extension_sql_file!("../sql/extension/scoring.sql", name = "scoring", requires = ["registry"]);
pgrx::extension_sql_file!(
    "../sql/extension/monitoring.sql",
    name = "monitoring",
    requires = ["registry", stats::scoring_stats_rows, stats::forget_scoring_stats]
);
pgrx::extension_sql_file!(
    "../sql/extension/inference_log.sql",
    name = "inference_log",
    requires = ["registry", "deploy", inference_log::inference_log_counters]
);
pgrx::extension_sql_file!(
    "../sql/extension/model_card.sql",
    name = "model_card",
    requires = ["registry", "automl", "thresholds", "monitoring"]
);
pgrx::extension_sql_file!(
    "../sql/extension/operations.sql",
    name = "operations",
    requires = [
        "registry",
        "deploy",
        api::train::train,
        api::train::compare_models,
        api::train::retrain_challenger,
        api::train::in_transaction_block
    ]
);
// healthml.skewness, kurtosis and moments over the C support functions of src/aggregates.rs.
pgrx::extension_sql_file!("../sql/extension/aggregates.sql", name = "aggregates");
// 0.1.0's names kept for one release.
pgrx::extension_sql_file!(
    "../sql/extension/deprecated.sql",
    name = "deprecated",
    requires = ["thresholds", api::explain::explanation, api::train::compare_models]
);
// COMMENT ON the functions src/ defines.
pgrx::extension_sql_file!(
    "../sql/extension/comments.sql",
    name = "comments",
    requires = [
        version::version,
        clinical::icd9_group,
        api::train::train,
        api::train::compare_models,
        api::score::predict,
        api::score::predict_by_id,
        api::score::predict_row,
        api::score::predict_row_by_id,
        api::score::set_decision_threshold,
        api::score::set_threshold,
        api::score::evaluate,
        api::score::roc_curve,
        api::score::pr_curve,
        api::score::calibration_curve,
        api::explain::explain,
        api::explain::explain_by_id,
        api::explain::explain_row,
        api::explain::explain_row_by_id,
        api::explain::explanation,
        api::explain::what_if,
        api::export::export_model,
        api::export::features_row,
        api::export::features_row_by_id,
        api::profile::profile,
        api::recipe::standardize,
        api::recipe::apply_recipe_row,
        api::recipe::apply_recipe_table,
        api::lake::export_parquet,
        api::lake::import_parquet,
        api::monitor::drift,
        api::monitor::inference_drift,
        inference_log::flush_inference_log,
        api::monitor::subgroup_report,
        stats::reset_scoring_stats
    ]
);
// Grants need every object: they come last.
pgrx::extension_sql_file!("../sql/extension/roles.sql", name = "roles", finalize);
