#!/usr/bin/env bash
# The readmission loader against malformed files: each is refused with a message naming the line,
# and leaves nothing half-loaded; a good file loads, and loading it twice does not duplicate rows.
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
export HEALTHML_DB=healthml_loader
loader=$HEALTHML_ROOT/scripts/load-readmission
data=$HEALTHML_ROOT/data/diabetes-130
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -X -q -t -A -d "$HEALTHML_DB" -c "$1" 2>&1; }
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $HEALTHML_DB WITH (FORCE)" -c "CREATE DATABASE $HEALTHML_DB"
rm -f "$PGHOST/healthml-script.$HEALTHML_DB.sha256"

plan 24

# A small, valid slice of the real file: the header and the first 200 encounters.
zcat "$data/diabetic_data.csv.gz" | head -n 201 >"$work/good.csv"

# 1. wrong header: a renamed column is refused before any row is read
sed '1s/time_in_hospital/days_in_hospital/' "$work/good.csv" >"$work/bad_header.csv"
out=$("$loader" --encounters "$work/bad_header.csv" 2>&1); rc=$?
ok $((rc == 0)) "a wrong header fails"
like "$out" 'header line field 10: got "days_in_hospital", expected "time_in_hospital"' "the message names the bad header field"
like "$out" 'line 1' "the message names line 1"
is "$(q "SELECT to_regclass('readmission.encounters') IS NULL")" "t" "a failed first load leaves no table behind"

# 2. bad value on line 5 (time_in_hospital is not a number)
awk -F, -v OFS=, 'NR == 5 { $10 = "three" } { print }' "$work/good.csv" >"$work/bad_value.csv"
out=$("$loader" --encounters "$work/bad_value.csv" 2>&1); rc=$?
ok $((rc == 0)) "a non-numeric count fails"
like "$out" 'line 5, column time_in_hospital: "three"' "the message names line 5 and the column"
like "$out" 'nothing was changed' "the loader says nothing was changed"

# 3. a row with too few columns on line 3 (the file has CRLF line ends: keep them)
awk 'NR == 3 { sub(/,[^,]*,[^,]*\r?$/, "\r") } { print }' "$work/good.csv" >"$work/short_row.csv"
out=$("$loader" --encounters "$work/short_row.csv" 2>&1); rc=$?
ok $((rc == 0)) "a short row fails"
like "$out" 'COPY encounters_csv, line 3: ' "the message names line 3"

# 4. the good slice loads; loading it again changes nothing
out=$("$loader" --encounters "$work/good.csv" 2>&1); rc=$?
is "$rc" 0 "the valid slice loads"
is "$(q 'SELECT count(*) FROM readmission.encounters')" 200 "200 encounters after the first load"
out=$("$loader" --encounters "$work/good.csv" 2>&1); rc=$?
is "$rc" 0 "loading the same slice again succeeds"
is "$(q 'SELECT count(*) FROM readmission.encounters')" 200 "still 200 encounters: no duplicates"
like "$out" '0 \| +0 \| +200' "the second load inserts and updates nothing"

# 5. a bad file after a good load leaves the loaded table exactly as it was
before=$(q 'SELECT md5(string_agg(e::text, '','' ORDER BY encounter_id)) FROM readmission.encounters e')
{ cat "$work/good.csv"; zcat "$data/diabetic_data.csv.gz" | sed -n '202,210p'; echo "1,2,3"; } >"$work/bad_tail.csv"
out=$("$loader" --encounters "$work/bad_tail.csv" 2>&1); rc=$?
ok $((rc == 0)) "a file whose last row is broken fails"
like "$out" 'line 211' "the message names the broken last line"
after=$(q 'SELECT md5(string_agg(e::text, '','' ORDER BY encounter_id)) FROM readmission.encounters e')
is "$after" "$before" "the table is unchanged: the good rows before the bad one were not kept"

# 6. a duplicated encounter in one file
{ cat "$work/good.csv"; sed -n 2p "$work/good.csv"; } >"$work/duplicate.csv"
out=$("$loader" --encounters "$work/duplicate.csv" 2>&1); rc=$?
ok $((rc == 0)) "a duplicated encounter_id fails"
like "$out" 'duplicate key value.*' "the message says the key is duplicated"
like "$out" 'line 202' "and names the line of the second copy"

# 7. a malformed ID mappings file
sed 's/^3,Elective/three,Elective/' "$data/IDs_mapping.csv" >"$work/bad_mapping.csv"
out=$("$loader" --encounters "$work/good.csv" --mappings "$work/bad_mapping.csv" 2>&1); rc=$?
ok $((rc == 0)) "a mapping row without an integer id fails"
like "$out" 'bad_mapping.csv line 4: expected "<integer id>,<description>", got "three,Elective"' "the message names the mapping file line"

# 8. an unreadable path
out=$("$loader" --encounters "$work/missing.csv" 2>&1); rc=$?
ok $((rc == 0)) "a missing file fails"
like "$out" "cannot read the encounters file '$work/missing.csv'" "the message names the path"
