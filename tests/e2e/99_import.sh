#!/usr/bin/env bash
# Models in from LightGBM: a model trained by the real LightGBM (the test Python) on cohort rows,
# with a text column per feature read as codes and a feature named differently from its column,
# is imported by healthml.import_model and then scores every cohort row as LightGBM's predict does
# (1e-12 relative), explains sampled rows as its pred_contrib does (1e-9), deploys, evaluates and
# drifts like a model trained here, and exports back to a file LightGBM scores the same. Bad models
# are refused with their SQLSTATE and a hint. All in a transaction that is rolled back, so the
# database keeps the models the other tiers use.
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=healthml_e2e
py=${HEALTHML_PYTHON:?run through scripts/test, which provides a Python with lightgbm}
oracle="$HEALTHML_ROOT/tests/e2e/import/lightgbm_oracle.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -X -q -t -A -d "$db" -c "$1" 2>&1; }
# The model text and the import options as psql variables :'model' and :'options' (too long
# for a command line). The backquotes are psql's, not the shell's.
# shellcheck disable=SC2016
variables() { printf '\\set model `cat %s/model.txt`\n\\set options `cat %s/options.json`\n' "$work" "$work"; }
# sqlstate <sql>: the SQLSTATE and hint the statement fails with
sqlstate() {
    { variables; printf '%s;\n' "$1"; } | psql -X -q -t -A -d "$db" -v VERBOSITY=verbose 2>&1 \
        | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p; s/^HINT:  \(.*\)/hint: \1/p' | paste -sd' '
}

plan 16

q "\\copy (SELECT encounter_id, age_years, time_in_hospital, num_lab_procedures, num_procedures, num_medications,
                  number_outpatient, number_emergency, number_inpatient, number_diagnoses, prior_encounters,
                  previous_time_in_hospital, race, gender, a1c_status, admission_type, readmitted_30d
           FROM readmission.cohort ORDER BY encounter_id) TO '$work/cohort.csv' CSV HEADER" >/dev/null
trained=$("$py" "$oracle" train "$work" 2>&1)
like "$trained" '^trees [0-9]+$' "LightGBM trains a binary model on the cohort's numbers and text codes"
like "$(grep -c '^decision_type=.*\b\(2\|0\)\b' "$work/model.txt")" '^[1-9]' "with splits of missing type None"
like "$(grep -c '^decision_type=.*\b\(8\|10\)\b' "$work/model.txt")" '^[1-9]' "and of missing type NaN"

{ variables; cat <<SQL; } | psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" >"$work/session.out" 2>&1
BEGIN;
SELECT model_id AS imported, test_auc AS imported_auc FROM healthml.import_model('imported_lgbm', 'lightgbm', :'model', :'options') \gset
SELECT count(*) FROM healthml.deploy('imported_lgbm', 1, 'imported from LightGBM') \g /dev/null
\copy (SELECT c.encounter_id, healthml.predict_row('imported_lgbm', c) FROM readmission.cohort c) TO '$work/healthml-scores.tsv'
\copy (SELECT c.encounter_id, e ->> 'raw_score', e ->> 'base', (SELECT jsonb_object_agg(x ->> 'feature', (x ->> 'contribution')::float8) FROM jsonb_array_elements(e -> 'contributions') x) FROM readmission.cohort c, healthml.explain_jsonb('imported_lgbm', to_jsonb(c)) e WHERE c.encounter_id % 50 = 0) TO '$work/healthml-explained.tsv'
\o $work/exported.txt
SELECT healthml.export_model('imported_lgbm', 1);
\o $work/checks.txt
SELECT 'evaluate ' || ((healthml.evaluate('imported_lgbm', 'readmission.cohort') ->> 'auc')::float8 = :imported_auc);
SELECT 'drift ' || count(*) FROM healthml.drift('imported_lgbm', 'readmission.cohort');
SELECT 'model ' || algorithm || ' ' || source || ' ' || target || ' ' || array_to_string(tags, ',') || ' ' || features[array_length(features, 1) - 3]
FROM healthml.models WHERE id = :imported;
SELECT 'typed ' || bool_and(healthml.predict_row_by_id(:imported, c) = healthml.predict('imported_lgbm', to_jsonb(c))) FROM readmission.cohort c WHERE c.encounter_id % 97 = 0;
\o
ROLLBACK;
SQL
status=$?
ok "$status" "the model is imported, deployed, scored, explained and exported (then rolled back)"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$work/session.out"
compared=$("$py" "$oracle" compare "$work" 2>&1)
rows=$(q "SELECT count(*) FROM readmission.cohort")
is "$(printf '%s\n' "$compared" | grep '^scores')" "scores rows $rows ok" \
   "every cohort row's probability equals LightGBM's predict (1e-12 relative)"
is "$(printf '%s\n' "$compared" | grep '^raw')" "raw rows $(q "SELECT count(*) FROM readmission.cohort WHERE encounter_id % 50 = 0") ok" \
   "and its raw score, on every 50th encounter"
is "$(printf '%s\n' "$compared" | grep '^contributions')" "contributions rows $(q "SELECT count(*) FROM readmission.cohort WHERE encounter_id % 50 = 0") ok" \
   "whose explanation (base and every column) equals LightGBM's pred_contrib (1e-9 of the row's largest)"
is "$(grep -E '^(evaluate|drift|model|typed)' "$work/checks.txt" | sed 's/^drift [1-9][0-9]*$/drift some/' | paste -sd'|')" \
   "evaluate true|drift some|model gbdt readmission.cohort readmitted_30d imported race|typed true" \
   "it evaluates to its stored AUC, drifts against its stored distributions, reads race for race_code, and scores jsonb rows as typed ones"
is "$("$py" "$oracle" roundtrip "$work" 2>&1)" "roundtrip ok" "exported back, LightGBM scores it as the original (1e-12 relative)"

like "$(sqlstate "SELECT healthml.import_model('bad', 'lightgbm', left(:'model', 2000), :'options')")" '^22P04 hint: pass the whole model text' \
     "a truncated model is refused (22P04) with a hint"
like "$(sqlstate "SELECT healthml.import_model('bad', 'lightgbm', replace(:'model', 'num_class=1', 'num_class=3'), :'options')")" \
     '^0A000 hint: healthml imports binary classifiers' "a multiclass model is refused (0A000)"
like "$(sqlstate "SELECT healthml.import_model('bad', 'lightgbm', replace(:'model', 'objective=binary sigmoid:1', 'objective=regression'), :'options')")" \
     '^0A000 hint: healthml imports binary classifiers' "an unsupported objective is refused (0A000)"
like "$(sqlstate "SELECT healthml.import_model('bad', 'lightgbm', regexp_replace(:'model', E'\\nthreshold=[^ ]+', E'\\nthreshold=nan'), :'options')")" \
     '^22P04 ' "a NaN threshold is refused (22P04)"
like "$(sqlstate "SELECT healthml.import_model('bad', 'lightgbm', :'model', '{\"columns\": {\"no_such_feature\": \"race\"}}')")" \
     '^42703 hint: the model.s features are: age_years' "a mapping of an unknown feature is refused (42703), naming the features"
like "$(sqlstate "SELECT healthml.import_model('bad', 'lightgbm', :'model', '{\"evaluate_on\": \"healthml.deployments\", \"target\": \"readmitted_30d\"}')")" \
     '^42703 ' "a relation without the model's columns is refused (42703)"
like "$(sqlstate "SELECT healthml.import_model('bad', 'onnx', :'model')")" '^22023 hint: use one of: lightgbm' \
     "an unknown format is refused (22023)"
