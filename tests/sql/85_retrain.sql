-- healthml.retrain: champion against challenger on the same held-out rows, the tolerance and
-- calibration gates, the run log. (Inside this file's transaction block retrain does not commit on
-- its own; tests/e2e/90_retrain_cron.sql runs it from pg_cron, outside any block.)
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(21);

CREATE TABLE public.discharges AS SELECT * FROM pg_temp.discharges(4000);

SELECT throws_ok($$CALL healthml.retrain('discharge_risk')$$, '42704', 'model "discharge_risk" is not deployed', 'nothing to retrain');
CREATE TEMP TABLE m AS SELECT * FROM healthml.train('discharge_risk', 'public.discharges', 'readmitted', 'logistic',
                                                    '{"group_by": "patient_id", "exclude": ["discharge_id"], "test_where": "patient_id % 5 = 0"}');
CREATE TEMP TABLE d AS SELECT * FROM healthml.deploy('discharge_risk');
SELECT throws_ok($$CALL healthml.retrain('discharge_risk', tolerance => -0.1)$$, '22023', NULL, 'a negative tolerance');

-- new rows of the same kind: the challenger is as good, and calibrated: deployed
INSERT INTO public.discharges
SELECT i, i / 2, (abs(hashint4(i * 3)) % 10000) / 100.0, CASE WHEN i % 4 = 0 THEN 'rehab' ELSE 'home' END,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0) + CASE WHEN i % 4 = 0 THEN 1 ELSE 0 END)))
FROM generate_series(4001, 5000) i;
CALL healthml.retrain('discharge_risk');
CREATE TEMP TABLE run1 AS SELECT * FROM healthml.training_runs WHERE model_name = 'discharge_risk' ORDER BY id DESC LIMIT 1;
SELECT is((SELECT outcome FROM run1), 'deployed', 'an equally good, calibrated challenger is deployed');
SELECT is((SELECT deployed_version FROM healthml.model_registry WHERE name = 'discharge_risk'), 2, 'version 2 is deployed');
SELECT is((SELECT (metrics ->> 'rows')::int FROM run1), (SELECT count(*)::int FROM public.discharges WHERE patient_id % 5 = 0),
          'both judged on the challenger''s held-out rows');
SELECT is((SELECT (metrics #>> '{champion,model_id}')::bigint FROM run1), (SELECT model_id FROM m), 'the champion was version 1');
SELECT ok((SELECT reason LIKE 'retrain: challenger AUC%' FROM healthml.deployments WHERE name = 'discharge_risk' ORDER BY id DESC LIMIT 1),
          'the deployment says why');
SELECT ok((SELECT finished_at >= started_at AND started_by = current_user FROM run1), 'timed and attributed');

-- the training labels go bad (a broken feed): the challenger is worse on the held-out rows, the champion stays
UPDATE public.discharges SET readmitted = (hashint4(discharge_id * 11) % 9 = 0) WHERE patient_id % 5 <> 0;
CALL healthml.retrain('discharge_risk');
CREATE TEMP TABLE run2 AS SELECT * FROM healthml.training_runs WHERE model_name = 'discharge_risk' ORDER BY id DESC LIMIT 1;
SELECT is((SELECT outcome FROM run2), 'kept champion', 'a worse challenger is not deployed');
SELECT ok((SELECT reason LIKE 'challenger AUC % is below champion AUC % minus tolerance 0.005%' FROM run2), 'and the log says why');
SELECT is((SELECT deployed_version FROM healthml.model_registry WHERE name = 'discharge_risk'), 2, 'version 2 stays deployed');
SELECT is((SELECT count(*) FROM healthml.models WHERE name = 'discharge_risk'), 3::bigint, 'the challenger is kept in the registry');

-- an uncalibrated champion's options (balanced weights, no calibration) give an uncalibrated challenger
CREATE TEMP TABLE u AS SELECT * FROM healthml.train('uncalibrated', 'public.discharges', 'readmitted', 'logistic',
    '{"group_by": "patient_id", "exclude": ["discharge_id"], "class_weight": "balanced", "calibration": "none"}');
CREATE TEMP TABLE ud AS SELECT * FROM healthml.deploy('uncalibrated');
CALL healthml.retrain('uncalibrated', tolerance => 1);
SELECT ok((SELECT outcome = 'kept champion' AND reason LIKE 'challenger is not calibrated%'
           FROM healthml.training_runs WHERE model_name = 'uncalibrated' ORDER BY id DESC LIMIT 1), 'an uncalibrated challenger is refused');

-- the confidence gate: the paired bootstrap of the AUC difference on the held-out patients
CREATE TABLE public.gate AS SELECT * FROM pg_temp.discharges(3000);
CREATE TEMP TABLE g AS SELECT * FROM healthml.train('gate_risk', 'public.gate', 'readmitted', 'logistic',
    '{"group_by": "patient_id", "exclude": ["discharge_id"], "test_where": "patient_id % 5 = 0", "resamples": 300}');
CREATE TEMP TABLE gd AS SELECT * FROM healthml.deploy('gate_risk');
INSERT INTO public.gate SELECT discharge_id + 3000, patient_id + 1500, severity, destination, readmitted FROM pg_temp.discharges(600);
CALL healthml.retrain('gate_risk', tolerance => 0, require_confidence => true);
CREATE TEMP TABLE gate1 AS SELECT * FROM healthml.training_runs WHERE model_name = 'gate_risk' ORDER BY id DESC LIMIT 1;
SELECT is((SELECT (outcome, require_confidence) FROM gate1), ('kept champion'::text, true),
          'a challenger as good as the champion is not shown to be no worse with no tolerance');
SELECT ok((SELECT reason LIKE 'challenger is not shown to be no worse: the 95% interval of its AUC minus the champion''s is [%, %], reaching below -0 (tolerance), on % held-out rows' FROM gate1),
          'the log gives the interval');
SELECT ok((SELECT (metrics #>> '{auc_difference,low}')::float8 <= (metrics #>> '{auc_difference,estimate}')::float8
                  AND (metrics #>> '{auc_difference,estimate}')::float8 <= (metrics #>> '{auc_difference,high}')::float8
                  AND abs((metrics #>> '{auc_difference,estimate}')::float8
                          - ((metrics #>> '{challenger,auc}')::float8 - (metrics #>> '{champion,auc}')::float8)) < 1e-12
                  AND metrics #>> '{auc_difference,grouped_by}' = 'patient_id' AND (metrics #>> '{auc_difference,resamples}')::int = 300
           FROM gate1), 'the run stores the paired interval of challenger minus champion, resampled by patient');
SELECT ok((SELECT metrics #> '{challenger,intervals,auc}' IS NOT NULL AND metrics #> '{champion,intervals,auc}' IS NOT NULL FROM gate1),
          'and each model''s intervals on the same rows');
CALL healthml.retrain('gate_risk', tolerance => 0.02, require_confidence => true);
CREATE TEMP TABLE gate2 AS SELECT * FROM healthml.training_runs WHERE model_name = 'gate_risk' ORDER BY id DESC LIMIT 1;
SELECT is((SELECT outcome FROM gate2), 'deployed', 'within a tolerance of 0.02 with confidence: deployed');
SELECT ok((SELECT reason LIKE '%(tolerance 0.02; difference 95% interval [%, %])%' FROM gate2), 'the deployment reason gives the interval');
SELECT throws_ok($$CALL healthml.retrain('gate_risk', require_confidence => NULL)$$, '22004', NULL, 'require_confidence must not be NULL');
SELECT throws_ok($$SELECT healthml.compare_models_by_id(1, -5)$$, '42704', 'model id -5 does not exist', 'compare_models_by_id names a bad id');

SELECT * FROM finish();
ROLLBACK;
