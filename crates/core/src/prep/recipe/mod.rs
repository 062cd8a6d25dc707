//! Standardization recipes: fitted once on training rows, stored as JSON, applied identically to one
//! row (scoring), to a [`Frame`] (training) and, as generated SQL, to a whole table.
//!
//! Per numeric column: impute (median / mean / zero) → winsorize at training quantiles → log1p when
//! strongly skewed and non-negative → z-score or robust (median / IQR) scaling. Per categorical column:
//! impute (an explicit "(missing)" level or the mode) → fold rare levels into "(other)" → one-hot.
//! Everything a transform needs is a training-time statistic stored in the recipe, so applying it never
//! looks at the data it is applied to.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// Version of the stored recipe JSON; a recipe of another format is refused, never misread.
pub const RECIPE_FORMAT: u32 = 1;
pub const MISSING_LEVEL: &str = "(missing)";
/// Default share of NULLs beyond which a standardization recipe drops a column (as profile suggests).
pub const STANDARDIZE_DROP_THRESHOLD: f64 = 0.3;
pub const OTHER_LEVEL: &str = "(other)";
/// PostgreSQL truncates identifiers beyond this many bytes (NAMEDATALEN - 1).
const MAX_IDENTIFIER_BYTES: usize = 63;

mod apply;
mod fit;
mod options;
mod sql;

pub use fit::{fit_recipe, target_encode, TARGET_SMOOTHING};
pub use options::{CategoricalImpute, Encoding, LogTransform, NumericImpute, RecipeOptions, Scale};
pub use sql::{parse_qualified_name, quote_ident, quote_literal, sql_column_name};

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
    /// One feature: the number as it is, NULL as NaN (a model trained elsewhere reads missing
    /// values itself), +inf as the largest double (see `model::import`).
    Passthrough {
        column: String,
    },
    /// One feature: the level's position in `levels` (pandas' category codes), NaN for NULL or a
    /// level the model never saw.
    Codes {
        column: String,
        from_number: bool,
        levels: Vec<String>,
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
            | Step::TargetRate { column, .. }
            | Step::Passthrough { column }
            | Step::Codes { column, .. } => column,
        }
    }

    /// The step reads a number (anything else reads a level, or nothing).
    pub fn is_numeric(&self) -> bool {
        matches!(self, Step::Numeric { .. } | Step::Passthrough { .. })
    }

    /// The step turns its column into features (excluded and dropped columns do not).
    pub fn is_input(&self) -> bool {
        !matches!(self, Step::Exclude { .. } | Step::Drop { .. })
    }

    /// How many features the step makes, without building their names.
    fn feature_count(&self) -> usize {
        match self {
            Step::Exclude { .. } | Step::Drop { .. } => 0,
            Step::Numeric { .. }
            | Step::Frequency { .. }
            | Step::TargetRate { .. }
            | Step::Passthrough { .. }
            | Step::Codes { .. } => 1,
            Step::Categorical { levels, other, .. } => levels.len() + *other as usize,
        }
    }

    /// The levels a text step knows, in code order.
    fn levels(&self) -> Option<&[String]> {
        match self {
            Step::Codes { levels, .. }
            | Step::Frequency { levels, .. }
            | Step::TargetRate { levels, .. }
            | Step::Categorical { levels, .. } => Some(levels),
            _ => None,
        }
    }

    fn feature_names(&self) -> Vec<String> {
        match self {
            Step::Exclude { .. } | Step::Drop { .. } => Vec::new(),
            Step::Numeric { column, .. }
            | Step::Frequency { column, .. }
            | Step::TargetRate { column, .. }
            | Step::Passthrough { column }
            | Step::Codes { column, .. } => vec![column.clone()],
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
    /// Never stored: built from `steps` on first use.
    #[serde(skip)]
    pub(crate) level_index: LevelIndex,
}

/// Levels above which a step finds a row's level by hash instead of comparing it with each:
/// a diagnosis column has hundreds, and scoring one row compared them all.
const INDEXED_LEVELS: usize = 16;

/// Per step with more than [`INDEXED_LEVELS`] levels, each level's position by its text.
#[derive(Default)]
pub(crate) struct LevelIndex(std::sync::OnceLock<Vec<Option<LevelPositions>>>);

/// A step's levels by text → position.
type LevelPositions = std::collections::HashMap<Box<str>, usize>;

impl LevelIndex {
    /// The position of `text` among `levels`, the levels of step `step` of `steps`.
    pub(crate) fn position(&self, steps: &[Step], step: usize, levels: &[String], text: &str) -> Option<usize> {
        if levels.len() <= INDEXED_LEVELS {
            return levels.iter().position(|l| l == text);
        }
        let index = self.0.get_or_init(|| {
            steps
                .iter()
                .map(|s| {
                    s.levels().filter(|l| l.len() > INDEXED_LEVELS).map(|levels| {
                        // the first of equal levels, as a scan finds it
                        let mut index = std::collections::HashMap::with_capacity(levels.len());
                        for (i, l) in levels.iter().enumerate().rev() {
                            index.insert(l.as_str().into(), i);
                        }
                        index
                    })
                })
                .collect()
        });
        index[step].as_ref().and_then(|index| index.get(text).copied())
    }
}

/// An index is derived data: recipes are equal when their steps are.
impl PartialEq for LevelIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A clone builds its own index when first used.
impl Clone for LevelIndex {
    fn clone(&self) -> Self {
        LevelIndex::default()
    }
}

impl std::fmt::Debug for LevelIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LevelIndex")
    }
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

/// A value of a row to transform, from jsonb or from a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Number(f64),
    Text(&'a str),
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
}

/// A numeric code as the level text it stands for (`3`, not `3.0`).
/// Integer codes as PostgreSQL prints them (`6`, not `6.0`), so SQL and Rust agree on the level.
pub(crate) fn format_code(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests;
