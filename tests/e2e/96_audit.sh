#!/usr/bin/env bash
# Who read which patient: pgaudit, as scripts/cluster configures it (pgaudit.role = healthml_auditor,
# pgaudit.log = role, log_line_prefix naming the session's user and database). A login analyst reads
# a patient's encounters through the pseudonymized cohort view, scores one by pseudonym (its backend
# loads the payload), reads a code table, and is refused the raw encounters; the server log gains an
# object-audit line for each patient-level read and healthml's line for the payload, each naming the
# analyst, and none for the code table. An admin's read of the raw encounters, a direct read of a
# payload and the grant that made the analyst one are in the log too. Runs after 95_dashboards.sh,
# which trains and deploys the pack's model "readmission". TAP output; run by prove (tests/bin/tap-exec).
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=${PGDATABASE:?}
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"; }

plan 9

is "$(q -c "SHOW pgaudit.role")" healthml_auditor "pgaudit is loaded, its audit role is healthml_auditor"
log=$(q -c "SELECT setting || '/../server.log' FROM pg_settings WHERE name = 'data_directory'")
start=$(q -c "SELECT (pg_stat_file('$log')).size")

q -c "DROP ROLE IF EXISTS audit_probe" -c "CREATE ROLE audit_probe LOGIN" -c "GRANT healthml_analyst TO audit_probe" >/dev/null
patient=$(q -c "SELECT patient_pseudonym FROM readmission.analyst_cohort WHERE encounter_pseudonym = (SELECT min(encounter_pseudonym) FROM readmission.analyst_cohort)")
psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" -U audit_probe -v patient="$patient" >/dev/null <<'SQL'
SELECT count(*) FROM readmission.analyst_cohort WHERE patient_pseudonym = :'patient';
SELECT readmission.readmit_score_by_pseudonym(min(encounter_pseudonym)) FROM readmission.analyst_cohort WHERE patient_pseudonym = :'patient';
SELECT count(*) FROM readmission.admission_types;
SQL
ok $? "the analyst read a patient by pseudonym, scored and read a code table"
refused=$(psql -X -q -t -A -d "$db" -U audit_probe -c "SELECT count(*) FROM readmission.encounters WHERE patient_nbr = 8222157" 2>&1)
q -c "SELECT count(*) FROM readmission.encounters WHERE patient_nbr = 8222157" \
  -c "SELECT length(payload) FROM healthml.models ORDER BY id LIMIT 1" -c "DROP ROLE audit_probe" >/dev/null
# the log lines written since, by the probe's sessions (the server writes them as the statements end)
sleep 1
lines=$(q -c "SELECT pg_read_file('$log', $start, (pg_stat_file('$log')).size - $start)")

like "$refused" "permission denied for table encounters" "the analyst may not read the raw encounters"
like "$lines" "audit_probe@$db LOG:  AUDIT: OBJECT,[0-9]+,[0-9]+,READ,SELECT,VIEW,readmission.analyst_cohort,SELECT count\(\*\) FROM readmission.analyst_cohort WHERE patient_pseudonym = '$patient'" \
     "the analyst's read of a patient's encounters, by pseudonym, is logged with the analyst's name and the statement"
like "$lines" "postgres@$db LOG:  AUDIT: OBJECT,[0-9]+,[0-9]+,READ,SELECT,TABLE,readmission.encounters,SELECT count\(\*\) FROM readmission.encounters WHERE patient_nbr = 8222157" \
     "an admin's read of the raw encounters is logged"
like "$lines" "audit_probe@$db LOG:  healthml: model \"readmission\" version [0-9]+ \(id [0-9]+\) loaded by audit_probe to score" \
     "healthml logs the model payload the analyst's backend loaded to score (pgaudit leaves reads as another role out)"
like "$lines" "postgres@$db LOG:  AUDIT: OBJECT,[0-9]+,[0-9]+,READ,SELECT,TABLE,healthml.models,SELECT length\(payload\) FROM healthml.models" \
     "a direct read of a payload (an admin's) is object-audited"
! grep -q "readmission.admission_types" <<<"$lines"
ok $? "a code table's read is not logged (no patient in it)"
like "$lines" "AUDIT: SESSION,[0-9]+,[0-9]+,ROLE,GRANT ROLE,,,GRANT healthml_analyst TO audit_probe" "granting the analyst role is logged"
