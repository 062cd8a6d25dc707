#!/usr/bin/env bash
# A dropped model version's scoring statistics are freed when the drop commits (their shared-memory
# slots are limited), and kept when it rolls back. Needs real commits: not a pgTAP transaction.
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=healthml_regress
q() { psql -X -q -t -A -d "$db" -c "SET client_min_messages = warning" -c "$1" 2>&1; }

plan 5
q "DROP TABLE IF EXISTS public.stats_drop;
   CREATE TABLE public.stats_drop AS
   SELECT i AS id, i / 2 AS patient, (i % 97)::float8 AS severity, (abs(hashint4(i)) % 100) < 10 + (i % 97) / 5 AS readmitted
   FROM generate_series(1, 2000) i" >/dev/null
q "DELETE FROM healthml.deployments WHERE name = 'stats_drop'; DELETE FROM healthml.models WHERE name = 'stats_drop'" >/dev/null
old=$(q "SELECT model_id FROM healthml.train('stats_drop', 'public.stats_drop', 'readmitted', 'logistic', '{\"group_by\": \"patient\", \"exclude\": [\"id\"]}')")
q "SELECT * FROM healthml.train('stats_drop', 'public.stats_drop', 'readmitted', 'logistic', '{\"group_by\": \"patient\", \"exclude\": [\"id\"]}')" >/dev/null
q "SELECT * FROM healthml.deploy('stats_drop', 2)" >/dev/null
q "SELECT count(healthml.predict_row_by_id($old, s)) FROM public.stats_drop s" >/dev/null
counted() { q "SELECT coalesce(sum(calls), 0) FROM healthml.scoring_stats WHERE model_id = $old"; }

is "$(counted)" 2000 "the old version's scoring is counted"
q "BEGIN; SELECT healthml.drop_model('stats_drop', 1); ROLLBACK" >/dev/null
is "$(counted)" 2000 "a drop that rolls back keeps the counters"
is "$(q "SELECT healthml.drop_model('stats_drop', 1)")" t "the old version is dropped"
is "$(counted)" 0 "its counters are freed at commit"
q "SELECT count(healthml.predict_row_by_id((SELECT id FROM healthml.models WHERE name = 'stats_drop'), s)) FROM public.stats_drop s" >/dev/null
is "$(q "SELECT calls FROM healthml.scoring_stats WHERE name = 'stats_drop' AND function = 'predict_row'")" 2000 "the kept version still counts"
