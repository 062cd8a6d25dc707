//! Reading any writer's Parquet file as batches of [`Values`] of PostgreSQL-shaped types.

use std::fs::File;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Time64MicrosecondType, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use healthml_core::{Error, ErrorClass, Result};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::write::{absolute_path, io_error, POSTGRES_TYPE_KEY};
use crate::{pg_epoch, ColumnType, Field, Values};

/// A Parquet file being read.
pub struct Import {
    reader: ParquetRecordBatchReader,
    fields: Vec<Field>,
    /// The PostgreSQL type each column is created with.
    sql_types: Vec<String>,
    /// The Arrow type each column is cast to before its values are taken out.
    canonical: Vec<DataType>,
    rows: i64,
    path: String,
}

impl Import {
    /// Opens `path` (absolute, on the database server) and maps its schema. Fails, naming the
    /// column, on a type PostgreSQL has no column for (lists, structs, maps, intervals, ...).
    pub fn open(path: &str, batch_rows: usize) -> Result<Import> {
        let absolute = absolute_path(path)?;
        if absolute.is_dir() {
            return Err(Error::invalid_parameter(format!("\"{path}\" is a directory"))
                .with_hint("name one Parquet file; import the files of a directory one by one"));
        }
        let file = File::open(&absolute).map_err(|e| io_error("open", &absolute, &e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
            Error::new(ErrorClass::BadFileFormat, format!("\"{path}\" is not a readable Parquet file: {e}"))
                .with_hint("check that the file is complete and really Parquet (it starts and ends with the bytes PAR1)")
        })?;
        let rows = builder.metadata().file_metadata().num_rows();
        // A codec this build cannot decode would fail at its first page with a message about
        // features; say it up front, naming the codec and the column.
        for row_group in builder.metadata().row_groups() {
            for column in row_group.columns() {
                use parquet::basic::Compression as C;
                if !matches!(column.compression(), C::UNCOMPRESSED | C::SNAPPY | C::GZIP(_) | C::LZ4 | C::LZ4_RAW | C::ZSTD(_)) {
                    return Err(Error::new(
                        ErrorClass::FeatureNotSupported,
                        format!(
                            "column \"{}\" of \"{path}\" is compressed with {}, which healthml does not read",
                            column.column_path().string(),
                            codec_name(column.compression())
                        ),
                    )
                    .with_hint("write the file with snappy (the usual default), zstd, gzip, lz4 or no compression"));
                }
            }
        }
        let mut fields = Vec::new();
        let mut sql_types = Vec::new();
        let mut canonical = Vec::new();
        for field in builder.schema().fields() {
            let (column_type, arrow_type) = column_type_of(field.name(), field.data_type())?;
            let declared = field.metadata().get(POSTGRES_TYPE_KEY).map(String::as_str);
            sql_types.push(restored_type(column_type, declared).unwrap_or_else(|| column_type.sql_type()));
            fields.push(Field { name: field.name().clone(), column_type, nullable: field.is_nullable() });
            canonical.push(arrow_type);
        }
        if fields.is_empty() {
            return Err(Error::new(ErrorClass::BadFileFormat, format!("\"{path}\" has no columns"))
                .with_hint("a table needs at least one column"));
        }
        let reader = builder.with_batch_size(batch_rows.max(1)).build().map_err(|e| {
            Error::new(ErrorClass::BadFileFormat, format!("\"{path}\" cannot be read: {e}"))
                .with_hint("check that the file is complete and really Parquet")
        })?;
        Ok(Import { reader, fields, sql_types, canonical, rows, path: path.to_string() })
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The PostgreSQL type of each column: [`ColumnType::sql_type`], or the type an export by
    /// healthml recorded for a text column (jsonb, uuid, varchar(n), ...), so such a table comes back
    /// with its own types. Values of a restored type arrive as text to cast.
    pub fn sql_types(&self) -> &[String] {
        &self.sql_types
    }

    /// The row count the file's footer announces.
    pub fn rows(&self) -> i64 {
        self.rows
    }

    /// The next batch, one [`Values`] per field; `None` at the end of the file.
    pub fn next_batch(&mut self) -> Option<Result<Vec<Values>>> {
        let batch = match self.reader.next()? {
            Ok(batch) => batch,
            Err(e) => {
                return Some(Err(Error::new(ErrorClass::BadFileFormat, format!("reading \"{}\" failed: {e}", self.path))
                    .with_hint("the file is damaged or truncated; write it again")))
            }
        };
        Some(self.values_of(&batch))
    }

    fn values_of(&self, batch: &RecordBatch) -> Result<Vec<Values>> {
        self.fields
            .iter()
            .zip(&self.canonical)
            .zip(batch.columns())
            .map(|((field, target), array)| {
                let array = if array.data_type() == target {
                    array.clone()
                } else {
                    arrow_cast::cast::cast(array, target).map_err(|e| {
                        Error::invalid_parameter(format!(
                            "column \"{}\": {} does not convert to {target}: {e}",
                            field.name,
                            array.data_type()
                        ))
                    })?
                };
                values_of(field, &array)
            })
            .collect()
    }
}

/// "BROTLI" rather than "BROTLI(BrotliLevel(1))": the level is the writer's business.
fn codec_name(codec: parquet::basic::Compression) -> String {
    codec.to_string().split('(').next().unwrap_or_default().to_string()
}

/// The recorded PostgreSQL type of a text column, when it is one healthml writes as text and can
/// cast back; anything else in the metadata (another writer's, or a crafted one) is ignored, since
/// the type name goes into CREATE TABLE.
pub fn restored_type(column_type: ColumnType, declared: Option<&str>) -> Option<String> {
    let declared = declared?;
    if column_type != ColumnType::Text {
        return None;
    }
    let sized = |prefix: &str| {
        declared
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .is_some_and(|n| !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let plain = matches!(declared, "json" | "jsonb" | "uuid" | "name" | "character varying" | "\"char\"");
    (plain || sized("character varying(") || sized("character(")).then(|| declared.to_string())
}

fn unsupported(column: &str, data_type: &DataType) -> Error {
    Error::new(
        ErrorClass::FeatureNotSupported,
        format!("column \"{column}\" has Arrow type {data_type}, which healthml does not import"),
    )
    .with_hint(
        "supported: booleans, integers, floats, decimals, strings, binary, dates, times and timestamps; \
             convert the column (e.g. a list to a JSON string) or drop it before writing the file",
    )
}

/// The PostgreSQL column type of an Arrow type, and the Arrow type its arrays are cast to first.
fn column_type_of(column: &str, data_type: &DataType) -> Result<(ColumnType, DataType)> {
    use DataType as D;
    let micros = |tz: &Option<std::sync::Arc<str>>| D::Timestamp(TimeUnit::Microsecond, tz.clone());
    Ok(match data_type {
        D::Boolean => (ColumnType::Bool, D::Boolean),
        D::Int8 | D::Int16 | D::UInt8 => (ColumnType::Int16, D::Int16),
        D::Int32 | D::UInt16 => (ColumnType::Int32, D::Int32),
        D::Int64 | D::UInt32 => (ColumnType::Int64, D::Int64),
        // No unsigned 64-bit type in PostgreSQL: numeric(20,0) holds every value exactly.
        D::UInt64 => (ColumnType::Decimal { precision: 20, scale: 0 }, D::Utf8),
        D::Float16 | D::Float32 => (ColumnType::Float32, D::Float32),
        D::Float64 => (ColumnType::Float64, D::Float64),
        D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal128(p, s) | D::Decimal256(p, s) => {
            // At most 76 digits (Decimal256): PostgreSQL's numeric holds up to 1000.
            (ColumnType::Decimal { precision: *p, scale: *s }, D::Utf8)
        }
        // An all-NULL column (pandas writes these for columns of None): text is the least surprising.
        D::Null | D::Utf8 | D::LargeUtf8 | D::Utf8View => (ColumnType::Text, D::Utf8),
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => (ColumnType::Bytes, D::Binary),
        D::Date32 | D::Date64 => (ColumnType::Date, D::Date32),
        D::Time32(_) | D::Time64(_) => (ColumnType::Time, D::Time64(TimeUnit::Microsecond)),
        // PostgreSQL keeps microseconds: nanoseconds are truncated by the cast.
        D::Timestamp(_, None) => (ColumnType::Timestamp, micros(&None)),
        // Any zone: Arrow stores the instant in UTC, the zone only says how to show it.
        D::Timestamp(_, Some(tz)) => (ColumnType::TimestampTz, micros(&Some(tz.clone()))),
        // Categoricals (pandas' category, dictionary-encoded strings): their values' type.
        D::Dictionary(_, value) => column_type_of(column, value)?,
        other => return Err(unsupported(column, other)),
    })
}

fn values_of(field: &Field, array: &ArrayRef) -> Result<Values> {
    let name = field.name.as_str();
    Ok(match field.column_type {
        ColumnType::Bool => Values::Bool(array.as_boolean().iter().collect()),
        ColumnType::Int16 => Values::Int16(array.as_primitive::<Int16Type>().iter().collect()),
        ColumnType::Int32 => Values::Int32(array.as_primitive::<Int32Type>().iter().collect()),
        ColumnType::Int64 => Values::Int64(array.as_primitive::<Int64Type>().iter().collect()),
        ColumnType::Float32 => Values::Float32(array.as_primitive::<Float32Type>().iter().collect()),
        ColumnType::Float64 => Values::Float64(array.as_primitive::<Float64Type>().iter().collect()),
        ColumnType::Decimal { .. } => Values::Decimal(strings(array)),
        ColumnType::Text => Values::Text(strings(array)),
        ColumnType::Bytes => Values::Bytes(array.as_binary::<i32>().iter().map(|v| v.map(<[u8]>::to_vec)).collect()),
        ColumnType::Date => Values::Date(
            array
                .as_primitive::<Date32Type>()
                .iter()
                .map(|v| v.map(|d| pg_epoch::date_from_arrow(name, d)).transpose())
                .collect::<Result<_>>()?,
        ),
        ColumnType::Time => Values::Time(
            array
                .as_primitive::<Time64MicrosecondType>()
                .iter()
                .map(|v| v.map(|t| pg_epoch::time_from_arrow(name, t)).transpose())
                .collect::<Result<_>>()?,
        ),
        ColumnType::Timestamp | ColumnType::TimestampTz => {
            let micros = array
                .as_primitive::<TimestampMicrosecondType>()
                .iter()
                .map(|v| v.map(|t| pg_epoch::timestamp_from_arrow(name, t)).transpose())
                .collect::<Result<Vec<_>>>()?;
            if field.column_type == ColumnType::Timestamp {
                Values::Timestamp(micros)
            } else {
                Values::TimestampTz(micros)
            }
        }
    })
}

fn strings(array: &ArrayRef) -> Vec<Option<String>> {
    array.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
}
