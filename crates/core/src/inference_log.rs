//! The inference log's record format and what is computed from logged rows.
//!
//! A sampled scoring call is copied into a fixed-size slot of shared memory by the scoring backend
//! and turned into a table row later by another process: the inputs travel as the compact bytes
//! [`encode`] writes (one cell per recipe step, as the model read them), and become a JSON object of
//! input column → value ([`inputs_json`]) only when they are stored.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::monitor::{self, DriftLimits, Reference, Values};
use crate::prep::recipe::{Cell, Recipe};
use crate::{Error, ErrorClass, Result};

const NULL: u8 = 0;
const NUMBER: u8 = 1;
const TEXT: u8 = 2;

/// Appends one tagged value per cell to `out`; false when the record would exceed `limit` bytes
/// (a text longer than 65,535 bytes, or too many cells), and `out` is then left as it was.
pub fn encode(cells: &[Cell<'_>], limit: usize, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    for cell in cells {
        match cell {
            Cell::Null => out.push(NULL),
            Cell::Number(x) => {
                out.push(NUMBER);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Cell::Text(s) => {
                let Ok(len) = u16::try_from(s.len()) else {
                    out.truncate(start);
                    return false;
                };
                out.push(TEXT);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
        if out.len() - start > limit {
            out.truncate(start);
            return false;
        }
    }
    true
}

/// A decoded cell, owning its text.
#[derive(Debug, Clone, PartialEq)]
pub enum Logged {
    Null,
    Number(f64),
    Text(String),
}

/// The cells [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<Vec<Logged>> {
    let corrupted = || Error::corrupted("an inference log record is truncated");
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let tag = bytes[at];
        at += 1;
        match tag {
            NULL => out.push(Logged::Null),
            NUMBER => {
                let raw = bytes.get(at..at + 8).ok_or_else(corrupted)?;
                out.push(Logged::Number(f64::from_le_bytes(raw.try_into().expect("8 bytes"))));
                at += 8;
            }
            TEXT => {
                let raw = bytes.get(at..at + 2).ok_or_else(corrupted)?;
                let len = u16::from_le_bytes([raw[0], raw[1]]) as usize;
                at += 2;
                let text = bytes.get(at..at + len).ok_or_else(corrupted)?;
                out.push(Logged::Text(String::from_utf8_lossy(text).into_owned()));
                at += len;
            }
            other => return Err(Error::corrupted(format!("an inference log record has the unknown tag {other}"))),
        }
    }
    Ok(out)
}

/// The model's inputs as a JSON object of column → value, in recipe order (steps that are not
/// inputs are left out). A number that is not finite is stored as null: JSON has no NaN.
pub fn inputs_json(recipe: &Recipe, cells: &[Logged]) -> Result<Value> {
    if cells.len() != recipe.steps.len() {
        return Err(Error::corrupted(format!(
            "an inference log record has {} values, the model's recipe {} steps",
            cells.len(),
            recipe.steps.len()
        )));
    }
    let mut row = Map::new();
    for (step, cell) in recipe.steps.iter().zip(cells) {
        if !step.is_input() {
            continue;
        }
        let value = match cell {
            Logged::Null => Value::Null,
            Logged::Number(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
            Logged::Text(s) => Value::String(s.clone()),
        };
        row.insert(step.column().to_string(), value);
    }
    Ok(Value::Object(row))
}

/// One logged call as drift reads it: its day (any key that orders days), score and inputs.
pub struct LoggedRow {
    pub day: String,
    pub score: f64,
    pub inputs: Map<String, Value>,
}

/// One reference column's values from logged inputs: a missing key or null is missing, a number
/// read as a level prints as an integer when it is one (as drift reads a relation's numbers).
fn logged_values(rows: &[&LoggedRow], column: &str, numeric: bool) -> Values {
    if numeric {
        Values::Numbers(
            rows.iter()
                .map(|r| match r.inputs.get(column) {
                    Some(Value::Number(n)) => n.as_f64(),
                    Some(Value::String(s)) => s.trim().parse().ok(),
                    _ => None,
                })
                .collect(),
        )
    } else {
        Values::Levels(
            rows.iter()
                .map(|r| match r.inputs.get(column) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => n.as_f64().map(monitor::format_number),
                    Some(Value::Bool(b)) => Some(b.to_string()),
                    _ => None,
                })
                .collect(),
        )
    }
}

/// Drift of logged calls from the training data, over all `rows`.
pub fn drift(reference: &Reference, rows: &[&LoggedRow], limits: DriftLimits) -> Result<Vec<monitor::Drift>> {
    if rows.is_empty() {
        return Err(Error::new(ErrorClass::InsufficientData, "the inference log has no calls of this model in the window")
            .with_hint("logging is opt-in: healthml.set_inference_logging('model', 0.01) samples 1 % of calls"));
    }
    let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
    monitor::drift_with(reference, |column, numeric| Ok(logged_values(rows, column, numeric)), &scores, limits)
}

/// Drift of each day's logged calls from the training data, days in order.
pub fn drift_by_day(
    reference: &Reference,
    rows: &[LoggedRow],
    limits: DriftLimits,
) -> Result<Vec<(String, Vec<monitor::Drift>)>> {
    let mut days: BTreeMap<&str, Vec<&LoggedRow>> = BTreeMap::new();
    for row in rows {
        days.entry(row.day.as_str()).or_default().push(row);
    }
    days.into_iter().map(|(day, rows)| Ok((day.to_string(), drift(reference, &rows, limits)?))).collect()
}

/// A PostgreSQL timestamp (microseconds since 2000-01-01 00:00 UTC) as timestamptz input text,
/// exact to the microsecond (a float conversion in SQL would not be, this far from 2000).
pub fn timestamp_text(microseconds: i64) -> String {
    const DAY: i64 = 86_400_000_000;
    let days = microseconds.div_euclid(DAY);
    let within = microseconds.rem_euclid(DAY);
    // days since 1970-01-01 to a civil date (Howard Hinnant's algorithm)
    let z = days + 10_957 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (seconds, micros) = (within / 1_000_000, within % 1_000_000);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{micros:06}+00", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_exactly() {
        assert_eq!(timestamp_text(0), "2000-01-01 00:00:00.000000+00");
        assert_eq!(timestamp_text(-1), "1999-12-31 23:59:59.999999+00");
        // 2026-12-04 13:54:36.123456 UTC, as SELECT (extract(epoch from ts) - 946684800) * 1e6 gives it
        assert_eq!(timestamp_text(849_707_676_123_456), "2026-12-04 13:54:36.123456+00");
        assert_eq!(timestamp_text(131_328_000_000_000), "2004-02-29 00:00:00.000000+00");
    }

    #[test]
    fn records_round_trip() {
        let cells = [Cell::Number(3.5), Cell::Null, Cell::Text("Emergency"), Cell::Text(""), Cell::Number(-0.0)];
        let mut bytes = vec![9];
        assert!(encode(&cells, 1000, &mut bytes));
        let decoded = decode(&bytes[1..]).unwrap();
        assert_eq!(
            decoded,
            vec![
                Logged::Number(3.5),
                Logged::Null,
                Logged::Text("Emergency".into()),
                Logged::Text(String::new()),
                Logged::Number(-0.0)
            ]
        );
    }

    #[test]
    fn a_record_over_the_limit_is_refused_and_leaves_nothing() {
        let long = "x".repeat(100);
        let mut bytes = vec![7];
        assert!(!encode(&[Cell::Number(1.0), Cell::Text(&long)], 50, &mut bytes));
        assert_eq!(bytes, vec![7]);
        let huge = "y".repeat(70_000);
        assert!(!encode(&[Cell::Text(&huge)], usize::MAX, &mut bytes));
        assert_eq!(bytes, vec![7]);
    }

    #[test]
    fn truncated_and_unknown_records_are_errors() {
        let mut bytes = Vec::new();
        assert!(encode(&[Cell::Number(1.0), Cell::Text("abc")], 100, &mut bytes));
        for cut in 1..bytes.len() {
            if cut == 9 {
                continue; // a whole first cell
            }
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[5]).is_err());
    }

    fn row(day: &str, score: f64, age: f64, kind: &str) -> LoggedRow {
        let inputs = serde_json::json!({"age": age, "kind": kind});
        LoggedRow { day: day.into(), score, inputs: inputs.as_object().unwrap().clone() }
    }

    #[test]
    fn drift_by_day_compares_each_day_with_the_reference() {
        let frame_rows: Vec<LoggedRow> =
            (0..200).map(|i| row("d", (i % 10) as f64 / 10.0, (i % 50) as f64, ["a", "b"][i % 2])).collect();
        // the reference is fitted the way training fits it, from a frame of the same values
        let frame = crate::frame::Frame {
            columns: vec![
                crate::frame::Column::new(
                    "age",
                    "float8",
                    crate::frame::ValueKind::Real,
                    crate::frame::ColumnData::Numeric(frame_rows.iter().map(|r| r.inputs["age"].as_f64()).collect()),
                ),
                crate::frame::Column::new("kind", "text", crate::frame::ValueKind::Text, {
                    let mut b = crate::frame::CategoricalBuilder::with_capacity(200);
                    for r in &frame_rows {
                        b.push(r.inputs["kind"].as_str());
                    }
                    b.finish()
                }),
            ],
        };
        let scores: Vec<f64> = frame_rows.iter().map(|r| r.score).collect();
        let reference = monitor::reference(&frame, &[("age".into(), true), ("kind".into(), false)], &scores).unwrap();
        let mut logged: Vec<LoggedRow> =
            (0..200).map(|i| row("2026-12-01", (i % 10) as f64 / 10.0, (i % 50) as f64, ["a", "b"][i % 2])).collect();
        // the second day is older patients, all of kind "a"
        logged.extend((0..200).map(|i| row("2026-12-02", (i % 10) as f64 / 10.0, 40.0 + (i % 10) as f64, "a")));
        let days = drift_by_day(&reference, &logged, DriftLimits::default()).unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].0, "2026-12-01");
        let psi = |day: usize, feature: &str| days[day].1.iter().find(|d| d.feature == feature).unwrap().psi;
        assert!(psi(0, "age") < 0.01 && psi(0, "kind") < 0.01, "the same data does not drift");
        assert!(psi(1, "age") > 0.25 && psi(1, "kind") > 0.25, "the second day drifts");
        assert!(psi(1, monitor::SCORE_FEATURE) < 0.01, "its scores do not");
        assert!(days[1].1.iter().all(|d| d.rows == 200));
    }

    #[test]
    fn no_logged_calls_is_an_error_with_a_hint() {
        let reference = Reference {
            rows: 0,
            columns: vec![],
            score: monitor::Distribution::Numeric { edges: vec![], shares: vec![1.0], cdf_points: vec![], cdf: vec![] },
            score_rows: 0,
        };
        let e = drift(&reference, &[], DriftLimits::default()).unwrap_err();
        assert_eq!(e.class(), ErrorClass::InsufficientData);
    }
}
