//! `healthml.profile(relation, options)`: one row per column with distribution facts and a suggestion.

use healthml_core::stats::profile::{profile_frame, ProfileOptions};
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::error::OrRaise;
use crate::spi::read_named_relation;

/// Profiles every column of a table or view, as the calling user. Options: `drop_threshold`
/// (NULL share above which `drop` is suggested, default 0.3), `top_values` (default 5),
/// `max_levels` (distinct values above which a text column is `high_cardinality`, default 50).
#[pg_extern(stable)]
fn profile(
    relation: crate::spi::Relation,
    options: default!(JsonB, "'{}'"),
) -> TableIterator<
    'static,
    (
        name!(column_name, String),
        name!(data_type, String),
        name!(rows, i64),
        name!(nulls, i64),
        name!(null_fraction, f64),
        name!(distinct_values, i64),
        name!(nonfinite, Option<i64>),
        name!(mean, Option<f64>),
        name!(stddev, Option<f64>),
        name!(min, Option<f64>),
        name!(p25, Option<f64>),
        name!(median, Option<f64>),
        name!(p75, Option<f64>),
        name!(max, Option<f64>),
        name!(skewness, Option<f64>),
        name!(kurtosis, Option<f64>),
        name!(outliers_iqr, Option<i64>),
        name!(outliers_z, Option<i64>),
        name!(top_values, Option<JsonB>),
        name!(suggestion, String),
        name!(reason, String),
    ),
> {
    let options = ProfileOptions::from_json(&options.0).or_raise();
    let (name, frame) = read_named_relation(relation);
    let profiles = profile_frame(&frame, &name, &options).or_raise();
    TableIterator::new(profiles.into_iter().map(|p| {
        let top_values = p.top_values.map(|values| {
            JsonB(serde_json::Value::Array(
                values.into_iter().map(|(value, count)| serde_json::json!({"value": value, "count": count})).collect(),
            ))
        });
        (
            p.column,
            p.sql_type,
            p.rows as i64,
            p.nulls as i64,
            p.null_fraction,
            p.distinct as i64,
            p.nonfinite.map(|n| n as i64),
            p.mean,
            p.stddev,
            p.min,
            p.p25,
            p.median,
            p.p75,
            p.max,
            p.skewness,
            p.kurtosis,
            p.outliers_iqr.map(|n| n as i64),
            p.outliers_z.map(|n| n as i64),
            top_values,
            p.suggestion.as_str().to_string(),
            p.reason,
        )
    }))
}
