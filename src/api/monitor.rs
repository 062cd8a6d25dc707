//! `healthml.drift` and `healthml.subgroup_report`: the deployed model against new data, stored as
//! report rows next to the model.

use healthml_core::inference_log::{self, LoggedRow};
use healthml_core::intervals::{Interval, IntervalOptions};
use healthml_core::monitor::{self, DriftLimits, Reference, Subgroup};
use healthml_core::options::Options;
use healthml_core::{Error, ErrorClass};
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::api::score::score_relation;
use crate::cache::deployed_model;
use crate::error::{hint_on, raise, OrRaise};
use crate::spi::{read_named_relation, select_one};

/// Drift of `relation` (read as the caller) from the training data of the deployed model, per input
/// column and for the predicted score: PSI on the training deciles (or levels), Kolmogorov-Smirnov
/// for numbers, Jensen-Shannon for levels, and a status by PSI (options `psi_warn` 0.1, `psi_alert`
/// 0.25). With option `"source": "inference_log"` and a NULL relation, the rows are the deployed
/// version's logged scoring calls between options `since` and `until` (timestamps; the last 7 days
/// by default), their scores as served. Every call is stored in healthml.drift_reports.
#[pg_extern(volatile)]
fn drift(
    model_name: Option<&str>,
    relation: Option<crate::spi::Relation>,
    options: default!(Option<JsonB>, "'{}'"),
) -> TableIterator<
    'static,
    (
        name!(feature, String),
        name!(kind, String),
        name!(rows, i64),
        name!(psi, f64),
        name!(ks, Option<f64>),
        name!(js, Option<f64>),
        name!(status, String),
    ),
> {
    crate::spi::require_primary("healthml.drift");
    // not STRICT (the relation may be NULL): the other arguments are checked here
    let model_name = model_name.unwrap_or_else(|| {
        crate::error::raise_with(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "model_name must not be NULL".to_string(),
            Some("name a deployed model: SELECT name FROM healthml.deployments"),
        )
    });
    let options = options.map_or(serde_json::Value::Null, |o| o.0);
    let parsed = DriftOptions::parse("healthml.drift", &options, false);
    let (id, model) = deployed_model(model_name);
    let reference = training_reference(id, model_name);
    let (source, report) = match (parsed.window, relation) {
        (None, Some(relation)) => {
            let (source, frame) = read_named_relation(relation);
            let scores = model.predict_frame(&frame).or_raise();
            (source, monitor::drift(&reference, &frame, &scores, parsed.limits).or_raise())
        }
        (None, None) => crate::error::raise_with(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "relation must not be NULL".to_string(),
            Some(
                r#"name the relation to compare, or read the inference log: healthml.drift('model', NULL, '{"source": "inference_log"}')"#,
            ),
        ),
        (Some(window), None) => {
            // what is still in shared memory counts too
            crate::inference_log::flush();
            let (since, until, rows) = logged_rows(id, &window);
            let rows: Vec<&LoggedRow> = rows.iter().collect();
            (format!("inference log {since} to {until}"), inference_log::drift(&reference, &rows, parsed.limits).or_raise())
        }
        (Some(_), Some(relation)) => raise(
            Error::invalid_parameter(format!(
                "drift reads either a relation or the inference log, got both {} and \"source\": \"inference_log\"",
                relation.qualified_name()
            ))
            .with_hint("pass NULL as the relation to read the inference log"),
        ),
    };
    crate::spi::connect_mut(|client| {
        let report_id = next_report_id(client, "healthml.drift_report_ids");
        for d in &report {
            client
                .update(
                    "INSERT INTO healthml.drift_reports (report_id, model_id, relation, feature, kind, rows, psi, ks, js, status,
                                                         psi_warn, psi_alert)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    None,
                    &[
                        report_id.into(),
                        id.into(),
                        source.clone().into(),
                        d.feature.clone().into(),
                        d.kind.into(),
                        (d.rows as i64).into(),
                        d.psi.into(),
                        d.ks.into(),
                        d.js.into(),
                        d.status.into(),
                        parsed.limits.warn.into(),
                        parsed.limits.alert.into(),
                    ],
                )
                .unwrap_or_else(|e| crate::error::own_objects_failed("storing the drift report", e));
        }
    });
    TableIterator::new(
        report.into_iter().map(|d| (d.feature, d.kind.to_string(), d.rows as i64, d.psi, d.ks, d.js, d.status.to_string())),
    )
}

/// Drift of the logged scoring calls of the deployed model (option `version`: another version)
/// from its training data, per UTC day between options `since` and `until` (the last 7 days by
/// default); options `psi_warn` and `psi_alert` as `healthml.drift`'s. Not stored: what dashboards
/// and the model card read. Only these aggregates leave the log, whose rows analysts cannot read.
#[pg_extern(stable)]
fn inference_drift(
    model_name: &str,
    options: default!(JsonB, "'{}'"),
) -> TableIterator<
    'static,
    (
        name!(day, pgrx::datum::Date),
        name!(feature, String),
        name!(kind, String),
        name!(rows, i64),
        name!(psi, f64),
        name!(ks, Option<f64>),
        name!(js, Option<f64>),
        name!(status, String),
    ),
> {
    let parsed = DriftOptions::parse("healthml.inference_drift", &options.0, true);
    let window = parsed.window.expect("inference_drift always reads the log");
    let id = match window.version {
        Some(version) => crate::spi::as_models_owner(|| {
            select_one::<i64>(
                "SELECT id FROM healthml.models WHERE name = $1 AND version = $2",
                &[model_name.into(), version.into()],
            )
        })
        .unwrap_or_else(|| {
            raise(
                Error::new(ErrorClass::UndefinedObject, format!("model \"{model_name}\" has no version {version}"))
                    .with_hint("list versions with SELECT * FROM healthml.model_registry"),
            )
        }),
        None => deployed_model(model_name).0,
    };
    let reference = training_reference(id, model_name);
    let (_, _, rows) = logged_rows(id, &window);
    let days = inference_log::drift_by_day(&reference, &rows, parsed.limits).or_raise();
    let mut out = Vec::new();
    for (day, report) in days {
        let date = parse_day(&day);
        out.extend(
            report
                .into_iter()
                .map(|d| (date, d.feature, d.kind.to_string(), d.rows as i64, d.psi, d.ks, d.js, d.status.to_string())),
        );
    }
    TableIterator::new(out)
}

fn parse_day(day: &str) -> pgrx::datum::Date {
    let part = |range: std::ops::Range<usize>| day.get(range).and_then(|p| p.parse::<u32>().ok()).unwrap_or(1);
    pgrx::datum::Date::new(part(0..4) as i32, part(5..7) as u8, part(8..10) as u8)
        .unwrap_or_else(|e| crate::error::own_objects_failed(&format!("reading the day {day}"), e))
}

/// The training distributions stored with model `id`.
fn training_reference(id: i64, model_name: &str) -> Reference {
    crate::spi::as_models_owner(|| select_one::<JsonB>("SELECT reference FROM healthml.models WHERE id = $1", &[id.into()]))
        .and_then(|r| serde_json::from_value(r.0).ok())
        .unwrap_or_else(|| {
            raise(
                Error::new(ErrorClass::UndefinedObject, format!("model \"{model_name}\" has no training distributions"))
                    .with_hint(
                        "retrain it with this version of healthml, or import it with the evaluate_on option: both store them",
                    ),
            )
        })
}

/// Which calls of the inference log drift reads.
struct LogWindow {
    since: Option<String>,
    until: Option<String>,
    version: Option<i32>,
}

struct DriftOptions {
    limits: DriftLimits,
    /// None: drift reads a relation.
    window: Option<LogWindow>,
}

impl DriftOptions {
    /// `always_log`: the function reads only the log (no `source` option).
    fn parse(function: &'static str, options: &serde_json::Value, always_log: bool) -> DriftOptions {
        let d = DriftLimits::default();
        let mut o = Options::new(function, options).or_raise();
        let warn = o.f64_in("psi_warn", d.warn, 0.0, 100.0).or_raise();
        let alert = o.f64_in("psi_alert", d.alert, 0.0, 100.0).or_raise();
        let from_log = always_log || o.choice("source", "relation", &["relation", "inference_log"]).or_raise() == "inference_log";
        let window = from_log.then(|| {
            let mut text = |key: &'static str| {
                o.raw(key).map(|v| match v {
                    serde_json::Value::String(s) => s,
                    other => raise(
                        Error::invalid_parameter(format!(
                            "option \"{key}\" of {function} must be a timestamp as text, got {other}"
                        ))
                        .with_hint(format!(r#"for example {{"{key}": "2026-12-01"}} or {{"{key}": "2026-12-01 08:00+01"}}"#)),
                    ),
                })
            };
            let (since, until) = (text("since"), text("until"));
            let version = if always_log {
                o.optional_f64_in("version", 1.0, i32::MAX as f64).or_raise().map(|v| {
                    if v.fract() != 0.0 {
                        raise(
                            Error::invalid_parameter(format!("option \"version\" of {function} must be a whole number, got {v}"))
                                .with_hint("leave it out for the deployed version"),
                        )
                    }
                    v as i32
                })
            } else {
                None
            };
            LogWindow { since, until, version }
        });
        o.finish().or_raise();
        if alert < warn {
            raise(
                Error::invalid_parameter(format!("psi_alert ({alert}) must not be below psi_warn ({warn})"))
                    .with_hint(format!("leave both out for {} and {}", d.warn, d.alert)),
            );
        }
        DriftOptions { limits: DriftLimits { warn, alert }, window }
    }
}

/// The logged calls of model `id` in the window (read as the owner of healthml's tables: analysts
/// never read the log's rows), with the window's bounds as text.
fn logged_rows(id: i64, window: &LogWindow) -> (String, String, Vec<LoggedRow>) {
    let (since, until) = hint_on(
        PgSqlErrorCode::ERRCODE_INVALID_DATETIME_FORMAT,
        r#"options "since" and "until" are timestamps as text, e.g. "2026-12-01" or "2026-12-01 08:00+01""#,
        || {
            crate::spi::first_row(
                "SELECT coalesce($1::timestamptz, now() - interval '7 days')::text, coalesce($2::timestamptz, now())::text",
                &[window.since.clone().into(), window.until.clone().into()],
                |column| (crate::spi::value::<String>(column, 1), crate::spi::value::<String>(column, 2)),
            )
        },
    )
    .map(|(a, b)| (a.unwrap_or_default(), b.unwrap_or_default()))
    .unwrap_or_default();
    let rows = crate::spi::as_models_owner(|| {
        crate::spi::connect(|client| {
            let table = client
                .select(
                    "SELECT to_char(logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), score, inputs FROM healthml.inference_log
                     WHERE model_id = $1 AND logged_at >= $2::timestamptz AND logged_at < $3::timestamptz",
                    None,
                    &[id.into(), since.clone().into(), until.clone().into()],
                )
                .unwrap_or_else(|e| crate::error::own_objects_failed("reading the inference log", e));
            table
                .map(|row| LoggedRow {
                    day: row.get::<String>(1).ok().flatten().unwrap_or_default(),
                    score: row.get::<f64>(2).ok().flatten().unwrap_or(f64::NAN),
                    inputs: match row.get::<JsonB>(3).ok().flatten() {
                        Some(JsonB(serde_json::Value::Object(map))) => map,
                        _ => Default::default(),
                    },
                })
                .collect()
        })
    });
    (since, until, rows)
}

/// One id per report: the rows of one call share it.
fn next_report_id(client: &mut pgrx::spi::SpiClient<'_>, sequence: &str) -> i64 {
    client
        .update(&format!("SELECT nextval('{sequence}')"), Some(1), &[])
        .and_then(|t| t.first().get_one::<i64>())
        .unwrap_or_else(|e| crate::error::own_objects_failed(&format!("nextval of {sequence}"), e))
        .unwrap_or_default()
}

/// One row of a subgroup report as 0.1.0 returned it.
type SubgroupRow = (
    Option<String>,
    bool,
    i64,
    i64,
    f64,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

/// What 0.2.0 adds to each row: average precision, Brier, calibration intercept and slope, the
/// AUC's interval, and every interval.
type SubgroupEvidence = (Option<f64>, Option<f64>, Option<f64>, Option<f64>, Option<f64>, Option<f64>, JsonB);

/// The deployed model's scores against outcomes per value of column `by` of `relation` (read as the
/// caller): n, positives, mean score, AUC, calibration ratio (mean score / observed rate), true and
/// false positive rates at the model's decision threshold (its threshold policy, if set), each
/// figure's gap to the whole relation (first row), then average precision, Brier, calibration
/// intercept and slope, and every figure's 95 % interval from resampling each subgroup's patients
/// (options as `healthml.evaluate`'s: `group_by`, `resamples`, `seed`). Stored in
/// healthml.subgroup_reports.
#[pg_extern(volatile, name = "subgroup_report")]
fn subgroup_report_with_intervals(
    model_name: &str,
    relation: crate::spi::Relation,
    by: &str,
    options: default!(JsonB, "'{}'"),
) -> TableIterator<
    'static,
    (
        name!(subgroup, Option<String>),
        name!(overall, bool),
        name!(n, i64),
        name!(positives, i64),
        name!(mean_score, f64),
        name!(observed_rate, f64),
        name!(auc, Option<f64>),
        name!(calibration_ratio, Option<f64>),
        name!(tpr, Option<f64>),
        name!(fpr, Option<f64>),
        name!(flagged_share, f64),
        name!(auc_gap, Option<f64>),
        name!(calibration_gap, Option<f64>),
        name!(tpr_gap, Option<f64>),
        name!(fpr_gap, Option<f64>),
        name!(average_precision, Option<f64>),
        name!(brier, Option<f64>),
        name!(calibration_intercept, Option<f64>),
        name!(calibration_slope, Option<f64>),
        name!(auc_low, Option<f64>),
        name!(auc_high, Option<f64>),
        name!(intervals, JsonB),
    ),
> {
    let parsed = IntervalOptions::from_json("healthml.subgroup_report", &options.0).or_raise();
    let rows = subgroups_stored(model_name, relation, by, &parsed);
    TableIterator::new(rows.into_iter().map(|s| {
        let (a, b) = (row_of(&s), evidence_of(&s));
        (a.0, a.1, a.2, a.3, a.4, a.5, a.6, a.7, a.8, a.9, a.10, a.11, a.12, a.13, a.14, b.0, b.1, b.2, b.3, b.4, b.5, b.6)
    }))
}

/// 0.1.0's `subgroup_report(model_name, relation, by)`: what its SQL definition calls until `ALTER
/// EXTENSION healthml UPDATE` replaces it (no SQL of its own in 0.2.0). Its report is stored with
/// the intervals all the same.
#[pg_extern(volatile, sql = false)]
fn subgroup_report(
    model_name: &str,
    relation: crate::spi::Relation,
    by: &str,
) -> TableIterator<
    'static,
    (
        name!(subgroup, Option<String>),
        name!(overall, bool),
        name!(n, i64),
        name!(positives, i64),
        name!(mean_score, f64),
        name!(observed_rate, f64),
        name!(auc, Option<f64>),
        name!(calibration_ratio, Option<f64>),
        name!(tpr, Option<f64>),
        name!(fpr, Option<f64>),
        name!(flagged_share, f64),
        name!(auc_gap, Option<f64>),
        name!(calibration_gap, Option<f64>),
        name!(tpr_gap, Option<f64>),
        name!(fpr_gap, Option<f64>),
    ),
> {
    let parsed = IntervalOptions::from_json("healthml.subgroup_report", &serde_json::json!({})).or_raise();
    TableIterator::new(subgroups_stored(model_name, relation, by, &parsed).iter().map(row_of).collect::<Vec<_>>())
}

fn row_of(s: &Subgroup) -> SubgroupRow {
    (
        s.group.clone(),
        s.overall,
        s.n as i64,
        s.positives as i64,
        s.mean_score,
        s.observed_rate,
        s.auc,
        s.calibration_ratio,
        s.tpr,
        s.fpr,
        s.flagged_share,
        s.auc_gap,
        s.calibration_gap,
        s.tpr_gap,
        s.fpr_gap,
    )
}

fn evidence_of(s: &Subgroup) -> SubgroupEvidence {
    let i = &s.intervals;
    let estimate = |x: Option<Interval>| x.map(|x| x.estimate);
    (
        estimate(i.average_precision),
        estimate(i.brier),
        estimate(i.calibration_intercept),
        estimate(i.calibration_slope),
        i.auc.map(|x| x.low),
        i.auc.map(|x| x.high),
        JsonB(i.to_json(None)),
    )
}

/// The report's rows, computed and stored.
fn subgroups_stored(model_name: &str, relation: crate::spi::Relation, by: &str, parsed: &IntervalOptions) -> Vec<Subgroup> {
    crate::spi::require_primary("healthml.subgroup_report");
    let scored = score_relation(model_name, relation);
    let column = scored.frame.column(by).unwrap_or_else(|| {
        raise(Error::new(ErrorClass::UndefinedColumn, format!("column \"{by}\" does not exist in {}", scored.source)).with_hint(
            format!("group by one of: {}", scored.frame.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")),
        ))
    });
    let patients_column = scored.interval_column(parsed.group_by.as_deref());
    let threshold =
        select_one::<f64>("SELECT healthml.decision_threshold($1)", &[scored.model_id.into()]).unwrap_or(scored.threshold);
    let (mut labels, mut scores, mut groups, mut patients) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (r, label) in scored.labels.iter().enumerate() {
        if let Some(y) = label {
            labels.push(*y);
            scores.push(scored.scores[r]);
            groups.push(scored.frame.cell_text(column, r));
            if let Some(p) = patients_column {
                patients.push(scored.frame.cell_text(p, r).unwrap_or_default());
            }
        }
    }
    if labels.is_empty() {
        raise(
            Error::new(ErrorClass::InsufficientData, format!("{} has no labelled rows", scored.source))
                .with_hint("a subgroup audit compares scores with outcomes: rows need a non-NULL target"),
        );
    }
    let clusters = patients_column.map(|_| patients.as_slice());
    let rows = monitor::subgroups(&labels, &scores, &groups, threshold, clusters, parsed.bootstrap).or_raise();
    crate::spi::connect_mut(|client| {
        let report_id = next_report_id(client, "healthml.subgroup_report_ids");
        for s in &rows {
            let (a, b) = (row_of(s), evidence_of(s));
            let mut intervals = b.6 .0;
            intervals["grouped_by"] = serde_json::json!(patients_column.map(|c| &c.name));
            client
                .update(
                    "INSERT INTO healthml.subgroup_reports (report_id, model_id, relation, by_column, threshold, subgroup, overall, n,
                         positives, mean_score, observed_rate, auc, calibration_ratio, tpr, fpr, flagged_share, auc_gap,
                         calibration_gap, tpr_gap, fpr_gap, average_precision, brier, calibration_intercept, calibration_slope,
                         auc_low, auc_high, intervals)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
                             $23, $24, $25, $26, $27)",
                    None,
                    &[
                        report_id.into(),
                        scored.model_id.into(),
                        scored.source.clone().into(),
                        by.into(),
                        threshold.into(),
                        a.0.into(),
                        a.1.into(),
                        a.2.into(),
                        a.3.into(),
                        a.4.into(),
                        a.5.into(),
                        a.6.into(),
                        a.7.into(),
                        a.8.into(),
                        a.9.into(),
                        a.10.into(),
                        a.11.into(),
                        a.12.into(),
                        a.13.into(),
                        a.14.into(),
                        b.0.into(),
                        b.1.into(),
                        b.2.into(),
                        b.3.into(),
                        b.4.into(),
                        b.5.into(),
                        JsonB(intervals).into(),
                    ],
                )
                .unwrap_or_else(|e| crate::error::own_objects_failed("storing the subgroup report", e));
        }
    });
    rows
}
