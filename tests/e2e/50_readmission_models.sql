-- The readmission pack's models on the reference split (test set: patient_nbr % 5 = 0), trained by
-- the same SQL the main job runs. Floors from the issue; above 0.72 would mean leakage.
BEGIN;
SELECT plan(17);
\ir ../bin/helpers.sql

\set QUIET 1
\o /dev/null
\ir ../../sql/readmission/train.sql
\o
CREATE TEMP TABLE m AS
SELECT version, algorithm, (metrics #>> '{test,auc}')::float8 AS auc, (metrics #>> '{test,average_precision}')::float8 AS ap,
       (metrics #>> '{test,n}')::int AS test_n, train_rows, payload_sha256, options
FROM healthml.models WHERE name = 'readmission';

SELECT is((SELECT array_agg(algorithm ORDER BY version) FROM m), ARRAY['logistic', 'gbdt'], 'both algorithms are trained');
SELECT is((SELECT array_agg(DISTINCT test_n) FROM m), ARRAY[19858], 'the test set is the 19,858 cohort encounters with patient_nbr % 5 = 0');
SELECT is((SELECT count(*) FROM readmission.cohort WHERE patient_nbr % 5 = 0), 19858::bigint, 'as counted in SQL');
SELECT ok((SELECT auc >= 0.66 FROM m WHERE algorithm = 'logistic'), 'logistic test AUC >= 0.66');
SELECT ok((SELECT auc >= 0.68 FROM m WHERE algorithm = 'gbdt'), 'gbdt test AUC >= 0.68');
SELECT ok((SELECT bool_and(auc < 0.72) FROM m), 'no model is above 0.72 (that would mean leakage)');
SELECT ok((SELECT bool_and(ap > 0.2) FROM m), 'average precision above 0.2 for both (base rate 0.114)');
-- 95 % intervals from resampling the test patients
SELECT is((SELECT array_agg(DISTINCT (x.metrics #>> '{test,intervals,groups}')::int) FROM healthml.models x WHERE x.name = 'readmission'),
          ARRAY[(SELECT count(DISTINCT patient_nbr)::int FROM readmission.cohort WHERE patient_nbr % 5 = 0)],
          'the intervals resample the test split''s patients');
SELECT ok((SELECT bool_and((x.metrics #>> '{test,intervals,auc,high}')::float8 - (x.metrics #>> '{test,intervals,auc,low}')::float8
                           BETWEEN 0.01 AND 0.05)
           FROM healthml.models x WHERE x.name = 'readmission'), 'the AUC interval is 0.01 to 0.05 wide on 19,858 encounters');
SELECT ok((SELECT bool_and((x.metrics #>> '{test,intervals,calibration_slope,low}')::float8 < 1.2
                           AND (x.metrics #>> '{test,intervals,calibration_slope,high}')::float8 > 0.8)
           FROM healthml.models x WHERE x.name = 'readmission'), 'both models are near calibrated (slope interval within 0.8-1.2 of 1)');
SELECT is((SELECT deployed_algorithm FROM healthml.model_registry WHERE name = 'readmission'),
          (SELECT algorithm FROM m ORDER BY auc DESC LIMIT 1), 'the better model is deployed');

-- a whole encounter row scores, and agrees with predict on its features
SELECT ok((SELECT bool_and(s > 0 AND s < 1) FROM (SELECT readmission.readmit_score(e) AS s FROM readmission.encounters e
           WHERE encounter_id % 1000 = 0) t), 'readmit_score(e) gives probabilities');
SELECT is((SELECT count(*) FROM readmission.encounters e JOIN readmission.features f USING (encounter_id)
           WHERE e.encounter_id % 1000 = 0
             AND readmission.readmit_score(e) <> healthml.predict('readmission', to_jsonb(f))), 0::bigint,
          'readmit_score(e) equals predict on the encounter''s features');

-- the typed-row path equals the jsonb path on the whole cohort, and runs in parallel workers
SELECT is((SELECT count(*) FROM readmission.cohort f WHERE healthml.predict_row('readmission', f) <> healthml.predict('readmission', to_jsonb(f))),
          0::bigint, 'predict_row equals predict(to_jsonb(row)) on all 99,343 cohort rows');
CREATE TEMP TABLE serial_scores AS SELECT encounter_id, readmission.readmit_score(e) AS s FROM readmission.encounters e WHERE encounter_id % 50 = 0;
SELECT pg_temp.force_parallel();
SELECT matches(pg_temp.plan_of($$SELECT readmission.readmit_score(e) FROM readmission.encounters e WHERE encounter_id % 50 = 0$$),
               'Workers Launched: [12]', 'readmit_score(e) runs in parallel workers');
SELECT is((SELECT count(*) FROM readmission.encounters e JOIN serial_scores s USING (encounter_id) WHERE readmission.readmit_score(e) <> s.s),
          0::bigint, 'and gives the serial plan''s scores');
RESET ALL;

-- reproducible: retraining logistic with the same options gives the same bytes
CREATE TEMP TABLE repro AS SELECT * FROM healthml.train('readmission_repro', 'readmission.cohort', 'readmitted_30d', 'logistic',
                                                       (SELECT options FROM m WHERE algorithm = 'logistic'));
SELECT is((SELECT x.payload_sha256 FROM repro t JOIN healthml.models x ON x.id = t.model_id),
          (SELECT payload_sha256 FROM m WHERE algorithm = 'logistic'), 'retraining gives a byte-identical payload');

SELECT * FROM finish();
ROLLBACK;
