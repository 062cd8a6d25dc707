#!/usr/bin/env bash
# The inference log: sampled scoring calls reach healthml.inference_log through shared memory and a
# background worker, from every scoring path, parallel workers and read-only transactions included;
# drift reads them; analysts see only aggregates. Needs real commits (the worker is another process):
# not a pgTAP transaction.
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
# a database of its own: the log, its partitions and its worker start from nothing on every run
db=healthml_inference_log
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
psql -X -q -d "$db" -c "CREATE EXTENSION healthml" >/dev/null
q() { psql -X -q -t -A -d "$db" -c "SET client_min_messages = warning" -c "$1" 2>&1; }
# as an analyst: a login role that is a member of healthml_analyst
qa() { psql -X -q -t -A -d "$db" -U log_analyst -c "SET client_min_messages = warning" -c "$1" 2>&1; }
logged() { q "SELECT healthml.flush_inference_log() >= 0 AND true; SELECT count(*) FROM healthml.inference_log l JOIN healthml.models m ON m.id = l.model_id WHERE m.name = 'logged_risk' ${1:-}" | tail -1; }

plan 28
q "DROP TABLE IF EXISTS public.logged_discharges;
   CREATE TABLE public.logged_discharges (discharge_id bigint PRIMARY KEY, patient_id int, severity float8, admission text,
                                          readmitted boolean);
   INSERT INTO public.logged_discharges
   SELECT i, i / 2, (abs(hashint4(i * 3)) % 10000) / 100.0, (ARRAY['Emergency', 'Elective', 'Urgent'])[1 + abs(hashint4(i * 7)) % 3],
          (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0))))
   FROM generate_series(1, 4000) i" >/dev/null
q "SELECT * FROM healthml.train('logged_risk', 'public.logged_discharges', 'readmitted', 'logistic',
                                '{\"group_by\": \"patient_id\", \"exclude\": [\"discharge_id\"]}');
   SELECT * FROM healthml.deploy('logged_risk')" >/dev/null
q "DROP ROLE IF EXISTS log_analyst" >/dev/null
q "CREATE ROLE log_analyst LOGIN IN ROLE healthml_analyst;
   GRANT SELECT ON public.logged_discharges TO log_analyst" >/dev/null

# the scores to expect, computed before any call is logged
q "DROP TABLE IF EXISTS public.logged_scores;
   CREATE TABLE public.logged_scores AS SELECT discharge_id, healthml.predict_row('logged_risk', d) AS score
   FROM public.logged_discharges d" >/dev/null

# off unless asked for
q "SELECT count(healthml.predict_row('logged_risk', d)) FROM public.logged_discharges d WHERE discharge_id <= 100" >/dev/null
is "$(logged)" 0 "no call is logged before logging is set"

# bad input
like "$(q "SELECT healthml.set_inference_logging('logged_risk', 1.5)")" "sample_rate must be between 0 and 1, got 1.5" "a rate above 1 is refused"
like "$(psql -X -q -t -A -d "$db" -v VERBOSITY=verbose -c "SELECT healthml.set_inference_logging('logged_risk', NULL)" 2>&1)" "22023.*NULL" "a NULL rate is refused with 22023"
like "$(q "SELECT healthml.set_inference_logging('logged_risk', 'NaN')")" "between 0 and 1, got NaN" "NaN is refused"
like "$(psql -X -q -t -A -d "$db" -v VERBOSITY=verbose -c "SELECT healthml.set_inference_logging('no_such_model', 0.5)" 2>&1)" \
    '42704.*model "no_such_model" does not exist' "an unknown model is refused with 42704"
like "$(qa "SELECT healthml.set_inference_logging('logged_risk', 1)")" "permission denied" "analysts cannot turn logging on"

is "$(q "SELECT sample_rate FROM healthml.set_inference_logging('logged_risk', 1)")" 1 "logging every call"

# every scoring path, with the inputs as the model read them
q "SELECT count(healthml.predict_row('logged_risk', d)) FROM public.logged_discharges d WHERE discharge_id <= 200;
   SELECT healthml.predict('logged_risk', '{\"severity\": 50, \"admission\": \"Urgent\"}');
   SELECT healthml.predict_by_key('logged_risk', 'public.logged_discharges', 7);
   SELECT healthml.predict_row_by_id((SELECT model_id FROM healthml.deployments WHERE name = 'logged_risk' ORDER BY id DESC LIMIT 1), d)
   FROM public.logged_discharges d WHERE discharge_id = 8" >/dev/null
is "$(logged)" 203 "predict_row, predict, predict_by_key and predict_row_by_id are all logged"
is "$(q "SELECT string_agg(function || '=' || n, ',' ORDER BY function) FROM (SELECT function, count(*) n FROM healthml.inference_log
          WHERE model_id = (SELECT id FROM healthml.models WHERE name = 'logged_risk') GROUP BY function) f")" \
   "predict=1,predict_by_key=1,predict_row=201" "each call names its scoring function"
is "$(q "SELECT count(*) FROM healthml.inference_log l WHERE l.function = 'predict_row' AND EXISTS (
          SELECT 1 FROM public.logged_discharges d JOIN public.logged_scores s USING (discharge_id)
          WHERE l.inputs = jsonb_build_object('severity', d.severity, 'admission', d.admission) AND l.score = s.score)")" 201 \
   "the logged inputs are the row's, the logged score the call's"
is "$(q "SELECT inputs::text || ' ' || role FROM healthml.inference_log WHERE function = 'predict'")" \
   '{"severity": 50.0, "admission": "Urgent"} postgres' "a jsonb call's inputs and the session's role"
is "$(q "SELECT count(*) FROM pg_inherits WHERE inhparent = 'healthml.inference_log'::regclass
          AND inhrelid::regclass::text = 'healthml.inference_log_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')")" 1 \
   "calls go into today's partition"

# the worker stores on its own, without a flush
q "SELECT count(healthml.predict_row('logged_risk', d)) FROM public.logged_discharges d WHERE discharge_id <= 50" >/dev/null
for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM healthml.inference_log WHERE model_id = (SELECT id FROM healthml.models WHERE name = 'logged_risk')")" = 253 ] && break
    sleep 0.1
done
is "$(q "SELECT count(*) FROM healthml.inference_log WHERE model_id = (SELECT id FROM healthml.models WHERE name = 'logged_risk')")" 253 \
   "the background worker stores sampled calls by itself"

# parallel workers and read-only transactions log too
q "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
   SET min_parallel_table_scan_size = 0; SET parallel_leader_participation = off;
   SELECT sum(healthml.predict_row('logged_risk', d)) FROM public.logged_discharges d" >/dev/null
is "$(logged)" 4253 "calls scored in parallel workers are logged"
q "BEGIN TRANSACTION READ ONLY; SELECT healthml.predict('logged_risk', '{\"severity\": 1.234}'); COMMIT" >/dev/null
is "$(logged "AND l.inputs->>'severity' = '1.234'")" 1 "a call in a read-only transaction is logged"

# sampling
q "SELECT healthml.set_inference_logging('logged_risk', 0.1)" >/dev/null
q "SELECT count(healthml.predict_row('logged_risk', d)) FROM public.logged_discharges d" >/dev/null
sampled=$(($(logged) - 4254))
# binomial(4000, 0.1): 400 ± 19; the bounds are 7 standard deviations away
ok "$([ "$sampled" -gt 266 ] && [ "$sampled" -lt 534 ]; echo $?)" "a rate of 0.1 logs about a tenth of the calls ($sampled of 4000)"
q "SELECT healthml.set_inference_logging('logged_risk', 0)" >/dev/null
before=$(logged)
q "SELECT count(healthml.predict_row('logged_risk', d)) FROM public.logged_discharges d WHERE discharge_id <= 100" >/dev/null
is "$(logged)" "$before" "a rate of 0 turns logging off"
is "$(q "SELECT count(*) FROM healthml.inference_logging WHERE model_name = 'logged_risk'")" 0 "and removes the setting"

# drift over the log
is "$(q "SELECT string_agg(feature || ':' || rows, ',' ORDER BY feature) FROM healthml.drift('logged_risk', NULL, '{\"source\": \"inference_log\"}')")" \
   "(score):$before,admission:$before,severity:$before" "drift reads the logged calls of the window"
like "$(q "SELECT relation FROM healthml.drift_reports ORDER BY report_id DESC LIMIT 1")" "^inference log .* to .*" "the report names the log and its window"
like "$(psql -X -q -t -A -d "$db" -v VERBOSITY=verbose -c "SELECT * FROM healthml.drift('logged_risk', NULL, '{\"source\": \"inference_log\", \"until\": \"2000-01-01\"}')" 2>&1)" \
     "22000.*no calls of this model in the window" "an empty window is an error that says why"
like "$(q "SELECT * FROM healthml.drift('logged_risk', NULL, '{\"source\": \"inference_log\", \"since\": 7}')")" \
     'option "since" of healthml.drift must be a timestamp as text' "a window bound that is no text is refused"

# analysts: the aggregates, never the rows
is "$(qa "SELECT count(DISTINCT feature) || ' ' || min(rows) || ' ' || bool_and(day = (now() AT TIME ZONE 'UTC')::date)
           FROM healthml.inference_drift('logged_risk')")" "3 $before true" "analysts read drift by day"
like "$(qa "SELECT count(*) FROM healthml.inference_log")" "permission denied for table inference_log" "analysts cannot read the logged rows"
like "$(qa "SELECT healthml.flush_inference_log()")" "permission denied" "nor flush the buffer"
is "$(qa "SELECT stored > 0 AND dropped_buffer_full >= 0 FROM healthml.inference_log_status")" t "they read the buffer's status"

# retention: days older than healthml.inference_log_retention_days go when calls are stored
q "CREATE TABLE healthml.inference_log_20200101 PARTITION OF healthml.inference_log
     FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-01-02 00:00:00+00')" >/dev/null
q "SELECT healthml.set_inference_logging('logged_risk', 1); SELECT healthml.predict('logged_risk', '{\"severity\": 2}')" >/dev/null
logged >/dev/null
is "$(q "SELECT to_regclass('healthml.inference_log_20200101') IS NULL")" t "a day past retention is dropped"

# calls of a database dropped before its worker could store them are discarded by another
# database's flush: the worker cannot connect to a database that no longer allows connections, so
# the calls of a session connected before wait in the ring until the drop
gone=healthml_inference_log_gone
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $gone WITH (FORCE)" -c "CREATE DATABASE $gone" >/dev/null 2>&1
psql -X -q -d "$gone" >/dev/null 2>&1 <<'SQL'
CREATE EXTENSION healthml;
CREATE TABLE public.d AS SELECT i AS id, i / 2 AS patient, (i % 97)::float8 AS severity, (abs(hashint4(i)) % 100) < 10 + (i % 97) / 5 AS readmitted
FROM generate_series(1, 2000) i;
SELECT count(*) FROM healthml.train('gone', 'public.d', 'readmitted', 'logistic', '{"group_by": "patient", "exclude": ["id"]}');
SELECT count(*) FROM healthml.deploy('gone');
SELECT count(*) FROM healthml.set_inference_logging('gone', 1);
SQL
psql -X -q -d "$gone" -c "SELECT pg_sleep(2)" -c "SELECT count(healthml.predict_row('gone', d)) FROM public.d d WHERE id <= 300" >/dev/null 2>&1 &
for _ in $(seq 1 50); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$gone' AND query LIKE '%pg_sleep%'")" = 1 ] && break
    sleep 0.1
done
psql -X -q -d postgres -c "ALTER DATABASE $gone ALLOW_CONNECTIONS false" >/dev/null
wait
waiting=$(q "SELECT pending FROM healthml.inference_log_status")
psql -X -q -d postgres -c "DROP DATABASE $gone WITH (FORCE)" >/dev/null 2>&1
before=$(q "SELECT dropped_unstored FROM healthml.inference_log_status")
q "SELECT healthml.flush_inference_log()" >/dev/null
is "$waiting $(q "SELECT pending || ' ' || (dropped_unstored - $before) FROM healthml.inference_log_status")" "300 0 300" \
   "the calls of a dropped database that waited in shared memory are discarded and counted, not kept"

q "DROP OWNED BY log_analyst; DROP ROLE log_analyst" >/dev/null
psql -X -q -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
