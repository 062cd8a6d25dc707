#!/usr/bin/env bash
# The lake against pyarrow, both ways: pyarrow reads what export_parquet writes (types, values,
# NULLs, metadata), import_parquet reads what pyarrow writes (its own types: dictionaries,
# nanosecond timestamps with zones, unsigned and 8-bit integers, decimals, all-NULL columns, every
# codec), refuses nested columns and unknown codecs by name, and leaves no table when a late batch
# is bad. Needs HEALTHML_PYTHON (a Python with pyarrow: scripts/test sets it up).
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=healthml_regress
py=${HEALTHML_PYTHON:?run through scripts/test, which provides a Python with pyarrow}
work=$(mktemp -d)
chmod 0777 "$work"  # the server writes here as its own user
trap 'rm -rf "$work"' EXIT
q() { psql -X -q -t -A -d "$db" -c "$1" 2>&1; }

plan 24

# 1. ours, read by pyarrow
q "DROP TABLE IF EXISTS public.lake_py_out;
   CREATE TABLE public.lake_py_out AS
   SELECT i AS id, i % 3 = 0 AS flag, (i * 1.25)::numeric(8,2) AS amount, CASE WHEN i % 4 = 0 THEN NULL ELSE 'note ' || i END AS note,
          date '2024-02-28' + i AS day, timestamptz '2026-01-01 00:00:00.000001+00' + i * interval '1 minute' AS instant,
          timestamp '1999-12-31 23:59:59' + i * interval '1 second' AS local_at, (i * 0.5)::float8 AS score
   FROM generate_series(1, 1000) i" >/dev/null
is "$(q "SELECT healthml.export_parquet('SELECT * FROM public.lake_py_out ORDER BY id', '$work/ours.parquet')")" 1000 "export writes 1000 rows"
out=$("$py" - "$work/ours.parquet" <<'PY' 2>&1
import sys, datetime, decimal
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(t.num_rows)
print(",".join(f"{f.name}:{f.type}" for f in t.schema))
print(t.schema.field("amount").metadata[b"postgres.type"].decode())
row = {c: t.column(c)[9].as_py() for c in t.column_names}
print(row["id"], row["flag"], row["amount"], row["note"], row["day"], row["instant"].isoformat(), row["local_at"].isoformat(), row["score"])
print(t.column("note").null_count, sum(t.column("id").to_pylist()))
print(pq.ParquetFile(sys.argv[1]).metadata.row_group(0).column(0).compression)
PY
)
lines() { printf '%s\n' "$out" | sed -n "$1p"; }
is "$(lines 1)" 1000 "pyarrow reads every row"
is "$(lines 2)" "id:int32,flag:bool,amount:decimal128(8, 2),note:string,day:date32[day],instant:timestamp[us, tz=UTC],local_at:timestamp[us],score:double" \
   "pyarrow sees the Arrow types of the PostgreSQL columns"
is "$(lines 3)" "numeric(8,2)" "each field records its PostgreSQL type in its metadata"
is "$(lines 4)" "10 False 12.50 note 10 2024-03-09 2026-01-01T00:10:00.000001+00:00 2000-01-01T00:00:09 5.0" \
   "pyarrow reads the same values (decimals exact, microseconds and zones kept)"
is "$(lines 5)" "250 500500" "NULLs stay NULL"
is "$(lines 6)" "SNAPPY" "snappy by default, as pandas and Spark write"

# 2. pyarrow's, read by us
"$py" - "$work" <<'PY'
import sys, decimal, datetime
import pyarrow as pa, pyarrow.parquet as pq
d = sys.argv[1]
n = 5
t = pa.table({
    "tiny": pa.array([-128, 0, None, 127, 1], pa.int8()),
    "unsigned": pa.array([2**64 - 1, 0, None, 7, 8], pa.uint64()),
    "race": pa.array(["Caucasian", None, "AfricanAmerican", "Caucasian", "Other"]).dictionary_encode(),
    "seen": pa.array([0, 1_999, None, -1_000, 86_400_000_000_123], pa.timestamp("ns", tz="America/New_York")),
    "born": pa.array([datetime.date(1931, 5, 1), None, datetime.date(2000, 1, 1), datetime.date(1969, 12, 31), datetime.date(2026, 11, 23)]),
    "at": pa.array([datetime.time(7, 30, 0, 1), None, datetime.time(0), datetime.time(23, 59, 59, 999999), datetime.time(12)]),
    "price": pa.array([decimal.Decimal("-0.005"), None, decimal.Decimal("12.345"), decimal.Decimal("0"), decimal.Decimal("9999.999")], pa.decimal128(7, 3)),
    "blob": pa.array([b"\x00\xff", None, b"", b"PAR1", b"x"], pa.binary()),
    "big_text": pa.array(["a", "b", None, "ü", "e"], pa.large_string()),
    "nothing": pa.nulls(n),
    "ok": pa.array([True, False, None, True, False]),
    "ratio": pa.array([0.5, None, float("nan"), -2.0, 1e300], pa.float64()),
})
schema = t.schema.set(t.schema.get_field_index("tiny"), pa.field("tiny", pa.int8(), nullable=True))
pq.write_table(t, f"{d}/theirs.parquet")
for codec in ["zstd", "gzip", "lz4", "none", "brotli"]:
    pq.write_table(t, f"{d}/theirs_{codec}.parquet", compression=codec)
pq.write_table(pa.table({"id": pa.array([1, 2]), "diagnoses": pa.array([["250.83"], ["V57", "401"]])}), f"{d}/nested.parquet")
# a bad value in the third of three batches: nothing may stay behind
days = list(range(30_000))
days[25_000] = 2**31 - 1  # day 2147483647 after 1970: beyond PostgreSQL's last date
pq.write_table(pa.table({"id": pa.array(range(30_000), pa.int64()), "day": pa.array(days, pa.date32())}), f"{d}/late.parquet")
pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64())}, schema=pa.schema([pa.field("id", pa.int64(), nullable=False)])), f"{d}/required.parquet")
PY
ok $? "pyarrow writes its files"
q "DROP TABLE IF EXISTS public.lake_py_in, public.lake_py_zstd, public.lake_py_gzip, public.lake_py_lz4, public.lake_py_none,
                        public.lake_py_nested, public.lake_py_late, public.lake_py_required, public.lake_py_brotli" >/dev/null
is "$(q "SELECT healthml.import_parquet('$work/theirs.parquet', 'public.lake_py_in')")" 5 "import reads pyarrow's file"
is "$(q "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'public.lake_py_in'::regclass AND attnum > 0")" \
   "tiny smallint, unsigned numeric(20,0), race text, seen timestamp with time zone, born date, at time without time zone, price numeric(7,3), blob bytea, big_text text, nothing text, ok boolean, ratio double precision" \
   "pyarrow's types become PostgreSQL columns"
is "$(q "SET TIME ZONE 'UTC'; SELECT string_agg(concat_ws(' ', tiny, unsigned, race, seen, born, at, price, encode(blob, 'hex'), big_text, nothing, ok, ratio), ' | ' ORDER BY ctid) FROM public.lake_py_in")" \
   "-128 18446744073709551615 Caucasian 1970-01-01 00:00:00+00 1931-05-01 07:30:00.000001 -0.005 00ff a t 0.5 | 0 0 1970-01-01 00:00:00.000001+00 b f | AfricanAmerican 2000-01-01 00:00:00 12.345  NaN | 127 7 Caucasian 1969-12-31 23:59:59.999999+00 1969-12-31 23:59:59.999999 0.000 50415231 ü t -2 | 1 8 Other 1970-01-02 00:00:00+00 2026-11-23 12:00:00 9999.999 78 e f 1e+300" \
   "values, NULLs, dictionaries, zones and nanoseconds (cut to microseconds) arrive as pyarrow wrote them"
for codec in zstd gzip lz4 none; do
    is "$(q "SELECT healthml.import_parquet('$work/theirs_$codec.parquet', 'public.lake_py_$codec')")" 5 "a $codec file is read"
done
out=$(q "SELECT healthml.import_parquet('$work/theirs_brotli.parquet', 'public.lake_py_brotli')")
like "$out" 'compressed with BROTLI, which healthml does not read' "an unsupported codec is refused by name"
out=$(q "SELECT healthml.import_parquet('$work/nested.parquet', 'public.lake_py_nested')")
like "$out" 'column "diagnoses" has Arrow type List' "a nested column is refused by name"
out=$(q "SELECT healthml.import_parquet('$work/late.parquet', 'public.lake_py_late')")
like "$out" 'column "day" holds a date of day 2147483647 outside PostgreSQL' "a bad value in a late batch is named"
is "$(q "SELECT to_regclass('public.lake_py_late') IS NULL")" t "and no partial table is left"
is "$(q "SELECT healthml.import_parquet('$work/required.parquet', 'public.lake_py_required'); SELECT attnotnull FROM pg_attribute WHERE attrelid = 'public.lake_py_required'::regclass AND attname = 'id'")" \
   "$(printf '2\nt')" "a required Arrow field becomes NOT NULL"

# 3. wide files, and an export cancelled midway
"$py" - "$work" <<'PY'
import sys
import pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({f"lab_{i:03d}": pa.array([float(i), None], pa.float64()) for i in range(300)}), f"{sys.argv[1]}/wide.parquet")
PY
q "DROP TABLE IF EXISTS public.lake_py_wide" >/dev/null
is "$(q "SELECT healthml.import_parquet('$work/wide.parquet', 'public.lake_py_wide'); SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.lake_py_wide'::regclass AND attnum > 0")" \
   "$(printf '2\n300')" "a 300-column file imports"
is "$(q "SELECT lab_299 FROM public.lake_py_wide ORDER BY lab_299 NULLS LAST LIMIT 1")" 299 "its last column holds its values"
q "SELECT healthml.export_parquet('SELECT 1 AS one', '$work/kept.parquet')" >/dev/null
out=$(q "SET statement_timeout = '300ms'; SELECT healthml.export_parquet('SELECT i, pg_sleep(0.0001) FROM generate_series(1, 1000000) i', '$work/kept.parquet')")
like "$out" 'canceling statement due to statement timeout' "an export can be cancelled"
is "$(find "$work" -maxdepth 1 -name '*.tmp' | wc -l; "$py" -c "import pyarrow.parquet as pq, sys; print(pq.read_table(sys.argv[1]).num_rows)" "$work/kept.parquet")" \
   "$(printf '0\n1')" "a cancelled export leaves no temporary file and the previous file whole"
