#!/usr/bin/env bash
# Models out to LightGBM: the readmission gbdt and the AutoML blend written by
# healthml.export_model load in the real LightGBM and lleaves (the test Python) and score every
# cohort row as healthml does, from the features healthml.features_row_by_id gives; what cannot be
# written is refused with a hint. Prints how long each library takes (never asserted). The blend is
# trained by the pack's AutoML script in a transaction that is rolled back once it is written out,
# so the database keeps the hand-trained models the other tiers use.
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=healthml_e2e
py=${HEALTHML_PYTHON:?run through scripts/test, which provides a Python with lightgbm and lleaves}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -X -q -t -A -d "$db" -c "$1" 2>&1; }
# sqlstate <sql>: the SQLSTATE and hint the statement fails with
sqlstate() { psql -X -q -t -A -d "$db" -v VERBOSITY=verbose -c "$1" 2>&1 | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p; s/^HINT:  \(.*\)/hint: \1/p' | paste -sd' '; }

plan 15

gbdt=$(q "SELECT max(id) FROM healthml.models WHERE name = 'readmission' AND algorithm = 'gbdt'")
logistic=$(q "SELECT max(id) FROM healthml.models WHERE name = 'readmission' AND algorithm = 'logistic'")
version_of() { q "SELECT version FROM healthml.models WHERE id = $1"; }
trees_of() { q "SELECT coalesce(sum((m ->> 'trees')::int), 0) FROM healthml.models,
                LATERAL jsonb_path_query(metrics, 'strict \$.** ? (exists (@.trees))') m WHERE id = $1"; }

q "SELECT healthml.export_model('readmission', $(version_of "$gbdt"))" >"$work/gbdt.txt"
q "\\copy (SELECT healthml.features_row_by_id($gbdt, c), healthml.predict_row_by_id($gbdt, c) FROM readmission.cohort c ORDER BY c.encounter_id) TO '$work/rows-gbdt.tsv'" >/dev/null
# the blend: trained, written out and counted in one session, then rolled back
psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" >"$work/blend-session.out" 2>&1 <<SQL
BEGIN;
\o /dev/null
\ir $HEALTHML_ROOT/sql/readmission/automl.sql
\o
SELECT max(id) AS blend FROM healthml.models WHERE name = 'readmission' AND algorithm = 'ensemble' \gset
\o $work/blend.txt
SELECT healthml.export_model('readmission', version) FROM healthml.models WHERE id = :blend;
\o
-- \copy takes its line as it is (no psql variables): the id again
\copy (SELECT healthml.features_row_by_id(b.id, c), healthml.predict_row_by_id(b.id, c) FROM readmission.cohort c, (SELECT max(id) AS id FROM healthml.models WHERE name = 'readmission' AND algorithm = 'ensemble') b ORDER BY c.encounter_id) TO '$work/rows-blend.tsv'
\o $work/blend-trees.txt
SELECT coalesce(sum((m ->> 'trees')::int), 0) FROM healthml.models,
       LATERAL jsonb_path_query(metrics, 'strict \$.** ? (exists (@.trees))') m WHERE id = :blend;
\o
ROLLBACK;
SQL
status=$?
ok "$status" "the pack's AutoML blend is trained and written out (then rolled back)"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$work/blend-session.out"
like "$(head -8 "$work/gbdt.txt" | paste -sd' ')" '^tree version=v4 num_class=1 num_tree_per_iteration=1 label_index=0 max_feature_idx=[0-9]+ objective=binary sigmoid:1 feature_names=' \
    "a gbdt version is written as a LightGBM v4 text model of a binary objective"
is "$(q "SELECT count(*) FROM healthml.models m, unnest(m.features) WHERE m.id = $gbdt")" \
   "$(($(sed -n 's/^max_feature_idx=//p' "$work/gbdt.txt") + 1))" "with one feature per feature of the model"
deployed=$(q "SELECT healthml.model_version_id('readmission')")
cmp -s <(q "SELECT healthml.export_model('readmission')") <(q "SELECT healthml.export_model('readmission', $(version_of "$deployed"))")
ok $? "a NULL version writes the deployed one"

is "$(wc -l <"$work/rows-gbdt.tsv")" "$(q "SELECT count(*) FROM readmission.cohort")" "features_row_by_id gives every cohort row's features"

out=$("$py" - "$work" <<'PY' 2>&1
import sys, time
import numpy as np
import lightgbm, lleaves

work = sys.argv[1]

def rows(name):
    features, scores = [], []
    with open(f"{work}/rows-{name}.tsv") as f:
        for line in f:
            array, score = line.rstrip("\n").split("\t")
            features.append([float(x) for x in array.strip("{}").split(",")])
            scores.append(float(score))
    return np.array(features), np.array(scores)

def worst(p, expected):
    return float(np.max(np.abs(p - expected) / np.abs(expected)))

for name in ("gbdt", "blend"):
    x, expected = rows(name)
    booster = lightgbm.Booster(model_file=f"{work}/{name}.txt")
    started = time.perf_counter()
    p = booster.predict(x, num_threads=1)
    seconds = time.perf_counter() - started
    print(f"{name} lightgbm trees {booster.num_trees()} worst {'ok' if worst(p, expected) <= 1e-12 else worst(p, expected)}")
    print(f"# {name}: LightGBM {lightgbm.__version__} {seconds / len(x) * 1e6:.2f} us a row", file=sys.stderr)
    if name == "gbdt":
        # lleaves compiles every tree to machine code: a minute for the blend's 1,200, so the gbdt only
        model = lleaves.Model(model_file=f"{work}/{name}.txt")
        model.compile()
        started = time.perf_counter()
        p = model.predict(x, n_jobs=1)
        seconds = time.perf_counter() - started
        print(f"{name} lleaves worst {'ok' if worst(p, expected) <= 1e-12 else worst(p, expected)}")
        print(f"# {name}: lleaves {seconds / len(x) * 1e6:.2f} us a row", file=sys.stderr)
PY
)
printf '%s\n' "$out" | grep '^#'
is "$(printf '%s\n' "$out" | grep '^gbdt lightgbm')" "gbdt lightgbm trees $(trees_of "$gbdt") worst ok" \
   "LightGBM loads the gbdt's every tree and scores every cohort row as healthml does (1e-12 relative)"
is "$(printf '%s\n' "$out" | grep '^gbdt lleaves')" "gbdt lleaves worst ok" "so does lleaves, compiled from the same file"
is "$(printf '%s\n' "$out" | grep '^blend lightgbm')" "blend lightgbm trees $(tr -d '[:space:]' <"$work/blend-trees.txt") worst ok" \
   "the AutoML blend is one LightGBM model over both members' features, and scores the same"

like "$(sqlstate "SELECT healthml.export_model('readmission', $(version_of "$logistic"))")" '^22023 hint: export a gbdt version' \
     "a logistic version is refused (22023) with a hint"
like "$(sqlstate "SELECT healthml.export_model('readmission', NULL, 'xgboost')")" '^22023 hint: call healthml.export_model' \
     "an unknown format is refused (22023)"
like "$(sqlstate "SELECT healthml.export_model('readmission', 99999)")" '^42704 ' "an unknown version is refused (42704)"
like "$(sqlstate "SELECT healthml.export_model('no such model')")" '^42704 ' "an unknown model is refused (42704)"
is "$(q "SELECT healthml.export_model(NULL) IS NULL AND healthml.export_model('readmission', NULL, NULL) IS NULL")" t \
   "a NULL name or format gives NULL"
like "$(sqlstate "SELECT healthml.features_row_by_id($gbdt, 42)")" '^42804 hint: pass a whole row' \
     "features_row_by_id of a value that is no row is refused (42804)"
is "$(q "SELECT healthml.features_row('readmission', c) = healthml.features_row_by_id($deployed, c) FROM readmission.cohort c LIMIT 1")" t \
   "features_row reads the deployed version"
