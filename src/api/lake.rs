//! `healthml.export_parquet(query, path)` and `healthml.import_parquet(path, table_name)`: the data lake
//! in and out, on the database server's file system, with server-side COPY's privilege rule.

use std::ffi::{CStr, CString};

use healthml_lake::{ColumnType, Export, ExportOptions, Field, Import, Values};
use pgrx::datum::{Date, Time, Timestamp, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};

use crate::error::{hint_on, raise_with, OrRaise};
use crate::spi::select_one;

/// Rows per batch: a cursor fetch on export, one INSERT on import. Bounded memory on any table.
const BATCH_ROWS: usize = 10_000;

/// Writes the rows of `query` to the Parquet file `path` on the database server, replacing it once
/// complete (a failed export leaves no partial file). Returns the number of rows. As server-side
/// COPY TO: superuser or a member of pg_write_server_files. Options: `compression` (snappy, zstd,
/// gzip, lz4, none; default snappy) and `row_group_rows` (default 131072).
#[pg_extern(volatile, parallel_unsafe)]
fn export_parquet(query: &str, path: &str, options: default!(JsonB, "'{}'")) -> i64 {
    require_role(pg_sys::ROLE_PG_WRITE_SERVER_FILES, "pg_write_server_files", "export to", "\\copy (query) TO 'file' CSV");
    let options = ExportOptions::from_json(&options.0).or_raise();
    // The query is the caller's own SQL: it runs as they wrote it, in their search_path.
    Spi::connect(|client| {
        if query.trim().is_empty() {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "the query is empty".into(),
                "pass a SELECT, e.g. 'SELECT * FROM readmission.encounters'",
            );
        }
        let mut cursor =
            hint_on(PgSqlErrorCode::ERRCODE_INVALID_CURSOR_DEFINITION, QUERY_SHAPE, || client.try_open_cursor(query, &[]))
                .unwrap_or_else(|e| unreadable_query(e));
        let mut export: Option<(Export, Vec<Reader>)> = None;
        let mut values = Vec::new();
        let mut nulls = Vec::new();
        loop {
            let batch = cursor.fetch(BATCH_ROWS as i64).unwrap_or_else(|e| unreadable_query(e));
            // SAFETY: fetch() just filled SPI_tuptable with `batch.len()` tuples of the query, described
            // by its tupdesc; `batch` keeps the table alive while we read it.
            unsafe {
                let table = pg_sys::SPI_tuptable;
                if table.is_null() {
                    unreadable_query("it returned no result set");
                }
                let tupdesc = (*table).tupdesc;
                let (out, readers) = export.get_or_insert_with(|| {
                    let (fields, sql_types, readers) = describe(tupdesc);
                    (Export::create(path, fields, &sql_types, &options).or_raise(), readers)
                });
                if batch.is_empty() {
                    break;
                }
                values.resize(readers.len(), pg_sys::Datum::from(0usize));
                nulls.resize(readers.len(), false);
                let mut columns: Vec<Values> =
                    out.fields().iter().map(|f| Values::with_capacity(f.column_type, batch.len())).collect();
                for &tuple in std::slice::from_raw_parts((*table).vals, batch.len()) {
                    pg_sys::heap_deform_tuple(tuple, tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
                    for (i, column) in columns.iter_mut().enumerate() {
                        readers[i].push(column, values[i], nulls[i]);
                    }
                }
                out.write(columns).or_raise();
            }
        }
        let (out, _) = export.expect("the first fetch describes the columns");
        out.finish().or_raise() as i64
    })
}

/// Creates the table `table_name` (optionally schema-qualified) from the columns of the Parquet file
/// `path` on the database server and loads every row; returns the number of rows. The table must
/// not exist; on any error nothing is left behind. As server-side COPY FROM: superuser or a member
/// of pg_read_server_files.
#[pg_extern(volatile, parallel_unsafe)]
fn import_parquet(path: &str, table_name: &str) -> i64 {
    crate::spi::require_primary("healthml.import_parquet");
    require_role(pg_sys::ROLE_PG_READ_SERVER_FILES, "pg_read_server_files", "import from", "\\copy table FROM 'file' CSV");
    let table = crate::spi::creation_name(table_name);
    if select_one::<bool>("SELECT to_regclass($1) IS NOT NULL", &[table.as_str().into()]).unwrap_or(false) {
        raise(
            PgSqlErrorCode::ERRCODE_DUPLICATE_TABLE,
            format!("relation {table} already exists"),
            "import_parquet creates its table: drop the old one first, or import under a new name and swap",
        );
    }
    let mut input = Import::open(path, BATCH_ROWS).or_raise();
    let fields = input.fields().to_vec();
    let sql_types = input.sql_types().to_vec();
    let mut create = Vec::with_capacity(fields.len());
    for (position, (field, sql_type)) in fields.iter().zip(&sql_types).enumerate() {
        if field.name.is_empty() {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_COLUMN_DEFINITION,
                format!("column {} of \"{path}\" has an empty name", position + 1),
                "name every column of the file",
            );
        }
        let not_null = if field.nullable { "" } else { " NOT NULL" };
        create.push(format!("{} {sql_type}{not_null}", quote_identifier(&field.name)));
    }
    // Decimals and restored types (jsonb, uuid, varchar(n)...) travel as text and are cast; everything
    // else arrives in its own type.
    let select_list: Vec<String> = fields
        .iter()
        .zip(&sql_types)
        .enumerate()
        .map(|(i, (f, sql_type))| match f.column_type {
            ColumnType::Text if *sql_type == "text" => format!("c{i}"),
            ColumnType::Text | ColumnType::Decimal { .. } => format!("c{i}::{sql_type}"),
            _ => format!("c{i}"),
        })
        .collect();
    let aliases: Vec<String> = (0..fields.len()).map(|i| format!("c{i}")).collect();
    let parameters: Vec<String> =
        fields.iter().enumerate().map(|(i, f)| format!("${}::{}[]", i + 1, array_element_type(f.column_type))).collect();
    let insert = format!(
        "INSERT INTO {table} SELECT {} FROM unnest({}) AS u({})",
        select_list.join(", "),
        parameters.join(", "),
        aliases.join(", ")
    );
    crate::spi::connect_mut(|client| {
        client
            .update(&format!("CREATE TABLE {table} ({})", create.join(", ")), None, &[])
            .unwrap_or_else(|e| import_failed(&table, e));
        let mut rows = 0i64;
        while let Some(batch) = input.next_batch() {
            let batch = batch.or_raise();
            let arguments: Vec<pgrx::datum::DatumWithOid<'_>> = batch.into_iter().map(array_argument).collect();
            let inserted = client.update(insert.as_str(), None, &arguments).unwrap_or_else(|e| import_failed(&table, e));
            rows += inserted.len() as i64;
            pgrx::check_for_interrupts!();
        }
        rows
    })
}

/// The same rule as server-side COPY: superuser, or the privileges of `role`.
fn require_role(role: u32, role_name: &str, action: &str, instead: &str) {
    // SAFETY: plain catalog lookups of the current user.
    let allowed = unsafe { pg_sys::has_privs_of_role(pg_sys::GetUserId(), pg_sys::Oid::from(role)) };
    if !allowed {
        raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied to {action} a file on the database server"),
            &format!(
                "only superusers and members of {role_name} may, as for server-side COPY: \
                 GRANT {role_name} TO the role, or move data through the client with psql's {instead}"
            ),
        );
    }
}

fn raise(code: PgSqlErrorCode, message: String, hint: &str) -> ! {
    raise_with(code, message, Some(hint))
}

fn quote_identifier(name: &str) -> String {
    let name = CString::new(name).unwrap_or_else(|_| {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_NAME,
            "a column name of the file contains a NUL byte".into(),
            "rename the column in the file",
        )
    });
    crate::spi::quote_identifier(&name)
}

/// The array type a column's batch is passed as: its own type, but text for decimals (exact, cast
/// in the INSERT).
fn array_element_type(column_type: ColumnType) -> String {
    match column_type {
        ColumnType::Decimal { .. } => ColumnType::Text.sql_type(),
        other => other.sql_type(),
    }
}

fn array_argument(values: Values) -> pgrx::datum::DatumWithOid<'static> {
    // The lake checked every date and time against PostgreSQL's ranges already.
    let invalid = |e: &dyn std::fmt::Display| -> ! {
        raise_with(
            PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
            format!("import_parquet: a time value of the file is out of PostgreSQL's range: {e}"),
            Some("rewrite the file with times PostgreSQL can hold (4713 BC to 294276 AD)"),
        )
    };
    match values {
        Values::Bool(v) => v.into(),
        Values::Int16(v) => v.into(),
        Values::Int32(v) => v.into(),
        Values::Int64(v) => v.into(),
        Values::Float32(v) => v.into(),
        Values::Float64(v) => v.into(),
        Values::Decimal(v) | Values::Text(v) => v.into(),
        Values::Bytes(v) => v.into(),
        // SAFETY: within PostgreSQL's date range (checked by the lake).
        Values::Date(v) => v.into_iter().map(|d| d.map(|d| unsafe { Date::from_pg_epoch_days(d) })).collect::<Vec<_>>().into(),
        Values::Time(v) => {
            v.into_iter().map(|t| t.map(|t| Time::try_from(t).unwrap_or_else(|e| invalid(&e)))).collect::<Vec<_>>().into()
        }
        Values::Timestamp(v) => {
            v.into_iter().map(|t| t.map(|t| Timestamp::try_from(t).unwrap_or_else(|e| invalid(&e)))).collect::<Vec<_>>().into()
        }
        Values::TimestampTz(v) => v
            .into_iter()
            .map(|t| t.map(|t| TimestampWithTimeZone::try_from(t).unwrap_or_else(|e| invalid(&e))))
            .collect::<Vec<_>>()
            .into(),
    }
}

/// How one result column's datums become lake values: as they are, in the representation of the
/// column's [`Values`] variant, or as the text of the type's output function (numeric, json, ...).
#[derive(Clone, Copy)]
enum Reader {
    Datum,
    OutputText(pg_sys::Oid),
}

impl Reader {
    /// # Safety
    /// `datum` must be a datum of the column this reader and `column` were made for.
    unsafe fn push(self, column: &mut Values, datum: pg_sys::Datum, is_null: bool) {
        // SAFETY: the caller gives a datum of this reader's column (see above).
        unsafe {
            if let Reader::OutputText(function) = self {
                let text = (!is_null).then(|| {
                    let text = pg_sys::OidOutputFunctionCall(function, datum);
                    let owned = CStr::from_ptr(text).to_string_lossy().into_owned();
                    pg_sys::pfree(text.cast());
                    owned
                });
                match column {
                    Values::Text(v) | Values::Decimal(v) => v.push(text),
                    _ => unreachable!("output text goes to text and decimal columns"),
                }
                return;
            }
            match column {
                Values::Bool(v) => v.push(bool::from_datum(datum, is_null)),
                Values::Int16(v) => v.push(i16::from_datum(datum, is_null)),
                Values::Int32(v) | Values::Date(v) => v.push(i32::from_datum(datum, is_null)),
                Values::Int64(v) | Values::Time(v) | Values::Timestamp(v) | Values::TimestampTz(v) => {
                    v.push(i64::from_datum(datum, is_null))
                }
                Values::Float32(v) => v.push(f32::from_datum(datum, is_null)),
                Values::Float64(v) => v.push(f64::from_datum(datum, is_null)),
                Values::Text(v) => v.push(<&str>::from_datum(datum, is_null).map(str::to_string)),
                Values::Bytes(v) => v.push(<&[u8]>::from_datum(datum, is_null).map(<[u8]>::to_vec)),
                Values::Decimal(_) => unreachable!("numeric is read through its output function"),
            }
        }
    }
}

/// The lake fields, PostgreSQL type names and readers of a result's columns. Refuses, naming the
/// column, any type Parquet has no place for.
///
/// # Safety
/// `tupdesc` must be a valid tuple descriptor.
unsafe fn describe(tupdesc: pg_sys::TupleDesc) -> (Vec<Field>, Vec<String>, Vec<Reader>) {
    // SAFETY: the caller gives a valid tuple descriptor; the catalog lookups take its type oids.
    unsafe {
        let mut fields = Vec::new();
        let mut sql_types = Vec::new();
        let mut readers = Vec::new();
        let attributes = (*tupdesc).attrs.as_slice((*tupdesc).natts as usize);
        for attribute in attributes.iter().filter(|a| !a.attisdropped) {
            let name = CStr::from_ptr(attribute.attname.data.as_ptr()).to_string_lossy().into_owned();
            let formatted = pg_sys::format_type_with_typemod(attribute.atttypid, attribute.atttypmod);
            let sql_type = CStr::from_ptr(formatted).to_string_lossy().into_owned();
            let mut typmod = attribute.atttypmod;
            let base = pg_sys::getBaseTypeAndTypmod(attribute.atttypid, &mut typmod);
            let (column_type, reader) = match base {
                pg_sys::BOOLOID => (ColumnType::Bool, Reader::Datum),
                pg_sys::INT2OID => (ColumnType::Int16, Reader::Datum),
                pg_sys::INT4OID => (ColumnType::Int32, Reader::Datum),
                pg_sys::INT8OID => (ColumnType::Int64, Reader::Datum),
                pg_sys::FLOAT4OID => (ColumnType::Float32, Reader::Datum),
                pg_sys::FLOAT8OID => (ColumnType::Float64, Reader::Datum),
                pg_sys::NUMERICOID if typmod >= pg_sys::VARHDRSZ as i32 => {
                    let packed = typmod - pg_sys::VARHDRSZ as i32;
                    let precision = ((packed >> 16) & 0xffff) as u8;
                    // PostgreSQL 15 packs a signed 11-bit scale (negative scales round to tens, hundreds...).
                    let scale = (((packed & 0x7ff) ^ 1024) - 1024) as i8;
                    // Parquet wants 0 <= scale <= precision: widen to the digits the values can have.
                    let (precision, scale) = if scale < 0 {
                        (precision.saturating_add(scale.unsigned_abs()), 0)
                    } else {
                        (precision.max(scale as u8), scale)
                    };
                    (ColumnType::Decimal { precision, scale }, Reader::OutputText(output_function(base)))
                }
                pg_sys::NUMERICOID => unsupported(
                    &name,
                    &sql_type,
                    "cast it to numeric(precision, scale) or double precision, e.g. avg(x)::numeric(12,4)",
                ),
                pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID => (ColumnType::Text, Reader::Datum),
                // Text-shaped types: written as strings, the real type kept in the field's metadata.
                pg_sys::NAMEOID | pg_sys::JSONOID | pg_sys::JSONBOID | pg_sys::UUIDOID | pg_sys::CHAROID => {
                    (ColumnType::Text, Reader::OutputText(output_function(base)))
                }
                _ if pg_sys::get_typtype(base) == pg_sys::TYPTYPE_ENUM as std::ffi::c_char => {
                    (ColumnType::Text, Reader::OutputText(output_function(base)))
                }
                pg_sys::BYTEAOID => (ColumnType::Bytes, Reader::Datum),
                pg_sys::DATEOID => (ColumnType::Date, Reader::Datum),
                pg_sys::TIMEOID => (ColumnType::Time, Reader::Datum),
                pg_sys::TIMESTAMPOID => (ColumnType::Timestamp, Reader::Datum),
                pg_sys::TIMESTAMPTZOID => (ColumnType::TimestampTz, Reader::Datum),
                _ => unsupported(&name, &sql_type, "cast it in the query to a supported type, e.g. x::text"),
            };
            fields.push(Field { name, column_type, nullable: true });
            sql_types.push(sql_type);
            readers.push(reader);
        }
        (fields, sql_types, readers)
    }
}

fn unsupported(name: &str, sql_type: &str, hint: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("column \"{name}\" has type {sql_type}, which export_parquet does not write"),
        &format!(
            "{hint}; supported: boolean, smallint, integer, bigint, real, double precision, numeric(p,s) up to 38 digits, \
             text, varchar, char, name, json, jsonb, uuid, enums, bytea, date, time, timestamp, timestamptz"
        ),
    )
}

fn output_function(type_oid: pg_sys::Oid) -> pg_sys::Oid {
    let mut function = pg_sys::Oid::INVALID;
    let mut is_varlena = false;
    // SAFETY: a catalog lookup of a type oid taken from a tuple descriptor; it raises an ERROR (no
    // undefined behaviour) for an oid that does not exist.
    unsafe { pg_sys::getTypeOutputInfo(type_oid, &mut function, &mut is_varlena) };
    function
}

/// What export_parquet can read, the hint of every refused query.
const QUERY_SHAPE: &str =
    "export_parquet reads one query that returns rows: a SELECT, VALUES or TABLE, or a data-changing statement with RETURNING";

fn unreadable_query(cause: impl std::fmt::Display) -> ! {
    raise_with(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("export_parquet cannot read the query: {cause}"),
        Some(QUERY_SHAPE),
    )
}

/// Writing the rows into the table this call created failed in a way pgrx reports (PostgreSQL's own
/// errors propagate as they are).
fn import_failed(table: &str, cause: impl std::fmt::Display) -> ! {
    raise_with(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("import_parquet: writing {table} failed: {cause}"),
        Some("the call created the table and rolls it back with the error: check that nothing else locked or altered it, and run it again"),
    )
}
