//! Applying a fitted recipe to one row (jsonb or typed cells) or a frame, without looking at the data
//! it is applied to.

use serde_json::{Map, Value};

use super::*;
use crate::error::{Error, ErrorClass, Result};
use crate::frame::{ColumnData, Frame};

pub(super) fn transform_numeric(step: &Step, value: Option<f64>) -> f64 {
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
        for (i, (step, cell)) in self.steps.iter().zip(cells).enumerate() {
            self.push_features(i, step, *cell, &mut out);
        }
        out
    }

    /// Appends the features of step `index` (`step`) for `cell`.
    fn push_features(&self, index: usize, step: &Step, cell: Cell<'_>, out: &mut Vec<f64>) {
        let position = |levels: &[String], text: &str| self.level_index.position(&self.steps, index, levels, text);
        match step {
            Step::Exclude { .. } | Step::Drop { .. } => {}
            Step::Numeric { .. } => {
                let value = match cell {
                    Cell::Number(x) => Some(x),
                    _ => None,
                };
                out.push(transform_numeric(step, value));
            }
            Step::Passthrough { .. } => out.push(match cell {
                // an imported model's trees may split at +inf, sending +inf left, which `<` cannot
                Cell::Number(x) if x == f64::INFINITY => f64::MAX,
                Cell::Number(x) => x,
                _ => f64::NAN,
            }),
            Step::Codes { from_number, levels, .. } => {
                let code = match cell {
                    Cell::Text(t) => position(levels, t),
                    Cell::Number(x) if *from_number && x.is_finite() => position(levels, &format_code(x)),
                    _ => None,
                };
                out.push(code.map_or(f64::NAN, |c| c as f64));
            }
            Step::Frequency { from_number, impute, levels, shares, .. } => {
                let mut owned = None;
                let text = level_text(cell, *from_number, impute, &mut owned);
                out.push(position(levels, text).map_or(0.0, |i| shares[i]));
            }
            Step::TargetRate { from_number, impute, levels, rates, prior, .. } => {
                let mut owned = None;
                let text = level_text(cell, *from_number, impute, &mut owned);
                out.push(position(levels, text).map_or(*prior, |i| rates[i]));
            }
            Step::Categorical { from_number, impute, levels, other, .. } => {
                let mut owned = None;
                let text = level_text(cell, *from_number, impute, &mut owned);
                let hit = position(levels, text);
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
        for (index, step) in self.steps.iter().enumerate() {
            if !step.is_input() {
                continue;
            }
            let column = frame.column(step.column()).ok_or_else(|| {
                Error::new(ErrorClass::UndefinedColumn, format!("column \"{}\" of the recipe is missing", step.column()))
                    .with_hint(format!("the recipe was fitted on {}, which has this column", self.source))
            })?;
            columns.push((index, step, column));
        }
        for r in 0..rows {
            row_out.clear();
            for &(index, step, column) in &columns {
                let cell = match &column.data {
                    ColumnData::Numeric(values) => values[r].map_or(Cell::Null, Cell::Number),
                    ColumnData::Categorical { codes, levels } => {
                        codes[r].map_or(Cell::Null, |c| Cell::Text(levels[c as usize].as_str()))
                    }
                };
                let cell = match (step, cell) {
                    // A text column fitted as numeric cannot happen; a numeric one read as text for a
                    // numeric step is parsed, as PostgreSQL's cast would.
                    (Step::Numeric { .. } | Step::Passthrough { .. }, Cell::Text(t)) => {
                        t.trim().parse::<f64>().map_or(Cell::Null, Cell::Number)
                    }
                    (_, c) => c,
                };
                self.push_features(index, step, cell, &mut row_out);
            }
            for (feature, value) in features.iter_mut().zip(&row_out) {
                feature.push(*value);
            }
        }
        Ok(features)
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
pub(super) fn level_text<'a>(cell: Cell<'a>, from_number: bool, impute: &'a str, owned: &'a mut Option<String>) -> &'a str {
    match cell {
        Cell::Null => impute,
        Cell::Text(t) => t,
        Cell::Number(x) if x.is_finite() && from_number => owned.insert(format_code(x)).as_str(),
        Cell::Number(_) => impute,
    }
}

pub(super) fn json_cell<'a>(column: &str, value: &'a Value, numeric: bool) -> Result<Cell<'a>> {
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
