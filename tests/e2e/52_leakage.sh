#!/usr/bin/env bash
# Leakage on the real data, as a new user meets it: logistic trained on readmission.cohort without
# excluding the raw "readmitted" column (the label's source, '<30' / '>30' / 'NO'). The training warns
# and names the column, the model stores the findings, the card shows them, and deploy refuses the
# version. The whole session is rolled back: the database keeps the models the other tiers use.
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=${PGDATABASE:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

plan 7

psql -X -q -t -A -d "$db" -v VERBOSITY=verbose >"$work/out" 2>"$work/err" <<'SQL'
BEGIN;
CREATE TEMP TABLE leaky AS SELECT * FROM healthml.train('leaky', 'readmission.cohort', 'readmitted_30d', 'logistic',
    '{"group_by": "patient_nbr", "test_where": "patient_nbr % 5 = 0", "exclude": ["encounter_id", "in_cohort"]}');
SELECT 'auc ' || round(test_auc::numeric, 4) FROM leaky;
SELECT 'alerts ' || string_agg(coalesce(g ->> 'column', '-') || ':' || (g ->> 'check'), ' ' ORDER BY g ->> 'check')
FROM leaky, jsonb_array_elements(metrics -> 'guardrails') g WHERE g ->> 'status' = 'alert';
SELECT 'card ' || (healthml.model_card('leaky') LIKE '%**Probable leakage: healthml.deploy and retrain refuse this version.**%');
SELECT * FROM healthml.deploy('leaky');
ROLLBACK;
SQL
out=$(cat "$work/out")
err=$(cat "$work/err")

like "$out" "auc (0\.9[89]|1\.0)" "with the raw readmitted column the test AUC is (nearly) perfect"
like "$err" "WARNING:  01000: healthml guardrail leakage_single_column: readmitted alone predicts the target with AUC 1\.000" \
     "training warns, naming the column"
like "$err" "HINT:  healthml.deploy and retrain refuse this model: train again with readmitted in \"exclude\"" \
     "with what to do"
like "$err" "WARNING:  01000: healthml guardrail leakage_model: test AUC" "the model's test AUC is above the ceiling too"
is "$(grep '^alerts ' <<<"$out")" "alerts -:leakage_model readmitted:leakage_single_column" "both findings are stored, and only those"
is "$(grep '^card ' <<<"$out")" "card true" "the model card says deploy refuses the version"
like "$err" "ERROR:  55000: model \"leaky\" version 1 has leakage findings: readmitted alone predicts the target" \
     "deploy refuses it"
