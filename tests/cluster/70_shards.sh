#!/usr/bin/env bash
# Beyond one server: the readmission data split by patient across two shard clusters (scripts/shards,
# docs/reference/sharding.md), the private cluster as coordinator. Training on the coordinator reads the
# shards as one relation; a deploy there reaches the shards by logical replication, down to a session
# already open on a shard; the coordinator's readmit_score(e) is computed on the shards, in parallel,
# and equals single-server scoring on every row, as does score_batch run on each shard; moment
# aggregates combine partial states computed on each shard; a sample is drawn on the shards as on one
# server; a failed shard gives an error naming it and writes nothing anywhere. Creates and removes
# its clusters. TAP output; run by prove.
set -u
source "$HEALTHML_ROOT/scripts/lib/common.sh"
source "$HEALTHML_ROOT/scripts/lib/shards.sh"
set +e +o pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
tmp=$(mktemp -d)
source "$HEALTHML_ROOT/tests/bin/session.sh"
export HEALTHML_SHARDS_DB=hm_sharded
single=hm_single
qc() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$HEALTHML_SHARDS_DB" "$@"; }
q1() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$single" "$@"; }
qs() { local k=$1; shift; shard_psql "$k" -t -A -d "$HEALTHML_SHARDS_DB" "$@"; }
cleanup() {
    session_close shard 2>/dev/null
    shards_down 2
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $single WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

plan 25
shards_up 2 "$HEALTHML_ROOT/data/diabetes-130/diabetic_data.csv.gz" >"$tmp/up.log" 2>&1
ok $? "two shard clusters are loaded and attached to the coordinator (ports $(shard_port 1), $(shard_port 2))"
is "$(qc -c "SELECT count(*), count(DISTINCT encounter_id) FROM readmission.encounters")" "101766|101766" \
   "the coordinator's readmission.encounters holds every encounter once"
is "$(qc -c "SELECT count(*) FROM (SELECT patient_nbr FROM readmission.encounters GROUP BY 1 HAVING count(DISTINCT tableoid) > 1) p")" 0 \
   "no patient straddles the shards (history features stay shard-local)"

# training on the coordinator reads the shards' cohorts as one relation
options="{\"group_by\": \"patient_nbr\", \"test_where\": \"patient_nbr % 5 = 0\", \"exclude\": [\"encounter_id\", \"readmitted\", \"in_cohort\", \"admission_type\", \"discharge_disposition\", \"admission_source\"]}"
qc -c "SELECT count(*) FROM healthml.train('readmission', 'readmission.cohort', 'readmitted_30d', 'logistic', '$options')" \
   -c "SELECT count(*) FROM healthml.deploy('readmission', 1)" >/dev/null
is "$(qc -c "SELECT train_rows + test_rows FROM healthml.models WHERE version = 1")" \
   "$(qc -c "SELECT count(*) FROM readmission.cohort")" "a model trains on the sharded cohort, every row read once"
shard_caught_up 1 && shard_caught_up 2
ok $? "the model and its deployment reach both shards by logical replication"

# the single-server reference: all patients in one database, scored by the same model
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $single WITH (FORCE)" >/dev/null 2>&1
HEALTHML_DB=$single "$HEALTHML_ROOT/scripts/load-readmission" >"$tmp/load-single.log" 2>&1
qc -c "COPY (SELECT * FROM healthml.models) TO STDOUT" | q1 -c "COPY healthml.models FROM STDIN"
q1 -c "SELECT count(*) FROM healthml.deploy('readmission', 1)" >/dev/null
scores="SELECT md5(string_agg(e.encounter_id || ':' || readmission.readmit_score(e), ',' ORDER BY e.encounter_id)) FROM readmission.encounters e"
is "$(qc -c "$scores")" "$(q1 -c "$scores")" "readmit_score(e) on the sharded table equals single-server scoring on every row (101,766)"
is "$(qc -c "SET search_path = readmission, public" -c "${scores//readmission.readmit_score/readmit_score}")" "$(q1 -c "$scores")" \
   "unqualified too, as an analyst whose search_path has the pack writes it"

plan_text=$(qc -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT e.encounter_id, readmission.readmit_score(e) FROM readmission.encounters e")
is "$(grep -c 'Async Foreign Scan on shard_[12]' <<<"$plan_text")" 2 "both shards are scanned at once (asynchronous append)"
like "$plan_text" "Remote SQL: SELECT encounter_id, readmit_score FROM readmission.scored_encounters" \
     "each shard computes the scores; only scored rows travel"
calls="SELECT coalesce(sum(calls), 0) FROM healthml.scoring_stats WHERE name = 'readmission'"
before=$(( $(qs 1 -c "$calls") + $(qs 2 -c "$calls") ))
qc -c "SELECT count(readmit_score(e)) FROM readmission.encounters e" >/dev/null
is "$(( $(qs 1 -c "$calls") + $(qs 2 -c "$calls") - before ))|$(qc -c "$calls")" "101766|0" \
   "the shards made every scoring call, the coordinator none"
one_patient=$(qc -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT readmit_score(e) FROM readmission.encounters e WHERE e.patient_nbr = 8222157")
is "$(grep -c 'Foreign Scan on shard_' <<<"$one_patient")|$(grep -c 'WHERE ((patient_nbr = 8222157))' <<<"$one_patient")" "1|1" \
   "one patient's scores are asked of the one shard that holds the patient"

# a deploy on the coordinator reaches a session already open on a shard at its next statement
qc -c "SELECT count(*) FROM healthml.train('readmission', 'readmission.cohort', 'readmitted_30d', 'logistic',
                                           '$options'::jsonb || '{\"exclude\": [\"encounter_id\", \"readmitted\", \"in_cohort\", \"admission_type\", \"discharge_disposition\", \"admission_source\", \"number_inpatient\"]}')" >/dev/null
mapfile -t ids < <(qc -c "SELECT id FROM healthml.models WHERE name = 'readmission' ORDER BY version")
which="SELECT CASE readmission.readmit_score(e) WHEN healthml.predict_row_by_id(${ids[0]}, f) THEN 1
                                                WHEN healthml.predict_row_by_id(${ids[1]}, f) THEN 2 END
       FROM readmission.encounters e JOIN readmission.features f USING (encounter_id)
       WHERE e.encounter_id = $(qs 1 -c "SELECT min(encounter_id) FROM readmission.cohort");"
session_open shard -h "$(shard_dir 1)" -p "$(shard_port 1)" -U postgres -d "$HEALTHML_SHARDS_DB"
is "$(session shard "$which")" 1 "a session on shard 1 scores with version 1"
qc -c "SELECT count(*) FROM healthml.deploy('readmission', 2)" >/dev/null
shard_caught_up 1
is "$(session shard "$which")" 2 "after a deploy on the coordinator, the same session scores with version 2 (its cache follows replication)"
q1 -c "COPY healthml.models FROM STDIN" < <(qc -c "COPY (SELECT * FROM healthml.models WHERE version = 2) TO STDOUT")
q1 -c "SELECT count(*) FROM healthml.deploy('readmission', 2)" >/dev/null
shard_caught_up 2
is "$(qc -c "$scores")" "$(q1 -c "$scores")" "and the sharded scores equal single-server scoring with version 2"

# batch scoring runs on each shard, with the replicated deployment; the coordinator reads the parts
batch="CALL healthml.score_batch('readmission', 'readmission.cohort', 'encounter_id', 'readmission.nightly_scores')"
qs 1 -c "$batch" >/dev/null 2>&1 && qs 2 -c "$batch" >/dev/null 2>&1 && q1 -c "$batch" >/dev/null 2>&1
qc >/dev/null <<'SQL'
IMPORT FOREIGN SCHEMA readmission LIMIT TO (nightly_scores) FROM SERVER shard_1 INTO shard_1;
IMPORT FOREIGN SCHEMA readmission LIMIT TO (nightly_scores) FROM SERVER shard_2 INTO shard_2;
CREATE VIEW readmission.nightly_scores AS
SELECT * FROM shard_1.nightly_scores UNION ALL SELECT * FROM shard_2.nightly_scores;
SQL
nightly="SELECT count(*) || ':' || md5(string_agg(encounter_id || ':' || model_version || ':' || score, ',' ORDER BY encounter_id)) FROM readmission.nightly_scores"
is "$(qc -c "$nightly")" "$(q1 -c "$nightly")" "score_batch on each shard gives, read on the coordinator, what it gives on one server"

# moments: partial states computed on each shard (pushed down), combined on the coordinator
partial="SELECT healthml.moments_merge(part) FROM (SELECT healthml.moments_partial(e.num_medications) FROM shard_1.scored_encounters e
                                               UNION ALL SELECT healthml.moments_partial(e.num_medications) FROM shard_2.scored_encounters e) parts(part)"
like "$(qc -c "EXPLAIN (VERBOSE, COSTS OFF) $partial")" "Remote SQL: SELECT healthml.moments_partial\(num_medications\) FROM readmission.scored_encounters" \
     "each shard computes its partial state of the moments"
is "$(qc -c "SELECT (m).n || '|' || (m).nulls || '|' || (m).min || '|' || (m).max FROM ($partial) s(m)")" \
   "$(q1 -c "SELECT (m).n || '|' || (m).nulls || '|' || (m).min || '|' || (m).max FROM (SELECT healthml.moments(num_medications) FROM readmission.encounters) s(m)")" \
   "the merged state counts what one server counts"
reference=$(q1 -c "SELECT array_to_string(ARRAY[(m).mean, (m).stddev, (m).skewness, (m).kurtosis], ',') FROM (SELECT healthml.moments(num_medications) FROM readmission.encounters) s(m)")
is "$(qc -c "SELECT bool_and(abs(got - want) <= 1e-9 * abs(want)) FROM ($partial) s(m),
                 unnest(ARRAY[(m).mean, (m).stddev, (m).skewness, (m).kurtosis], '{$reference}'::float8[]) t(got, want)")" t \
   "and its mean, stddev, skewness and kurtosis equal one server's to 1e-9"

# training on a sample: the shards filter the rows themselves, and draw the patients one server draws
sampled="SELECT count(*) FROM readmission.cohort c WHERE healthml._in_sample(c.patient_nbr, 42, 0.2)"
is "$(qc -c "EXPLAIN (VERBOSE, COSTS OFF) $sampled" | grep -c 'Remote SQL: .* WHERE (healthml._in_sample(patient_nbr, 42::bigint, 0.2::double precision))')" 2 \
   "a sample's WHERE clause is evaluated on each shard: only sampled rows travel"
qc -c "SELECT count(*) FROM healthml.train('readmission', 'readmission.cohort', 'readmitted_30d', 'logistic',
                                           '$options'::jsonb || '{\"sample\": 0.2}')" >/dev/null
is "$(qc -c "SELECT train_rows + test_rows FROM healthml.models WHERE version = 3")" "$(q1 -c "$sampled")" \
   "a model trained on a sample of the sharded cohort reads the rows of the patients one server samples"

# failures: a statement that fails on one shard changes nothing on the other
p1=$(qs 1 -c "SELECT patient_nbr FROM readmission.encounters ORDER BY encounter_id LIMIT 1")
p2=$(qs 2 -c "SELECT patient_nbr FROM readmission.encounters ORDER BY encounter_id LIMIT 1")
stay="SELECT sum(time_in_hospital) FROM readmission.encounters WHERE patient_nbr IN ($p1, $p2)"
before=$(qs 1 -c "$stay")
update="UPDATE readmission.encounters SET time_in_hospital = CASE WHEN patient_nbr = $p2 THEN -1 ELSE time_in_hospital + 1 END WHERE patient_nbr IN ($p1, $p2)"
like "$(qc -c "$update" 2>&1)" "violates check constraint" "an update that one shard refuses fails as a whole"
is "$(qs 1 -c "$stay")" "$before" "and the other shard's rows are unchanged (one transaction across shards)"
shard_env 2 "$HEALTHML_ROOT/scripts/cluster" stop >/dev/null 2>&1
like "$(qc -v VERBOSITY=verbose -c "SELECT count(readmission.readmit_score(e)) FROM readmission.encounters e" 2>&1)" \
     'ERROR:  08001: could not connect to server "shard_2"' "with shard 2 down, the coordinator's error names it (08001)"
is "$(qc -c "SELECT count(readmission.readmit_score(e)) FROM readmission.encounters e WHERE e.patient_nbr = $p1" 2>&1)" 1 \
   "and a query of shard 1's patients still runs"
qc -c "SELECT count(*) FROM healthml.rollback('readmission')" >/dev/null
shard_env 2 "$HEALTHML_ROOT/scripts/cluster" start >/dev/null 2>&1
shard_caught_up 2
is "$(qs 2 -c "SELECT version FROM healthml.models WHERE id = healthml.model_version_id('readmission')")" 1 \
   "a shard that was down catches up with a rollback made meanwhile when it returns"
