-- The readmission pack's AutoML model: the same cohort, split and exclusions as the hand-trained
-- models (sql/readmission/train.sql, run first), compared with them on the same test rows, and
-- deployed when it beats the deployed model there. The budget is generous so that every candidate
-- is cross-validated on any machine (about 80 s on 2 cores): a shorter budget evaluates fewer
-- candidates, and the result then depends on the machine's speed.
-- Run by scripts/demo when model "readmission" has no AutoML version yet (psql script: \gset, \if).

SELECT NOT EXISTS (SELECT 1 FROM healthml.models WHERE name = 'readmission' AND metrics ? 'automl') AS must_search \gset
\if :must_search
\echo AutoML on readmission.cohort (guardrails, 3-fold patient-grouped search, blend):
SELECT jsonb_build_object(
           'group_by', 'patient_nbr',
           'test_where', 'patient_nbr % 5 = 0',
           'exclude', jsonb_build_array('encounter_id', 'readmitted', 'in_cohort',
                                        'admission_type', 'discharge_disposition', 'admission_source'),
           'budget_seconds', 900,
           'description', '30-day readmission, AutoML on the reference split',
           'tags', jsonb_build_array('readmission', 'pack')) AS options \gset
SET client_min_messages = warning;
SELECT model_id, version, algorithm, round(test_auc::numeric, 4) AS test_auc,
       round(test_average_precision::numeric, 4) AS test_average_precision
FROM healthml.train('readmission', 'readmission.cohort', 'readmitted_30d', 'auto', :'options');
RESET client_min_messages;
SELECT c.automl_version, c.hand_version, c.hand_algorithm, c.automl_test_auc, c.hand_test_auc, c.auc_gain,
       c.automl_test_ap, c.hand_test_ap, c.ap_gain
FROM healthml.automl_comparison c
WHERE c.automl_name = 'readmission' AND c.hand_name = 'readmission'
  AND c.automl_version = (SELECT max(version) FROM healthml.models WHERE name = 'readmission' AND metrics ? 'automl')
ORDER BY c.hand_version;
SELECT a.version AS automl_version,
       coalesce((a.metrics #>> '{test,auc}')::float8
                > (SELECT (dm.metrics #>> '{test,auc}')::float8 FROM healthml.models dm
                   WHERE dm.id = (SELECT model_id FROM healthml.deployments WHERE name = 'readmission' ORDER BY id DESC LIMIT 1)),
                true) AS automl_is_better
FROM healthml.models a
WHERE a.name = 'readmission' AND a.metrics ? 'automl'
ORDER BY a.version DESC LIMIT 1 \gset
\if :automl_is_better
SELECT model_id, deployed_version FROM healthml.deploy('readmission', :automl_version,
                                                       reason => 'AutoML beats the deployed model on the same test rows');
\endif
\endif
