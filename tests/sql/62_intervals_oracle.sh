#!/usr/bin/env bash
# The metrics' 95 % intervals against an independent computation: tests/oracle/intervals.py replays
# healthml's patient resamples from the seed and recomputes every figure with scikit-learn (weighted
# AUC, average precision, Brier; an unpenalized logistic regression for the calibration intercept
# and slope) and numpy's percentiles. Checked for healthml.evaluate, a model's stored test metrics
# and one group of healthml.subgroup_report. Everything is rolled back. TAP output; run by prove.
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
py=${HEALTHML_PYTHON:?run through scripts/test, which provides a Python with scikit-learn}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

plan 7

psql -X -q -t -A -v ON_ERROR_STOP=1 >"$work/session.out" 2>"$work/session.err" <<SQL
BEGIN;
\i $HEALTHML_ROOT/tests/bin/helpers.sql
SET client_min_messages = warning;
-- patients of one to three discharges
CREATE TABLE public.iv_discharges AS SELECT * FROM pg_temp.discharges(3000);
UPDATE public.iv_discharges SET patient_id = discharge_id / (1 + discharge_id % 3);
SELECT count(*) FROM healthml.train('iv', 'public.iv_discharges', 'readmitted', 'logistic',
    '{"group_by": "patient_id", "exclude": ["discharge_id"], "test_where": "patient_id % 4 = 0", "seed": 11, "resamples": 150}');
SELECT count(*) FROM healthml.deploy('iv');
\copy (SELECT readmitted, healthml.predict_row('iv', d), patient_id FROM public.iv_discharges d) TO '$work/all.tsv'
\copy (SELECT readmitted, healthml.predict_row('iv', d), patient_id FROM public.iv_discharges d WHERE patient_id % 4 = 0) TO '$work/test.tsv'
\copy (SELECT readmitted, healthml.predict_row('iv', d), patient_id FROM public.iv_discharges d WHERE destination = 'rehab') TO '$work/rehab.tsv'
\o $work/evaluate.json
SELECT healthml.evaluate('iv', 'public.iv_discharges', '{"resamples": 200, "seed": 5}') -> 'intervals';
\o $work/trained.json
SELECT metrics #> '{test,intervals}' FROM healthml.models WHERE name = 'iv';
\o $work/rehab.json
SELECT intervals FROM healthml.subgroup_report('iv', 'public.iv_discharges', 'destination', '{"resamples": 120, "seed": 9}')
WHERE subgroup = 'rehab';
\o
ROLLBACK;
SQL
ok $? "the session ran (trained, scored, evaluated, rolled back)"
[ -s "$work/all.tsv" ] || sed 's/^/# /' "$work/session.err"

compare() { # healthml's intervals json, rows tsv, resamples, seed
    "$py" - "$1" <("$py" "$HEALTHML_ROOT/tests/oracle/intervals.py" "$2" "$3" "$4") <<'PY'
import json, sys
ours, oracle = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = []
for figure, tolerance in [("auc", 1e-9), ("average_precision", 1e-9), ("brier", 1e-12),
                          ("calibration_intercept", 1e-5), ("calibration_slope", 1e-5)]:
    for end in ("estimate", "low", "high"):
        a, b = ours[figure][end], oracle[figure][end]
        if abs(a - b) > tolerance:
            bad.append(f"{figure}.{end}: healthml {a!r}, scikit-learn {b!r}")
for key in ("resamples_used", "groups"):
    if ours[key] != oracle[key]:
        bad.append(f"{key}: healthml {ours[key]}, oracle {oracle[key]}")
print("; ".join(bad) if bad else "same")
PY
}
is "$(compare "$work/evaluate.json" "$work/all.tsv" 200 5)" same "evaluate: every interval as scikit-learn computes it on the same patient resamples"
is "$(compare "$work/trained.json" "$work/test.tsv" 150 11)" same "the model's stored test metrics: the same, with the training's seed"
is "$(compare "$work/rehab.json" "$work/rehab.tsv" 120 9)" same "subgroup_report: one group's intervals, its own patients resampled"
like "$(cat "$work/evaluate.json")" '"grouped_by": ?"patient_id"' "evaluate resamples the model's group_by column by default"
like "$(cat "$work/evaluate.json")" '"groups": ?1[0-9]{3}' "about 1,500 patients"
like "$(cat "$work/trained.json")" '"resamples": ?150' "the training's resamples option is kept"
