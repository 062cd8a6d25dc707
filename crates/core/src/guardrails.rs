//! Guardrails: findings about the data and the model that a reviewer must see before trusting a
//! model (probable leaks, identifier-like columns, missing data, high cardinality, class imbalance,
//! a test AUC above what the task allows), each with its value, limit and status. AutoML reports them
//! before and after its search.

use serde::Serialize;
use serde_json::Value;

use crate::frame::ColumnData;
use crate::metrics;
use crate::options::AutomlOptions;
use crate::train::{Prepared, TrainOptions, VALIDATION_FRACTION};

/// Share of training rows with NULL above which a column is reported.
pub const MISSING_WARN: f64 = 0.5;
/// Levels above which a categorical column is reported as high-cardinality.
pub const CARDINALITY_WARN: usize = 100;
/// A minority class below this share of training rows is reported as imbalance.
pub const IMBALANCE_WARN: f64 = 0.2;
/// Quantile bins of a numeric column in the single-feature leakage check.
const LEAKAGE_BINS: usize = 20;

/// A finding about the data or the model, reported before (and after) the search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Guardrail {
    pub check: &'static str,
    pub column: Option<String>,
    pub value: f64,
    pub limit: f64,
    /// `ok`, `warn`, `alert`, or `excluded` (an alert whose column `exclude_flagged` left out).
    pub status: &'static str,
    pub message: String,
}

impl Guardrail {
    /// Marks a finding as dealt with (`excluded`, `accepted`): its advice to exclude the column gives
    /// way to `note`.
    fn settle(&mut self, status: &'static str, note: &str) {
        self.status = status;
        let advice_kept = self.message.trim_end_matches("; exclude it").trim_end_matches(", exclude it").len();
        self.message.truncate(advice_kept);
        self.message.push_str(note);
    }

    /// What to do about an alert on leakage, which healthml.deploy and retrain refuse.
    pub fn remedy(&self) -> Option<String> {
        match (self.check, self.status, &self.column) {
            ("leakage_single_column", "alert", Some(column)) => Some(format!(
                "healthml.deploy and retrain refuse this model: train again with {column} in \"exclude\", or, once a reviewer \
                 has checked that it is known before the outcome, with {{\"accept_leakage\": [\"{column}\"]}}"
            )),
            ("leakage_model", "alert", _) => Some(format!(
                "healthml.deploy and retrain refuse this model: look for a column recorded after the outcome or a group on both \
                 sides of the split; if this AUC is plausible for the task, train again with {{\"leakage_model_auc\": <ceiling>}} \
                 (now {})",
                self.limit
            )),
            _ => None,
        }
    }
}

/// With `exclude_flagged`, the columns of the data guardrails' alerts, each alert then marked
/// `excluded`; the excluded columns are recorded in the model's options like any other exclusion.
pub(crate) fn flagged_columns(guardrails: &mut [Guardrail], settings: &AutomlOptions) -> Vec<String> {
    if !settings.exclude_flagged {
        return Vec::new();
    }
    let mut flagged: Vec<String> = Vec::new();
    for g in guardrails.iter_mut().filter(|g| g.status == "alert") {
        if let Some(column) = &g.column {
            if !flagged.contains(column) {
                flagged.push(column.clone());
            }
            // The advice to exclude it has been followed: say so instead.
            g.settle("excluded", "; excluded (exclude_flagged)");
        }
    }
    flagged
}

/// Missing values, cardinality, imbalance and single-column leakage, on the training rows only.
pub(crate) fn data_guardrails(prepared: &Prepared<'_>, options: &TrainOptions, leakage_feature_auc: f64) -> Vec<Guardrail> {
    let split = &prepared.split;
    let rows = &split.train_idx;
    let n = rows.len() as f64;
    let mut out = Vec::new();

    let rate = split.train_positives as f64 / n;
    let minority = rate.min(1.0 - rate);
    out.push(Guardrail {
        check: "class_imbalance",
        column: None,
        value: rate,
        limit: IMBALANCE_WARN,
        status: if minority < IMBALANCE_WARN { "warn" } else { "ok" },
        message: if minority < IMBALANCE_WARN {
            format!(
                "positives are {:.1}% of training rows: candidates are ranked by AUC, which imbalance does not distort; \
                 flag rows with a threshold policy (healthml.set_threshold), not at 0.5",
                100.0 * rate
            )
        } else {
            format!("positives are {:.1}% of training rows", 100.0 * rate)
        },
    });

    // Fit part and validation slice of the training rows, as a trained model would see them.
    let in_valid: Vec<bool> = rows
        .iter()
        .map(|&r| {
            crate::split::in_fraction(split.group_keys[r].as_bytes(), options.seed ^ 0x01EA_7A6E, VALIDATION_FRACTION.max(0.2))
        })
        .collect();
    let labels = split.labels_of(rows);
    let mut strongest: Option<(String, f64)> = None;
    for column in &prepared.feature_frame.columns {
        let missing = rows.iter().filter(|&&r| is_null(&column.data, r)).count() as f64 / n;
        if missing > MISSING_WARN {
            out.push(Guardrail {
                check: "missing_values",
                column: Some(column.name.clone()),
                value: missing,
                limit: MISSING_WARN,
                status: "warn",
                message: format!(
                    "{:.1}% of training rows have no {}: kept, NULL is a level of its own (or imputed); exclude it if missingness should not count",
                    100.0 * missing,
                    column.name
                ),
            });
        }
        if let ColumnData::Categorical { codes, .. } = &column.data {
            let mut seen = vec![false; codes.iter().flatten().map(|&c| c as usize + 1).max().unwrap_or(0)];
            for &r in rows {
                if let Some(c) = codes[r] {
                    seen[c as usize] = true;
                }
            }
            let levels = seen.iter().filter(|&&s| s).count();
            let id_like = levels as f64 > 0.5 * n;
            if levels > CARDINALITY_WARN {
                out.push(Guardrail {
                    check: "high_cardinality",
                    column: Some(column.name.clone()),
                    value: levels as f64,
                    limit: CARDINALITY_WARN as f64,
                    status: if id_like { "alert" } else { "warn" },
                    message: if id_like {
                        format!("{} has a level for most rows ({levels}): it looks like an identifier, exclude it", column.name)
                    } else {
                        format!(
                            "{} has {levels} levels: one-hot candidates pool the rare ones, tree candidates encode the column by frequency or by target rate",
                            column.name
                        )
                    },
                });
            }
        }
        let bins = bin_codes(&column.data, rows, &in_valid);
        let auc = single_column_auc(&bins, &labels, &in_valid);
        if strongest.as_ref().is_none_or(|(_, a)| auc > *a) {
            strongest = Some((column.name.clone(), auc));
        }
        if auc > leakage_feature_auc {
            out.push(Guardrail {
                check: "leakage_single_column",
                column: Some(column.name.clone()),
                value: auc,
                limit: leakage_feature_auc,
                status: "alert",
                message: format!(
                    "{} alone predicts the target with AUC {auc:.3}: it probably carries the outcome (recorded after it, or derived from it); exclude it",
                    column.name
                ),
            });
        }
    }
    if let Some((name, auc)) = strongest.filter(|(_, auc)| *auc <= leakage_feature_auc) {
        out.push(Guardrail {
            check: "leakage_single_column",
            column: Some(name.clone()),
            value: auc,
            limit: leakage_feature_auc,
            status: "ok",
            message: format!("the strongest single column, {name}, reaches AUC {auc:.3}"),
        });
    }
    out
}

/// After training: the model's test AUC checked against its ceiling, then the single-column findings
/// of the columns the caller accepts marked `accepted` (still reported, no longer a bar to deploying).
pub(crate) fn conclude_leakage(guardrails: &mut Vec<Guardrail>, metrics: &Value, model_auc_limit: f64, accepted: &[String]) {
    if let Some(auc) = metrics["test"]["auc"].as_f64() {
        guardrails.push(model_leakage(auc, model_auc_limit));
    }
    for g in guardrails.iter_mut().filter(|g| g.check == "leakage_single_column" && g.status == "alert") {
        if g.column.as_ref().is_some_and(|c| accepted.contains(c)) {
            g.settle("accepted", "; accepted (accept_leakage)");
        }
    }
}

pub(crate) fn model_leakage(test_auc: f64, limit: f64) -> Guardrail {
    let suspicious = test_auc > limit;
    Guardrail {
        check: "leakage_model",
        column: None,
        value: test_auc,
        limit,
        status: if suspicious { "alert" } else { "ok" },
        message: if suspicious {
            format!(
                "test AUC {test_auc:.3} is above {limit}: check for leakage (a group on both sides, or columns recorded after the outcome)"
            )
        } else {
            format!("test AUC {test_auc:.3} is within the plausible range (≤ {limit})")
        },
    }
}

fn is_null(data: &ColumnData, r: usize) -> bool {
    match data {
        ColumnData::Numeric(v) => v[r].is_none(),
        ColumnData::Categorical { codes, .. } => codes[r].is_none(),
    }
}

/// A bin per row of `rows`: the level for a categorical column, a quantile bin (edges from the fit
/// part) for a numeric one; NULL is bin 0.
pub(crate) fn bin_codes(data: &ColumnData, rows: &[usize], in_valid: &[bool]) -> Vec<usize> {
    match data {
        ColumnData::Categorical { codes, .. } => rows.iter().map(|&r| codes[r].map_or(0, |c| c as usize + 1)).collect(),
        ColumnData::Numeric(values) => {
            let mut fit: Vec<f64> = rows.iter().zip(in_valid).filter(|(_, &v)| !v).filter_map(|(&r, _)| values[r]).collect();
            fit.sort_by(f64::total_cmp);
            let mut edges: Vec<f64> = (1..LEAKAGE_BINS).filter_map(|q| fit.get(q * fit.len() / LEAKAGE_BINS).copied()).collect();
            edges.dedup();
            rows.iter().map(|&r| values[r].map_or(0, |x| 1 + edges.partition_point(|&e| e <= x))).collect()
        }
    }
}

/// AUC on the validation slice of a score that is the fit part's (smoothed) positive rate per bin:
/// honest for identifiers (their levels are unseen in the slice), sensitive to non-monotone leaks.
pub(crate) fn single_column_auc(bins: &[usize], labels: &[bool], in_valid: &[bool]) -> f64 {
    let width = bins.iter().max().map_or(1, |m| m + 1);
    let mut positives = vec![0.0; width];
    let mut counts = vec![0.0; width];
    let (mut all_pos, mut all) = (0.0, 0.0);
    for ((&b, &y), &v) in bins.iter().zip(labels).zip(in_valid) {
        if !v {
            counts[b] += 1.0;
            positives[b] += y as u8 as f64;
            all += 1.0;
            all_pos += y as u8 as f64;
        }
    }
    let prior = if all > 0.0 { all_pos / all } else { 0.5 };
    let (mut valid_labels, mut scores) = (Vec::new(), Vec::new());
    for ((&b, &y), &v) in bins.iter().zip(labels).zip(in_valid) {
        if v {
            valid_labels.push(y);
            scores.push((positives[b] + prior) / (counts[b] + 1.0));
        }
    }
    metrics::auc(&valid_labels, &scores).map_or(0.5, |a| a.max(1.0 - a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_not_leaks() {
        // every row its own level: the slice's levels are unseen on the other rows, so the column
        // alone predicts nothing there
        let bins: Vec<usize> = (0..1000).collect();
        let labels: Vec<bool> = (0..1000).map(|i| i % 3 == 0).collect();
        let valid: Vec<bool> = (0..1000).map(|i| i % 5 == 0).collect();
        assert!(single_column_auc(&bins, &labels, &valid) < 0.6);
    }

    #[test]
    fn a_test_auc_above_the_limit_is_an_alert() {
        assert_eq!(model_leakage(0.99, 0.72).status, "alert");
        assert_eq!(model_leakage(0.68, 0.72).status, "ok");
    }
}
