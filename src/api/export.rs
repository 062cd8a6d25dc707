//! Models leaving the warehouse: a gbdt version as a LightGBM text model, and the features a
//! model reads for a row (what the exported model, or any other tool, scores).

use healthml_core::model::lightgbm::to_lightgbm_text;
use healthml_core::Error;
use pgrx::prelude::*;
use pgrx::AnyElement;

use crate::cache::deployed_model;
use crate::error::{raise, OrRaise};

/// A version of a model (NULL: the deployed one) written in another library's format. `lightgbm`:
/// LightGBM's text model format, for gbdt versions and AutoML blends of gbdts; it reads the
/// features `features_row` gives, and scores them as healthml does. A NULL name or format gives
/// NULL, as a strict function would (the version may be NULL).
#[pg_extern(stable)]
fn export_model(
    model_name: Option<&str>,
    version: default!(Option<i32>, "NULL"),
    format: default!(Option<&str>, "'lightgbm'"),
) -> Option<String> {
    let (model_name, format) = (model_name?, format?);
    if format != "lightgbm" {
        raise(
            Error::invalid_parameter(format!("export_model writes format \"lightgbm\", got \"{format}\""))
                .with_hint("call healthml.export_model(model_name, version, 'lightgbm')"),
        );
    }
    let id: i64 = crate::spi::select_one("SELECT healthml.model_version_id($1, $2)", &[model_name.into(), version.into()])
        .unwrap_or_else(|| raise(Error::invalid_parameter(format!("model \"{model_name}\" has no such version"))));
    Some(to_lightgbm_text(&crate::cache::model(id)).or_raise())
}

/// The features the model deployed as `model_name` computes from a whole typed row (its recipe
/// applied), in the model's feature order: the input of an exported model.
#[pg_extern(stable, parallel_safe, cost = 100)]
fn features_row(model_name: &str, row: AnyElement) -> Vec<f64> {
    let (id, model) = deployed_model(model_name);
    crate::row::with_row_cells(id, &model, &row, &|| format!("model \"{model_name}\""), |cells| model.features_of_cells(cells))
}

/// As `features_row`, for one model version by id.
#[pg_extern(stable, parallel_safe, cost = 100)]
fn features_row_by_id(model_id: i64, row: AnyElement) -> Vec<f64> {
    let model = crate::cache::model(model_id);
    crate::row::with_row_cells(model_id, &model, &row, &|| format!("model id {model_id}"), |cells| model.features_of_cells(cells))
}
