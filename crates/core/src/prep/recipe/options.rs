//! The options of a recipe (`healthml.standardize`'s and `train`'s "recipe"): parsed and checked.

use serde_json::Value;

use super::*;
use crate::error::{Error, Result};
use crate::options::Options;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumericImpute {
    Median,
    Mean,
    Zero,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalImpute {
    /// NULL becomes its own level, "(missing)": missingness is often informative.
    Missing,
    /// NULL becomes the most frequent level.
    Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    Zscore,
    Robust,
    None,
}

/// How a categorical column becomes numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// One 0/1 feature per kept level (linear models need this).
    OneHot,
    /// One feature: the level's share of the training rows (trees split on it directly; far fewer
    /// features, and an explanation names the column itself).
    Frequency,
    /// One feature: the level's smoothed positive rate of the target on the training rows (out of
    /// fold while the model fits, so a rare level cannot memorize its own labels). Needs the target:
    /// healthml.train only.
    Target,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LogTransform {
    /// log1p where |skewness| > 1 on non-negative values.
    Auto,
    Columns(Vec<String>),
    Off,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecipeOptions {
    pub name: Option<String>,
    pub exclude: Vec<String>,
    pub drop: Vec<String>,
    /// Drop what profiling suggests dropping: too many NULLs, constants, identifiers.
    pub auto_drop: bool,
    /// Share of NULLs beyond which `auto_drop` drops a column; `None`: the caller's default
    /// ([`STANDARDIZE_DROP_THRESHOLD`] for standardize).
    pub drop_threshold: Option<f64>,
    pub numeric_impute: NumericImpute,
    pub categorical_impute: CategoricalImpute,
    /// Integer columns to one-hot as codes.
    pub categorical: Vec<String>,
    /// One-hot integer columns named like codes (`*_id`, `*_code`) with few distinct values.
    pub auto_categorical: bool,
    /// Levels rarer than this share of rows are folded into "(other)".
    pub rare_threshold: f64,
    pub max_levels: usize,
    pub log_transform: LogTransform,
    /// Clip numeric columns at these training quantiles; `None` disables winsorizing.
    pub winsorize: Option<(f64, f64)>,
    pub scale: Scale,
    /// `None`: the caller's default (one-hot for standardize and logistic, frequency for gbdt).
    pub encoding: Option<Encoding>,
}

impl Default for RecipeOptions {
    fn default() -> Self {
        RecipeOptions {
            name: None,
            exclude: Vec::new(),
            drop: Vec::new(),
            auto_drop: true,
            drop_threshold: None,
            numeric_impute: NumericImpute::Median,
            categorical_impute: CategoricalImpute::Missing,
            categorical: Vec::new(),
            auto_categorical: true,
            rare_threshold: 0.005,
            max_levels: 50,
            log_transform: LogTransform::Auto,
            winsorize: Some((0.001, 0.999)),
            scale: Scale::Zscore,
            encoding: None,
        }
    }
}

impl RecipeOptions {
    pub fn from_json(options: &Value) -> Result<Self> {
        let d = RecipeOptions::default();
        let mut o = Options::new("healthml.standardize", options)?;
        let name = match o.raw("name") {
            None => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "option \"name\" of healthml.standardize must be a non-empty string, got {other}"
                )))
            }
        };
        let exclude = o.strings("exclude")?;
        let drop = o.strings("drop")?;
        let auto_drop = o.bool("auto_drop", d.auto_drop)?;
        let drop_threshold = o.optional_f64_in("drop_threshold", 0.0, 1.0)?;
        let numeric_impute = match o.choice("impute_numeric", "median", &["median", "mean", "zero"])? {
            "mean" => NumericImpute::Mean,
            "zero" => NumericImpute::Zero,
            _ => NumericImpute::Median,
        };
        let categorical_impute = match o.choice("impute_categorical", "missing", &["missing", "mode"])? {
            "mode" => CategoricalImpute::Mode,
            _ => CategoricalImpute::Missing,
        };
        let categorical = o.strings("categorical")?;
        let auto_categorical = o.bool("auto_categorical", d.auto_categorical)?;
        let rare_threshold = o.f64_in("rare_threshold", d.rare_threshold, 0.0, 0.5)?;
        let max_levels = o.usize_in("max_levels", d.max_levels, 1, 10_000)?;
        let log_transform = match o.raw("log_transform") {
            None => LogTransform::Auto,
            Some(Value::String(s)) if s == "auto" => LogTransform::Auto,
            Some(Value::Bool(false)) => LogTransform::Off,
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                LogTransform::Columns(items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            }
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "option \"log_transform\" of healthml.standardize must be \"auto\", false or a list of columns, got {other}"
                )))
            }
        };
        let winsorize = match o.raw("winsorize") {
            None => d.winsorize,
            Some(Value::Bool(false)) => None,
            Some(Value::Array(pair))
                if pair.len() == 2
                    && matches!((pair[0].as_f64(), pair[1].as_f64()), (Some(lo), Some(hi)) if 0.0 <= lo && lo < hi && hi <= 1.0) =>
            {
                Some((pair[0].as_f64().unwrap_or(0.0), pair[1].as_f64().unwrap_or(1.0)))
            }
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "option \"winsorize\" of healthml.standardize must be false or [lower, upper] quantiles with 0 <= lower < upper <= 1, got {other}"
                ))
                .with_hint(r#"for example {"winsorize": [0.01, 0.99]}"#))
            }
        };
        let scale = match o.choice("scale", "zscore", &["zscore", "robust", "none"])? {
            "robust" => Scale::Robust,
            "none" => Scale::None,
            _ => Scale::Zscore,
        };
        let encoding = match o.raw("categorical_encoding") {
            None => None,
            Some(Value::String(s)) if s == "one_hot" => Some(Encoding::OneHot),
            Some(Value::String(s)) if s == "frequency" => Some(Encoding::Frequency),
            Some(Value::String(s)) if s == "target" => Some(Encoding::Target),
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "option \"categorical_encoding\" must be \"one_hot\", \"frequency\" or \"target\" (healthml.train only), got {other}"
                )))
            }
        };
        o.finish()?;
        Ok(RecipeOptions {
            encoding,
            name,
            exclude,
            drop,
            auto_drop,
            drop_threshold,
            numeric_impute,
            categorical_impute,
            categorical,
            auto_categorical,
            rare_threshold,
            max_levels,
            log_transform,
            winsorize,
            scale,
        })
    }
}
