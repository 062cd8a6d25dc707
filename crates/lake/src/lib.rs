//! healthml-lake: typed columns to and from Parquet files, through Arrow.
//!
//! The extension shell reads a query's rows out of PostgreSQL into [`Values`] (one vector per
//! column, in batches) and hands them to an [`Export`]; an [`Import`] reads a Parquet file written by
//! anyone (pyarrow, pandas, Spark, DuckDB, polars) back into [`Values`] of the PostgreSQL-shaped
//! types in [`ColumnType`]. Nothing here touches the database: every conversion, range check and
//! file rule is tested with plain `cargo test`.
//!
//! Epochs: PostgreSQL counts days and microseconds from 2000-01-01, Arrow from 1970-01-01. [`Values`]
//! carry PostgreSQL's epoch, so the shell copies datums as they are; [`pg_epoch`] converts at the
//! Arrow side, refusing what the other side cannot hold (PostgreSQL's `infinity`, dates beyond
//! PostgreSQL's range).

pub mod pg_epoch;
mod read;
mod write;

pub use read::{restored_type, Import};
pub use write::{Compression, Export, ExportOptions};

/// A column's type, named as PostgreSQL knows it. Each maps to one Arrow type on export; on import
/// every supported Arrow type is first cast to the Arrow type of one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// `numeric(precision, scale)`; values travel as decimal text (PostgreSQL's own numeric format).
    Decimal {
        precision: u8,
        scale: i8,
    },
    Text,
    Bytes,
    /// Days since 2000-01-01.
    Date,
    /// Microseconds since midnight.
    Time,
    /// Wall-clock microseconds since 2000-01-01 00:00, no time zone.
    Timestamp,
    /// Microseconds since 2000-01-01 00:00 UTC.
    TimestampTz,
}

impl ColumnType {
    /// The PostgreSQL type a column of this kind is created with.
    pub fn sql_type(self) -> String {
        match self {
            ColumnType::Bool => "boolean".into(),
            ColumnType::Int16 => "smallint".into(),
            ColumnType::Int32 => "integer".into(),
            ColumnType::Int64 => "bigint".into(),
            ColumnType::Float32 => "real".into(),
            ColumnType::Float64 => "double precision".into(),
            ColumnType::Decimal { precision, scale } => format!("numeric({precision},{scale})"),
            ColumnType::Text => "text".into(),
            ColumnType::Bytes => "bytea".into(),
            ColumnType::Date => "date".into(),
            ColumnType::Time => "time".into(),
            ColumnType::Timestamp => "timestamp".into(),
            ColumnType::TimestampTz => "timestamptz".into(),
        }
    }
}

/// A named, typed column of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub column_type: ColumnType,
    pub nullable: bool,
}

/// One batch of one column's values, `None` for NULL. The variant matches the column's [`ColumnType`]
/// (`Decimal` for `ColumnType::Decimal`, and so on); epochs are PostgreSQL's (see the crate docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Bool(Vec<Option<bool>>),
    Int16(Vec<Option<i16>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Float32(Vec<Option<f32>>),
    Float64(Vec<Option<f64>>),
    Decimal(Vec<Option<String>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
    Date(Vec<Option<i32>>),
    Time(Vec<Option<i64>>),
    Timestamp(Vec<Option<i64>>),
    TimestampTz(Vec<Option<i64>>),
}

impl Values {
    /// An empty vector of the variant that carries `column_type`, with room for `capacity` rows.
    pub fn with_capacity(column_type: ColumnType, capacity: usize) -> Values {
        match column_type {
            ColumnType::Bool => Values::Bool(Vec::with_capacity(capacity)),
            ColumnType::Int16 => Values::Int16(Vec::with_capacity(capacity)),
            ColumnType::Int32 => Values::Int32(Vec::with_capacity(capacity)),
            ColumnType::Int64 => Values::Int64(Vec::with_capacity(capacity)),
            ColumnType::Float32 => Values::Float32(Vec::with_capacity(capacity)),
            ColumnType::Float64 => Values::Float64(Vec::with_capacity(capacity)),
            ColumnType::Decimal { .. } => Values::Decimal(Vec::with_capacity(capacity)),
            ColumnType::Text => Values::Text(Vec::with_capacity(capacity)),
            ColumnType::Bytes => Values::Bytes(Vec::with_capacity(capacity)),
            ColumnType::Date => Values::Date(Vec::with_capacity(capacity)),
            ColumnType::Time => Values::Time(Vec::with_capacity(capacity)),
            ColumnType::Timestamp => Values::Timestamp(Vec::with_capacity(capacity)),
            ColumnType::TimestampTz => Values::TimestampTz(Vec::with_capacity(capacity)),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Values::Bool(v) => v.len(),
            Values::Int16(v) => v.len(),
            Values::Int32(v) | Values::Date(v) => v.len(),
            Values::Int64(v) | Values::Time(v) | Values::Timestamp(v) | Values::TimestampTz(v) => v.len(),
            Values::Float32(v) => v.len(),
            Values::Float64(v) => v.len(),
            Values::Decimal(v) | Values::Text(v) => v.len(),
            Values::Bytes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
