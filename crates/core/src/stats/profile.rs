//! One row of facts per column, and a suggestion a citizen data scientist can act on.

use serde_json::Value;

use crate::error::{Error, ErrorClass, Result};
use crate::frame::{Column, ColumnData, Frame};
use crate::options::Options;
use crate::stats::quantile::quantile_sorted;
use crate::stats::Moments;

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileOptions {
    /// A column with a larger share of NULLs is suggested for dropping.
    pub drop_threshold: f64,
    /// How many of the most frequent values to report for non-numeric columns.
    pub top_values: usize,
    /// More distinct values than this in a non-numeric column is high cardinality.
    pub max_levels: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions { drop_threshold: 0.3, top_values: 5, max_levels: 50 }
    }
}

impl ProfileOptions {
    pub fn from_json(options: &Value) -> Result<Self> {
        let defaults = ProfileOptions::default();
        let mut o = Options::new("healthml.profile", options)?;
        let parsed = ProfileOptions {
            drop_threshold: o.f64_in("drop_threshold", defaults.drop_threshold, 0.0, 1.0)?,
            top_values: o.usize_in("top_values", defaults.top_values, 0, 1000)?,
            max_levels: o.usize_in("max_levels", defaults.max_levels, 2, 1_000_000)?,
        };
        o.finish()?;
        Ok(parsed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suggestion {
    Drop,
    Constant,
    Identifier,
    HighCardinality,
    Categorical,
    LogTransform,
    Winsorize,
    Ok,
}

impl Suggestion {
    pub fn as_str(self) -> &'static str {
        match self {
            Suggestion::Drop => "drop",
            Suggestion::Constant => "constant",
            Suggestion::Identifier => "identifier",
            Suggestion::HighCardinality => "high_cardinality",
            Suggestion::Categorical => "categorical",
            Suggestion::LogTransform => "log_transform",
            Suggestion::Winsorize => "winsorize",
            Suggestion::Ok => "ok",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnProfile {
    pub column: String,
    pub sql_type: String,
    pub rows: u64,
    pub nulls: u64,
    pub null_fraction: f64,
    pub distinct: u64,
    /// Numeric columns only: NaN / ±Infinity values, left out of every statistic below.
    pub nonfinite: Option<u64>,
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    pub min: Option<f64>,
    pub p25: Option<f64>,
    pub median: Option<f64>,
    pub p75: Option<f64>,
    pub max: Option<f64>,
    pub skewness: Option<f64>,
    pub kurtosis: Option<f64>,
    /// Values outside [p25 - 1.5 IQR, p75 + 1.5 IQR] (Tukey's fences).
    pub outliers_iqr: Option<u64>,
    /// Values more than 4 standard deviations from the mean.
    pub outliers_z: Option<u64>,
    /// Non-numeric columns only: the most frequent values with their counts, most frequent first.
    pub top_values: Option<Vec<(String, u64)>>,
    pub suggestion: Suggestion,
    pub reason: String,
}

/// Beyond this many standard deviations a value counts as a z-score outlier.
const Z_OUTLIER: f64 = 4.0;
/// Excess kurtosis above this means tails heavy enough to clip (a normal distribution has 0).
const HEAVY_TAILS: f64 = 3.0;
/// |skewness| above this is strongly skewed.
const STRONG_SKEW: f64 = 1.0;

pub fn profile_frame(frame: &Frame, relation: &str, options: &ProfileOptions) -> Result<Vec<ColumnProfile>> {
    if frame.columns.is_empty() {
        return Err(Error::new(ErrorClass::InsufficientData, format!("{relation} has no columns to profile"))
            .with_hint("profile a table or view with at least one column"));
    }
    if frame.rows() == 0 {
        return Err(Error::new(ErrorClass::InsufficientData, format!("{relation} has no rows to profile"))
            .with_hint("load data into the relation first, or profile another one"));
    }
    Ok(frame.columns.iter().map(|c| profile_column(c, options)).collect())
}

pub fn profile_column(column: &Column, options: &ProfileOptions) -> ColumnProfile {
    let rows = column.len() as u64;
    let mut p = ColumnProfile {
        column: column.name.clone(),
        sql_type: column.sql_type.clone(),
        rows,
        nulls: 0,
        null_fraction: 0.0,
        distinct: 0,
        nonfinite: None,
        mean: None,
        stddev: None,
        min: None,
        p25: None,
        median: None,
        p75: None,
        max: None,
        skewness: None,
        kurtosis: None,
        outliers_iqr: None,
        outliers_z: None,
        top_values: None,
        suggestion: Suggestion::Ok,
        reason: String::new(),
    };
    let mut integer_valued = false;
    match &column.data {
        ColumnData::Numeric(values) => {
            let moments: Moments = values.iter().copied().collect();
            let mut finite: Vec<f64> = values.iter().flatten().copied().filter(|x| x.is_finite()).collect();
            finite.sort_by(f64::total_cmp);
            integer_valued = finite.iter().all(|x| x.fract() == 0.0);
            p.nulls = moments.nulls;
            p.nonfinite = Some(moments.nonfinite);
            p.distinct = count_sorted_distinct(&finite) + distinct_nonfinite(values);
            p.mean = moments.mean();
            p.stddev = moments.stddev();
            p.min = moments.min();
            p.max = moments.max();
            p.skewness = moments.skewness();
            p.kurtosis = moments.kurtosis();
            p.p25 = quantile_sorted(&finite, 0.25);
            p.median = quantile_sorted(&finite, 0.5);
            p.p75 = quantile_sorted(&finite, 0.75);
            if let (Some(q1), Some(q3)) = (p.p25, p.p75) {
                let iqr = q3 - q1;
                let (low, high) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
                p.outliers_iqr = Some(finite.iter().filter(|&&x| x < low || x > high).count() as u64);
            }
            if let (Some(mean), Some(sd)) = (p.mean, p.stddev) {
                let beyond =
                    if sd > 0.0 { finite.iter().filter(|&&x| ((x - mean) / sd).abs() > Z_OUTLIER).count() as u64 } else { 0 };
                p.outliers_z = Some(beyond);
            }
        }
        ColumnData::Categorical { codes, levels } => {
            let mut counts = vec![0u64; levels.len()];
            for code in codes {
                match code {
                    Some(c) => counts[*c as usize] += 1,
                    None => p.nulls += 1,
                }
            }
            p.distinct = counts.iter().filter(|&&c| c > 0).count() as u64;
            let mut ranked: Vec<(&String, u64)> = levels.iter().zip(counts).filter(|(_, c)| *c > 0).collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            p.top_values = Some(ranked.into_iter().take(options.top_values).map(|(v, c)| (v.clone(), c)).collect());
        }
    }
    p.null_fraction = if rows == 0 { 0.0 } else { p.nulls as f64 / rows as f64 };
    let (suggestion, reason) = suggest(&p, column.is_numeric(), integer_valued, options);
    p.suggestion = suggestion;
    p.reason = reason;
    p
}

fn count_sorted_distinct(sorted: &[f64]) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    1 + sorted.windows(2).filter(|w| w[0] != w[1]).count() as u64
}

fn distinct_nonfinite(values: &[Option<f64>]) -> u64 {
    let flags = values.iter().flatten().fold([false; 3], |mut seen, x| {
        if x.is_nan() {
            seen[0] = true
        } else if *x == f64::INFINITY {
            seen[1] = true
        } else if *x == f64::NEG_INFINITY {
            seen[2] = true
        }
        seen
    });
    flags.iter().filter(|&&f| f).count() as u64
}

/// Names that announce a key or code rather than a measurement.
fn looks_like_key(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "id" || ["_id", "_nbr", "_number", "_no", "_key", "_code", "uuid"].iter().any(|s| name.ends_with(s))
}

fn suggest(p: &ColumnProfile, numeric: bool, integer_valued: bool, options: &ProfileOptions) -> (Suggestion, String) {
    let present = p.rows - p.nulls;
    if present == 0 {
        return (Suggestion::Drop, "every value is NULL".to_string());
    }
    if p.null_fraction > options.drop_threshold {
        return (
            Suggestion::Drop,
            format!("{:.1}% of values are missing (threshold {:.0}%)", 100.0 * p.null_fraction, 100.0 * options.drop_threshold),
        );
    }
    if p.distinct <= 1 {
        return (Suggestion::Constant, "a single distinct value carries no information".to_string());
    }
    // Keys: (nearly) one distinct value per row, whole numbers or text. A name like *_id or *_nbr
    // lowers the bar (patients with many encounters repeat their number).
    let unique_ratio = p.distinct as f64 / present as f64;
    let key_shaped = !numeric || integer_valued;
    let key_bar = if looks_like_key(&p.column) { 0.5 } else { 0.95 };
    if key_shaped && present >= 20 && unique_ratio >= key_bar {
        return (
            Suggestion::Identifier,
            format!("{:.0}% of values are distinct: an identifier, not a predictor", 100.0 * unique_ratio),
        );
    }
    if !numeric {
        if p.distinct as usize > options.max_levels {
            return (
                Suggestion::HighCardinality,
                format!(
                    "{} distinct values (more than {}): group or encode them before training",
                    p.distinct, options.max_levels
                ),
            );
        }
        return (Suggestion::Ok, format!("{} levels", p.distinct));
    }
    if integer_valued && looks_like_key(&p.column) && p.distinct as usize <= options.max_levels {
        return (Suggestion::Categorical, format!("{} integer codes: treat them as categories, not as a quantity", p.distinct));
    }
    let skew = p.skewness.unwrap_or(0.0);
    let kurt = p.kurtosis.unwrap_or(0.0);
    let non_negative = p.min.is_some_and(|m| m >= 0.0);
    if skew.abs() > STRONG_SKEW && non_negative {
        return (
            Suggestion::LogTransform,
            format!("skewness {skew:.2} on non-negative values: log1p makes it closer to symmetric"),
        );
    }
    let z_share = p.outliers_z.unwrap_or(0) as f64 / present as f64;
    if skew.abs() > STRONG_SKEW || kurt > HEAVY_TAILS || z_share > 0.001 {
        return (
            Suggestion::Winsorize,
            format!(
                "heavy tails (skewness {skew:.2}, excess kurtosis {kurt:.2}, {} values beyond 4 sd): clip at quantiles",
                p.outliers_z.unwrap_or(0)
            ),
        );
    }
    (Suggestion::Ok, "no action needed".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::CategoricalBuilder;
    use serde_json::json;

    fn numeric(name: &str, values: Vec<Option<f64>>) -> Column {
        Column::new(name, "double precision", crate::frame::ValueKind::Real, ColumnData::Numeric(values))
    }

    fn text(name: &str, values: &[Option<&str>]) -> Column {
        let mut b = CategoricalBuilder::with_capacity(values.len());
        values.iter().for_each(|v| b.push(*v));
        Column::new(name, "text", crate::frame::ValueKind::Text, b.finish())
    }

    #[test]
    fn numeric_statistics_and_quartiles() {
        let p = profile_column(
            &numeric("x", vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(100.0), None]),
            &ProfileOptions::default(),
        );
        assert_eq!((p.rows, p.nulls, p.distinct), (6, 1, 5));
        assert_eq!((p.p25, p.median, p.p75), (Some(2.0), Some(3.0), Some(4.0)));
        assert_eq!(p.outliers_iqr, Some(1));
        assert_eq!(p.outliers_z, Some(0));
        assert_eq!(p.min, Some(1.0));
        assert_eq!(p.suggestion, Suggestion::LogTransform);
        assert!(p.top_values.is_none());
    }

    #[test]
    fn suggestions() {
        let o = ProfileOptions::default();
        let mostly_null: Vec<Option<f64>> = (0..10).map(|i| (i < 3).then_some(i as f64)).collect();
        assert_eq!(profile_column(&numeric("w", mostly_null), &o).suggestion, Suggestion::Drop);
        assert_eq!(profile_column(&numeric("w", vec![None, None]), &o).suggestion, Suggestion::Drop);
        assert_eq!(profile_column(&text("c", &[Some("No"); 30]), &o).suggestion, Suggestion::Constant);
        let ids: Vec<Option<f64>> = (0..100).map(|i| Some(i as f64)).collect();
        assert_eq!(profile_column(&numeric("encounter_id", ids.clone()), &o).suggestion, Suggestion::Identifier);
        let repeated: Vec<Option<f64>> = (0..100).map(|i| Some((i % 70) as f64)).collect();
        assert_eq!(profile_column(&numeric("patient_nbr", repeated.clone()), &o).suggestion, Suggestion::Identifier);
        assert_ne!(profile_column(&numeric("visits", repeated), &o).suggestion, Suggestion::Identifier);
        let measured: Vec<Option<f64>> = (0..100).map(|i| Some(i as f64 + 0.5)).collect();
        assert_eq!(profile_column(&numeric("glucose", measured), &o).suggestion, Suggestion::Ok);
        let codes: Vec<Option<f64>> = (0..100).map(|i| Some((i % 3) as f64 + if i % 10 == 0 { 20.0 } else { 0.0 })).collect();
        assert_eq!(profile_column(&numeric("admission_type_id", codes), &o).suggestion, Suggestion::Categorical);
        let labels: Vec<String> = (0..60).map(|i| format!("code{i}")).collect();
        let many: Vec<Option<&str>> = (0..300).map(|i| Some(labels[i % 60].as_str())).collect();
        assert_eq!(profile_column(&text("diag", &many), &o).suggestion, Suggestion::HighCardinality);
        let mut tailed: Vec<Option<f64>> = (0..1000).map(|i| Some(((i % 21) as f64) - 10.0)).collect();
        tailed.extend([Some(-500.0), Some(400.0)]);
        assert_eq!(profile_column(&numeric("delta", tailed), &o).suggestion, Suggestion::Winsorize);
    }

    #[test]
    fn top_values_are_ranked_by_count_then_value() {
        let o = ProfileOptions { top_values: 2, ..Default::default() };
        let p = profile_column(&text("g", &[Some("b"), Some("a"), Some("c"), Some("c"), None, Some("a")]), &o);
        assert_eq!(p.top_values, Some(vec![("a".to_string(), 2), ("c".to_string(), 2)]));
        assert_eq!((p.distinct, p.nulls), (3, 1));
    }

    #[test]
    fn nonfinite_values_are_counted_apart() {
        let p = profile_column(
            &numeric("x", vec![Some(f64::NAN), Some(1.0), Some(f64::INFINITY), Some(2.0), Some(3.0)]),
            &ProfileOptions::default(),
        );
        assert_eq!(p.nonfinite, Some(2));
        assert_eq!(p.distinct, 5);
        assert_eq!((p.min, p.max, p.median), (Some(1.0), Some(3.0), Some(2.0)));
    }

    #[test]
    fn empty_inputs_and_options_are_refused() {
        let frame = Frame { columns: vec![numeric("x", vec![])] };
        let err = profile_frame(&frame, "public.t", &ProfileOptions::default()).unwrap_err();
        assert_eq!(err.message(), "public.t has no rows to profile");
        assert!(profile_frame(&Frame::default(), "t", &ProfileOptions::default()).is_err());
        assert!(ProfileOptions::from_json(&json!({"drop_threshold": 1.5})).is_err());
        assert!(ProfileOptions::from_json(&json!({"threshold": 0.5})).is_err());
        assert_eq!(ProfileOptions::from_json(&json!({})).unwrap(), ProfileOptions::default());
    }
}
