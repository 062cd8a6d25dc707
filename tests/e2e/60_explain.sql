-- Explanations of the readmission pack's real models: additivity on 1000 cohort rows for both,
-- readmit_explain in the words of the id mappings.
BEGIN;
SELECT plan(9);

\set QUIET 1
\o /dev/null
\ir ../../sql/readmission/train.sql
\o
CREATE TEMP TABLE sample AS SELECT * FROM readmission.cohort WHERE encounter_id % 99 = 0 LIMIT 1000;
CREATE FUNCTION pg_temp.worst_gap() RETURNS float8 LANGUAGE sql AS $$
    SELECT max(abs((x ->> 'base')::float8 + (SELECT sum((c ->> 'contribution')::float8) FROM jsonb_array_elements(x -> 'contributions') c)
                   - (x ->> 'raw_score')::float8))
    FROM (SELECT healthml.explain_jsonb('readmission', to_jsonb(s)) AS x FROM sample s) t $$;

SELECT is((SELECT algorithm FROM healthml.models WHERE id = (SELECT model_id FROM healthml.deployments WHERE name = 'readmission' ORDER BY id DESC LIMIT 1)),
          'gbdt', 'gbdt is deployed');
SELECT cmp_ok(pg_temp.worst_gap(), '<', 1e-6::float8, 'gbdt: base + contributions = log-odds within 1e-6 on 1000 cohort rows');
CREATE TEMP TABLE d AS SELECT * FROM healthml.deploy('readmission', (SELECT version FROM healthml.models WHERE name = 'readmission' AND algorithm = 'logistic'));
SELECT cmp_ok(pg_temp.worst_gap(), '<', 1e-6::float8, 'logistic: the same');
CREATE TEMP TABLE r AS SELECT * FROM healthml.rollback('readmission');

SELECT is((SELECT (feature, value) FROM readmission.reason_in_words('discharge_disposition_id', '1')),
          ('discharge_disposition'::text, 'Discharged to home'::text), 'a discharge code reads as its description');
SELECT is((SELECT (feature, value) FROM readmission.reason_in_words('number_inpatient', '3')),
          ('number_inpatient'::text, '3'::text), 'other features read as they are');
CREATE TEMP TABLE x AS SELECT e.encounter_id, readmission.readmit_explain(e, 3) AS j, readmission.readmit_score(e) AS s
FROM readmission.encounters e WHERE encounter_id IN (164678202, 12522, 15738);
SELECT ok((SELECT bool_and((j ->> 'score')::float8 = s AND jsonb_array_length(j -> 'reasons') = 3) FROM x),
          'readmit_explain gives the readmit_score and 3 reasons');
SELECT ok((SELECT bool_and(NOT (r ->> 'feature') LIKE '%\_id') FROM x, jsonb_array_elements(j -> 'reasons') r
           WHERE r ->> 'feature' LIKE '%disposition%' OR r ->> 'feature' LIKE 'admission%'),
          'coded reasons are named without their _id');

-- imbalance: balanced class weights distort probabilities; Platt calibration on the validation rows
-- repairs them without changing the ranking
SELECT jsonb_build_object('group_by', 'patient_nbr', 'test_where', 'patient_nbr % 5 = 0', 'class_weight', 'balanced',
                          'exclude', jsonb_build_array('encounter_id', 'readmitted', 'in_cohort', 'admission_type',
                                                       'discharge_disposition', 'admission_source')) AS balanced \gset
CREATE TEMP TABLE cal AS SELECT * FROM healthml.train('balanced', 'readmission.cohort', 'readmitted_30d', 'logistic', :'balanced');
CREATE TEMP TABLE uncal AS SELECT * FROM healthml.train('balanced', 'readmission.cohort', 'readmitted_30d', 'logistic',
                                                        :'balanced'::jsonb || '{"calibration": "none"}');
SELECT ok((SELECT (c.metrics #>> '{test,brier}')::float8 < (u.metrics #>> '{test,brier}')::float8 FROM cal c, uncal u),
          'readmission, balanced weights: calibrated test Brier is better than uncalibrated');
SELECT ok((SELECT abs(c.test_auc - u.test_auc) < 1e-12 FROM cal c, uncal u), 'and the test AUC is the same');

SELECT * FROM finish();
ROLLBACK;
