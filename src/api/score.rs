//! Scoring with the deployed model: `healthml.predict` on a jsonb row.

use pgrx::prelude::*;
use pgrx::JsonB;

use healthml_core::Error;

use crate::cache::deployed_model;
use crate::error::{raise, OrRaise};

/// Probability of the positive class for one row (jsonb: source column → value) from the model
/// deployed as `model_name`. Missing keys are NULL (imputed by the recipe); keys that are not
/// columns of the training relation are an error.
#[pg_extern(stable, parallel_safe)]
fn predict(model_name: &str, features: JsonB) -> f64 {
    let (_, model) = deployed_model(model_name);
    let Some(row) = features.0.as_object() else {
        raise(
            Error::invalid_parameter(format!("features must be a JSON object of column to value, got {}", features.0))
                .with_hint("pass to_jsonb(row) or a literal like '{\"time_in_hospital\": 3}'"),
        )
    };
    model.predict_json(row).or_raise()
}
