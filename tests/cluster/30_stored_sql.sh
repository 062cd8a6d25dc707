#!/usr/bin/env bash
# Stored SQL runs with the rights of the role that stored it. An admin trains with a test_where that
# calls a function of their own, which records current_user, session_user and whether it could
# RESET ROLE; a pg_cron job owned by the superuser retrains the model at the next minute (up to 150 s).
# The function ran as the admin, never as the superuser, and could not take back the superuser's
# identity; the challenger belongs to the admin. An admin who is not a member of the model's creator
# is refused with 42501 and a hint, and the run is logged as failed. TAP output; run by prove.
set -u
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=${PGDATABASE:?}
job=healthml-stored-sql-$$
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"; }
qc() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d postgres "$@"; }
cleanup() {
    qc -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '$job'" >/dev/null 2>&1
    q >/dev/null 2>&1 <<SQL
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS stored_sql CASCADE;
REVOKE CREATE ON DATABASE "$db" FROM stored_admin;
SQL
}
trap cleanup EXIT

plan 9
q >/dev/null <<SQL
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS stored_sql CASCADE;
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stored_admin') THEN CREATE ROLE stored_admin LOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'other_admin') THEN CREATE ROLE other_admin LOGIN; END IF;
END \$\$;
GRANT healthml_admin TO stored_admin, other_admin;
GRANT CREATE ON DATABASE "$db" TO stored_admin;
SQL
q -U stored_admin >/dev/null <<'SQL'
CREATE SCHEMA stored_sql;
CREATE TABLE stored_sql.discharges AS
SELECT i AS discharge_id, i / 2 AS patient_id, (abs(hashint4(i * 3)) % 10000) / 100.0 AS severity,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0)))) AS readmitted
FROM generate_series(1, 3000) i;
CREATE TABLE stored_sql.calls (current_role_name name, session_role name, reset_role text);
GRANT SELECT, INSERT, DELETE ON stored_sql.calls TO PUBLIC;
GRANT USAGE ON SCHEMA stored_sql TO PUBLIC;
-- the admin's own function in the model's test_where
CREATE FUNCTION stored_sql.is_test(patient integer) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
    reset_role text;
BEGIN
    BEGIN
        RESET ROLE;
        reset_role := 'became ' || current_user;
    EXCEPTION WHEN OTHERS THEN
        reset_role := 'refused';
    END;
    INSERT INTO stored_sql.calls VALUES (current_user, session_user, reset_role);
    RETURN patient % 5 = 0;
END $f$;
SELECT count(*) FROM healthml.train('stored_risk', 'stored_sql.discharges', 'readmitted', 'logistic',
    '{"group_by": "patient_id", "exclude": ["discharge_id"], "test_where": "stored_sql.is_test(patient_id)"}');
SELECT count(*) FROM healthml.deploy('stored_risk');
DELETE FROM stored_sql.calls;
SQL

qc -c "SELECT cron.schedule_in_database('$job', '* * * * *', \$\$CALL healthml.retrain('stored_risk')\$\$, '$db')" >/dev/null
for _ in $(seq 1 150); do
    [ "$(q -c "SELECT count(*) FROM healthml.training_runs WHERE model_name = 'stored_risk' AND outcome <> 'running'")" -ge 1 ] && break
    sleep 1
done
qc -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '$job'" >/dev/null
is "$(q -c "SELECT started_by || ' ' || outcome FROM healthml.training_runs WHERE model_name = 'stored_risk' ORDER BY id LIMIT 1")" \
   "postgres deployed" "the superuser's pg_cron job retrained the model"
is "$(q -c "SELECT count(*) > 0 FROM stored_sql.calls")" t "the stored test_where ran"
is "$(q -c "SELECT string_agg(DISTINCT current_role_name, ',') FROM stored_sql.calls")" stored_admin \
   "as the admin who stored it, never as the job's superuser"
is "$(q -c "SELECT string_agg(DISTINCT session_role, ',') FROM stored_sql.calls")" postgres "(in the superuser's session)"
is "$(q -c "SELECT string_agg(DISTINCT reset_role, ',') FROM stored_sql.calls")" refused \
   "and it could not RESET ROLE back to the superuser (a security-restricted operation)"
is "$(q -c "SELECT created_by FROM healthml.models WHERE name = 'stored_risk' ORDER BY version DESC LIMIT 1")" stored_admin \
   "the challenger belongs to the admin, so the next retrain runs as the admin again"

out=$(q -U other_admin -v VERBOSITY=verbose -c "CALL healthml.retrain('stored_risk')" 2>&1)
like "$out" "ERROR:  42501: healthml.retrain\\(stored_risk\\) failed: role \"other_admin\" may not replay the stored SQL of model \"stored_risk\" version [0-9]+, which role \"stored_admin\" stored" \
     "an admin who is not a member of the creator is refused (42501)"
like "$out" "HINT:  stored SQL \(the source relation, test_where\) runs with the rights of the role that stored it: .*; the run is logged in healthml.training_runs" \
     "with its hint, and where the run is logged"
is "$(q -c "SELECT started_by || ' ' || outcome FROM healthml.training_runs WHERE model_name = 'stored_risk' ORDER BY id DESC LIMIT 1")" \
   "other_admin failed" "and the refused run is logged as failed"
