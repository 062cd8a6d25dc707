-- healthml.evaluate, the curves, predict_by_id and healthml.score_batch.
BEGIN;
SELECT plan(45);

CREATE TABLE public.stays AS
SELECT i AS stay_id, i / 3 AS patient_id, (i * 7 % 6) AS visits,
       CASE WHEN i % 5 < 2 THEN 'B' ELSE 'A' END AS ward,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-2.0 + 0.5 * (i * 7 % 6) + CASE WHEN i % 5 < 2 THEN 1 ELSE 0 END))) AS outcome
FROM generate_series(1, 2000) i;
CREATE TEMP TABLE trained AS SELECT * FROM healthml.train('stays', 'public.stays', 'outcome', 'logistic',
    '{"group_by": "patient_id", "exclude": ["stay_id"], "test_where": "patient_id % 5 = 0"}');
CREATE TEMP TABLE deployed AS SELECT * FROM healthml.deploy('stays');
CREATE TEMP VIEW test_rows AS SELECT * FROM public.stays WHERE patient_id % 5 = 0;

SELECT is(round((healthml.evaluate('stays', 'test_rows') ->> 'auc')::numeric, 10),
          round((SELECT test_auc FROM trained)::numeric, 10), 'evaluate on the test rows reproduces the stored test AUC');
SELECT is((healthml.evaluate('stays', 'public.stays') ->> 'n')::int, 2000, 'evaluate counts every labelled row');
SELECT ok((SELECT (healthml.evaluate('stays', 'test_rows') -> 'confusion') ?& ARRAY['tp', 'fp', 'tn', 'fn']), 'with a confusion matrix');

SELECT is((SELECT (fpr, tpr) FROM healthml.roc_curve('stays', 'test_rows') ORDER BY threshold DESC LIMIT 1),
          (0::float8, 0::float8), 'the ROC curve starts at (0, 0)');
SELECT is((SELECT (fpr, tpr) FROM healthml.roc_curve('stays', 'test_rows') ORDER BY threshold LIMIT 1),
          (1::float8, 1::float8), 'and ends at (1, 1)');
SELECT ok((SELECT abs(sum((fpr - lag_fpr) * (tpr + lag_tpr) / 2) - (healthml.evaluate('stays', 'test_rows') ->> 'auc')::float8) < 1e-9
           FROM (SELECT fpr, tpr, lag(fpr) OVER w AS lag_fpr, lag(tpr) OVER w AS lag_tpr
                 FROM healthml.roc_curve('stays', 'test_rows') WINDOW w AS (ORDER BY threshold DESC)) c),
          'the trapezoids under the ROC points add up to the AUC');
SELECT ok((SELECT bool_and(precision BETWEEN 0 AND 1 AND recall BETWEEN 0 AND 1) FROM healthml.pr_curve('stays', 'test_rows')),
          'precision and recall are proportions');
SELECT is((SELECT sum(n)::int FROM healthml.calibration_curve('stays', 'test_rows')),
          (SELECT count(*)::int FROM test_rows), 'calibration bins hold every row');
SELECT is((SELECT count(*) FROM healthml.calibration_curve('stays', 'test_rows', 5)), 5::bigint, 'bins is an argument');
SELECT throws_ok($$SELECT * FROM healthml.calibration_curve('stays', 'test_rows', 0)$$, '22023', NULL, 'bins must be positive');
CREATE TEMP TABLE no_target AS SELECT stay_id, visits FROM public.stays;
SELECT throws_ok($$SELECT healthml.evaluate('stays', 'no_target')$$, '42703', NULL, 'a relation without the target is refused');
SELECT throws_ok($$SELECT healthml.evaluate('nope', 'test_rows')$$, '42704', NULL, 'an unknown model is refused');

-- 95 % intervals: patients resampled (the model's group_by), seeded, deterministic
CREATE TEMP TABLE ev AS SELECT healthml.evaluate('stays', 'test_rows', '{"resamples": 300, "seed": 3}') AS e;
SELECT ok((SELECT bool_and((e #>> ARRAY['intervals', f, 'low'])::float8 <= (e #>> ARRAY['intervals', f, 'estimate'])::float8
                       AND (e #>> ARRAY['intervals', f, 'estimate'])::float8 <= (e #>> ARRAY['intervals', f, 'high'])::float8)
           FROM ev, unnest(ARRAY['auc', 'average_precision', 'brier', 'calibration_intercept', 'calibration_slope']) f),
          'every figure''s interval holds its estimate');
SELECT is((SELECT (e #>> '{intervals,auc,estimate}')::float8 FROM ev), (SELECT (e ->> 'auc')::float8 FROM ev), 'the estimate is the AUC');
SELECT is((SELECT e #>> '{intervals,grouped_by}' FROM ev), 'patient_id', 'by default the model''s group_by column is resampled');
SELECT is((SELECT (e #>> '{intervals,groups}')::int FROM ev), (SELECT count(DISTINCT patient_id)::int FROM test_rows), 'one group per patient');
SELECT is(healthml.evaluate('stays', 'test_rows', '{"resamples": 300, "seed": 3}'), (SELECT e FROM ev), 'the same seed gives the same intervals');
SELECT isnt(healthml.evaluate('stays', 'test_rows', '{"resamples": 300, "seed": 4}') -> 'intervals', (SELECT e -> 'intervals' FROM ev),
            'another seed, other resamples');
SELECT ok((SELECT (e ->> 'calibration_slope')::float8 BETWEEN 0.5 AND 1.5 FROM ev), 'the calibration slope of a fitted logistic model is near 1');
SELECT ok(NOT healthml.evaluate('stays', 'test_rows', '{"resamples": 0}') ? 'intervals', 'resamples 0: no intervals');
SELECT throws_ok($$SELECT healthml.evaluate('stays', 'test_rows', '{"group_by": "nope"}')$$, '42703', NULL, 'an unknown group column');
SELECT throws_ok($$SELECT healthml.evaluate('stays', 'test_rows', '{"resamples": -1}')$$, '22023', NULL, 'a negative number of resamples');

-- the logistic inference table
SELECT is((SELECT feature FROM healthml.coefficients('stays') LIMIT 1), '(intercept)', 'coefficients start with the intercept');
SELECT ok((SELECT coefficient > 0 AND p_value < 0.001 AND abs(odds_ratio - exp(coefficient)) < 1e-12 AND abs(z - coefficient / std_error) < 1e-9
           FROM healthml.coefficients('stays') WHERE feature = 'visits'), 'visits: positive, significant, odds ratio exp(b), z = b / se');
SELECT is((SELECT count(*) FROM healthml.coefficients('stays', 1)), (SELECT cardinality(features) + 1 FROM healthml.models WHERE name = 'stays')::bigint,
          'one row per feature plus the intercept');
SELECT throws_ok($$SELECT * FROM healthml.coefficients('stays', 99)$$, '42704', NULL, 'an unknown version is refused');

-- predict_by_id scores with one model whatever is deployed
SELECT is(healthml.predict_by_id((SELECT model_id FROM trained), '{"visits": 2}'), healthml.predict('stays', '{"visits": 2}'),
          'predict_by_id equals predict of the deployed model');

-- batch scoring
CALL healthml.score_batch('stays', 'public.stays', 'stay_id', 'public.stay_scores');
SELECT is((SELECT count(*) FROM public.stay_scores), 2000::bigint, 'one score per row');
SELECT is((SELECT count(*) FROM public.stay_scores s JOIN public.stays t USING (stay_id)
           WHERE s.score <> healthml.predict('stays', to_jsonb(t))), 0::bigint, 'equal to predict row by row');
CALL healthml.score_batch('stays', 'public.stays', 'stay_id', 'public.stay_scores');
SELECT is((SELECT count(*) FROM public.stay_scores), 2000::bigint, 'rerunning replaces by key: still one row per key');
CALL healthml.score_batch('stays', 'public.stays', 'stay_id', 'public.stay_history', 'append');
CALL healthml.score_batch('stays', 'public.stays', 'stay_id', 'public.stay_history', 'append');
SELECT is((SELECT count(*) FROM public.stay_history), 4000::bigint, 'append keeps every run');
-- batch scoring with the reasons of each score (nightly scores and explanations written back)
CALL healthml.score_batch('stays', 'public.stays', 'stay_id', 'public.stay_reasons', top_k => 2);
SELECT is((SELECT count(*) FROM public.stay_reasons WHERE jsonb_array_length(reasons) = 2), 2000::bigint, 'every row gets its top 2 reasons');
SELECT is((SELECT count(*) FROM public.stay_reasons r JOIN public.stays t USING (stay_id)
           WHERE r.reasons IS DISTINCT FROM (SELECT jsonb_agg(jsonb_build_object('feature', e.feature, 'value', e.value, 'contribution', e.contribution) ORDER BY e.n)
                                             FROM healthml.explain_row_by_id(r.model_id, t, 2) WITH ORDINALITY AS e(feature, value, contribution, n))),
          0::bigint, 'the reasons are those of the pinned model, largest first');
CALL healthml.score_batch('stays', 'public.stays', 'stay_id', 'public.stay_reasons', top_k => 1);
SELECT is((SELECT count(*) FROM public.stay_reasons WHERE jsonb_array_length(reasons) = 1), 2000::bigint, 'rerunning replaces the reasons too');
SELECT throws_ok($$CALL healthml.score_batch('stays', 'public.stays', 'stay_id', 'public.stay_scores', top_k => 3)$$, '42703', NULL,
                 'reasons into an existing table without a reasons column are refused');
SELECT throws_ok($$CALL healthml.score_batch('stays', 'public.stays', 'stay_id', 'public.y', top_k => 0)$$, '22023', NULL, 'top_k 0 is refused');
SELECT throws_ok($$CALL healthml.score_batch('stays', 'public.stays', 'no_such_key', 'public.x')$$, '42703', NULL,
                 'an unknown key column is refused');
SELECT throws_ok($$CALL healthml.score_batch('stays', 'public.stays', 'stay_id', 'public.x', 'upsert')$$, '22023', NULL,
                 'an unknown mode is refused');
SELECT throws_ok($$CALL healthml.score_batch('stays', 'public.stays', 'stay_id', 'x; DROP TABLE public.stays')$$, '22023', NULL,
                 'a target name that is not an identifier is refused, not executed');
-- a new target table is created from the scoring query (parallel workers may run it), then keyed:
-- the same columns, types and constraints as a table scored into before
SELECT is((SELECT string_agg(format('%s %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull), ', ' ORDER BY a.attnum)
           FROM pg_attribute a WHERE a.attrelid = 'public.stay_reasons'::regclass AND a.attnum > 0),
          'stay_id integer t, model_id bigint t, model_version integer t, score double precision f, scored_at timestamp with time zone t, reasons jsonb f',
          'a new table has the key, the pinned model, the score, the time and the reasons, NOT NULL where they always are');
SELECT is((SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c WHERE c.conrelid = 'public.stay_scores'::regclass AND c.contype = 'p'),
          'PRIMARY KEY (stay_id)', 'in replace mode the key is the primary key');
SELECT is((SELECT count(*) FROM pg_constraint c WHERE c.conrelid = 'public.stay_history'::regclass AND c.contype = 'p'), 0::bigint,
          'in append mode the key repeats, and is not a primary key');
SELECT is(obj_description('public.stay_reasons'::regclass, 'pg_class'),
          format('Scores of public.stays by model "stays" version %s (healthml.score_batch, mode replace, top 2 reasons); key stay_id.',
                 (SELECT model_version FROM public.stay_reasons LIMIT 1)),
          'a new table says what wrote it: source, model, version, mode and key');
CREATE TABLE public.stays_twice AS SELECT * FROM public.stays UNION ALL SELECT * FROM public.stays WHERE stay_id <= 5;
SELECT throws_ok($$CALL healthml.score_batch('stays', 'public.stays_twice', 'stay_id', 'public.twice_scores')$$, '23505', NULL,
                 'in replace mode, a key that repeats in the source is refused');
SELECT ok(to_regclass('public.twice_scores') IS NULL, 'and no half-made table is left');

SELECT * FROM finish();
ROLLBACK;
