#!/usr/bin/env bash
# Scaling reads: a streaming standby made from the private cluster (pg_basebackup -R) on another
# port scores, explains and runs what-if with the primary's deployed model; a deploy and a rollback
# on the primary are used by the standby's next statement once replayed; every function that writes
# is refused there with 25006 and a hint to use the primary. TAP output; run by prove.
set -u
source "$HEALTHML_ROOT/scripts/lib/common.sh"
set +e +o pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
tmp=$(mktemp -d)
source "$HEALTHML_ROOT/tests/bin/session.sh"
db=hm_replica
standby=$(mktemp -d /var/tmp/healthml-standby-XXXXXX)
chmod 755 "$standby"
chown postgres: "$standby" 2>/dev/null
port=$((HEALTHML_PGPORT + 20))
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"; }
qs() { psql -X -q -t -A -v ON_ERROR_STOP=1 -h "$standby" -p "$port" -U postgres -d "$db" "$@"; }
cleanup() {
    as_cluster_owner "$PG_BIN/pg_ctl" -D "$standby/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$standby" "$tmp"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT
caught_up() { # waits until the standby has replayed everything the primary wrote so far
    local lsn
    lsn=$(q -c "SELECT pg_current_wal_lsn()")
    for _ in $(seq 1 100); do
        [ "$(qs -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] && return 0
        sleep 0.1
    done
    return 1
}

plan 15
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
q -v root="$HEALTHML_ROOT" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION healthml;
\i :root/tests/bin/discharges.sql
SELECT count(*) FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic', '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
SELECT count(*) FROM healthml.train('risk', 'public.discharges', 'readmitted', 'gbdt', '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
SELECT count(*) FROM healthml.deploy('risk', 1);
SELECT count(*) FROM healthml.standardize('public.discharges', '{"name": "discharges", "exclude": ["discharge_id", "readmitted"]}');
SQL

# the standby: a base backup of the running private cluster, streaming from it
as_cluster_owner "$PG_BIN/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres -D "$standby/data" -R -X stream \
    >"$standby/basebackup.log" 2>&1
as_cluster_owner "${SERVER_ENV[@]}" "$PG_BIN/pg_ctl" -D "$standby/data" -l "$standby/server.log" -w \
    -o "-p $port -k $standby -c listen_addresses='' -c hot_standby=on" start >/dev/null 2>&1
is "$(qs -c "SELECT pg_is_in_recovery()" 2>&1)" t "a streaming standby of the private cluster runs on port $port"
caught_up

scores() { "$1" -c "SELECT md5(string_agg(healthml.predict_row('risk', d)::text, ',' ORDER BY discharge_id)) FROM public.discharges d"; }
is "$(scores qs)" "$(scores q)" "the standby scores every row as the primary (deployed version 1)"
is "$(qs -c "SELECT string_agg(feature, ',') FROM healthml.explain_row('risk', (SELECT d FROM public.discharges d WHERE discharge_id = 7), 2)")" \
   "$(q -c "SELECT string_agg(feature, ',') FROM healthml.explain_row('risk', (SELECT d FROM public.discharges d WHERE discharge_id = 7), 2)")" \
   "explains"
what_if="SELECT w::text FROM healthml.what_if('risk', '{\"severity\": 20, \"destination\": \"home\"}', '{\"severity\": 90}', 2) w"
is "$(qs -c "$what_if" 2>&1)" "$(q -c "$what_if")" "and runs what-if"
is "$(qs -c "SELECT sum(calls) > 0 FROM healthml.scoring_stats WHERE name = 'risk'")" t "and keeps its own scoring statistics"

# a session on the standby that stays connected: its cache of the deployment follows the replay
mapfile -t ids < <(q -c "SELECT id FROM healthml.models WHERE name = 'risk' ORDER BY version")
which="SELECT CASE healthml.predict_row('risk', d) WHEN healthml.predict_row_by_id(${ids[0]}, d) THEN 1
                                                 WHEN healthml.predict_row_by_id(${ids[1]}, d) THEN 2 END
       FROM public.discharges d WHERE d.discharge_id = 7;"
session_open standby -h "$standby" -p "$port" -U postgres -d "$db"
session standby "$which" >/dev/null
q -c "SELECT count(*) FROM healthml.deploy('risk', 2)" >/dev/null
caught_up
is "$(session standby "$which")" 2 "a session on the standby scores with a deploy from its next statement after the replay"
is "$(qs -c "SELECT version FROM healthml.models WHERE id = healthml.model_version_id('risk')")" 2 \
   "a deploy on the primary is the standby's deployed version at its next statement"
is "$(scores qs)" "$(scores q)" "and scores with it"
q -c "SELECT count(*) FROM healthml.rollback('risk')" >/dev/null
caught_up
is "$(qs -c "SELECT version FROM healthml.models WHERE id = healthml.model_version_id('risk')")" 1 "so is a rollback"
is "$(session standby "$which")" 1 "by the session on the standby too"
session_close standby

# everything that writes: refused on the standby, with the way out
refused=0
calls=(
    "SELECT * FROM healthml.train('x', 'public.discharges', 'readmitted')"
    "SELECT * FROM healthml.deploy('risk', 2)"
    "SELECT * FROM healthml.rollback('risk')"
    "SELECT healthml.drop_model('risk', 2)"
    "SELECT * FROM healthml.set_decision_threshold('risk', 'public.discharges', 'f1')"
    "SELECT * FROM healthml.drift('risk', 'public.discharges')"
    "SELECT * FROM healthml.subgroup_report('risk', 'public.discharges', 'destination')"
    "SELECT * FROM healthml.standardize('public.discharges')"
    "SELECT healthml.apply_recipe('discharges', 'public.discharges', 'public.standardized')"
    "CALL healthml.score_batch('risk', 'public.discharges', 'discharge_id', 'public.scores')"
    "CALL healthml.retrain('risk')"
    "SELECT healthml.import_parquet('/nonexistent.parquet', 'public.imported')"
)
for sql in "${calls[@]}"; do
    out=$(qs -v VERBOSITY=verbose -c "$sql" 2>&1)
    if printf '%s' "$out" | grep -q 'ERROR:  25006: healthml\.[a-z_]* writes to the database, and this server is a read-only standby' \
        && printf '%s' "$out" | grep -q 'HINT:  run it on the primary'; then
        refused=$((refused + 1))
    else
        echo "# $sql: $out"
    fi
done
is "$refused" "${#calls[@]}" "each of the ${#calls[@]} functions that write is refused on the standby: 25006, naming itself, with a hint to use the primary"
like "$(qs -v VERBOSITY=verbose -c "SELECT * FROM healthml.deploy('risk', 2)" 2>&1)" 'ERROR:  25006: healthml.deploy writes' "(deploy, for one)"
is "$(qs -c "SELECT count(*) FROM healthml.profile('public.discharges')" 2>&1)" 5 "reading functions run there: profile"
is "$(qs -c "SELECT (healthml.evaluate('risk', 'public.discharges') ->> 'n')" 2>&1)" 3000 "and evaluate"
is "$(qs -c "SELECT count(*) > 0 FROM healthml.model_registry" -c "SELECT length(healthml.model_card('risk')) > 100" 2>&1 | tr '\n' ' ')" "t t " \
   "and the registry and model cards read"
