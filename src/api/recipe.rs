//! Standardization recipes: `healthml.standardize` fits and stores one, `healthml.apply_recipe`
//! applies it to a row (jsonb) or writes a standardized copy of a table.

use healthml_core::prep::recipe::{fit_recipe, quote_ident, Recipe, RecipeOptions, Step};
use healthml_core::{Error, ErrorClass};
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::error::{raise, OrRaise};
use crate::spi::read_named_relation;

/// Fits a recipe on a table or view (read as the calling user), stores it in `healthml.recipes` under
/// `options->>'name'` (default: the relation's name; a new version each time) and reports per column
/// what it does, with skewness and kurtosis before and after.
#[pg_extern(volatile)]
fn standardize(
    relation: crate::spi::Relation,
    options: default!(JsonB, "'{}'"),
) -> TableIterator<
    'static,
    (
        name!(recipe_id, i64),
        name!(recipe_name, String),
        name!(version, i32),
        name!(column_name, String),
        name!(action, String),
        name!(detail, String),
        name!(outputs, i32),
        name!(skewness_before, Option<f64>),
        name!(kurtosis_before, Option<f64>),
        name!(skewness_after, Option<f64>),
        name!(kurtosis_after, Option<f64>),
    ),
> {
    crate::spi::require_primary("healthml.standardize");
    let parsed = RecipeOptions::from_json(&options.0).or_raise();
    let name = parsed.name.clone().unwrap_or_else(|| relation.name());
    let (source, frame) = read_named_relation(relation);
    let (recipe, reports) = fit_recipe(&frame, &source, &parsed).or_raise();
    let (id, version) = crate::spi::connect_mut(|client| {
        let row = client
            .update(
                "INSERT INTO healthml.recipes (name, version, source, options, recipe)
                 VALUES ($1, coalesce((SELECT max(version) FROM healthml.recipes WHERE name = $1), 0) + 1, $2, $3, $4)
                 RETURNING id, version",
                Some(1),
                &[name.clone().into(), source.clone().into(), options.into(), JsonB(recipe.to_json()).into()],
            )
            .and_then(|t| t.first().get_two::<i64, i32>())
            .unwrap_or_else(|e| crate::error::own_objects_failed("storing the recipe", e));
        (row.0.unwrap_or_default(), row.1.unwrap_or_default())
    });
    TableIterator::new(reports.into_iter().map(move |r| {
        (
            id,
            name.clone(),
            version,
            r.column,
            r.action.to_string(),
            r.detail,
            r.outputs as i32,
            r.skewness_before,
            r.kurtosis_before,
            r.skewness_after,
            r.kurtosis_after,
        )
    }))
}

/// The latest version of recipe `name`: (id, recipe).
/// Read as the owner of healthml's tables: analysts may apply a recipe to a row without reading its
/// training statistics (the table is admins' only), as they score without reading payloads.
pub(crate) fn load_recipe(name: &str) -> (i64, Recipe) {
    let found = crate::spi::as_models_owner(|| {
        crate::spi::first_row(
            "SELECT id, recipe FROM healthml.recipes WHERE name = $1 ORDER BY version DESC LIMIT 1",
            &[name.into()],
            |column| (crate::spi::value::<i64>(column, 1), crate::spi::value::<JsonB>(column, 2)),
        )
        .unwrap_or((None, None))
    });
    match found {
        (Some(id), Some(json)) => (id, Recipe::from_json(&json.0).or_raise()),
        _ => raise(
            Error::new(ErrorClass::UndefinedObject, format!("recipe \"{name}\" does not exist"))
                .with_hint("fit one with healthml.standardize(relation, '{\"name\": \"...\"}'); list them with SELECT name, version FROM healthml.recipes"),
        ),
    }
}

/// Applies the latest version of recipe `recipe` to one row given as jsonb (column → value) and
/// returns the features as jsonb (feature → number). Missing keys are NULL and imputed; keys that
/// are not columns of the recipe's source are an error.
#[pg_extern(stable, parallel_safe, name = "apply_recipe")]
fn apply_recipe_row(recipe: &str, row: JsonB) -> JsonB {
    let (_, recipe) = load_recipe(recipe);
    let Some(object) = row.0.as_object() else {
        raise(
            Error::invalid_parameter(format!("row must be a JSON object of column to value, got {}", row.0))
                .with_hint(r#"for example '{"age": "[70-80)", "time_in_hospital": 3}'"#),
        )
    };
    let values = recipe.apply_json_row(object).or_raise();
    JsonB(serde_json::Value::Object(
        recipe.feature_names().into_iter().zip(values).map(|(k, v)| (k, serde_json::json!(v))).collect(),
    ))
}

/// Writes `target_table` (a new table; a qualified name is allowed) with the columns the recipe
/// excluded (keys, the target) passed through and one float8 column per feature, computed by SQL
/// generated from the recipe, as the calling user. Returns the number of rows written.
#[pg_extern(volatile, name = "apply_recipe")]
fn apply_recipe_table(recipe: &str, source: crate::spi::Relation, target_table: &str) -> i64 {
    crate::spi::require_primary("healthml.apply_recipe");
    let (_, fitted) = load_recipe(recipe);
    let mut select: Vec<String> = fitted
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Exclude { column } => Some(quote_ident(column)),
            _ => None,
        })
        .collect();
    select.extend(fitted.sql_select_list().into_iter().map(|(expr, name)| format!("{expr} AS {name}")));
    let target = crate::spi::creation_name(target_table);
    let sql = format!("CREATE TABLE {target} AS SELECT {} FROM {}", select.join(", "), source.qualified_name());
    crate::spi::connect_mut(|client| {
        client.update(&sql, None, &[]).unwrap_or_else(|e| crate::error::own_objects_failed(&format!("writing {target}"), e)).len()
            as i64
    })
}
