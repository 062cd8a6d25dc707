//! Writing batches of [`Values`] to a Parquet file that appears only when complete.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, StringArray, Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Schema, SchemaRef, TimeUnit};
use healthml_core::options::Options;
use healthml_core::{Error, ErrorClass, Result};
use parquet::arrow::ArrowWriter;
use parquet::basic::{GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::Value;

use crate::{pg_epoch, ColumnType, Field, Values};

/// The field metadata key that records a column's PostgreSQL type, for readers who want it.
pub const POSTGRES_TYPE_KEY: &str = "postgres.type";

/// Decimal128 holds up to 38 digits.
const MAX_DECIMAL_PRECISION: u8 = 38;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Snappy,
    Zstd,
    Gzip,
    Lz4,
}

/// The options of `healthml.export_parquet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    pub compression: Compression,
    pub row_group_rows: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        // Snappy: what pandas, pyarrow, Spark and DuckDB write by default, so every reader has it.
        // 128k rows per row group: readers can skip or parallelize by group without tiny pages.
        ExportOptions { compression: Compression::Snappy, row_group_rows: 131_072 }
    }
}

impl ExportOptions {
    pub fn from_json(options: &Value) -> Result<Self> {
        let defaults = ExportOptions::default();
        let mut o = Options::new("healthml.export_parquet", options)?;
        let compression = match o.choice("compression", "snappy", &["snappy", "zstd", "gzip", "lz4", "none"])? {
            "zstd" => Compression::Zstd,
            "gzip" => Compression::Gzip,
            "lz4" => Compression::Lz4,
            "none" => Compression::None,
            _ => Compression::Snappy,
        };
        let row_group_rows = o.usize_in("row_group_rows", defaults.row_group_rows, 1_000, 10_000_000)?;
        o.finish()?;
        Ok(ExportOptions { compression, row_group_rows })
    }

    fn writer_properties(&self) -> WriterProperties {
        let compression = match self.compression {
            Compression::None => parquet::basic::Compression::UNCOMPRESSED,
            Compression::Snappy => parquet::basic::Compression::SNAPPY,
            Compression::Zstd => parquet::basic::Compression::ZSTD(ZstdLevel::default()),
            Compression::Gzip => parquet::basic::Compression::GZIP(GzipLevel::default()),
            Compression::Lz4 => parquet::basic::Compression::LZ4_RAW,
        };
        WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.row_group_rows))
            .set_created_by(format!("healthml {}", env!("CARGO_PKG_VERSION")))
            .build()
    }
}

/// The Arrow type a column is written as. Fails for decimals wider than Decimal128.
pub fn arrow_type(field: &Field) -> Result<DataType> {
    Ok(match field.column_type {
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Int16 => DataType::Int16,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float32 => DataType::Float32,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Decimal { precision, scale } => {
            if precision == 0 || precision > MAX_DECIMAL_PRECISION {
                return Err(Error::new(
                    ErrorClass::FeatureNotSupported,
                    format!("column \"{}\" is numeric({precision},{scale}); Parquet decimals hold at most 38 digits", field.name),
                )
                .with_hint("cast it in the query to a narrower numeric, to double precision or to text"));
            }
            DataType::Decimal128(precision, scale)
        }
        ColumnType::Text => DataType::Utf8,
        ColumnType::Bytes => DataType::Binary,
        ColumnType::Date => DataType::Date32,
        ColumnType::Time => DataType::Time64(TimeUnit::Microsecond),
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    })
}

/// A Parquet file being written. Rows go to a hidden temporary file beside the target, renamed over
/// the target by [`Export::finish`]: a failed or interrupted export leaves no partial file, and an
/// existing file is replaced only by a complete one.
pub struct Export {
    writer: Option<ArrowWriter<File>>,
    schema: SchemaRef,
    fields: Vec<Field>,
    temporary: PathBuf,
    target: PathBuf,
    rows: u64,
}

impl Export {
    /// Starts writing `fields` to `path`, which must be absolute (as for server-side COPY: a
    /// relative path would silently land in the server's data directory). `sql_types` are the
    /// PostgreSQL type names recorded in each field's metadata.
    pub fn create(path: &str, fields: Vec<Field>, sql_types: &[String], options: &ExportOptions) -> Result<Export> {
        let target = absolute_path(path)?;
        if target.is_dir() {
            return Err(Error::invalid_parameter(format!("\"{path}\" is a directory"))
                .with_hint("name a file inside it, e.g. /srv/lake/encounters.parquet"));
        }
        let parent = target.parent().filter(|p| p.is_dir()).ok_or_else(|| {
            Error::new(ErrorClass::UndefinedFile, format!("the directory of \"{path}\" does not exist"))
                .with_hint("create the directory first; it must be writable by the PostgreSQL server's operating-system user")
        })?;
        if fields.is_empty() {
            return Err(
                Error::invalid_parameter("the query returns no columns").with_hint("export a query with at least one column")
            );
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(duplicate) = fields.iter().find(|f| !seen.insert(f.name.as_str())) {
            return Err(Error::invalid_parameter(format!("the query returns two columns named \"{}\"", duplicate.name))
                .with_hint("give each column its own name with AS"));
        }
        let arrow_fields = fields
            .iter()
            .zip(sql_types)
            .map(|(field, sql_type)| {
                let metadata = HashMap::from([(POSTGRES_TYPE_KEY.to_string(), sql_type.clone())]);
                Ok(arrow_schema::Field::new(&field.name, arrow_type(field)?, field.nullable).with_metadata(metadata))
            })
            .collect::<Result<Vec<_>>>()?;
        let schema = Arc::new(Schema::new(arrow_fields));
        let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temporary = parent.join(format!(".{file_name}.healthml-{}.tmp", std::process::id()));
        // Errors name the user's path: the temporary file's name would only confuse.
        let file = File::create(&temporary).map_err(|e| io_error("create", &target, &e))?;
        // Readable by all, as server-side COPY TO leaves its files: the server runs with umask 077,
        // and a lake file nobody but the postgres user can read is of no use to the lake's readers.
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o644));
        }
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(options.writer_properties()));
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_file(&temporary);
                return Err(Error::new(ErrorClass::IoError, format!("could not start the Parquet file \"{path}\": {e}")));
            }
        };
        Ok(Export { writer: Some(writer), schema, fields, temporary, target, rows: 0 })
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Appends one batch: one [`Values`] per field, all of the same length.
    pub fn write(&mut self, columns: Vec<Values>) -> Result<()> {
        let rows = columns.first().map_or(0, Values::len);
        if rows == 0 {
            return Ok(());
        }
        let arrays = columns
            .into_iter()
            .zip(&self.fields)
            .map(|(values, field)| to_array(field, values))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| Error::invalid_parameter(format!("a batch does not match the file's columns: {e}")))?;
        let writer = self.writer.as_mut().expect("an Export writes until finish() consumes it");
        writer
            .write(&batch)
            .map_err(|e| Error::new(ErrorClass::IoError, format!("writing \"{}\" failed: {e}", self.target.display())))?;
        self.rows += rows as u64;
        Ok(())
    }

    /// Completes the file and moves it over the target. Returns the number of rows written.
    pub fn finish(mut self) -> Result<u64> {
        let writer = self.writer.take().expect("finish() runs once");
        let file = writer
            .into_inner()
            .map_err(|e| Error::new(ErrorClass::IoError, format!("completing \"{}\" failed: {e}", self.target.display())))?;
        file.sync_all().map_err(|e| io_error("flush", &self.target, &e))?;
        drop(file);
        std::fs::rename(&self.temporary, &self.target).map_err(|e| io_error("move into place", &self.target, &e))?;
        Ok(self.rows)
    }
}

impl Drop for Export {
    fn drop(&mut self) {
        // Not finished (an error, or the query was cancelled): the partial file goes away.
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

pub(crate) fn absolute_path(path: &str) -> Result<PathBuf> {
    let p = Path::new(path);
    if path.is_empty() || !p.is_absolute() {
        return Err(Error::invalid_parameter(format!("path \"{path}\" is not absolute"))
            .with_hint("give the full path of the file on the database server, e.g. /srv/lake/encounters.parquet"));
    }
    Ok(p.to_path_buf())
}

pub(crate) fn io_error(action: &str, path: &Path, e: &std::io::Error) -> Error {
    let class = if e.kind() == std::io::ErrorKind::NotFound { ErrorClass::UndefinedFile } else { ErrorClass::IoError };
    let hint = match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "the file is read and written by the PostgreSQL server's operating-system user: give it access"
        }
        std::io::ErrorKind::NotFound => "check the path: it is a path on the database server, not on your machine",
        _ => "check the path and the free space of its file system",
    };
    Error::new(class, format!("could not {action} \"{}\": {e}", path.display())).with_hint(hint)
}

fn to_array(field: &Field, values: Values) -> Result<ArrayRef> {
    Ok(match values {
        Values::Bool(v) => Arc::new(BooleanArray::from(v)),
        Values::Int16(v) => Arc::new(Int16Array::from(v)),
        Values::Int32(v) => Arc::new(Int32Array::from(v)),
        Values::Int64(v) => Arc::new(Int64Array::from(v)),
        Values::Float32(v) => Arc::new(Float32Array::from(v)),
        Values::Float64(v) => Arc::new(Float64Array::from(v)),
        Values::Decimal(v) => {
            let ColumnType::Decimal { precision, scale } = field.column_type else {
                return Err(mismatch(field, "decimal"));
            };
            let unscaled = v
                .iter()
                .map(|text| text.as_deref().map(|t| parse_decimal(&field.name, t, precision, scale)).transpose())
                .collect::<Result<Vec<Option<i128>>>>()?;
            Arc::new(
                Decimal128Array::from(unscaled)
                    .with_precision_and_scale(precision, scale)
                    .map_err(|e| Error::invalid_parameter(format!("column \"{}\": {e}", field.name)))?,
            )
        }
        Values::Text(v) => Arc::new(StringArray::from(v)),
        Values::Bytes(v) => Arc::new(BinaryArray::from_iter(v)),
        Values::Date(v) => Arc::new(Date32Array::from(
            v.into_iter().map(|d| d.map(|d| pg_epoch::date_to_arrow(&field.name, d)).transpose()).collect::<Result<Vec<_>>>()?,
        )),
        Values::Time(v) => Arc::new(Time64MicrosecondArray::from(v)),
        Values::Timestamp(v) => Arc::new(TimestampMicrosecondArray::from(timestamps_to_arrow(&field.name, v)?)),
        Values::TimestampTz(v) => {
            Arc::new(TimestampMicrosecondArray::from(timestamps_to_arrow(&field.name, v)?).with_timezone("UTC"))
        }
    })
}

fn timestamps_to_arrow(column: &str, micros: Vec<Option<i64>>) -> Result<Vec<Option<i64>>> {
    micros.into_iter().map(|t| t.map(|t| pg_epoch::timestamp_to_arrow(column, t)).transpose()).collect()
}

fn mismatch(field: &Field, got: &str) -> Error {
    Error::invalid_parameter(format!("column \"{}\" is {:?} but got {got} values", field.name, field.column_type))
}

/// PostgreSQL's numeric text ("-12.50") as an integer of `scale` decimal places, within `precision`
/// digits. NaN and infinities have no decimal representation and are refused.
pub fn parse_decimal(column: &str, text: &str, precision: u8, scale: i8) -> Result<i128> {
    let bad = || {
        Error::new(
            ErrorClass::FeatureNotSupported,
            format!("column \"{column}\" holds {text}, which a Parquet decimal cannot store"),
        )
        .with_hint("filter NaN and infinite values out in the query, or cast the column to double precision")
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() || !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    // Shift the decimal point `scale` places right; anything left after the point must be zeros.
    let mut all: String = format!("{whole}{fraction}");
    let point = whole.len() as i64 + i64::from(scale);
    if point >= all.len() as i64 {
        all.extend(std::iter::repeat_n('0', (point - all.len() as i64) as usize));
    } else {
        let cut = point.max(0) as usize;
        if all[cut..].chars().any(|c| c != '0') {
            return Err(Error::invalid_parameter(format!(
                "column \"{column}\" holds {text}, which has more than {scale} decimal places"
            )));
        }
        all.truncate(cut);
    }
    let significant = all.trim_start_matches('0');
    if significant.len() > usize::from(precision) {
        return Err(Error::invalid_parameter(format!("column \"{column}\" holds {text}, more than {precision} digits")));
    }
    let magnitude: i128 = if significant.is_empty() { 0 } else { significant.parse().map_err(|_| bad())? };
    Ok(if negative { -magnitude } else { magnitude })
}
