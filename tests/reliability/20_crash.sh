#!/usr/bin/env bash
# Killing a backend mid-training, mid-retrain or mid-batch (pg_terminate_backend, and SIGKILL, which
# makes PostgreSQL restart and recover) leaves no partial model row, no half-written batch, and a
# training run marked 'interrupted'.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "1..11"

make_discharges public.crash_discharges 150000
opts='{"group_by": "patient_id", "exclude": ["discharge_id"]}'

# Starts SQL in the background as application $1; waits until it has run for a second.
start_killable() {
    PGAPPNAME=$1 psql -X -q -d "$db" -c "$2" >"$work/$1.out" 2>&1 &
    for _ in $(seq 1 100); do
        [ -n "$(q "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' AND state = 'active'
                    AND now() - query_start > interval '1 second'")" ] && return 0
        sleep 0.1
    done
    return 1
}
pid_of() { q "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'"; }

models_before=$(q "SELECT count(*) FROM healthml.models")
start_killable hm_crash_train "SELECT * FROM healthml.train('crash_model', 'public.crash_discharges', 'readmitted', 'gbdt', '$opts')"
q "SELECT pg_terminate_backend($(pid_of hm_crash_train))" >/dev/null
wait
check_shell "the training session was terminated mid-way" grep -q "terminat" "$work/hm_crash_train.out"
check "no model row is left behind" "SELECT count(*) = $models_before AND NOT EXISTS (SELECT 1 FROM healthml.models WHERE name = 'crash_model') FROM healthml.models"

# a deployed champion on the big table, and a complete batch of its scores. The batches score a
# table of a million rows: a batch must still be running when it is killed, seconds after it began
# (scoring 150,000 rows takes about a second since trees are walked branch-free).
q "SELECT model_id FROM healthml.train('crash_risk', 'public.crash_discharges', 'readmitted', 'gbdt', '$opts')" >/dev/null
q "SELECT model_id FROM healthml.deploy('crash_risk')" >/dev/null
make_discharges public.crash_batch 1000000
q "CALL healthml.score_batch('crash_risk', 'public.crash_batch', 'discharge_id', 'public.crash_scores')" >/dev/null
v1=$(q "SELECT id FROM healthml.models WHERE name = 'crash_risk' AND version = 1")

# retrain killed after its run was logged: the next retrain marks it interrupted
start_killable hm_crash_retrain "CALL healthml.retrain('crash_risk')"
q "SELECT pg_terminate_backend($(pid_of hm_crash_retrain))" >/dev/null
wait
check "the killed retrain left its run 'running' and no challenger" \
      "SELECT outcome = 'running' AND challenger_id IS NULL FROM healthml.training_runs WHERE model_name = 'crash_risk' ORDER BY id LIMIT 1"
check "and no model row" "SELECT count(*) = 1 FROM healthml.models WHERE name = 'crash_risk'"
q "CALL healthml.retrain('crash_risk', tolerance => 0)" >/dev/null 2>&1
check "the next retrain marks it interrupted" \
      "SELECT outcome = 'interrupted' AND reason LIKE 'the backend running it ended%' FROM healthml.training_runs WHERE model_name = 'crash_risk' ORDER BY id LIMIT 1"
q "SELECT model_id FROM healthml.deploy('crash_risk', 2, 'for the batch test')" >/dev/null

# batch killed by pg_terminate_backend: the table keeps the previous complete batch
start_killable hm_crash_batch "CALL healthml.score_batch('crash_risk', 'public.crash_batch', 'discharge_id', 'public.crash_scores')"
q "SELECT pg_terminate_backend($(pid_of hm_crash_batch))" >/dev/null
wait
check_shell "the batch session was terminated mid-way" grep -q "terminat" "$work/hm_crash_batch.out"
check "the batch table still holds the whole previous batch, from one version" \
      "SELECT count(*) = 1000000 AND count(DISTINCT discharge_id) = 1000000 AND bool_and(model_id = $v1) FROM public.crash_scores"

# batch killed with SIGKILL: PostgreSQL restarts every backend and recovers from its WAL
start_killable hm_crash_kill9 "CALL healthml.score_batch('crash_risk', 'public.crash_batch', 'discharge_id', 'public.crash_scores')"
victim=$(pid_of hm_crash_kill9)
check_shell "the second batch was running when it was killed" test -n "$victim"
kill -KILL "$victim" 2>/dev/null || sudo -n -u "$(stat -c %U "$PGHOST")" kill -KILL "$victim"
wait
for _ in $(seq 1 60); do "$PG_BIN/pg_isready" -q -d "$db" && q "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
check "after SIGKILL and recovery the server answers" "SELECT true"
check "and the batch table holds the whole previous batch" \
      "SELECT count(*) = 1000000 AND bool_and(model_id = $v1) FROM public.crash_scores"
q "CALL healthml.score_batch('crash_risk', 'public.crash_batch', 'discharge_id', 'public.crash_scores')" >/dev/null
check "a batch after recovery completes with the deployed version" \
      "SELECT count(*) = 1000000 AND bool_and(model_version = 2) FROM public.crash_scores"
q "DROP TABLE public.crash_discharges, public.crash_batch, public.crash_scores" >/dev/null
exit 0
