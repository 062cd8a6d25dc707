#!/usr/bin/env bash
# Upgrades keep data: for every released version (RELEASES in scripts/lib/common.sh), its build
# (cached by commit) is installed, a database is created at that version and gets the readmission
# data, logistic, gbdt and AutoML models, a deployment, a threshold policy, drift and subgroup
# reports and a retraining run; their scores and explanations are recorded. Then this build is
# installed again and ALTER EXTENSION healthml UPDATE runs: every old model scores and explains bit
# for bit as before, every history is intact, new features work on the old models, and the upgraded
# schema equals a fresh install's (tests/upgrade/describe_schema.sql). The C symbols the old SQL
# names all exist in this build's library. Swaps the installed files of the system PostgreSQL 15
# while it runs, and puts this build's back (also on failure). TAP output; run by prove.
set -u
source "$HEALTHML_ROOT/scripts/lib/common.sh"
set +e +o pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=hm_upgrade
libdir=$("$PG_CONFIG" --pkglibdir)
extdir=$("$PG_CONFIG" --sharedir)/extension
work=$(mktemp -d)
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"; }

# this build's installed files, to put back
save_extension_files "$work/current"
install_current() { restore_extension_files "$work/current"; }
restore() {
    install_current
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS hm_fresh WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$work"
}
trap restore EXIT

plan $(( ${#RELEASES[@]} * 13 + 1 ))
for release in "${RELEASES[@]}"; do
    read -r old commit <<<"$release"
    package=$(release_package "$old" "$commit") || { ok 1 "release $old builds"; continue; }

    # the old version's files, alone
    install_package_files "$package"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    q -c "CREATE EXTENSION healthml" >/dev/null
    is "$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'healthml'")" "$old" "healthml $old is installed from commit $commit"

    # a life at the old version: the data, three kinds of models, and every history
    HEALTHML_USE_PGENV=1 HEALTHML_DB=$db PGDATABASE=$db "$HEALTHML_ROOT/scripts/load-readmission" >"$work/load.log" 2>&1
    q >"$work/old-life.log" 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE TABLE public.cohort_sample AS SELECT * FROM readmission.cohort WHERE encounter_id % 8 = 0;
SELECT jsonb_build_object('group_by', 'patient_nbr', 'test_where', 'patient_nbr % 5 = 0',
                          'exclude', jsonb_build_array('encounter_id', 'readmitted', 'in_cohort', 'admission_type',
                                                       'discharge_disposition', 'admission_source')) AS options \gset
SELECT count(*) FROM healthml.train('readmission', 'public.cohort_sample', 'readmitted_30d', 'logistic', :'options');
SELECT count(*) FROM healthml.train('readmission', 'public.cohort_sample', 'readmitted_30d', 'gbdt', :'options');
SELECT count(*) FROM healthml.train('readmission', 'public.cohort_sample', 'readmitted_30d', 'auto',
                                    (:'options')::jsonb || '{"budget_seconds": 40}');
SELECT count(*) FROM healthml.deploy('readmission', 2);
SELECT count(*) FROM healthml.set_threshold('readmission', 'top_percent=10', 'public.cohort_sample');
SELECT count(*) FROM healthml.standardize('public.cohort_sample', '{"name": "cohort", "exclude": ["encounter_id", "readmitted_30d"]}');
SELECT count(*) FROM healthml.drift('readmission', 'public.cohort_sample');
SELECT count(*) FROM healthml.subgroup_report('readmission', 'public.cohort_sample', 'gender');
CALL healthml.retrain('readmission');
SQL
    is "$(q -c "SELECT string_agg(algorithm, ',' ORDER BY version) FROM healthml.models")" "logistic,gbdt,ensemble,gbdt" \
       "at $old: logistic, gbdt and AutoML models, and a retrained gbdt"
    # what must survive: the registry's rows and every score and explanation of every model
    remembered() {
        q <<'SQL'
SELECT 'models ' || string_agg(format('%s:%s:%s:%s:%s:%s:%s', id, version, algorithm, format_version, payload_sha256,
                                      encode(sha256(payload), 'hex'), md5(metrics::text)), ' ' ORDER BY id) FROM healthml.models;
SELECT 'deployments ' || string_agg(format('%s:%s:%s:%s', id, model_id, deployed_by, reason), ' ' ORDER BY id) FROM healthml.deployments;
SELECT 'policies ' || string_agg(format('%s:%s:%s', id, model_id, threshold), ' ' ORDER BY id) FROM healthml.threshold_policies;
SELECT 'recipes ' || string_agg(format('%s:%s', id, md5(recipe::text)), ' ' ORDER BY id) FROM healthml.recipes;
SELECT 'runs ' || string_agg(format('%s:%s:%s:%s', id, outcome, champion_id, challenger_id), ' ' ORDER BY id) FROM healthml.training_runs;
SELECT 'leaderboard ' || count(*) || ':' || md5(string_agg(format('%s:%s:%s', candidate, cv_auc, status), ',' ORDER BY model_id, candidate)) FROM healthml.automl_leaderboard;
SELECT 'drift ' || md5(string_agg(format('%s:%s:%s', report_id, feature, psi), ',' ORDER BY report_id, feature)) FROM healthml.drift_reports;
SELECT 'subgroups ' || md5(string_agg(format('%s:%s:%s', report_id, subgroup, auc), ',' ORDER BY report_id, subgroup)) FROM healthml.subgroup_reports;
SELECT format('scores of model %s %s', m.id, md5(string_agg(healthml.predict_row_by_id(m.id, c)::text, ',' ORDER BY c.encounter_id)))
FROM healthml.models m, public.cohort_sample c GROUP BY m.id ORDER BY m.id;
SELECT format('explanations of model %s %s', m.id, md5(string_agg(e::text, ',' ORDER BY c.encounter_id)))
FROM healthml.models m, public.cohort_sample c, healthml.explain_row_by_id(m.id, c, 3) e
WHERE c.encounter_id % 97 = 0 GROUP BY m.id ORDER BY m.id;
SELECT 'readmit_score ' || md5(string_agg(readmission.readmit_score(e)::text, ',' ORDER BY e.encounter_id))
FROM readmission.encounters e WHERE e.encounter_id % 50 = 0;
SQL
    }
    before=$(remembered)
    # the symbols the old SQL names
    symbols=$(grep -oE "'MODULE_PATHNAME', '[a-z_0-9]+'" "$package$extdir/healthml--$old.sql" | sed "s/.*, '//; s/'$//" | sort -u)

    # this build, and the update
    install_current
    new=$(extension_version)
    missing_symbols=$(for s in $symbols; do nm -D --defined-only "$libdir/healthml.so" | grep -qw "$s" || echo "$s"; done)
    is "$missing_symbols" "" "every C function the $old SQL names ($(echo "$symbols" | wc -w)) is in this build's library"
    out=$(q -c "ALTER EXTENSION healthml UPDATE" 2>&1)
    is "$out:$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'healthml'")" ":$new" \
       "ALTER EXTENSION healthml UPDATE takes $old to $new"
    after=$(remembered)
    is "$(diff <(echo "$before" | grep -vE '^(scores|explanations|readmit_score)') <(echo "$after" | grep -vE '^(scores|explanations|readmit_score)'))" "" \
       "every model, deployment, policy, recipe, run, leaderboard and report is intact"
    is "$(diff <(echo "$before" | grep -E '^(scores|explanations)') <(echo "$after" | grep -E '^(scores|explanations)'))" "" \
       "every old model scores and explains every row bit for bit as before ($(echo "$before" | grep -c '^scores') models)"
    is "$(echo "$after" | grep '^readmit_score')" "$(echo "$before" | grep '^readmit_score')" "readmit_score gives the same scores"

    # new features on old models
    like "$(q -c "SELECT healthml.evaluate('readmission', 0::oid::regclass)" 2>&1)" "relation with OID 0 does not exist" \
         "a new check (regclass) on the old deployment"
    is "$(q -c "CALL healthml.retrain('readmission')" -c "SELECT outcome IN ('deployed', 'kept champion') FROM healthml.training_runs ORDER BY id DESC LIMIT 1" 2>&1)" t \
       "the new retrain (stored SQL replayed as its author) retrains an old model"
    is "$(q -c "SELECT count(*) FROM healthml.train('after_upgrade', 'public.cohort_sample', 'readmitted_30d', 'logistic', '{\"group_by\": \"patient_nbr\", \"exclude\": [\"encounter_id\", \"readmitted\", \"in_cohort\"]}')" 2>&1)" 1 \
       "training goes on after the update"
    # old payloads keep their format and bytes (checked with the registry above); new ones are this build's
    is "$(q -c "SELECT format_version FROM healthml.models WHERE name = 'after_upgrade'")" \
       "$(grep -oE '^pub const PAYLOAD_FORMAT: u16 = [0-9]+' "$HEALTHML_ROOT/crates/core/src/model/mod.rs" | grep -oE '[0-9]+$')" \
       "a model trained after the update is stored in this build's payload format"
    is "$(q -c "SELECT count(*) > 0 FROM healthml.leaderboard('readmission')" -c "SELECT length(healthml.model_card('readmission')) > 100" 2>&1 | tr '\n' ' ')" "t t " \
       "the old AutoML leaderboard and model card read"

    # the upgraded schema is a fresh install's
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS hm_fresh WITH (FORCE)" -c "CREATE DATABASE hm_fresh" >/dev/null
    psql -X -q -d hm_fresh -c "CREATE EXTENSION healthml" >/dev/null
    upgraded=$(q -f "$HEALTHML_ROOT/tests/upgrade/describe_schema.sql")
    fresh=$(psql -X -q -t -A -d hm_fresh -f "$HEALTHML_ROOT/tests/upgrade/describe_schema.sql")
    differences=$(diff <(echo "$fresh") <(echo "$upgraded"))
    is "$differences" "" "the schema updated from $old equals a fresh install of $new ($(echo "$fresh" | wc -l) objects and properties compared)"
    [ -n "$differences" ] && printf '%s\n' "$differences" | sed 's/^/#   (< fresh, > updated) /'
done

# Released upgrade scripts are never edited: each script that leads to a released version is the
# one its release commit has.
edited=
checked=0
for release in "${RELEASES[@]}"; do
    read -r version commit <<<"$release"
    for script in "$HEALTHML_ROOT"/sql/healthml--*--"$version".sql; do
        [ -e "$script" ] || continue
        checked=$((checked + 1))
        git -C "$HEALTHML_ROOT" diff --quiet "$commit" -- "sql/$(basename "$script")" || edited+=" $(basename "$script")"
    done
done
is "$edited" "" "no released upgrade script was edited ($checked checked; the scripts to a version not yet released may change)"
