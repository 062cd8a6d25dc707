#!/usr/bin/env bash
# First start of the healthml container (docker-entrypoint-initdb.d): the extension, the readmission
# data through the same loader and SQL the tests run, the models (hand-trained, then AutoML), the
# monitoring reports, the nightly batch, the dashboard views and the scoring API, the login roles of
# Grafana and PostgREST, and the pg_cron schedule.
set -euo pipefail
export HEALTHML_USE_PGENV=1 HEALTHML_ROOT=${HEALTHML_ROOT:-/opt/healthml} HEALTHML_DB=${POSTGRES_DB:-healthml}
export PGDATABASE=$HEALTHML_DB
run() { psql -X -q -v ON_ERROR_STOP=1 -P footer=off "$@"; }

run -c 'CREATE EXTENSION IF NOT EXISTS healthml' -c 'CREATE EXTENSION IF NOT EXISTS pg_cron'
"$HEALTHML_ROOT/scripts/load-readmission"
for step in train automl monitoring nightly dashboards api; do
    run -f "$HEALTHML_ROOT/sql/readmission/$step.sql"
done

run -v grafana_password="${GRAFANA_DB_PASSWORD:?}" -v authenticator_password="${AUTHENTICATOR_PASSWORD:?}" <<'SQL'
CREATE ROLE grafana_reader LOGIN PASSWORD :'grafana_password' IN ROLE healthml_analyst;
CREATE ROLE healthml_authenticator LOGIN NOINHERIT PASSWORD :'authenticator_password';
GRANT healthml_web_anon TO healthml_authenticator;
SELECT cron.schedule('readmission-nightly', '0 2 * * *', $$CALL healthml.retrain('readmission')$$);
SQL
run -c "SELECT cron.schedule('readmission-scores', '30 2 * * *', \$\$CALL healthml.score_batch('readmission', 'readmission.recent_discharges', 'encounter_id', 'readmission.nightly_scores', 'replace', 3)\$\$)" \
    -c "SELECT cron.schedule('readmission-monitoring', '0 3 * * *', \$\$SELECT count(*) FROM healthml.drift('readmission', 'readmission.test_split')\$\$)"
