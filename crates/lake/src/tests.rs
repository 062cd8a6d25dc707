use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringDictionaryBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Date64Array, Decimal128Array, Int64Array, Int8Array, NullArray, RecordBatch, StringArray, TimestampNanosecondArray,
    UInt64Array,
};
use arrow_schema::{DataType, Field as ArrowField, Schema};
use healthml_core::ErrorClass;
use parquet::arrow::ArrowWriter;
use serde_json::json;

use super::*;

fn field(name: &str, column_type: ColumnType) -> Field {
    Field { name: name.into(), column_type, nullable: true }
}

fn path_in(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_str().unwrap().to_string()
}

fn export(path: &str, fields: Vec<Field>, batches: Vec<Vec<Values>>, options: &ExportOptions) -> healthml_core::Result<u64> {
    let sql_types: Vec<String> = fields.iter().map(|f| f.column_type.sql_type()).collect();
    let mut out = Export::create(path, fields, &sql_types, options)?;
    for batch in batches {
        out.write(batch)?;
    }
    out.finish()
}

fn import_all(path: &str) -> healthml_core::Result<(Vec<Field>, Vec<Values>)> {
    let mut input = Import::open(path, 3)?;
    let fields = input.fields().to_vec();
    let mut columns: Vec<Values> = fields.iter().map(|f| Values::with_capacity(f.column_type, 0)).collect();
    while let Some(batch) = input.next_batch() {
        for (all, part) in columns.iter_mut().zip(batch?) {
            append(all, part);
        }
    }
    Ok((fields, columns))
}

fn append(all: &mut Values, part: Values) {
    match (all, part) {
        (Values::Bool(a), Values::Bool(b)) => a.extend(b),
        (Values::Int16(a), Values::Int16(b)) => a.extend(b),
        (Values::Int32(a), Values::Int32(b)) | (Values::Date(a), Values::Date(b)) => a.extend(b),
        (Values::Int64(a), Values::Int64(b))
        | (Values::Time(a), Values::Time(b))
        | (Values::Timestamp(a), Values::Timestamp(b))
        | (Values::TimestampTz(a), Values::TimestampTz(b)) => a.extend(b),
        (Values::Float32(a), Values::Float32(b)) => a.extend(b),
        (Values::Float64(a), Values::Float64(b)) => a.extend(b),
        (Values::Decimal(a), Values::Decimal(b)) | (Values::Text(a), Values::Text(b)) => a.extend(b),
        (Values::Bytes(a), Values::Bytes(b)) => a.extend(b),
        (a, b) => panic!("batches disagree: {a:?} vs {b:?}"),
    }
}

fn every_type() -> (Vec<Field>, Vec<Values>) {
    let fields = vec![
        field("flag", ColumnType::Bool),
        field("small", ColumnType::Int16),
        field("count", ColumnType::Int32),
        field("id", ColumnType::Int64),
        field("ratio", ColumnType::Float32),
        field("score", ColumnType::Float64),
        field("amount", ColumnType::Decimal { precision: 10, scale: 2 }),
        field("name", ColumnType::Text),
        field("blob", ColumnType::Bytes),
        field("day", ColumnType::Date),
        field("at", ColumnType::Time),
        field("local", ColumnType::Timestamp),
        field("instant", ColumnType::TimestampTz),
    ];
    let values = vec![
        Values::Bool(vec![Some(true), None, Some(false), Some(true)]),
        Values::Int16(vec![Some(i16::MIN), Some(0), None, Some(i16::MAX)]),
        Values::Int32(vec![Some(i32::MIN), None, Some(7), Some(i32::MAX)]),
        Values::Int64(vec![Some(i64::MIN), Some(-1), Some(1), None]),
        Values::Float32(vec![Some(0.25), Some(f32::NAN), None, Some(-1e30)]),
        Values::Float64(vec![Some(f64::INFINITY), Some(0.1), Some(-0.0), None]),
        Values::Decimal(vec![Some("-12.50".into()), Some("0.00".into()), None, Some("99999999.99".into())]),
        Values::Text(vec![Some("<30".into()), Some(String::new()), None, Some("Überweisung ✓".into())]),
        Values::Bytes(vec![Some(vec![0, 255]), None, Some(vec![]), Some(b"PAR1".to_vec())]),
        Values::Date(vec![Some(0), Some(-10_957), None, Some(9_000)]),
        Values::Time(vec![Some(0), Some(86_400_000_000), Some(45_296_000_001), None]),
        Values::Timestamp(vec![Some(0), Some(-1), None, Some(812_345_678_901_234)]),
        Values::TimestampTz(vec![None, Some(1), Some(-946_684_800_000_000), Some(123_456_789)]),
    ];
    (fields, values)
}

#[test]
fn every_type_round_trips_through_a_file_with_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "all.parquet");
    let (fields, values) = every_type();
    let firsts: Vec<Values> = values.iter().map(|v| slice(v, 0, 2)).collect();
    let rests: Vec<Values> = values.iter().map(|v| slice(v, 2, 4)).collect();
    assert_eq!(export(&path, fields.clone(), vec![firsts, rests], &ExportOptions::default()).unwrap(), 4);
    let (read_fields, read_values) = import_all(&path).unwrap();
    assert_eq!(read_fields, fields);
    for (expected, got) in values.iter().zip(&read_values) {
        match (expected, got) {
            // NaN != NaN: compare bit patterns.
            (Values::Float32(a), Values::Float32(b)) => {
                assert_eq!(
                    a.iter().map(|x| x.map(f32::to_bits)).collect::<Vec<_>>(),
                    b.iter().map(|x| x.map(f32::to_bits)).collect::<Vec<_>>()
                )
            }
            (Values::Float64(a), Values::Float64(b)) => {
                assert_eq!(
                    a.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>(),
                    b.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>()
                )
            }
            _ => assert_eq!(expected, got),
        }
    }
}

fn slice(values: &Values, from: usize, to: usize) -> Values {
    match values {
        Values::Bool(v) => Values::Bool(v[from..to].to_vec()),
        Values::Int16(v) => Values::Int16(v[from..to].to_vec()),
        Values::Int32(v) => Values::Int32(v[from..to].to_vec()),
        Values::Int64(v) => Values::Int64(v[from..to].to_vec()),
        Values::Float32(v) => Values::Float32(v[from..to].to_vec()),
        Values::Float64(v) => Values::Float64(v[from..to].to_vec()),
        Values::Decimal(v) => Values::Decimal(v[from..to].to_vec()),
        Values::Text(v) => Values::Text(v[from..to].to_vec()),
        Values::Bytes(v) => Values::Bytes(v[from..to].to_vec()),
        Values::Date(v) => Values::Date(v[from..to].to_vec()),
        Values::Time(v) => Values::Time(v[from..to].to_vec()),
        Values::Timestamp(v) => Values::Timestamp(v[from..to].to_vec()),
        Values::TimestampTz(v) => Values::TimestampTz(v[from..to].to_vec()),
    }
}

#[test]
fn dates_and_timestamps_are_stored_in_arrows_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "epoch.parquet");
    let fields = vec![field("day", ColumnType::Date), field("instant", ColumnType::TimestampTz)];
    export(&path, fields, vec![vec![Values::Date(vec![Some(0)]), Values::TimestampTz(vec![Some(0)])]], &ExportOptions::default())
        .unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    // 2000-01-01 is day 10957 and 946684800 s after 1970-01-01.
    assert_eq!(batch.column(0).as_any().downcast_ref::<arrow_array::Date32Array>().unwrap().value(0), 10_957);
    let instants = batch.column(1).as_any().downcast_ref::<arrow_array::TimestampMicrosecondArray>().unwrap();
    assert_eq!(instants.value(0), 946_684_800_000_000);
    assert_eq!(
        batch.schema().field(1).data_type(),
        &DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(batch.schema().field(0).metadata().get("postgres.type").map(String::as_str), Some("date"));
}

#[test]
fn infinite_dates_and_timestamps_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "inf.parquet");
    let err = export(
        &path,
        vec![field("discharged", ColumnType::Date)],
        vec![vec![Values::Date(vec![Some(i32::MAX)])]],
        &ExportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::FeatureNotSupported);
    assert!(err.message().contains("\"discharged\"") && err.message().contains("infinite"), "{err}");
    assert!(!std::path::Path::new(&path).exists(), "a failed export leaves no file");
    assert!(pg_epoch::timestamp_to_arrow("t", i64::MIN).is_err());
    assert!(pg_epoch::date_from_arrow("d", i32::MAX).is_err(), "beyond PostgreSQL's last date");
    assert!(pg_epoch::timestamp_from_arrow("t", i64::MIN).is_err(), "before 4713 BC");
    assert_eq!(pg_epoch::date_from_arrow("d", 10_957).unwrap(), 0);
}

#[test]
fn a_failed_or_dropped_export_leaves_the_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "kept.parquet");
    std::fs::write(&path, b"old contents").unwrap();
    let fields = vec![field("id", ColumnType::Int64)];
    let mut out = Export::create(&path, fields, &["bigint".into()], &ExportOptions::default()).unwrap();
    out.write(vec![Values::Int64(vec![Some(1)])]).unwrap();
    drop(out);
    assert_eq!(std::fs::read(&path).unwrap(), b"old contents");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    // A finished export replaces it.
    export(
        &path,
        vec![field("id", ColumnType::Int64)],
        vec![vec![Values::Int64(vec![Some(1), Some(2)])]],
        &ExportOptions::default(),
    )
    .unwrap();
    assert_eq!(Import::open(&path, 10).unwrap().rows(), 2);
}

#[test]
fn paths_must_be_absolute_and_exist() {
    let one = || vec![field("id", ColumnType::Int64)];
    let err = Export::create("relative.parquet", one(), &["bigint".into()], &ExportOptions::default()).err().unwrap();
    assert_eq!(err.class(), ErrorClass::InvalidParameterValue);
    assert!(err.message().contains("not absolute") && err.hint().is_some(), "{err}");
    let err = Export::create("/no/such/dir/x.parquet", one(), &["bigint".into()], &ExportOptions::default()).err().unwrap();
    assert_eq!(err.class(), ErrorClass::UndefinedFile);
    let dir = tempfile::tempdir().unwrap();
    let err = Export::create(dir.path().to_str().unwrap(), one(), &["bigint".into()], &ExportOptions::default()).err().unwrap();
    assert!(err.message().contains("is a directory"), "{err}");
    let err = Import::open("/no/such/file.parquet", 10).err().unwrap();
    assert_eq!(err.class(), ErrorClass::UndefinedFile);
    assert!(err.message().contains("/no/such/file.parquet"), "{err}");
    let err = Import::open("data.parquet", 10).err().unwrap();
    assert_eq!(err.class(), ErrorClass::InvalidParameterValue);
}

#[test]
fn a_file_that_is_not_parquet_is_a_bad_file_format() {
    let dir = tempfile::tempdir().unwrap();
    for (name, contents) in [("csv.parquet", b"encounter_id,readmitted\n1,NO\n".to_vec()), ("empty.parquet", Vec::new())] {
        let path = path_in(&dir, name);
        std::fs::write(&path, contents).unwrap();
        let err = Import::open(&path, 10).err().unwrap();
        assert_eq!(err.class(), ErrorClass::BadFileFormat, "{name}: {err}");
        assert!(err.message().contains(name) && err.hint().is_some(), "{err}");
    }
    // A real file cut short: its footer is gone.
    let path = path_in(&dir, "cut.parquet");
    export(
        &path,
        vec![field("id", ColumnType::Int64)],
        vec![vec![Values::Int64((0..1000).map(Some).collect())]],
        &ExportOptions::default(),
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(Import::open(&path, 10).err().unwrap().class(), ErrorClass::BadFileFormat);
}

fn write_arrow(path: &str, columns: Vec<(&str, ArrayRef)>) {
    let schema =
        Arc::new(Schema::new(columns.iter().map(|(n, a)| ArrowField::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>()));
    let batch = RecordBatch::try_new(schema.clone(), columns.into_iter().map(|(_, a)| a).collect()).unwrap();
    let mut writer = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn other_writers_types_map_to_postgresql_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "foreign.parquet");
    let mut dictionary = StringDictionaryBuilder::<Int32Type>::new();
    dictionary.append_value("Caucasian");
    dictionary.append_null();
    dictionary.append_value("Caucasian");
    write_arrow(
        &path,
        vec![
            ("tiny", Arc::new(Int8Array::from(vec![Some(-128), None, Some(127)])) as ArrayRef),
            ("huge", Arc::new(UInt64Array::from(vec![Some(u64::MAX), Some(0), None]))),
            ("race", Arc::new(dictionary.finish())),
            ("nothing", Arc::new(NullArray::new(3))),
            ("born", Arc::new(Date64Array::from(vec![Some(86_400_000), None, Some(0)]))),
            ("seen", Arc::new(TimestampNanosecondArray::from(vec![Some(1_999), None, Some(-1)]).with_timezone("Europe/Berlin"))),
            (
                "price",
                Arc::new(Decimal128Array::from(vec![Some(-5), None, Some(12_345)]).with_precision_and_scale(7, 3).unwrap()),
            ),
            ("code", Arc::new(StringArray::from(vec![Some("250.83"), Some("V57"), None]))),
            ("n", Arc::new(Int64Array::from(vec![1, 2, 3]))),
        ],
    );
    let (fields, values) = import_all(&path).unwrap();
    let types: Vec<String> = fields.iter().map(|f| f.column_type.sql_type()).collect();
    assert_eq!(types, ["smallint", "numeric(20,0)", "text", "text", "date", "timestamptz", "numeric(7,3)", "text", "bigint"]);
    assert_eq!(values[0], Values::Int16(vec![Some(-128), None, Some(127)]));
    assert_eq!(values[1], Values::Decimal(vec![Some("18446744073709551615".into()), Some("0".into()), None]));
    assert_eq!(values[2], Values::Text(vec![Some("Caucasian".into()), None, Some("Caucasian".into())]));
    assert_eq!(values[3], Values::Text(vec![None, None, None]));
    assert_eq!(values[4], Values::Date(vec![Some(1 - 10_957), None, Some(-10_957)]));
    // Nanoseconds are cut to PostgreSQL's microseconds; the zone only names how to show the instant.
    assert_eq!(values[5], Values::TimestampTz(vec![Some(1 - 946_684_800_000_000), None, Some(-946_684_800_000_000)]));
    assert_eq!(values[6], Values::Decimal(vec![Some("-0.005".into()), None, Some("12.345".into())]));
}

#[test]
fn nested_types_are_refused_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "nested.parquet");
    let mut list = ListBuilder::new(arrow_array::builder::Int32Builder::new());
    list.values().append_value(1);
    list.append(true);
    write_arrow(&path, vec![("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef), ("diagnoses", Arc::new(list.finish()))]);
    let err = Import::open(&path, 10).err().unwrap();
    assert_eq!(err.class(), ErrorClass::FeatureNotSupported);
    assert!(err.message().contains("\"diagnoses\"") && err.message().contains("List"), "{err}");
    assert!(err.hint().unwrap().contains("supported"), "{err:?}");
}

#[test]
fn decimals_parse_exactly_or_are_refused() {
    assert_eq!(write::parse_decimal("c", "-12.50", 10, 2).unwrap(), -1250);
    assert_eq!(write::parse_decimal("c", "7", 10, 2).unwrap(), 700);
    assert_eq!(write::parse_decimal("c", ".5", 10, 2).unwrap(), 50);
    assert_eq!(write::parse_decimal("c", "0.000", 5, 3).unwrap(), 0);
    assert_eq!(write::parse_decimal("c", "1200", 5, -2).unwrap(), 12);
    assert!(write::parse_decimal("c", "1250", 5, -2).is_err(), "not a multiple of 100");
    assert!(write::parse_decimal("c", "1.234", 10, 2).is_err(), "too many places");
    assert!(write::parse_decimal("c", "123456", 5, 0).is_err(), "too many digits");
    for special in ["NaN", "Infinity", "-Infinity", "", "-", "1e5"] {
        assert!(write::parse_decimal("amount", special, 10, 2).is_err(), "{special}");
    }
    let err = write::parse_decimal("amount", "NaN", 10, 2).unwrap_err();
    assert_eq!(err.class(), ErrorClass::FeatureNotSupported);
    assert!(err.message().contains("\"amount\""), "{err}");
}

#[test]
fn decimals_wider_than_38_digits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "wide.parquet");
    let fields = vec![field("total", ColumnType::Decimal { precision: 50, scale: 0 })];
    let err = Export::create(&path, fields, &["numeric(50,0)".into()], &ExportOptions::default()).err().unwrap();
    assert_eq!(err.class(), ErrorClass::FeatureNotSupported);
    assert!(err.message().contains("\"total\"") && err.hint().unwrap().contains("cast"), "{err}");
}

#[test]
fn duplicate_column_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fields = vec![field("id", ColumnType::Int64), field("id", ColumnType::Int32)];
    let err =
        Export::create(&path_in(&dir, "d.parquet"), fields, &["bigint".into(), "integer".into()], &ExportOptions::default())
            .err()
            .unwrap();
    assert!(err.message().contains("two columns named \"id\""), "{err}");
}

#[test]
fn every_codec_writes_a_file_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    for codec in ["snappy", "zstd", "gzip", "lz4", "none"] {
        let options = ExportOptions::from_json(&json!({"compression": codec})).unwrap();
        let path = path_in(&dir, &format!("{codec}.parquet"));
        let ids: Vec<Option<i64>> = (0..5000).map(Some).collect();
        export(&path, vec![field("id", ColumnType::Int64)], vec![vec![Values::Int64(ids.clone())]], &options).unwrap();
        assert_eq!(import_all(&path).unwrap().1, vec![Values::Int64(ids)], "{codec}");
    }
}

#[test]
fn export_options_refuse_unknown_keys_and_codecs() {
    assert_eq!(ExportOptions::from_json(&json!({})).unwrap(), ExportOptions::default());
    let err = ExportOptions::from_json(&json!({"compresion": "zstd"})).unwrap_err();
    assert!(err.message().contains("compresion"), "{err}");
    let err = ExportOptions::from_json(&json!({"compression": "brotli"})).unwrap_err();
    assert!(err.message().contains("brotli") || err.hint().unwrap_or_default().contains("snappy"), "{err:?}");
    assert!(ExportOptions::from_json(&json!({"row_group_rows": 10})).is_err());
}

#[test]
fn row_groups_split_large_exports() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "groups.parquet");
    let options = ExportOptions::from_json(&json!({"row_group_rows": 1000})).unwrap();
    let ids: Vec<Option<i64>> = (0..2500).map(Some).collect();
    export(&path, vec![field("id", ColumnType::Int64)], vec![vec![Values::Int64(ids)]], &options).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    assert_eq!(builder.metadata().num_row_groups(), 3);
}

#[test]
fn text_shaped_types_are_restored_only_from_the_allowlist() {
    assert_eq!(restored_type(ColumnType::Text, Some("jsonb")).as_deref(), Some("jsonb"));
    assert_eq!(restored_type(ColumnType::Text, Some("character varying(40)")).as_deref(), Some("character varying(40)"));
    assert_eq!(restored_type(ColumnType::Text, Some("character(4)")).as_deref(), Some("character(4)"));
    assert_eq!(restored_type(ColumnType::Text, Some("uuid")).as_deref(), Some("uuid"));
    for crafted in [
        "jsonb); DROP TABLE x; --",
        "character varying(4) NOT NULL",
        "character(1e3)",
        "character()",
        "ward",
        "text[]",
        "integer",
    ] {
        assert_eq!(restored_type(ColumnType::Text, Some(crafted)), None, "{crafted}");
    }
    assert_eq!(restored_type(ColumnType::Int64, Some("uuid")), None, "only text columns are restored");
    assert_eq!(restored_type(ColumnType::Text, None), None);
}

#[test]
fn an_export_records_types_that_import_restores() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "typed.parquet");
    let fields = vec![field("extra", ColumnType::Text), field("ward", ColumnType::Text), field("id", ColumnType::Int64)];
    let sql_types = ["jsonb".to_string(), "ward_kind".to_string(), "bigint".to_string()];
    let mut out = Export::create(&path, fields, &sql_types, &ExportOptions::default()).unwrap();
    out.write(vec![Values::Text(vec![Some("{}".into())]), Values::Text(vec![Some("A".into())]), Values::Int64(vec![Some(1)])])
        .unwrap();
    out.finish().unwrap();
    // an enum's type may not exist where the file is read: text
    assert_eq!(Import::open(&path, 10).unwrap().sql_types(), ["jsonb", "text", "bigint"]);
}
