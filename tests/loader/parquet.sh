#!/usr/bin/env bash
# The readmission loader reading a Parquet file from a data lake: the same rows as from the CSV file
# whether pyarrow wrote it from the raw CSV (its header, '?' strings, int64 columns) or
# healthml.export_parquet wrote it from readmission.encounters; a file with other columns is
# refused naming the column, and nothing is loaded. Needs HEALTHML_PYTHON (pyarrow).
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
py=${HEALTHML_PYTHON:?run through scripts/test, which provides a Python with pyarrow}
loader=$HEALTHML_ROOT/scripts/load-readmission
data=$HEALTHML_ROOT/data/diabetes-130
work=$(mktemp -d)
chmod 0777 "$work"  # the server reads and writes the Parquet files
trap 'rm -rf "$work"' EXIT
fresh() { # database
    psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
    rm -f "$PGHOST/healthml-script.$1.sha256"
}
q() { psql -X -q -t -A -d "$1" -c "$2" 2>&1; }
checksum() { q "$1" "SELECT md5(string_agg(e::text, E'\n' ORDER BY encounter_id)) FROM readmission.encounters e"; }

plan 8

zcat "$data/diabetic_data.csv.gz" | head -n 1001 >"$work/slice.csv"
"$py" - "$work" <<'PY'
import sys
import pyarrow.csv as pc, pyarrow.parquet as pq
d = sys.argv[1]
t = pc.read_csv(f"{d}/slice.csv")  # as pandas users write it: '?' stays a string, integers are int64
pq.write_table(t, f"{d}/slice.parquet")
pq.write_table(t.rename_columns([("days_in_hospital" if n == "time_in_hospital" else n) for n in t.column_names]), f"{d}/renamed.parquet")
PY
chmod 0644 "$work"/*.parquet

fresh healthml_lake_csv
HEALTHML_DB=healthml_lake_csv "$loader" --encounters "$work/slice.csv" >/dev/null 2>&1
fresh healthml_lake_pq
out=$(HEALTHML_DB=healthml_lake_pq "$loader" --encounters "$work/slice.parquet" 2>&1); rc=$?
ok "$rc" "pyarrow's Parquet file of the raw CSV loads"
is "$(q healthml_lake_pq "SELECT count(*) FROM readmission.encounters")" 1000 "every row"
is "$(checksum healthml_lake_pq)" "$(checksum healthml_lake_csv)" "the same rows as from the CSV file ('?' is NULL, types cast)"

q healthml_lake_csv "SELECT healthml.export_parquet('SELECT * FROM readmission.encounters', '$work/ours.parquet')" >/dev/null
fresh healthml_lake_pq
HEALTHML_DB=healthml_lake_pq "$loader" --encounters "$work/ours.parquet" >/dev/null 2>&1
ok $? "export_parquet's file of readmission.encounters loads"
is "$(checksum healthml_lake_pq)" "$(checksum healthml_lake_csv)" "to the same rows"

fresh healthml_lake_pq
out=$(HEALTHML_DB=healthml_lake_pq "$loader" --encounters "$work/renamed.parquet" 2>&1); rc=$?
ok $((rc == 0)) "a Parquet file with other columns fails"
like "$out" 'Parquet column 10 is "days_in_hospital", expected "time_in_hospital"' "the message names the column"
is "$(q healthml_lake_pq "SELECT to_regclass('readmission.encounters') IS NULL")" t "and nothing is loaded"

psql -X -q -d postgres -c "DROP DATABASE healthml_lake_csv WITH (FORCE)" -c "DROP DATABASE healthml_lake_pq WITH (FORCE)"
