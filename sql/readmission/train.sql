-- The readmission pack's models: logistic regression and gradient-boosted trees on the cohort, on the
-- reference split (a patient is in the test set when patient_nbr % 5 = 0), the better one deployed.
-- Run by scripts/demo when no model "readmission" exists yet (psql script: uses \gset and \if).

SELECT NOT EXISTS (SELECT 1 FROM healthml.models WHERE name = 'readmission') AS must_train \gset
\if :must_train
\echo training model "readmission": logistic and gbdt on readmission.cohort
SELECT jsonb_build_object(
           'group_by', 'patient_nbr',
           'test_where', 'patient_nbr % 5 = 0',
           'exclude', jsonb_build_array('encounter_id', 'readmitted', 'in_cohort',
                                        'admission_type', 'discharge_disposition', 'admission_source'),
           'description', '30-day readmission of diabetic inpatients (UCI Diabetes 130-US), reference split',
           'tags', jsonb_build_array('readmission', 'pack')) AS options \gset
SELECT model_id, version, algorithm, round(test_auc::numeric, 4) AS test_auc,
       round(test_average_precision::numeric, 4) AS test_average_precision
FROM healthml.train('readmission', 'readmission.cohort', 'readmitted_30d', 'logistic', :'options');
SELECT model_id, version, algorithm, round(test_auc::numeric, 4) AS test_auc,
       round(test_average_precision::numeric, 4) AS test_average_precision
FROM healthml.train('readmission', 'readmission.cohort', 'readmitted_30d', 'gbdt', :'options');
SELECT model_id, deployed_version FROM healthml.deploy('readmission', reason => 'best test AUC after training');
-- The pack logs 1 % of the model's scoring calls (docs/reference/monitoring.md, "The inference log"):
-- the nightly batch, readmit_score and the API then feed drift by day. Set once, with the first
-- training: an admin's later setting, or logging turned off, stays when the pack runs again.
SELECT model_name, sample_rate FROM healthml.set_inference_logging('readmission', 0.01);
\endif
