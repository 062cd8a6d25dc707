//! PostgreSQL's dates and timestamps count from 2000-01-01, Arrow's from 1970-01-01. Conversions both
//! ways, refusing values the other side cannot represent instead of wrapping them.

use healthml_core::{Error, Result};

/// Days from 1970-01-01 to 2000-01-01.
pub const EPOCH_OFFSET_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub const EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// PostgreSQL's date range in its own epoch: Julian day 0 (4714-11-24 BC) to 5874897-12-31.
const PG_DATE_MIN: i32 = -2_451_545;
const PG_DATE_MAX: i32 = 2_145_031_948;
/// PostgreSQL's timestamp range in its own epoch: 4714-11-24 BC to 294276 AD (exclusive).
const PG_TIMESTAMP_MIN: i64 = -211_813_488_000_000_000;
const PG_TIMESTAMP_END: i64 = 9_223_371_331_200_000_000;
/// A day, PostgreSQL's `time` range being [00:00, 24:00].
const MICROS_PER_DAY: i64 = 86_400_000_000;

fn infinite(column: &str, what: &str) -> Error {
    Error::new(
        healthml_core::ErrorClass::FeatureNotSupported,
        format!("column \"{column}\" holds an infinite {what}, which Parquet cannot store"),
    )
    .with_hint("filter the infinite values out or replace them in the query, e.g. CASE WHEN isfinite(x) THEN x END")
}

fn out_of_range(column: &str, what: &str, value: i64) -> Error {
    Error::invalid_parameter(format!("column \"{column}\" holds {what} {value} outside PostgreSQL's range"))
        .with_hint("PostgreSQL stores dates from 4713 BC to 5874897 AD and timestamps from 4713 BC to 294276 AD: filter the file's outliers before importing")
}

/// A PostgreSQL date (days since 2000-01-01) as days since 1970-01-01.
pub fn date_to_arrow(column: &str, pg_days: i32) -> Result<i32> {
    if pg_days == i32::MAX || pg_days == i32::MIN {
        return Err(infinite(column, "date"));
    }
    pg_days.checked_add(EPOCH_OFFSET_DAYS).ok_or_else(|| out_of_range(column, "date", pg_days.into()))
}

/// Days since 1970-01-01 as a PostgreSQL date.
pub fn date_from_arrow(column: &str, unix_days: i32) -> Result<i32> {
    let pg_days = i64::from(unix_days) - i64::from(EPOCH_OFFSET_DAYS);
    if !(i64::from(PG_DATE_MIN)..=i64::from(PG_DATE_MAX)).contains(&pg_days) {
        return Err(out_of_range(column, "a date of day", unix_days.into()));
    }
    Ok(pg_days as i32)
}

/// A PostgreSQL timestamp (µs since 2000-01-01) as µs since 1970-01-01.
pub fn timestamp_to_arrow(column: &str, pg_micros: i64) -> Result<i64> {
    if pg_micros == i64::MAX || pg_micros == i64::MIN {
        return Err(infinite(column, "timestamp"));
    }
    pg_micros.checked_add(EPOCH_OFFSET_MICROS).ok_or_else(|| out_of_range(column, "timestamp", pg_micros))
}

/// µs since 1970-01-01 as a PostgreSQL timestamp.
pub fn timestamp_from_arrow(column: &str, unix_micros: i64) -> Result<i64> {
    match unix_micros.checked_sub(EPOCH_OFFSET_MICROS) {
        Some(pg) if (PG_TIMESTAMP_MIN..PG_TIMESTAMP_END).contains(&pg) => Ok(pg),
        _ => Err(out_of_range(column, "a timestamp of microsecond", unix_micros)),
    }
}

/// A time of day in µs, checked against PostgreSQL's [00:00, 24:00].
pub fn time_from_arrow(column: &str, micros: i64) -> Result<i64> {
    if (0..=MICROS_PER_DAY).contains(&micros) {
        Ok(micros)
    } else {
        Err(Error::invalid_parameter(format!("column \"{column}\" holds a time of day of {micros} µs, outside 00:00 to 24:00"))
            .with_hint("fix or filter the file's time values before importing"))
    }
}
