#!/usr/bin/env bash
# Each backend keeps which model a name is deployed as between statements (src/cache.rs), and must
# still use a deploy or rollback from its next statement: in another session, inside an open
# transaction, its own uncommitted deploy and that deploy's rollback (also to a savepoint). A
# REPEATABLE READ transaction keeps the deployment of its snapshot; a parallel query's workers use
# the leader's. A warm session reads no row of healthml.deployments per statement. Needs real
# commits and two sessions: not a pgTAP transaction.
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=hm_deployed_cache
tmp=$(mktemp -d)
cleanup() {
    rm -rf "$tmp"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT
source "$HEALTHML_ROOT/tests/bin/session.sh"
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" -c "$1" 2>&1; }

plan 16
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
psql -X -q -d "$db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION healthml" \
    -f "$HEALTHML_ROOT/tests/bin/discharges.sql" >/dev/null
options='{"group_by": "patient_id", "exclude": ["discharge_id"]}'
v1=$(q "SELECT model_id FROM healthml.train('cache', 'public.discharges', 'readmitted', 'logistic', '$options')")
v2=$(q "SELECT model_id FROM healthml.train('cache', 'public.discharges', 'readmitted', 'gbdt', '$options')")
q "SELECT * FROM healthml.deploy('cache', 1)" >/dev/null
# the version the deployed model scores a row as: the two versions score discharge 7 differently
which="SELECT CASE healthml.predict_row('cache', t) WHEN healthml.predict_row_by_id($v1, t) THEN 1
                                                  WHEN healthml.predict_row_by_id($v2, t) THEN 2 END
       FROM public.discharges t WHERE t.discharge_id = 7;"

session_open a -d "$db"
is "$(session a "$which")" 1 "a session scores with the deployed version"
q "SELECT * FROM healthml.deploy('cache', 2)" >/dev/null
is "$(session a "$which")" 2 "a deploy in another session is used by its next statement"
# (PostgreSQL 15's pg_stat_xact_* also count what earlier transactions left unflushed: a difference)
deployment_reads="SELECT coalesce(sum(seq_scan + idx_scan), 0) FROM pg_stat_xact_user_tables WHERE relid = 'healthml.deployments'::regclass;"
reads=$(session a "BEGIN; $deployment_reads $which $which $deployment_reads COMMIT;")
is "$(printf '%s\n' "$reads" | sed -n 2,3p | tr '\n' ' ')" "2 2 " "a warm session scores statement after statement"
is "$(printf '%s\n' "$reads" | sed -n 4p)" "$(printf '%s\n' "$reads" | sed -n 1p)" "without reading healthml.deployments"

session a "BEGIN;" >/dev/null
session a "$which" >/dev/null
q "SELECT * FROM healthml.rollback('cache')" >/dev/null
is "$(session a "$which")" 1 "inside an open transaction (READ COMMITTED), a rollback committed meanwhile is used by the next statement"
session a "COMMIT;" >/dev/null

session a "BEGIN ISOLATION LEVEL REPEATABLE READ;" >/dev/null
is "$(session a "$which")" 1 "a REPEATABLE READ transaction scores with the deployed version"
q "SELECT * FROM healthml.deploy('cache', 2)" >/dev/null
is "$(session a "$which")" 1 "and keeps its snapshot's deployment when another session deploys"
session a "COMMIT;" >/dev/null
is "$(session a "$which")" 2 "the next transaction uses the new one"

is "$(session a "BEGIN; SELECT count(*) FROM healthml.deploy('cache', 1); $which")" "$(printf '1\n1')" \
   "its own uncommitted deploy is used by the session's next statement"
is "$(session a "ROLLBACK; $which")" 2 "and forgotten when it rolls back"
is "$(session a "BEGIN; SAVEPOINT s; SELECT count(*) FROM healthml.deploy('cache', 1); ROLLBACK TO SAVEPOINT s; $which COMMIT;")" \
   "$(printf '1\n2')" "so is a deploy rolled back to a savepoint"

# a parallel query: workers resolve the name themselves, from the leader's snapshot
parallel="SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
          SET min_parallel_table_scan_size = 0;"
is "$(session a "$parallel EXPLAIN (COSTS OFF) SELECT healthml.predict_row('cache', t) FROM public.discharges t;" | grep -c 'Parallel Seq Scan')" 1 \
   "a parallel plan scores in workers"
is "$(session a "SELECT count(*) FILTER (WHERE healthml.predict_row('cache', t) = healthml.predict_row_by_id($v2, t)) FROM public.discharges t;")" 3000 \
   "where every row is scored with the deployed version"

# A statement uses the deployment its own snapshot sees, even when another session deploys while
# it runs and this session hears of it before its first call: the models it scores with must be
# ones the statement can see (this once mixed a newer model into an older statement's view).
slow="SELECT CASE healthml.predict_row('cache', t) WHEN healthml.predict_row_by_id($v1, t) THEN 1
                                                 WHEN healthml.predict_row_by_id($v2, t) THEN 2 END
      FROM (SELECT pg_sleep(3)) AS wait, public.discharges t WHERE t.discharge_id = 7;"
(
    for _ in $(seq 1 100); do
        [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()")" = 1 ] && break
        sleep 0.1
    done
    q "SELECT * FROM healthml.deploy('cache', 1)" >/dev/null
) &
deployer=$!
session a "RESET ALL;" >/dev/null
is "$(session a "$slow")" 2 "a statement keeps the version deployed when it began, though another session deploys while it runs"
wait "$deployer"
is "$(session a "$which")" 1 "and the session's next statement uses the new deploy"
q "SELECT * FROM healthml.deploy('cache', 2)" >/dev/null
session_close a

# a session that never scored, after all of this
is "$(psql -X -q -t -A -d "$db" -c "$which")" 2 "a new session uses the deployed version"
