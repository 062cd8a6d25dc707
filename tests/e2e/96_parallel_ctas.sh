#!/usr/bin/env bash
# CREATE TABLE ... AS SELECT with healthml's functions, planned in parallel, in a backend that has
# not read the models yet: the leader writes the new table and scores rows too, so it reads the
# deployment and the payload inside the parallel operation (this failed with "cannot start
# commands during a parallel operation" while healthml's reads went through pgrx's SPI, which
# starts a new command once the transaction has an id). A shell test, so that it runs after
# 95_dashboards.sh has trained and deployed the pack's models (committed), in a session of its own
# whose first healthml call is the CREATE TABLE.
set -uo pipefail
exec psql -X -q -t -A -v ON_ERROR_STOP=1 -P pager=off -d healthml_e2e <<SQL
BEGIN;
SELECT plan(5);
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL parallel_leader_participation = on;
\i $HEALTHML_ROOT/tests/bin/helpers.sql

SELECT matches(pg_temp.plan_of(\$\$CREATE TABLE public.parallel_scores AS
                                 SELECT f.encounter_id, healthml.predict_row('readmission', f) AS score,
                                        healthml.features_row('readmission', f) AS features,
                                        readmission.readmit_score(e) AS readmit
                                 FROM readmission.cohort f JOIN readmission.encounters e USING (encounter_id)\$\$),
               'Workers Launched: [12]', 'a new table of scores is created in parallel by a backend that had read no model');
SELECT is((SELECT count(*) FROM public.parallel_scores), (SELECT count(*) FROM readmission.cohort), 'with every cohort row');
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT is((SELECT count(*) FROM public.parallel_scores p JOIN readmission.cohort f USING (encounter_id)
           WHERE p.score <> healthml.predict_row('readmission', f) OR p.readmit <> p.score), 0::bigint,
          'the scores are the serial ones, and readmit_score''s');
SELECT is((SELECT count(*) FROM public.parallel_scores p JOIN readmission.cohort f USING (encounter_id)
           WHERE p.features <> healthml.features_row('readmission', f)), 0::bigint, 'so are the features');
CALL healthml.score_batch('readmission', 'readmission.cohort', 'encounter_id', 'public.parallel_batch');
SELECT is((SELECT count(*) FROM public.parallel_batch b JOIN public.parallel_scores p USING (encounter_id) WHERE b.score = p.score),
          (SELECT count(*) FROM readmission.cohort), 'score_batch into a new table gives the same scores');

SELECT * FROM finish();
ROLLBACK;
SQL
