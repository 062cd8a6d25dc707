//! Fitting a recipe on a frame: every statistic a transform needs, computed once on training rows.

use std::collections::HashMap;

use super::apply::{level_text, transform_numeric};
use super::*;
use crate::error::{Error, ErrorClass, Result};
use crate::frame::{ColumnData, Frame};
use crate::stats::profile::{profile_column, ProfileOptions, Suggestion};
use crate::stats::quantile::quantile_sorted;
use crate::stats::Moments;

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
            let integer_column = column.kind == crate::frame::ValueKind::Integer;
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
            Step::Passthrough { .. } => "passthrough",
            Step::Codes { .. } => "codes",
        };
        report.outputs = step.feature_count();
        steps.push(step);
        reports.push(report);
    }
    let recipe = Recipe {
        format: RECIPE_FORMAT,
        source: source.to_string(),
        rows: frame.rows() as u64,
        steps,
        level_index: Default::default(),
    };
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
