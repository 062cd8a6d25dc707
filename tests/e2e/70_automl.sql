-- AutoML on the readmission pack, by the same SQL the main job runs: it must beat the hand-trained
-- models on the very same test rows and reach the issue's goal (test AUC >= 0.69, AP >= 0.25),
-- without crossing the 0.72 leakage ceiling.
BEGIN;
SELECT plan(16);

\set QUIET 1
\o /dev/null
\ir ../../sql/readmission/train.sql
\ir ../../sql/readmission/automl.sql
\o
CREATE TEMP TABLE a AS
SELECT id, version, algorithm, metrics, (metrics #>> '{test,auc}')::float8 AS auc,
       (metrics #>> '{test,average_precision}')::float8 AS ap, test_rows
FROM healthml.models WHERE name = 'readmission' AND metrics ? 'automl';

SELECT is((SELECT count(*) FROM a), 1::bigint, 'one AutoML version');
SELECT cmp_ok((SELECT auc FROM a), '>=', 0.69::float8, 'AutoML test AUC >= 0.69');
SELECT cmp_ok((SELECT ap FROM a), '>=', 0.25::float8, 'AutoML test average precision >= 0.25');
SELECT cmp_ok((SELECT auc FROM a), '<', 0.72::float8, 'and below the 0.72 leakage ceiling');
SELECT is((SELECT test_rows FROM a), 19858::bigint, 'on the reference test rows');
SELECT is((SELECT count(*) FROM healthml.leaderboard('readmission') WHERE status = 'ranked'),
          (SELECT (metrics #>> '{automl,candidates}')::bigint FROM a), 'the budget lets every candidate be cross-validated');
SELECT ok((SELECT bool_and(auc_gain > 0) AND count(*) = 2 FROM healthml.automl_comparison
           WHERE automl_name = 'readmission' AND hand_name = 'readmission'), 'AutoML beats both hand-trained models on the same test rows');
SELECT is((SELECT deployed_version FROM healthml.model_registry WHERE name = 'readmission'), (SELECT version FROM a),
          'and is deployed');
SELECT is((SELECT jsonb_agg(g ->> 'check' ORDER BY g ->> 'check') FROM a, jsonb_array_elements(metrics #> '{automl,guardrails}') g
           WHERE g ->> 'check' LIKE 'leakage%' AND g ->> 'status' = 'ok'), '["leakage_model", "leakage_single_column"]'::jsonb,
          'no leakage: no single column above AUC 0.9, the model below 0.72');
SELECT is((SELECT g ->> 'status' FROM a, jsonb_array_elements(metrics #> '{automl,guardrails}') g WHERE g ->> 'check' = 'class_imbalance'),
          'warn', 'the 11% positive rate is reported');
SELECT ok((SELECT count(*) >= 3 FROM a, jsonb_array_elements(metrics #> '{automl,guardrails}') g WHERE g ->> 'check' = 'high_cardinality'),
          'the diagnosis codes are reported as high-cardinality');

-- the deployed AutoML model scores and explains like the hand-trained ones
CREATE TEMP TABLE sample AS SELECT * FROM readmission.cohort WHERE encounter_id % 20 = 0;
SELECT is((SELECT count(*) FROM sample f WHERE healthml.predict_row('readmission', f) <> healthml.predict('readmission', to_jsonb(f))),
          0::bigint, 'predict_row equals predict(to_jsonb(row)) on a twentieth of the cohort');
SELECT cmp_ok((SELECT max(abs((x ->> 'base')::float8 + (SELECT sum((c ->> 'contribution')::float8) FROM jsonb_array_elements(x -> 'contributions') c)
                              - (x ->> 'raw_score')::float8))
               FROM (SELECT healthml.explain_jsonb('readmission', to_jsonb(s)) AS x FROM sample s LIMIT 1000) t),
              '<', 1e-6::float8, 'explanations add up to the log-odds on 1000 cohort rows');
SELECT ok((SELECT bool_and(jsonb_array_length(readmission.readmit_explain(e, 3) -> 'reasons') = 3)
           FROM readmission.encounters e WHERE encounter_id % 5000 = 0), 'readmit_explain works on the AutoML model');

-- the blend's 1,200 trees are explained on healthml.explain_threads threads: the same bits on any
-- number of them (the trees are summed in the same runs, in the same order)
CREATE FUNCTION pg_temp.explained(threads int) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('healthml.explain_threads', threads::text, true);
    RETURN QUERY SELECT s.encounter_id || ':' || (healthml.explain_jsonb('readmission', to_jsonb(s)))::text
                 FROM sample s WHERE s.encounter_id % 7 = 0 ORDER BY s.encounter_id;
END $$;
CREATE TEMP TABLE one_thread AS SELECT * FROM pg_temp.explained(1) x;
SELECT is((SELECT count(*) FROM (SELECT * FROM pg_temp.explained(2) EXCEPT ALL SELECT * FROM one_thread) d)
          + (SELECT count(*) FROM (SELECT * FROM pg_temp.explained(4) EXCEPT ALL SELECT * FROM one_thread) d)
          + CASE WHEN (SELECT count(*) FROM one_thread) > 500 THEN 0 ELSE 1000000 END,
          0::bigint, 'explain_threads 2 and 4 give the values of 1 to the last digit, on every 140th cohort encounter');
SELECT throws_ok($$SET healthml.explain_threads = 0$$, '22023', NULL, 'explain_threads below 1 is refused');
RESET healthml.explain_threads;

SELECT * FROM finish();
ROLLBACK;
