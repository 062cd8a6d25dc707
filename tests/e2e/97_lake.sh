#!/usr/bin/env bash
# The lake on the full UCI data: readmission.encounters out to Parquet and back is exact (ordered
# checksum of every row), pyarrow reads the file with the same figures as SQL, and the file pyarrow
# writes back (reordered, zstd) imports to the same rows. Prints the seconds each way (never asserted).
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=healthml_e2e
py=${HEALTHML_PYTHON:?run through scripts/test, which provides a Python with pyarrow}
work=$(mktemp -d)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
q() { psql -X -q -t -A -d "$db" -c "$1" 2>&1; }
checksum() { q "SELECT md5(string_agg(e::text, E'\n' ORDER BY encounter_id)) FROM $1 e"; }
seconds() { q "SELECT round(extract(epoch FROM clock_timestamp() - '$1'::timestamptz), 2)"; }

plan 8

q "DROP SCHEMA IF EXISTS lake_e2e CASCADE; CREATE SCHEMA lake_e2e" >/dev/null
original=$(checksum readmission.encounters)
started=$(q "SELECT clock_timestamp()")
is "$(q "SELECT healthml.export_parquet('SELECT * FROM readmission.encounters ORDER BY encounter_id', '$work/encounters.parquet')")" 101766 \
   "every encounter is exported"
echo "# export: $(seconds "$started") s, $(stat -c %s "$work/encounters.parquet") bytes"
started=$(q "SELECT clock_timestamp()")
is "$(q "SELECT healthml.import_parquet('$work/encounters.parquet', 'lake_e2e.encounters')")" 101766 "and imported"
echo "# import: $(seconds "$started") s"
is "$(checksum lake_e2e.encounters)" "$original" "the round trip is exact (ordered checksum of every row)"
is "$(q "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'lake_e2e.encounters'::regclass AND attnum > 0")" \
   "$(q "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'readmission.encounters'::regclass AND attnum > 0")" \
   "with the same column types"

out=$("$py" - "$work" <<'PY' 2>&1
import sys
import pyarrow.compute as pc, pyarrow.parquet as pq
d = sys.argv[1]
t = pq.read_table(f"{d}/encounters.parquet")
print(t.num_rows, pc.sum(t["encounter_id"]).as_py(), t["weight"].null_count, pc.sum(pc.equal(t["readmitted"], "<30")).as_py())
t = t.sort_by([("encounter_id", "descending")])
pq.write_table(t, f"{d}/from_pyarrow.parquet", compression="zstd")
PY
)
is "$out" "$(q "SELECT count(*) || ' ' || sum(encounter_id) || ' ' || count(*) FILTER (WHERE weight IS NULL) || ' ' || count(*) FILTER (WHERE readmitted = '<30') FROM readmission.encounters")" \
   "pyarrow reads the same rows, sums and NULLs as SQL"
is "$(q "SELECT healthml.import_parquet('$work/from_pyarrow.parquet', 'lake_e2e.from_pyarrow')")" 101766 "pyarrow's rewrite (reordered, zstd) is imported"
is "$(checksum lake_e2e.from_pyarrow)" "$original" "to exactly the same rows"
is "$(q "SELECT healthml.export_parquet('SELECT encounter_id, readmitted FROM readmission.test_split', '$work/test_split.parquet')")" \
   "$(q "SELECT count(*) FROM readmission.test_split")" "a view exports like a table"
q "DROP SCHEMA lake_e2e CASCADE" >/dev/null
