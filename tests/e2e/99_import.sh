#!/usr/bin/env bash
# Models in from LightGBM and XGBoost: a model trained by the real library (the test Python) on
# cohort rows, with text columns read as codes and a feature named differently from its column, is
# imported by healthml.import_model and then scores every cohort row as the library's predict does
# (1e-12 relative), explains sampled rows as its pred_contrib(s) does (1e-9), deploys, evaluates
# and drifts like a model trained here; the LightGBM one exports back to a file LightGBM scores the
# same. Bad models are refused with their SQLSTATE and a hint. All in transactions that are rolled
# back, so the database keeps the models the other tiers use.
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=healthml_e2e
py=${HEALTHML_PYTHON:?run through scripts/test, which provides a Python with lightgbm and xgboost}
oracle="$HEALTHML_ROOT/tests/oracle/imported_models.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -X -q -t -A -d "$db" -c "$1" 2>&1; }
model_file() { if [ "$1" = xgboost ]; then echo "$work/xgboost-model.json"; else echo "$work/lightgbm-model.txt"; fi; }
# A library's model and import options as psql variables :'model' and :'options' (too long for a
# command line). The backquotes are psql's, not the shell's.
# shellcheck disable=SC2016
variables() { printf '\\set model `cat %s`\n\\set options `cat %s/%s-options.json`\n' "$(model_file "$1")" "$work" "$1"; }
# sqlstate <library> <sql>: the SQLSTATE and hint the statement fails with
sqlstate() {
    { variables "$1"; printf '%s;\n' "$2"; } | psql -X -q -t -A -d "$db" -v VERBOSITY=verbose 2>&1 \
        | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p; s/^HINT:  \(.*\)/hint: \1/p' | paste -sd' '
}

plan 25

q "\\copy (SELECT encounter_id, age_years, time_in_hospital, num_lab_procedures, num_procedures, num_medications,
                  number_outpatient, number_emergency, number_inpatient, number_diagnoses, prior_encounters,
                  previous_time_in_hospital, race, gender, a1c_status, admission_type, readmitted_30d
           FROM readmission.cohort ORDER BY encounter_id) TO '$work/cohort.csv' CSV HEADER" >/dev/null
rows=$(q "SELECT count(*) FROM readmission.cohort")
sampled=$(q "SELECT count(*) FROM readmission.cohort WHERE encounter_id % 50 = 0")

for lib in lightgbm xgboost; do
    like "$("$py" "$oracle" train "$lib" "$work" 2>&1)" '^trees [0-9]+$' \
         "$lib trains a binary model on the cohort's numbers and text codes"
    { variables "$lib"; cat <<SQL; } | psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" >"$work/$lib-session.out" 2>&1
BEGIN;
SELECT model_id AS imported, test_auc AS imported_auc FROM healthml.import_model('imported_$lib', '$lib', :'model', :'options') \gset
SELECT count(*) FROM healthml.deploy('imported_$lib', 1, 'imported from $lib') \g /dev/null
\copy (SELECT c.encounter_id, healthml.predict_row('imported_$lib', c) FROM readmission.cohort c) TO '$work/$lib-healthml-scores.tsv'
\copy (SELECT c.encounter_id, e ->> 'raw_score', e ->> 'base', (SELECT jsonb_object_agg(x ->> 'feature', (x ->> 'contribution')::float8) FROM jsonb_array_elements(e -> 'contributions') x) FROM readmission.cohort c, healthml.explain_jsonb('imported_$lib', to_jsonb(c)) e WHERE c.encounter_id % 50 = 0) TO '$work/$lib-healthml-explained.tsv'
\o $work/$lib-checks.txt
SELECT 'evaluate ' || ((healthml.evaluate('imported_$lib', 'readmission.cohort') ->> 'auc')::float8 = :imported_auc);
SELECT 'drift ' || count(*) FROM healthml.drift('imported_$lib', 'readmission.cohort');
SELECT 'model ' || algorithm || ' ' || source || ' ' || target || ' ' || array_to_string(tags, ',') || ' ' || features[array_length(features, 1) - 3]
FROM healthml.models WHERE id = :imported;
SELECT 'typed ' || bool_and(healthml.predict_row_by_id(:imported, c) = healthml.predict('imported_$lib', to_jsonb(c))) FROM readmission.cohort c WHERE c.encounter_id % 97 = 0;
\o
\o $work/$lib-exported.txt
SELECT healthml.export_model('imported_$lib', 1) WHERE '$lib' = 'lightgbm';
\o
ROLLBACK;
SQL
    status=$?
    ok "$status" "the $lib model is imported, deployed, scored and explained (then rolled back)"
    [ "$status" -eq 0 ] || sed 's/^/#   /' "$work/$lib-session.out"
    compared=$("$py" "$oracle" compare "$lib" "$work" 2>&1)
    is "$(printf '%s\n' "$compared" | grep '^scores')" "scores rows $rows ok" \
       "every cohort row's probability equals $lib's predict (1e-12 relative)"
    is "$(printf '%s\n' "$compared" | grep '^raw')" "raw rows $sampled ok" "and its raw score, on every 50th encounter"
    is "$(printf '%s\n' "$compared" | grep '^contributions')" "contributions rows $sampled ok" \
       "whose explanation (base and every column) equals $lib's own contributions (1e-9 of the row's largest)"
    is "$(grep -E '^(evaluate|drift|model|typed)' "$work/$lib-checks.txt" | sed 's/^drift [1-9][0-9]*$/drift some/' | paste -sd'|')" \
       "evaluate true|drift some|model gbdt readmission.cohort readmitted_30d imported race|typed true" \
       "it evaluates to its stored AUC, drifts against its stored distributions, reads race for race_code, and scores jsonb rows as typed ones"
done
is "$("$py" "$oracle" roundtrip lightgbm "$work" 2>&1)" "roundtrip ok" "the LightGBM import exported back scores as the original in LightGBM (1e-12 relative)"
like "$(sqlstate xgboost "BEGIN; SELECT count(*) FROM healthml.import_model('x_export', 'xgboost', :'model'); SELECT healthml.export_model('x_export', 1); ROLLBACK")" \
     '^0A000 hint: ' "an XGBoost import is not exported to LightGBM, whose f64 sums would score it differently (0A000)"

like "$(sqlstate lightgbm "SELECT healthml.import_model('bad', 'lightgbm', left(:'model', 2000), :'options')")" '^22P04 hint: pass the whole model text' \
     "a truncated LightGBM model is refused (22P04) with a hint"
like "$(sqlstate lightgbm "SELECT healthml.import_model('bad', 'lightgbm', replace(:'model', 'num_class=1', 'num_class=3'), :'options')")" \
     '^0A000 hint: healthml imports binary classifiers' "a multiclass LightGBM model is refused (0A000)"
like "$(sqlstate lightgbm "SELECT healthml.import_model('bad', 'lightgbm', replace(:'model', 'objective=binary sigmoid:1', 'objective=regression'), :'options')")" \
     '^0A000 hint: healthml imports binary classifiers' "an unsupported LightGBM objective is refused (0A000)"
like "$(sqlstate lightgbm "SELECT healthml.import_model('bad', 'lightgbm', regexp_replace(:'model', E'\\nthreshold=[^ ]+', E'\\nthreshold=nan'), :'options')")" \
     '^22P04 ' "a NaN threshold is refused (22P04)"
like "$(sqlstate lightgbm "SELECT healthml.import_model('bad', 'lightgbm', :'model', '{\"columns\": {\"no_such_feature\": \"race\"}}')")" \
     '^42703 hint: the model.s features are: age_years' "a mapping of an unknown feature is refused (42703), naming the features"
like "$(sqlstate lightgbm "SELECT healthml.import_model('bad', 'lightgbm', :'model', '{\"evaluate_on\": \"healthml.deployments\", \"target\": \"readmitted_30d\"}')")" \
     '^42703 ' "a relation without the model's columns is refused (42703)"
like "$(sqlstate xgboost "SELECT healthml.import_model('bad', 'xgboost', left(:'model', 5000), :'options')")" '^22P04 hint: pass the text of a file' \
     "a truncated XGBoost model is refused (22P04) with a hint"
like "$(sqlstate xgboost "SELECT healthml.import_model('bad', 'xgboost', replace(:'model', 'binary:logistic', 'reg:squarederror'), :'options')")" \
     '^0A000 hint: healthml imports binary classifiers' "an unsupported XGBoost objective is refused (0A000)"
like "$(sqlstate xgboost "SELECT healthml.import_model('bad', 'xgboost', :'model', (:'options')::jsonb || '{\"levels\": {}}'::jsonb)")" \
     '^42804 hint: a model feature reads it' "a text column read as a number is refused (42804), with the levels option as the hint"
like "$(sqlstate xgboost "SELECT healthml.import_model('bad', 'lightgbm', :'model', :'options')")" '^22P04 hint: pass the text of Booster.model_to_string' \
     "an XGBoost model passed as LightGBM is refused (22P04)"
like "$(sqlstate lightgbm "SELECT healthml.import_model('bad', 'onnx', :'model')")" '^22023 hint: use one of: lightgbm, xgboost' \
     "an unknown format is refused (22023)"
