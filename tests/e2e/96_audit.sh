#!/usr/bin/env bash
# Who read which patient: pgaudit, as scripts/cluster configures it (pgaudit.role = healthml_auditor,
# pgaudit.log = role, log_line_prefix naming the session's user and database). A login analyst reads
# a patient's encounters and the cohort view, scores with the deployed model (its backend loads the
# payload) and reads a code table; the server log gains an object-audit line for each patient-level
# read and healthml's line for the payload, each naming the analyst, and none for the code table. An
# admin's direct read of a payload and the grant that made the analyst one are in the log too. Runs
# after 95_dashboards.sh, which trains and deploys the pack's model "readmission". TAP output; run by prove (tests/bin/tap-exec).
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=${PGDATABASE:?}
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"; }

plan 8

is "$(q -c "SHOW pgaudit.role")" healthml_auditor "pgaudit is loaded, its audit role is healthml_auditor"
log=$(q -c "SELECT setting || '/../server.log' FROM pg_settings WHERE name = 'data_directory'")
start=$(q -c "SELECT (pg_stat_file('$log')).size")

q -c "DROP ROLE IF EXISTS audit_probe" -c "CREATE ROLE audit_probe LOGIN" -c "GRANT healthml_analyst TO audit_probe" >/dev/null
psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" -U audit_probe >/dev/null <<'SQL'
SELECT count(*) FROM readmission.encounters WHERE patient_nbr = 8222157;
SELECT count(*) FROM readmission.cohort WHERE patient_nbr = 8222157;
SELECT healthml.predict_row('readmission', c) FROM readmission.cohort c ORDER BY c.encounter_id LIMIT 1;
SELECT count(*) FROM readmission.admission_types;
SQL
ok $? "the analyst read a patient, scored and read a code table"
q -c "SELECT length(payload) FROM healthml.models ORDER BY id LIMIT 1" -c "DROP ROLE audit_probe" >/dev/null
# the log lines written since, by the probe's sessions (the server writes them as the statements end)
sleep 1
lines=$(q -c "SELECT pg_read_file('$log', $start, (pg_stat_file('$log')).size - $start)")

like "$lines" "audit_probe@$db LOG:  AUDIT: OBJECT,[0-9]+,[0-9]+,READ,SELECT,TABLE,readmission.encounters,SELECT count\(\*\) FROM readmission.encounters WHERE patient_nbr = 8222157" \
     "the read of the patient's encounters is logged with the analyst's name and the statement"
like "$lines" "audit_probe@$db LOG:  AUDIT: OBJECT,[0-9]+,[0-9]+,READ,SELECT,VIEW,readmission.cohort," "so is the read through a view"
like "$lines" "audit_probe@$db LOG:  healthml: model \"readmission\" version [0-9]+ \(id [0-9]+\) loaded by audit_probe to score" \
     "healthml logs the model payload the analyst's backend loaded to score (pgaudit leaves reads as another role out)"
like "$lines" "postgres@$db LOG:  AUDIT: OBJECT,[0-9]+,[0-9]+,READ,SELECT,TABLE,healthml.models,SELECT length\(payload\) FROM healthml.models" \
     "a direct read of a payload (an admin's) is object-audited"
! grep -q "readmission.admission_types" <<<"$lines"
ok $? "a code table's read is not logged (no patient in it)"
like "$lines" "AUDIT: SESSION,[0-9]+,[0-9]+,ROLE,GRANT ROLE,,,GRANT healthml_analyst TO audit_probe" "granting the analyst role is logged"
