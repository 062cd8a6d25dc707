//! Standardization recipes: fitted once on training rows, stored as JSON, applied identically to one
//! row (scoring), to a [`Frame`] (training) and, as generated SQL, to a whole table.
//!
//! Per numeric column: impute (median / mean / zero) → winsorize at training quantiles → log1p when
//! strongly skewed and non-negative → z-score or robust (median / IQR) scaling. Per categorical column:
//! impute (an explicit "(missing)" level or the mode) → fold rare levels into "(other)" → one-hot.
//! Everything a transform needs is a training-time statistic stored in the recipe, so applying it never
//! looks at the data it is applied to.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorClass, Result};
use crate::frame::{ColumnData, Frame};
use crate::options::Options;
use crate::stats::profile::{profile_column, ProfileOptions, Suggestion};
use crate::stats::quantile::quantile_sorted;
use crate::stats::Moments;

/// Version of the stored recipe JSON; a recipe of another format is refused, never misread.
pub const RECIPE_FORMAT: u32 = 1;
pub const MISSING_LEVEL: &str = "(missing)";
/// Default share of NULLs beyond which a standardization recipe drops a column (as profile suggests).
pub const STANDARDIZE_DROP_THRESHOLD: f64 = 0.3;
pub const OTHER_LEVEL: &str = "(other)";
/// PostgreSQL truncates identifiers beyond this many bytes (NAMEDATALEN - 1).
const MAX_IDENTIFIER_BYTES: usize = 63;

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

/// What happens to one source column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// Left out of the recipe by the user (keys, the target); passes through untouched.
    Exclude {
        column: String,
    },
    Drop {
        column: String,
        reason: String,
    },
    Numeric {
        column: String,
        impute: f64,
        lower: Option<f64>,
        upper: Option<f64>,
        log1p: bool,
        center: f64,
        scale: f64,
    },
    Categorical {
        column: String,
        /// The source is an integer column whose values are codes.
        from_number: bool,
        impute: String,
        levels: Vec<String>,
        other: bool,
    },
    /// One feature: the training share of the row's level (0 for a level never seen).
    Frequency {
        column: String,
        from_number: bool,
        impute: String,
        levels: Vec<String>,
        shares: Vec<f64>,
    },
    /// One feature: the training rows' smoothed positive rate for the row's level (`prior`, the
    /// overall rate, for a level never seen).
    TargetRate {
        column: String,
        from_number: bool,
        impute: String,
        levels: Vec<String>,
        rates: Vec<f64>,
        prior: f64,
    },
}

impl Step {
    pub fn column(&self) -> &str {
        match self {
            Step::Exclude { column }
            | Step::Drop { column, .. }
            | Step::Numeric { column, .. }
            | Step::Categorical { column, .. }
            | Step::Frequency { column, .. }
            | Step::TargetRate { column, .. } => column,
        }
    }

    /// The step reads a number (anything else reads a level, or nothing).
    pub fn is_numeric(&self) -> bool {
        matches!(self, Step::Numeric { .. })
    }

    /// The step turns its column into features (excluded and dropped columns do not).
    pub fn is_input(&self) -> bool {
        !matches!(self, Step::Exclude { .. } | Step::Drop { .. })
    }

    /// How many features the step makes, without building their names.
    fn feature_count(&self) -> usize {
        match self {
            Step::Exclude { .. } | Step::Drop { .. } => 0,
            Step::Numeric { .. } | Step::Frequency { .. } | Step::TargetRate { .. } => 1,
            Step::Categorical { levels, other, .. } => levels.len() + *other as usize,
        }
    }

    fn feature_names(&self) -> Vec<String> {
        match self {
            Step::Exclude { .. } | Step::Drop { .. } => Vec::new(),
            Step::Numeric { column, .. } | Step::Frequency { column, .. } | Step::TargetRate { column, .. } => {
                vec![column.clone()]
            }
            Step::Categorical { column, levels, other, .. } => {
                levels.iter().map(|l| format!("{column}={l}")).chain(other.then(|| format!("{column}={OTHER_LEVEL}"))).collect()
            }
        }
    }
}

/// A fitted recipe: what the stored jsonb holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    pub format: u32,
    pub source: String,
    pub rows: u64,
    pub steps: Vec<Step>,
}

/// One line of `healthml.standardize`'s answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    pub column: String,
    pub action: &'static str,
    pub detail: String,
    pub outputs: usize,
    pub skewness_before: Option<f64>,
    pub kurtosis_before: Option<f64>,
    pub skewness_after: Option<f64>,
    pub kurtosis_after: Option<f64>,
}

/// A level's target rate counts as this many extra rows at the overall rate: rare levels stay near it.
pub const TARGET_SMOOTHING: f64 = 20.0;

/// Turns every frequency step of `recipe` into a target-rate step fitted on `frame`'s rows and their
/// `labels`. Returns, per converted feature (its index among the recipe's features), the rows'
/// out-of-fold rates: a row in fold `fold[r]` gets the rate of its level among the other folds' rows,
/// so a model fitted on them never sees a rate computed from its own label.
pub fn target_encode(
    recipe: &mut Recipe,
    frame: &Frame,
    labels: &[bool],
    fold: &[usize],
    folds: usize,
) -> Result<Vec<(usize, Vec<f64>)>> {
    let rows = frame.rows();
    let mut converted = Vec::new();
    let mut feature = 0;
    for step in recipe.steps.iter_mut() {
        let width = step.feature_count();
        if let Step::Frequency { column, from_number, impute, levels, .. } = step {
            let data = frame.column(column).ok_or_else(|| {
                Error::new(ErrorClass::UndefinedColumn, format!("column \"{column}\" of the recipe is missing"))
            })?;
            let index: HashMap<&str, usize> = levels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
            let level_of: Vec<Option<usize>> = (0..rows)
                .map(|r| {
                    let cell = match &data.data {
                        ColumnData::Numeric(v) => v[r].map_or(Cell::Null, Cell::Number),
                        ColumnData::Categorical { codes, levels } => {
                            codes[r].map_or(Cell::Null, |c| Cell::Text(levels[c as usize].as_str()))
                        }
                    };
                    let mut owned = None;
                    index.get(level_text(cell, *from_number, impute, &mut owned)).copied()
                })
                .collect();
            let width_levels = levels.len();
            let mut count = vec![vec![0.0; width_levels + 1]; folds];
            let mut positive = vec![vec![0.0; width_levels + 1]; folds];
            for r in 0..rows {
                let l = level_of[r].unwrap_or(width_levels);
                count[fold[r]][l] += 1.0;
                positive[fold[r]][l] += labels[r] as u8 as f64;
            }
            let sum = |table: &[Vec<f64>], l: usize| table.iter().map(|f| f[l]).sum::<f64>();
            let all_rows = rows as f64;
            let all_positive = labels.iter().filter(|&&y| y).count() as f64;
            let prior = all_positive / all_rows.max(1.0);
            let smoothed = |p: f64, n: f64, prior: f64| (p + TARGET_SMOOTHING * prior) / (n + TARGET_SMOOTHING);
            let rates: Vec<f64> = (0..width_levels).map(|l| smoothed(sum(&positive, l), sum(&count, l), prior)).collect();
            let fold_rows: Vec<f64> = count.iter().map(|f| f.iter().sum()).collect();
            let fold_positive: Vec<f64> = positive.iter().map(|f| f.iter().sum()).collect();
            let out_of_fold: Vec<f64> = (0..rows)
                .map(|r| {
                    let (f, l) = (fold[r], level_of[r].unwrap_or(width_levels));
                    let rest_rows = all_rows - fold_rows[f];
                    let prior_f = if rest_rows > 0.0 { (all_positive - fold_positive[f]) / rest_rows } else { prior };
                    smoothed(sum(&positive, l) - positive[f][l], sum(&count, l) - count[f][l], prior_f)
                })
                .collect();
            *step = Step::TargetRate {
                column: std::mem::take(column),
                from_number: *from_number,
                impute: std::mem::take(impute),
                levels: std::mem::take(levels),
                rates,
                prior,
            };
            converted.push((feature, out_of_fold));
        }
        feature += width;
    }
    Ok(converted)
}

/// A value of a row to transform, from jsonb or from a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Number(f64),
    Text(&'a str),
}

pub fn fit_recipe(frame: &Frame, source: &str, options: &RecipeOptions) -> Result<(Recipe, Vec<FitReport>)> {
    if options.encoding == Some(Encoding::Target) {
        return Err(Error::invalid_parameter("categorical_encoding \"target\" needs the target, which a recipe alone does not have")
            .with_hint(r#"use it when training: healthml.train(..., options => '{"recipe": {"categorical_encoding": "target"}}'), or use "frequency""#));
    }
    if frame.rows() == 0 {
        return Err(Error::new(ErrorClass::InsufficientData, format!("{source} has no rows to fit a recipe on"))
            .with_hint("fit the recipe on a relation with data"));
    }
    for (option, names) in [("exclude", &options.exclude), ("drop", &options.drop), ("categorical", &options.categorical)]
        .into_iter()
        .chain(match &options.log_transform {
            LogTransform::Columns(cols) => Some(("log_transform", cols)),
            _ => None,
        })
    {
        for name in names {
            if frame.column(name).is_none() {
                return Err(unknown_column(name, option, source, frame));
            }
        }
    }
    let drop_threshold = options.drop_threshold.unwrap_or(STANDARDIZE_DROP_THRESHOLD);
    let profile_options = ProfileOptions { drop_threshold, top_values: 0, max_levels: options.max_levels };
    let mut steps = Vec::new();
    let mut reports = Vec::new();
    for column in &frame.columns {
        let name = &column.name;
        let mut report = FitReport {
            column: name.clone(),
            action: "",
            detail: String::new(),
            outputs: 0,
            skewness_before: None,
            kurtosis_before: None,
            skewness_after: None,
            kurtosis_after: None,
        };
        if let ColumnData::Numeric(values) = &column.data {
            let m: Moments = values.iter().copied().collect();
            report.skewness_before = m.skewness();
            report.kurtosis_before = m.kurtosis();
        }
        let step = if options.exclude.contains(name) {
            report.detail = "excluded by option: passed through untouched".into();
            Step::Exclude { column: name.clone() }
        } else if options.drop.contains(name) {
            report.detail = "dropped by option".into();
            Step::Drop { column: name.clone(), reason: report.detail.clone() }
        } else {
            let profile = profile_column(column, &profile_options);
            let auto_dropped = options.auto_drop
                && matches!(profile.suggestion, Suggestion::Drop | Suggestion::Constant | Suggestion::Identifier);
            let integer_column = is_integer_sql_type(&column.sql_type);
            let as_categorical = options.categorical.contains(name)
                || (options.auto_categorical && integer_column && profile.suggestion == Suggestion::Categorical);
            if options.categorical.contains(name) && !integer_column && column.is_numeric() {
                return Err(Error::invalid_parameter(format!(
                    "column \"{name}\" is {} and cannot be one-hot encoded as codes",
                    column.sql_type
                ))
                .with_hint("option \"categorical\" takes integer columns; text columns are one-hot encoded already"));
            }
            if auto_dropped {
                report.detail = format!("{}: {}", profile.suggestion.as_str(), profile.reason);
                Step::Drop { column: name.clone(), reason: report.detail.clone() }
            } else {
                match &column.data {
                    ColumnData::Numeric(values) if !as_categorical => fit_numeric(name, values, options, &mut report)?,
                    ColumnData::Numeric(values) => {
                        let texts: Vec<Option<String>> =
                            values.iter().map(|v| v.filter(|x| x.is_finite()).map(format_code)).collect();
                        let refs: Vec<Option<&str>> = texts.iter().map(|t| t.as_deref()).collect();
                        fit_categorical(name, true, &refs, options, &mut report)
                    }
                    ColumnData::Categorical { codes, levels } => {
                        let refs: Vec<Option<&str>> = codes.iter().map(|c| c.map(|c| levels[c as usize].as_str())).collect();
                        fit_categorical(name, false, &refs, options, &mut report)
                    }
                }
            }
        };
        report.action = match &step {
            Step::Exclude { .. } => "excluded",
            Step::Drop { .. } => "dropped",
            Step::Numeric { .. } => "numeric",
            Step::Categorical { .. } => "one_hot",
            Step::Frequency { .. } => "frequency",
            Step::TargetRate { .. } => "target_rate",
        };
        report.outputs = step.feature_count();
        steps.push(step);
        reports.push(report);
    }
    let recipe = Recipe { format: RECIPE_FORMAT, source: source.to_string(), rows: frame.rows() as u64, steps };
    if recipe.feature_names().is_empty() {
        return Err(Error::new(ErrorClass::InsufficientData, format!("the recipe for {source} keeps no column"))
            .with_hint("every column was excluded or dropped: relax \"drop_threshold\" or set \"auto_drop\": false"));
    }
    Ok((recipe, reports))
}

fn unknown_column(name: &str, option: &str, source: &str, frame: &Frame) -> Error {
    let known: Vec<&str> = frame.columns.iter().map(|c| c.name.as_str()).collect();
    Error::new(ErrorClass::UndefinedColumn, format!("column \"{name}\" named in option \"{option}\" does not exist in {source}"))
        .with_hint(format!("columns of {source}: {}", known.join(", ")))
}

fn is_integer_sql_type(sql_type: &str) -> bool {
    matches!(sql_type, "smallint" | "integer" | "bigint")
}

/// Integer codes as PostgreSQL prints them (`6`, not `6.0`), so SQL and Rust agree on the level.
fn format_code(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn fit_numeric(name: &str, values: &[Option<f64>], options: &RecipeOptions, report: &mut FitReport) -> Result<Step> {
    let mut finite: Vec<f64> = values.iter().flatten().copied().filter(|x| x.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    let impute = match options.numeric_impute {
        NumericImpute::Median => quantile_sorted(&finite, 0.5).unwrap_or(0.0),
        NumericImpute::Mean => {
            if finite.is_empty() {
                0.0
            } else {
                finite.iter().sum::<f64>() / finite.len() as f64
            }
        }
        NumericImpute::Zero => 0.0,
    };
    let (mut lower, upper) = match options.winsorize {
        Some((lo, hi)) => (quantile_sorted(&finite, lo), quantile_sorted(&finite, hi)),
        None => (None, None),
    };
    let clip = |x: f64| {
        let x = lower.map_or(x, |lo| x.max(lo));
        upper.map_or(x, |hi| x.min(hi))
    };
    let imputed_clipped: Vec<f64> = values.iter().map(|v| clip(v.filter(|x| x.is_finite()).unwrap_or(impute))).collect();
    let clipped_moments: Moments = imputed_clipped.iter().map(|&x| Some(x)).collect();
    let non_negative = clipped_moments.min().is_some_and(|m| m >= 0.0);
    let log1p = match &options.log_transform {
        LogTransform::Off => false,
        LogTransform::Auto => non_negative && clipped_moments.skewness().is_some_and(|s| s.abs() > 1.0),
        LogTransform::Columns(cols) if cols.iter().any(|c| c == name) => {
            if !non_negative {
                return Err(Error::invalid_parameter(format!(
                    "column \"{name}\" has negative values and cannot be log-transformed"
                ))
                .with_hint("log1p needs values >= 0: remove the column from \"log_transform\""));
            }
            true
        }
        LogTransform::Columns(_) => false,
    };
    // log1p of a value below 0 is not defined: scoring data must never reach it, even unclipped.
    if log1p {
        lower = Some(lower.map_or(0.0, |lo| lo.max(0.0)));
    }
    let transformed: Vec<f64> = imputed_clipped.iter().map(|&x| if log1p { (1.0 + x.max(0.0)).ln() } else { x }).collect();
    let (center, scale) = match options.scale {
        Scale::None => (0.0, 1.0),
        Scale::Zscore => {
            let m: Moments = transformed.iter().map(|&x| Some(x)).collect();
            (m.mean().unwrap_or(0.0), nonzero_scale(m.stddev()))
        }
        Scale::Robust => {
            let mut sorted = transformed.clone();
            sorted.sort_by(f64::total_cmp);
            let median = quantile_sorted(&sorted, 0.5).unwrap_or(0.0);
            let iqr = quantile_sorted(&sorted, 0.75).unwrap_or(0.0) - quantile_sorted(&sorted, 0.25).unwrap_or(0.0);
            let m: Moments = transformed.iter().map(|&x| Some(x)).collect();
            (median, if iqr > 0.0 { iqr } else { nonzero_scale(m.stddev()) })
        }
    };
    let step = Step::Numeric { column: name.to_string(), impute, lower, upper, log1p, center, scale };
    let after: Moments = values.iter().map(|v| Some(transform_numeric(&step, *v))).collect();
    report.skewness_after = after.skewness();
    report.kurtosis_after = after.kurtosis();
    let mut parts = vec![format!("impute {} {}", options.numeric_impute_name(), short(impute))];
    if let (Some(lo), Some(hi)) = (lower, upper) {
        parts.push(format!("clip [{}, {}]", short(lo), short(hi)));
    } else if let Some(lo) = lower {
        parts.push(format!("clip below at {}", short(lo)));
    }
    if log1p {
        parts.push("log1p".into());
    }
    match options.scale {
        Scale::Zscore => parts.push(format!("z-score (mean {}, sd {})", short(center), short(scale))),
        Scale::Robust => parts.push(format!("robust (median {}, IQR {})", short(center), short(scale))),
        Scale::None => {}
    }
    report.detail = parts.join(", ");
    Ok(step)
}

impl RecipeOptions {
    fn numeric_impute_name(&self) -> &'static str {
        match self.numeric_impute {
            NumericImpute::Median => "median",
            NumericImpute::Mean => "mean",
            NumericImpute::Zero => "zero",
        }
    }
}

fn nonzero_scale(sd: Option<f64>) -> f64 {
    match sd {
        Some(s) if s > 0.0 && s.is_finite() => s,
        _ => 1.0,
    }
}

fn short(x: f64) -> String {
    format!("{}", (x * 1e4).round() / 1e4)
}

fn fit_categorical(
    name: &str,
    from_number: bool,
    values: &[Option<&str>],
    options: &RecipeOptions,
    report: &mut FitReport,
) -> Step {
    let mut counts: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    let mut nulls = 0u64;
    for v in values {
        match v {
            Some(v) => *counts.entry(v).or_default() += 1,
            None => nulls += 1,
        }
    }
    let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let impute = match options.categorical_impute {
        CategoricalImpute::Mode => ranked.first().map_or(MISSING_LEVEL, |(v, _)| v).to_string(),
        CategoricalImpute::Missing => MISSING_LEVEL.to_string(),
    };
    if nulls > 0 {
        match ranked.iter_mut().find(|(v, _)| *v == impute) {
            Some((_, c)) => *c += nulls,
            None => ranked.push((MISSING_LEVEL, nulls)),
        }
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    }
    let total = values.len().max(1) as f64;
    if options.encoding == Some(Encoding::Frequency) {
        report.detail = format!(
            "frequency of {} level{}{}",
            ranked.len(),
            if ranked.len() == 1 { "" } else { "s" },
            if nulls > 0 { format!(", NULL as {impute}") } else { String::new() },
        );
        return Step::Frequency {
            column: name.to_string(),
            from_number,
            impute,
            levels: ranked.iter().map(|(v, _)| v.to_string()).collect(),
            shares: ranked.iter().map(|(_, c)| *c as f64 / total).collect(),
        };
    }
    let levels: Vec<String> = ranked
        .iter()
        .filter(|(_, c)| *c as f64 / total >= options.rare_threshold)
        .take(options.max_levels)
        .map(|(v, _)| v.to_string())
        .collect();
    let folded = ranked.len() - levels.len();
    let other = folded > 0;
    report.detail = format!(
        "one-hot {} level{}{}{}",
        levels.len(),
        if levels.len() == 1 { "" } else { "s" },
        if other { format!(", {folded} rare folded into {OTHER_LEVEL}") } else { String::new() },
        if nulls > 0 { format!(", NULL as {impute}") } else { String::new() },
    );
    Step::Categorical { column: name.to_string(), from_number, impute, levels, other }
}

fn transform_numeric(step: &Step, value: Option<f64>) -> f64 {
    let Step::Numeric { impute, lower, upper, log1p, center, scale, .. } = step else { return f64::NAN };
    let mut x = match value {
        Some(x) if x.is_finite() => x,
        _ => *impute,
    };
    if let Some(lo) = lower {
        x = x.max(*lo);
    }
    if let Some(hi) = upper {
        x = x.min(*hi);
    }
    if *log1p {
        x = (1.0 + x).ln();
    }
    (x - center) / scale
}

impl Recipe {
    pub fn from_json(value: &Value) -> Result<Recipe> {
        let format = value.get("format").and_then(Value::as_u64);
        if format != Some(RECIPE_FORMAT as u64) {
            return Err(Error::corrupted(format!(
                "recipe format {} is not supported (this healthml reads format {RECIPE_FORMAT})",
                format.map_or("missing".to_string(), |f| f.to_string())
            ))
            .with_hint("fit the recipe again with healthml.standardize"));
        }
        serde_json::from_value(value.clone()).map_err(|e| {
            Error::corrupted(format!("stored recipe cannot be read: {e}"))
                .with_hint("fit the recipe again with healthml.standardize")
        })
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub fn feature_names(&self) -> Vec<String> {
        self.steps.iter().flat_map(Step::feature_names).collect()
    }

    /// What applying the recipe indexes by: a value for every level of a frequency or target-rate
    /// step, and finite numbers where a feature is computed from them.
    pub fn check(&self) -> std::result::Result<(), String> {
        for step in &self.steps {
            let finite = match step {
                Step::Frequency { column, levels, shares, .. } if levels.len() != shares.len() => {
                    return Err(format!("column {column:?} has {} levels and {} shares", levels.len(), shares.len()));
                }
                Step::TargetRate { column, levels, rates, .. } if levels.len() != rates.len() => {
                    return Err(format!("column {column:?} has {} levels and {} rates", levels.len(), rates.len()));
                }
                Step::Numeric { impute, center, scale, .. } => impute.is_finite() && center.is_finite() && scale.is_finite(),
                Step::Frequency { shares, .. } => shares.iter().all(|x| x.is_finite()),
                Step::TargetRate { rates, prior, .. } => prior.is_finite() && rates.iter().all(|x| x.is_finite()),
                _ => true,
            };
            if !finite {
                return Err(format!("column {:?} has a statistic that is not a finite number", step.column()));
            }
        }
        Ok(())
    }

    /// For each feature, the index of the step (source column) it comes from.
    pub fn feature_steps(&self) -> Vec<usize> {
        self.steps.iter().enumerate().flat_map(|(i, step)| std::iter::repeat_n(i, step.feature_count())).collect()
    }

    pub fn source_columns(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(Step::column)
    }

    /// Transforms one row given as a JSON object of column → value. A missing key is NULL (and
    /// imputed); a key the recipe never saw is refused, since it is most likely a misspelling.
    pub fn apply_json_row(&self, row: &Map<String, Value>) -> Result<Vec<f64>> {
        Ok(self.apply_cells(&self.json_cells(row)?))
    }

    /// One cell per step from a JSON row, with the checks of [`Recipe::apply_json_row`].
    pub fn json_cells<'a>(&self, row: &'a Map<String, Value>) -> Result<Vec<Cell<'a>>> {
        if let Some(unknown) = row.keys().find(|k| !self.source_columns().any(|c| c == k.as_str())) {
            return Err(Error::new(
                ErrorClass::UndefinedColumn,
                format!("key \"{unknown}\" is not a column of the recipe's source {}", self.source),
            )
            .with_hint(format!("known columns: {}", self.source_columns().collect::<Vec<_>>().join(", "))));
        }
        self.steps
            .iter()
            .map(|step| json_cell(step.column(), row.get(step.column()).unwrap_or(&Value::Null), step.is_numeric()))
            .collect()
    }

    /// Transforms one row given as one [`Cell`] per step, in step order (cells of excluded and
    /// dropped steps are ignored): the path of JSON rows and typed SQL rows. Frames go through the
    /// same per-step transform, column by column.
    pub fn apply_cells(&self, cells: &[Cell<'_>]) -> Vec<f64> {
        let mut out = Vec::with_capacity(cells.len());
        for (step, cell) in self.steps.iter().zip(cells) {
            self.push_features(step, *cell, &mut out);
        }
        out
    }

    fn push_features(&self, step: &Step, cell: Cell<'_>, out: &mut Vec<f64>) {
        match step {
            Step::Exclude { .. } | Step::Drop { .. } => {}
            Step::Numeric { .. } => {
                let value = match cell {
                    Cell::Number(x) => Some(x),
                    _ => None,
                };
                out.push(transform_numeric(step, value));
            }
            Step::Frequency { from_number, impute, levels, shares, .. } => {
                let mut owned = None;
                let text = level_text(cell, *from_number, impute, &mut owned);
                out.push(levels.iter().position(|l| l == text).map_or(0.0, |i| shares[i]));
            }
            Step::TargetRate { from_number, impute, levels, rates, prior, .. } => {
                let mut owned = None;
                let text = level_text(cell, *from_number, impute, &mut owned);
                out.push(levels.iter().position(|l| l == text).map_or(*prior, |i| rates[i]));
            }
            Step::Categorical { from_number, impute, levels, other, .. } => {
                let mut owned = None;
                let text = level_text(cell, *from_number, impute, &mut owned);
                let hit = levels.iter().position(|l| l == text);
                out.extend(levels.iter().enumerate().map(|(i, _)| if hit == Some(i) { 1.0 } else { 0.0 }));
                if *other {
                    out.push(if hit.is_none() { 1.0 } else { 0.0 });
                }
            }
        }
    }

    /// Transforms every row of `frame` (which must hold the recipe's kept columns); column-major.
    pub fn apply_frame(&self, frame: &Frame) -> Result<Vec<Vec<f64>>> {
        let rows = frame.rows();
        let names = self.feature_names();
        let mut features: Vec<Vec<f64>> = names.iter().map(|_| Vec::with_capacity(rows)).collect();
        let mut row_out = Vec::with_capacity(names.len());
        let mut columns = Vec::new();
        for step in &self.steps {
            if !step.is_input() {
                continue;
            }
            let column = frame.column(step.column()).ok_or_else(|| {
                Error::new(ErrorClass::UndefinedColumn, format!("column \"{}\" of the recipe is missing", step.column()))
                    .with_hint(format!("the recipe was fitted on {}, which has this column", self.source))
            })?;
            columns.push((step, column));
        }
        for r in 0..rows {
            row_out.clear();
            for (step, column) in &columns {
                let cell = match &column.data {
                    ColumnData::Numeric(values) => values[r].map_or(Cell::Null, Cell::Number),
                    ColumnData::Categorical { codes, levels } => {
                        codes[r].map_or(Cell::Null, |c| Cell::Text(levels[c as usize].as_str()))
                    }
                };
                let cell = match (step, cell) {
                    // A text column fitted as numeric cannot happen; a numeric one read as text for a
                    // numeric step is parsed, as PostgreSQL's cast would.
                    (Step::Numeric { .. }, Cell::Text(t)) => t.trim().parse::<f64>().map_or(Cell::Null, Cell::Number),
                    (_, c) => c,
                };
                self.push_features(step, cell, &mut row_out);
            }
            for (feature, value) in features.iter_mut().zip(&row_out) {
                feature.push(*value);
            }
        }
        Ok(features)
    }

    /// `(sql expression, column name)` per feature: the same transform as [`Recipe::apply_frame`],
    /// as SQL over the source relation. Identifiers are always quoted; names longer than PostgreSQL
    /// keeps are shortened with a hash so they stay distinct.
    pub fn sql_select_list(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for step in &self.steps {
            match step {
                Step::Exclude { .. } | Step::Drop { .. } => {}
                Step::Numeric { column, impute, lower, upper, log1p, center, scale } => {
                    let v = format!("({})::float8", quote_ident(column));
                    let mut e = format!(
                        "coalesce(CASE WHEN {v} IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE {v} END, {})",
                        float_literal(*impute)
                    );
                    if let Some(lo) = lower {
                        e = format!("greatest({e}, {})", float_literal(*lo));
                    }
                    if let Some(hi) = upper {
                        e = format!("least({e}, {})", float_literal(*hi));
                    }
                    if *log1p {
                        e = format!("ln(float8 '1' + {e})");
                    }
                    e = format!("(({e}) - {}) / {}", float_literal(*center), float_literal(*scale));
                    out.push((e, sql_column_name(column)));
                }
                Step::Frequency { column, impute, levels, shares, .. } => {
                    let v = format!("coalesce(({})::text, {})", quote_ident(column), quote_literal(impute));
                    let arms: Vec<String> = levels
                        .iter()
                        .zip(shares)
                        .map(|(l, f)| format!("WHEN {} THEN {}", quote_literal(l), float_literal(*f)))
                        .collect();
                    out.push((format!("CASE {v} {} ELSE float8 '0' END", arms.join(" ")), sql_column_name(column)));
                }
                Step::TargetRate { column, impute, levels, rates, prior, .. } => {
                    let v = format!("coalesce(({})::text, {})", quote_ident(column), quote_literal(impute));
                    let arms: Vec<String> = levels
                        .iter()
                        .zip(rates)
                        .map(|(l, r)| format!("WHEN {} THEN {}", quote_literal(l), float_literal(*r)))
                        .collect();
                    out.push((
                        format!("CASE {v} {} ELSE {} END", arms.join(" "), float_literal(*prior)),
                        sql_column_name(column),
                    ));
                }
                Step::Categorical { column, impute, levels, other, .. } => {
                    let v = format!("coalesce(({})::text, {})", quote_ident(column), quote_literal(impute));
                    for level in levels {
                        out.push((
                            format!("({v} = {})::int::float8", quote_literal(level)),
                            sql_column_name(&format!("{column}={level}")),
                        ));
                    }
                    if *other {
                        let list: Vec<String> = levels.iter().map(|l| quote_literal(l)).collect();
                        let e = if list.is_empty() {
                            "float8 '1'".to_string()
                        } else {
                            format!("({v} NOT IN ({}))::int::float8", list.join(", "))
                        };
                        out.push((e, sql_column_name(&format!("{column}={OTHER_LEVEL}"))));
                    }
                }
            }
        }
        out
    }
}

impl Cell<'_> {
    /// The value as a person reads it (integers without a fraction); `None` for NULL.
    pub fn display(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Number(x) => Some(format_code(*x)),
            Cell::Text(t) => Some(t.to_string()),
        }
    }
}

/// The level a cell falls into: its text, an integer code as text, or the imputed level.
fn level_text<'a>(cell: Cell<'a>, from_number: bool, impute: &'a str, owned: &'a mut Option<String>) -> &'a str {
    match cell {
        Cell::Null => impute,
        Cell::Text(t) => t,
        Cell::Number(x) if x.is_finite() && from_number => owned.insert(format_code(x)).as_str(),
        Cell::Number(_) => impute,
    }
}

fn json_cell<'a>(column: &str, value: &'a Value, numeric: bool) -> Result<Cell<'a>> {
    Ok(match value {
        Value::Null => Cell::Null,
        Value::Number(n) => Cell::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) if numeric => match s.trim().parse::<f64>() {
            Ok(x) => Cell::Number(x),
            Err(_) => {
                return Err(Error::invalid_text(format!("value \"{s}\" of column \"{column}\" is not a number"))
                    .with_hint(format!("pass a number (or null) for \"{column}\"")))
            }
        },
        Value::String(s) => Cell::Text(s),
        Value::Bool(b) if !numeric => Cell::Text(if *b { "true" } else { "false" }),
        other => {
            return Err(Error::new(
                ErrorClass::DatatypeMismatch,
                format!("value {other} of column \"{column}\" has the wrong type"),
            )
            .with_hint(if numeric { "pass a number or null" } else { "pass a string, number or null" }))
        }
    })
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Shortest text that reads back as the same double, as a typed float8 literal.
fn float_literal(x: f64) -> String {
    format!("float8 '{x:?}'")
}

/// The column name a feature gets in a standardized table, within PostgreSQL's 63 bytes.
pub fn sql_column_name(feature: &str) -> String {
    let name = if feature.len() <= MAX_IDENTIFIER_BYTES {
        feature.to_string()
    } else {
        let mut cut = MAX_IDENTIFIER_BYTES - 9;
        while !feature.is_char_boundary(cut) {
            cut -= 1;
        }
        let hash = feature.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
        format!("{}~{:08x}", &feature[..cut], hash as u32)
    };
    quote_ident(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{CategoricalBuilder, Column};
    use serde_json::json;

    fn frame() -> Frame {
        let n = 200;
        let skewed: Vec<Option<f64>> = (0..n).map(|i| if i % 50 == 0 { None } else { Some(((i % 20) as f64).powi(3)) }).collect();
        let normalish: Vec<Option<f64>> = (0..n).map(|i| Some(((i * 37) % 101) as f64 - 50.0)).collect();
        let codes: Vec<Option<f64>> = (0..n).map(|i| Some((i % 3 + 1) as f64)).collect();
        let ids: Vec<Option<f64>> = (0..n).map(|i| Some(i as f64)).collect();
        let mut race = CategoricalBuilder::default();
        for i in 0..n {
            race.push(match i % 10 {
                0 => None,
                1..=6 => Some("Caucasian"),
                7 | 8 => Some("AfricanAmerican"),
                _ => Some(if i == 9 { "Rare" } else { "Asian" }),
            });
        }
        Frame {
            columns: vec![
                Column { name: "encounter_id".into(), sql_type: "bigint".into(), data: ColumnData::Numeric(ids) },
                Column { name: "visits".into(), sql_type: "integer".into(), data: ColumnData::Numeric(skewed) },
                Column { name: "delta".into(), sql_type: "double precision".into(), data: ColumnData::Numeric(normalish) },
                Column { name: "admission_type_id".into(), sql_type: "integer".into(), data: ColumnData::Numeric(codes) },
                Column { name: "race".into(), sql_type: "text".into(), data: race.finish() },
            ],
        }
    }

    #[test]
    fn fits_the_documented_steps() {
        let options = RecipeOptions { rare_threshold: 0.01, ..Default::default() };
        let (recipe, reports) = fit_recipe(&frame(), "t", &options).unwrap();
        let actions: Vec<&str> = reports.iter().map(|r| r.action).collect();
        assert_eq!(actions, ["dropped", "numeric", "numeric", "one_hot", "one_hot"]);
        let Step::Numeric { log1p, impute, .. } = &recipe.steps[1] else { panic!() };
        assert!(*log1p, "cubes are strongly skewed");
        assert!(*impute > 0.0);
        let Step::Numeric { log1p, .. } = &recipe.steps[2] else { panic!() };
        assert!(!*log1p, "symmetric with negatives: no log");
        let Step::Categorical { levels, other, from_number, .. } = &recipe.steps[3] else { panic!() };
        assert_eq!(levels, &["1", "2", "3"]);
        assert!(!*other && *from_number);
        let Step::Categorical { levels, other, .. } = &recipe.steps[4] else { panic!() };
        assert_eq!(levels, &["Caucasian", "AfricanAmerican", "(missing)", "Asian"]);
        assert!(*other, "Rare (1 of 200) is folded");
        assert!(reports[1].skewness_after.unwrap().abs() < reports[1].skewness_before.unwrap().abs());
        assert_eq!(
            recipe.feature_names(),
            [
                "visits",
                "delta",
                "admission_type_id=1",
                "admission_type_id=2",
                "admission_type_id=3",
                "race=Caucasian",
                "race=AfricanAmerican",
                "race=(missing)",
                "race=Asian",
                "race=(other)"
            ]
        );
    }

    #[test]
    fn standardized_columns_have_mean_zero_and_unit_sd() {
        let (recipe, _) = fit_recipe(&frame(), "t", &RecipeOptions { winsorize: None, ..Default::default() }).unwrap();
        let features = recipe.apply_frame(&frame()).unwrap();
        for f in &features[..2] {
            let m: Moments = f.iter().map(|&x| Some(x)).collect();
            assert!(m.mean().unwrap().abs() < 1e-12);
            assert!((m.stddev().unwrap() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn json_rows_follow_the_frame_path() {
        let f = frame();
        let options = RecipeOptions { rare_threshold: 0.01, ..Default::default() };
        let (recipe, _) = fit_recipe(&f, "t", &options).unwrap();
        let features = recipe.apply_frame(&f).unwrap();
        let row = json!({"encounter_id": 7, "visits": 343, "delta": "7", "admission_type_id": 2, "race": "AfricanAmerican"});
        let got = recipe.apply_json_row(row.as_object().unwrap()).unwrap();
        let want: Vec<f64> = features.iter().map(|f| f[7]).collect();
        assert_eq!(got, want);
        // NULL and a missing key are imputed alike; an unseen level goes to (other)
        let a = recipe.apply_json_row(json!({"visits": null, "race": "Martian"}).as_object().unwrap()).unwrap();
        let b = recipe.apply_json_row(json!({"race": "Martian"}).as_object().unwrap()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a[9], 1.0);
    }

    #[test]
    fn bad_rows_and_options_are_refused() {
        let (recipe, _) = fit_recipe(&frame(), "t", &RecipeOptions::default()).unwrap();
        let e = recipe.apply_json_row(json!({"vists": 3}).as_object().unwrap()).unwrap_err();
        assert_eq!(e.class(), ErrorClass::UndefinedColumn);
        let e = recipe.apply_json_row(json!({"visits": "many"}).as_object().unwrap()).unwrap_err();
        assert_eq!(e.class(), ErrorClass::InvalidTextRepresentation);
        let e = recipe.apply_json_row(json!({"visits": [1]}).as_object().unwrap()).unwrap_err();
        assert_eq!(e.class(), ErrorClass::DatatypeMismatch);
        let e = fit_recipe(&frame(), "t", &RecipeOptions { drop: vec!["nope".into()], ..Default::default() }).unwrap_err();
        assert_eq!(e.message(), "column \"nope\" named in option \"drop\" does not exist in t");
        let e = fit_recipe(
            &frame(),
            "t",
            &RecipeOptions { log_transform: LogTransform::Columns(vec!["delta".into()]), ..Default::default() },
        )
        .unwrap_err();
        assert!(e.message().contains("negative"), "{e}");
        assert!(RecipeOptions::from_json(&json!({"scale": "minmax"})).is_err());
        assert!(RecipeOptions::from_json(&json!({"winsorize": [0.9, 0.1]})).is_err());
        assert!(RecipeOptions::from_json(&json!({"winsorize": false})).unwrap().winsorize.is_none());
        assert!(Recipe::from_json(&json!({"format": 99})).is_err());
    }

    #[test]
    fn target_encoding_uses_rates_out_of_fold_and_the_prior_for_unseen_levels() {
        let f = frame();
        let target = RecipeOptions { encoding: Some(Encoding::Target), ..Default::default() };
        let e = fit_recipe(&f, "t", &target).unwrap_err();
        assert!(e.message().contains("needs the target"), "{e}");
        let (mut recipe, _) =
            fit_recipe(&f, "t", &RecipeOptions { encoding: Some(Encoding::Frequency), ..Default::default() }).unwrap();
        // Caucasian rows are mostly positive, the others mostly not.
        let race = f.column("race").unwrap();
        let labels: Vec<bool> =
            (0..f.rows()).map(|r| (f.cell_text(race, r).as_deref() == Some("Caucasian")) != (r % 7 == 0)).collect();
        let fold: Vec<usize> = (0..f.rows()).map(|r| r % 4).collect();
        let converted = target_encode(&mut recipe, &f, &labels, &fold, 4).unwrap();
        assert_eq!(converted.iter().map(|c| c.0).collect::<Vec<_>>(), [2, 3], "the two level-reading columns");
        let Step::TargetRate { rates, prior, levels, .. } = &recipe.steps[4] else { panic!("{:?}", recipe.steps[4]) };
        let caucasian = levels.iter().position(|l| l == "Caucasian").unwrap();
        assert!(rates[caucasian] > 0.7 && rates[caucasian] < 0.9, "{rates:?}");
        let positives = labels.iter().filter(|&&y| y).count() as f64;
        assert_eq!(*prior, positives / 200.0);
        let unseen = recipe.apply_json_row(json!({"race": "Martian"}).as_object().unwrap()).unwrap();
        assert_eq!(unseen[3], *prior);
        // a row's out-of-fold rate does not move when its own label flips
        let mut flipped = labels.clone();
        flipped[1] = !flipped[1];
        let (mut again, _) =
            fit_recipe(&f, "t", &RecipeOptions { encoding: Some(Encoding::Frequency), ..Default::default() }).unwrap();
        let other = target_encode(&mut again, &f, &flipped, &fold, 4).unwrap();
        assert_eq!(other[1].1[1], converted[1].1[1]);
        assert_ne!(other[1].1[2], converted[1].1[2], "rows of other folds see the flip");
        // the SQL form computes what the Rust form does
        let sql = recipe.sql_select_list();
        assert!(sql[3].0.contains("ELSE") && sql[3].0.ends_with(&format!("ELSE {} END", float_literal(*prior))), "{}", sql[3].0);
    }

    #[test]
    fn frequency_encoding_gives_one_feature_per_column() {
        let options = RecipeOptions { encoding: Some(Encoding::Frequency), ..Default::default() };
        let f = frame();
        let (recipe, reports) = fit_recipe(&f, "t", &options).unwrap();
        assert_eq!(recipe.feature_names(), ["visits", "delta", "admission_type_id", "race"]);
        assert_eq!(reports[4].action, "frequency");
        let x = recipe.apply_frame(&f).unwrap();
        assert_eq!(x[3][1], 0.6, "Caucasian is 6 in 10 rows");
        let unseen = recipe.apply_json_row(json!({"race": "Martian"}).as_object().unwrap()).unwrap();
        assert_eq!(unseen[3], 0.0);
        let coded = recipe.apply_json_row(json!({"admission_type_id": 2}).as_object().unwrap()).unwrap();
        assert!((coded[2] - 67.0 / 200.0).abs() < 1e-12, "{coded:?}");
    }

    #[test]
    fn recipes_round_trip_through_json() {
        let (recipe, _) = fit_recipe(&frame(), "t", &RecipeOptions::default()).unwrap();
        assert_eq!(Recipe::from_json(&recipe.to_json()).unwrap(), recipe);
    }

    #[test]
    fn sql_names_are_quoted_and_short() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        let long = format!("medical_specialty={}", "x".repeat(80));
        let name = sql_column_name(&long);
        assert!(name.len() <= MAX_IDENTIFIER_BYTES + 2, "{name}");
        assert_ne!(sql_column_name(&format!("{long}1")), sql_column_name(&format!("{long}2")));
        assert_eq!(float_literal(0.1), "float8 '0.1'");
    }
}
