#!/usr/bin/env bash
# Backups work: a database with models, deployments, a threshold policy, a recipe, drift and
# subgroup reports, a retraining run and logged scoring calls is dumped (custom format and plain SQL) and restored into a
# new database of the same cluster and into a freshly created cluster, and restored schema-only then
# data-only. Each restored database has every registry row and history, scores every row bit for bit
# as the original, and then trains (new ids, after the restored ones), deploys, rolls back and
# retrains. Every sequence of schema healthml is registered with pg_dump. TAP output; run by prove.
set -u
source "$HEALTHML_ROOT/scripts/lib/common.sh"
set +e +o pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
work=$(mktemp -d /var/tmp/healthml-restore-XXXXXX)
chmod 755 "$work"
fresh=$work/cluster
fresh_port=$((HEALTHML_PGPORT + 10))
q() { local db=$1; shift; psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"; }
qf() { local db=$1; shift; psql -X -q -t -A -v ON_ERROR_STOP=1 -h "$fresh" -p "$fresh_port" -U postgres -d "$db" "$@"; }
cleanup() {
    as_cluster_owner "$PG_BIN/pg_ctl" -D "$fresh/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$work"
    for db in hm_dump_source hm_restore_custom hm_restore_plain hm_restore_split; do
        q postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    done
}
trap cleanup EXIT
cleanup_dbs() { for db in "$@"; do q postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null; done; }

plan 25

# --- the source database: a little of everything healthml stores ---------------------------------
cleanup_dbs hm_dump_source
q hm_dump_source -v root="$HEALTHML_ROOT" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION healthml;
\i :root/tests/bin/discharges.sql
SELECT count(*) FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic', '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
SELECT count(*) FROM healthml.train('risk', 'public.discharges', 'readmitted', 'gbdt', '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
SELECT count(*) FROM healthml.deploy('risk', 1);
SELECT count(*) FROM healthml.deploy('risk', 2);
SELECT count(*) FROM healthml.set_decision_threshold('risk', 'public.discharges', 'top_percent=10');
SELECT count(*) FROM healthml.standardize('public.discharges', '{"name": "discharges", "exclude": ["discharge_id", "readmitted"]}');
SELECT count(*) FROM healthml.drift('risk', 'public.discharges');
SELECT count(*) FROM healthml.subgroup_report('risk', 'public.discharges', 'destination');
CALL healthml.retrain('risk');
-- the inference log: its setting, and calls in a day partition made after CREATE EXTENSION
SELECT count(*) FROM healthml.set_inference_logging('risk', 1);
SELECT count(healthml.predict('risk', jsonb_build_object('severity', g, 'destination', 'home'))) FROM generate_series(1, 30) g;
SELECT healthml.flush_inference_log();
SQL

# What a restore must give back: every stored row (ids included), the sequences' next values, and
# every score and explanation of the deployed model.
state() { # query function, database
    "$1" "$2" <<'SQL'
SELECT 'models ' || string_agg(format('%s:%s:%s:%s', id, name, version, payload_sha256), ' ' ORDER BY id) FROM healthml.models;
SELECT 'deployments ' || string_agg(format('%s:%s:%s', id, model_id, reason), ' ' ORDER BY id) FROM healthml.deployments;
SELECT 'policies ' || string_agg(format('%s:%s:%s', id, model_id, threshold), ' ' ORDER BY id) FROM healthml.threshold_policies;
SELECT 'recipes ' || string_agg(format('%s:%s', id, md5(recipe::text)), ' ' ORDER BY id) FROM healthml.recipes;
SELECT 'runs ' || string_agg(format('%s:%s:%s', id, outcome, challenger_id), ' ' ORDER BY id) FROM healthml.training_runs;
SELECT 'drift ' || count(*) || ':' || max(report_id) FROM healthml.drift_reports;
SELECT 'subgroups ' || count(*) || ':' || max(report_id) FROM healthml.subgroup_reports;
SELECT 'logging ' || string_agg(format('%s:%s:%s', model_name, sample_rate, set_by), ' ') FROM healthml.inference_logging;
-- (the scoring below is logged too, as predict_row: only the jsonb calls of the setup are compared)
SELECT 'inference log ' || count(*) || ':' || md5(string_agg(format('%s:%s:%s:%s:%s', logged_at, model_id, role, score, inputs), ','
                                                             ORDER BY logged_at, score))
FROM healthml.inference_log WHERE function = 'predict';
SELECT 'log days ' || string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'healthml.inference_log'::regclass;
SELECT 'sequences ' || string_agg(format('%s=%s', c.relname, pg_sequence_last_value(c.oid)), ' ' ORDER BY c.relname)
FROM pg_class c WHERE c.relnamespace = 'healthml'::regnamespace AND c.relkind = 'S';
SELECT 'scores ' || md5(string_agg(healthml.predict_row('risk', d)::text, ',' ORDER BY discharge_id)) FROM public.discharges d;
SELECT 'explanations ' || md5(string_agg(e::text, ',' ORDER BY d.discharge_id))
FROM public.discharges d, healthml.explain_row('risk', d, 3) e WHERE d.discharge_id % 50 = 0;
SQL
}
want=$(state q hm_dump_source)

is "$(q hm_dump_source -c "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_class c
                            WHERE c.relnamespace = 'healthml'::regnamespace AND c.relkind = 'S'
                              AND NOT c.oid = ANY ((SELECT extconfig FROM pg_extension WHERE extname = 'healthml')::oid[])")" "" \
   "every sequence of schema healthml is registered with pg_dump (pg_extension_config_dump)"

# After a restore: the same state, then the life goes on.
goes_on() { # query function, database, label
    is "$(state "$1" "$2")" "$want" "$3: every registry row and history, the sequences and every score and explanation are the original's"
    local before last_id
    last_id=$("$1" "$2" -c "SELECT max(id) FROM healthml.models")
    is "$("$1" "$2" -c "SELECT version || ':' || (model_id > $last_id)
                         FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic',
                                             '{\"group_by\": \"patient_id\", \"exclude\": [\"discharge_id\"]}') t" 2>&1)" "4:true" \
       "$3: training goes on (version 4, a new id after the restored ones)"
    before=$("$1" "$2" -c "SELECT deployed_version FROM healthml.model_registry WHERE name = 'risk'")
    is "$("$1" "$2" -c "SELECT deployed_version FROM healthml.deploy('risk', 4)" 2>&1)" 4 "$3: deploys"
    is "$("$1" "$2" -c "SELECT deployed_version FROM healthml.rollback('risk')" 2>&1)" "$before" "$3: rolls back"
    is "$("$1" "$2" -c "CALL healthml.retrain('risk')" \
                    -c "SELECT outcome IN ('deployed', 'kept champion') FROM healthml.training_runs ORDER BY id DESC LIMIT 1" 2>&1)" \
       t "$3: and retrains"
}

pg_dump -Fc -d hm_dump_source -f "$work/custom.dump"
pg_dump -Fp -d hm_dump_source -f "$work/plain.sql"
pg_dump -Fc --schema-only -d hm_dump_source -f "$work/schema.dump"
pg_dump -Fc --data-only -d hm_dump_source -f "$work/data.dump"

cleanup_dbs hm_restore_custom hm_restore_plain hm_restore_split
pg_restore --exit-on-error -d hm_restore_custom "$work/custom.dump" 2>"$work/custom.err"
is "$?:$(cat "$work/custom.err")" "0:" "pg_restore of the custom-format dump into a new database succeeds"
goes_on q hm_restore_custom "custom format, same cluster"

psql -X -q -v ON_ERROR_STOP=1 -d hm_restore_plain -f "$work/plain.sql" >/dev/null 2>"$work/plain.err"
is "$?:$(grep -v '^$' "$work/plain.err")" "0:" "the plain-SQL dump restores with psql"
goes_on q hm_restore_plain "plain SQL, same cluster"

pg_restore --exit-on-error -d hm_restore_split "$work/schema.dump" 2>"$work/split.err" \
    && pg_restore --exit-on-error --disable-triggers -d hm_restore_split "$work/data.dump" 2>>"$work/split.err"
is "$?:$(cat "$work/split.err")" "0:" "a --schema-only restore, then a --data-only one"
goes_on q hm_restore_split "schema-only then data-only"

# A freshly created cluster, as a new machine has it: healthml preloaded, nothing else.
mkdir -p "$fresh"
chown postgres: "$fresh" 2>/dev/null
as_cluster_owner "$PG_BIN/initdb" -D "$fresh/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1
echo "shared_preload_libraries = 'healthml'" | as_cluster_owner tee -a "$fresh/data/postgresql.conf" >/dev/null
as_cluster_owner "${SERVER_ENV[@]}" "$PG_BIN/pg_ctl" -D "$fresh/data" -l "$fresh/server.log" -w \
    -o "-p $fresh_port -k $fresh -c listen_addresses=''" start >/dev/null
qf postgres -c "CREATE DATABASE hm_restored" >/dev/null
pg_restore --exit-on-error -h "$fresh" -p "$fresh_port" -U postgres -d hm_restored "$work/custom.dump" 2>"$work/fresh.err"
is "$?:$(cat "$work/fresh.err")" "0:" "pg_restore into a freshly created cluster succeeds (the roles come with CREATE EXTENSION)"
goes_on qf hm_restored "a new cluster"
