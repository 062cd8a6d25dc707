-- healthml.explain / explain_row / explain_jsonb / what_if: exact additivity for both algorithms,
-- agreement with predict, ranking, determinism, bad input.
BEGIN;
SELECT plan(29);

CREATE TABLE public.stays2 AS
SELECT i AS stay_id, i / 3 AS patient_id, (i * 7 % 6) AS visits, (i % 11) * 1.5 AS lab,
       CASE WHEN i % 5 < 2 THEN 'B' WHEN i % 5 = 2 THEN 'C' ELSE 'A' END AS ward,
       CASE WHEN i % 9 = 0 THEN NULL ELSE (i % 4) END AS admission_id,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-2.0 + 0.5 * (i * 7 % 6) + CASE WHEN i % 5 < 2 THEN 1 ELSE 0 END))) AS outcome
FROM generate_series(1, 3000) i;
CREATE TEMP TABLE lg AS SELECT * FROM healthml.train('stays2', 'public.stays2', 'outcome', 'logistic', '{"group_by": "patient_id", "exclude": ["stay_id"]}');
CREATE TEMP TABLE gb AS SELECT * FROM healthml.train('stays2', 'public.stays2', 'outcome', 'gbdt', '{"group_by": "patient_id", "exclude": ["stay_id"], "hyperparams": {"iterations": 120}}');

-- base + contributions = log-odds, on every row, for each algorithm
CREATE FUNCTION pg_temp.worst_gap() RETURNS float8 LANGUAGE sql AS $$
    SELECT max(abs((x ->> 'base')::float8 + (SELECT sum((c ->> 'contribution')::float8) FROM jsonb_array_elements(x -> 'contributions') c)
                   - (x ->> 'raw_score')::float8))
    FROM (SELECT healthml.explain_jsonb('stays2', to_jsonb(s)) AS x FROM public.stays2 s) t $$;
CREATE FUNCTION pg_temp.probability_gap() RETURNS float8 LANGUAGE sql AS $$
    SELECT max(abs((healthml.explain_jsonb('stays2', to_jsonb(s)) ->> 'probability')::float8 - healthml.predict('stays2', to_jsonb(s))))
    FROM public.stays2 s $$;
CREATE TEMP TABLE d1 AS SELECT * FROM healthml.deploy('stays2', 1);
SELECT cmp_ok(pg_temp.worst_gap(), '<', 1e-9::float8, 'logistic: base + contributions = log-odds on all 3000 rows');
SELECT cmp_ok(pg_temp.probability_gap(), '<', 1e-12::float8, 'logistic: the explained probability is the predicted one');
CREATE TEMP TABLE d2 AS SELECT * FROM healthml.deploy('stays2', 2);
SELECT cmp_ok(pg_temp.worst_gap(), '<', 1e-6::float8, 'gbdt (TreeSHAP): base + contributions = log-odds on all 3000 rows');
SELECT cmp_ok(pg_temp.probability_gap(), '<', 1e-12::float8, 'gbdt: the explained probability is the predicted one');

-- one reason per input column, in the row's own words, largest first
CREATE TEMP TABLE r AS SELECT * FROM healthml.explain('stays2', '{"visits": 5, "lab": 3, "ward": "B", "admission_id": 2}', 10) WITH ORDINALITY AS x(feature, value, contribution, rank);
SELECT is((SELECT array_agg(feature ORDER BY feature) FROM r), ARRAY['admission_id', 'lab', 'visits', 'ward'], 'one reason per input column (one-hot levels summed back)');
SELECT is((SELECT value FROM r WHERE feature = 'ward'), 'B', 'the value is the row''s own');
SELECT ok((SELECT bool_and(abs(contribution) >= abs(coalesce(next, 0))) FROM (SELECT contribution, lead(contribution) OVER (ORDER BY rank) AS next FROM r) t),
          'largest magnitude first');
SELECT is((SELECT count(*) FROM healthml.explain('stays2', '{"visits": 5}', 2)), 2::bigint, 'top_k limits the reasons');
SELECT is((SELECT count(*) FROM healthml.explain('stays2', '{"visits": 5}')), 4::bigint, 'the default top_k of 5 gives every reason of a 4-input model');
SELECT is((SELECT array_agg(x::text ORDER BY x::text) FROM healthml.explain('stays2', '{"visits": 5, "ward": "C"}') x),
          (SELECT array_agg(x::text ORDER BY x::text) FROM healthml.explain('stays2', '{"visits": 5, "ward": "C"}') x), 'deterministic');
SELECT is((SELECT count(*) FROM public.stays2 s, LATERAL (SELECT array_agg(e ORDER BY e::text) a FROM healthml.explain_row('stays2', s) e) x,
                                                LATERAL (SELECT array_agg(e ORDER BY e::text) a FROM healthml.explain('stays2', to_jsonb(s)) e) y
           WHERE s.stay_id % 10 = 0 AND x.a IS DISTINCT FROM y.a), 0::bigint, 'explain_row equals explain on the same row as jsonb');

-- what-if
CREATE TEMP TABLE w AS SELECT * FROM healthml.what_if('stays2', '{"visits": 5, "ward": "B", "lab": 3}', '{"visits": 0, "ward": "A"}', 3);
SELECT is((SELECT score_before FROM w), healthml.predict('stays2', '{"visits": 5, "ward": "B", "lab": 3}'), 'score before is the row''s score');
SELECT is((SELECT score_after FROM w), healthml.predict('stays2', '{"visits": 0, "ward": "A", "lab": 3}'), 'score after is the changed row''s score');
SELECT ok((SELECT change = score_after - score_before AND change < 0 FROM w), 'the change, here lower risk');
SELECT is((SELECT jsonb_array_length(reasons_after) FROM w), 3, 'with the top reasons of the new score');
SELECT is((SELECT score_after FROM healthml.what_if('stays2', '{"visits": 5, "ward": "B"}', '{"ward": null}')),
          healthml.predict('stays2', '{"visits": 5}'), 'a null change makes the value missing');

-- global importance, stored at training
SELECT is((SELECT array_agg(feature ORDER BY feature) FROM healthml.feature_importance('stays2', 1)),
          ARRAY['admission_id', 'lab', 'visits', 'ward'], 'one importance row per input column');
SELECT ok((SELECT feature IN ('visits', 'ward') FROM healthml.feature_importance('stays2', 2) LIMIT 1), 'the signal columns rank first');
SELECT ok((SELECT bool_and(gain_share IS NOT NULL AND max_abs_coefficient IS NULL AND rows_sampled > 0) FROM healthml.feature_importance('stays2', 2)),
          'gbdt: gain shares, on a sample of validation rows');
SELECT ok((SELECT bool_and(max_abs_coefficient IS NOT NULL AND gain_share IS NULL) FROM healthml.feature_importance('stays2', 1)),
          'logistic: largest |coefficient| per column');
SELECT throws_ok($$SELECT * FROM healthml.feature_importance('stays2', 9)$$, '42704', NULL, 'an unknown version');

-- bad input
SELECT throws_ok($$SELECT * FROM healthml.explain('stays2', '{"visits": 1}', 0)$$, '22023', 'top_k must be at least 1, got 0', 'top_k <= 0');
SELECT throws_ok($$SELECT * FROM healthml.what_if('stays2', '{"visits": 1}', '{"vists": 0}')$$, '42703', NULL, 'a change to an unknown column');
SELECT throws_ok($$SELECT * FROM healthml.what_if('stays2', '{"visits": 1}', '[1, 2]')$$, '22023', NULL, 'changes that are not an object');
SELECT throws_ok($$SELECT * FROM healthml.what_if('stays2', '{"visits": 1}', '{"visits": "many"}')$$, '22P02', NULL, 'a change of the wrong type');
SELECT throws_ok($$SELECT * FROM healthml.explain('nope', '{}')$$, '42704', NULL, 'an unknown model');
SELECT throws_ok($$SELECT * FROM public.stays2 s, healthml.explain_row_by_id((SELECT model_id FROM gb), s, 0)$$, '22023', NULL,
                 'explain_row_by_id: top_k <= 0');
SELECT throws_ok($$SELECT * FROM public.stays2 s, healthml.explain_row_by_id(-1, s)$$, '42704', NULL, 'explain_row_by_id: an unknown model id');
SELECT throws_ok($$SELECT * FROM healthml.explain_row('stays2', 7)$$, '42804', NULL, 'explain_row: a value that is not a row');

SELECT * FROM finish();
ROLLBACK;
