#!/usr/bin/env bash
# Clients score continuously (pgbench) while retrain, deploy, rollback and batch scoring run: no
# client sees an error, every statement's scores come from one whole model version, and every batch
# writes every row, from one version.
source "$(dirname "$0")/lib.bash"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "1..7"

make_discharges public.rel_discharges 20000
q "CREATE TABLE public.rel_sample AS SELECT * FROM public.rel_discharges WHERE discharge_id % 100 = 0" >/dev/null
opts='{"group_by": "patient_id", "exclude": ["discharge_id"], "test_where": "patient_id % 5 = 0"}'
q "SELECT model_id FROM healthml.train('rel_risk', 'public.rel_discharges', 'readmitted', 'logistic', '$opts')" >/dev/null
q "SELECT model_id FROM healthml.train('rel_risk', 'public.rel_discharges', 'readmitted', 'gbdt', '$opts')" >/dev/null
q "SELECT model_id FROM healthml.deploy('rel_risk', 1, 'start')" >/dev/null

# Each transaction scores the sample by name and fails (division by zero) unless one version of the
# model gives every row's score.
cat >"$work/score.sql" <<'SQL'
WITH s AS (SELECT x, healthml.predict_row('rel_risk', x) AS p FROM public.rel_sample x)
SELECT CASE WHEN EXISTS (SELECT 1 FROM healthml.models m WHERE m.name = 'rel_risk'
                         AND NOT EXISTS (SELECT 1 FROM s WHERE s.p <> healthml.predict_row_by_id(m.id, s.x)))
            THEN 1 ELSE 1 / (SELECT 0) END;
SQL
cat >"$work/flag.sql" <<'SQL'
SELECT count(*) FILTER (WHERE healthml.flag('rel_risk', healthml.predict('rel_risk', to_jsonb(x)))) FROM public.rel_sample x;
SQL
"$PG_BIN/pgbench" -n -c 4 -j 2 -T 25 -f "$work/score.sql@3" -f "$work/flag.sql@1" "$db" >"$work/pgbench.out" 2>&1 &
bench=$!

# Meanwhile: deployments, rollbacks, retraining and batches.
changes_failed=0
for round in 1 2 3; do
    q "SELECT model_id FROM healthml.deploy('rel_risk', 2, 'round $round')" >/dev/null || changes_failed=$((changes_failed + 1))
    q "CALL healthml.retrain('rel_risk', tolerance => 1)" >/dev/null 2>>"$work/changes.err" || changes_failed=$((changes_failed + 1))
    q "CALL healthml.score_batch('rel_risk', 'public.rel_discharges', 'discharge_id', 'public.rel_batch_$round', 'replace', 2)" >/dev/null \
        || changes_failed=$((changes_failed + 1))
    q "SELECT model_id FROM healthml.rollback('rel_risk')" >/dev/null || changes_failed=$((changes_failed + 1))
done
wait "$bench"
bench_rc=$?

transactions=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
check_shell "pgbench ran: $transactions scoring transactions from 4 clients" test "${transactions:-0}" -gt 20
check_shell "no client saw an error (pgbench exit $bench_rc)" test "$bench_rc" -eq 0
check_shell "no aborted client" bash -c "! grep -qi 'aborted\|error' '$work/pgbench.out'"
check_shell "deploy, retrain, batch and rollback all succeeded ($changes_failed failures)" test "$changes_failed" -eq 0
check "three retrain runs are logged, none failed" \
      "SELECT count(*) = 3 AND bool_and(outcome IN ('deployed', 'kept champion')) FROM healthml.training_runs WHERE model_name = 'rel_risk'"
check "every batch wrote every row once" \
      "SELECT bool_and(c = 20000 AND k = 20000) FROM (SELECT count(*) c, count(DISTINCT discharge_id) k FROM public.rel_batch_1
        UNION ALL SELECT count(*), count(DISTINCT discharge_id) FROM public.rel_batch_2 UNION ALL SELECT count(*), count(DISTINCT discharge_id) FROM public.rel_batch_3) b"
check "each batch's rows come from one model version, with their reasons" \
      "SELECT bool_and(v = 1 AND r) FROM (SELECT count(DISTINCT model_id) v, bool_and(jsonb_array_length(reasons) = 2) r FROM public.rel_batch_1
        UNION ALL SELECT count(DISTINCT model_id), bool_and(jsonb_array_length(reasons) = 2) FROM public.rel_batch_2
        UNION ALL SELECT count(DISTINCT model_id), bool_and(jsonb_array_length(reasons) = 2) FROM public.rel_batch_3) b"
[ -s "$work/changes.err" ] && sed 's/^/# /' "$work/changes.err"
# Every line but pgbench's progress chatter: an aborted client's error must be in the log.
grep -vE "^(pgbench \(|transaction type|scaling factor|query mode|number of (clients|threads)|duration|SQL script|  - weight|initial connection)" "$work/pgbench.out" | sed 's/^/# /'

exit 0
