#!/usr/bin/env bash
# pg_cron really runs healthml.retrain on the local cluster: a job scheduled in the postgres database
# (cron.database_name) runs CALL healthml.retrain(...) in this database at the next minute, outside
# any transaction block, and the run is logged and deployed. TAP output; run by prove (tests/bin/tap-exec).
set -u
db=${PGDATABASE:?}
job=healthml-e2e-retrain-$$
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
qc() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
n=0
check() {  # check "description" "SQL returning t/f" [database function]
    n=$((n + 1))
    local got
    got=$(${3:-q} "$2" 2>&1)
    if [ "$got" = t ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; echo "# got: $got"; fi
}
cleanup() {
    qc "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '$job'" >/dev/null 2>&1
    q "DROP TABLE IF EXISTS public.cron_discharges" >/dev/null 2>&1
}
trap cleanup EXIT

echo "1..6"
q "CREATE TABLE public.cron_discharges AS
   SELECT i AS discharge_id, i / 2 AS patient_id, (abs(hashint4(i * 3)) % 10000) / 100.0 AS severity,
          (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0)))) AS readmitted
   FROM generate_series(1, 3000) i" >/dev/null
q "SELECT model_id FROM healthml.train('cron_risk', 'public.cron_discharges', 'readmitted', 'logistic',
                                       '{\"group_by\": \"patient_id\", \"exclude\": [\"discharge_id\"]}')" >/dev/null
q "SELECT model_id FROM healthml.deploy('cron_risk')" >/dev/null
qc "SELECT cron.schedule_in_database('$job', '* * * * *', \$\$CALL healthml.retrain('cron_risk')\$\$, '$db')" >/dev/null
check "the job is scheduled in pg_cron" "SELECT count(*) = 1 FROM cron.job WHERE jobname = '$job' AND database = '$db'" qc

# pg_cron starts jobs at minute boundaries: wait for the run to finish (at most 150 s)
for _ in $(seq 1 150); do
    [ "$(q "SELECT count(*) FROM healthml.training_runs WHERE model_name = 'cron_risk' AND outcome <> 'running'")" -ge 1 ] && break
    sleep 1
done
check "pg_cron ran healthml.retrain: the run is logged and finished" \
      "SELECT count(*) >= 1 FROM healthml.training_runs WHERE model_name = 'cron_risk' AND finished_at IS NOT NULL"
check "its outcome: the challenger is deployed" \
      "SELECT outcome = 'deployed' FROM healthml.training_runs WHERE model_name = 'cron_risk' ORDER BY id LIMIT 1"
check "version 2 is deployed, by the job's user" \
      "SELECT deployed_version = 2 AND deployed_by = 'postgres' FROM healthml.model_registry WHERE name = 'cron_risk'"
check "the job's run is recorded as succeeded in cron.job_run_details" \
      "SELECT bool_or(d.status = 'succeeded') FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = '$job'" qc
check "champion and challenger were judged on the challenger's test rows" \
      "SELECT (metrics ->> 'rows')::bigint = (SELECT test_rows FROM healthml.models WHERE id = r.challenger_id)
       FROM healthml.training_runs r WHERE model_name = 'cron_risk' ORDER BY id LIMIT 1"
