-- AutoML: healthml.train(..., 'auto'), its guardrails, budget, leaderboard and the comparison view;
-- target encoding for hand-trained models.
BEGIN;
SELECT plan(40);

-- Risk rises with severity and the rehab destination, and sharply for old patients sent to rehab (an
-- interaction only trees see).
CREATE TABLE public.discharges AS
SELECT i AS discharge_id, i / 2 AS patient_id, (abs(hashint4(i * 3)) % 10000) / 100.0 AS severity,
       40 + abs(hashint4(i * 5)) % 50 AS age,
       CASE WHEN i % 4 = 0 THEN 'rehab' ELSE 'home' END AS destination,
       'ward ' || (abs(hashint4(i * 7)) % 150) AS ward,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.03 * ((abs(hashint4(i * 3)) % 10000) / 100.0)
                                                      + CASE WHEN i % 4 = 0 THEN 0.5 ELSE 0 END
                                                      + CASE WHEN i % 4 = 0 AND 40 + abs(hashint4(i * 5)) % 50 > 75 THEN 1.5 ELSE 0 END))) AS readmitted
FROM generate_series(1, 4000) i;

-- bad input first: nothing is stored
SELECT throws_ok($$SELECT * FROM healthml.train('d', 'public.discharges', 'readmitted', 'auto', '{"budget_seconds": 0}')$$,
                 '22023', NULL, 'a budget of 0 seconds');
SELECT throws_ok($$SELECT * FROM healthml.train('d', 'public.discharges', 'readmitted', 'auto', '{"budget_seconds": -5}')$$,
                 '22023', NULL, 'a negative budget');
SELECT throws_ok($$SELECT * FROM healthml.train('d', 'public.discharges', 'readmitted', 'auto', '{"budget_seconds": "fast"}')$$,
                 '22023', NULL, 'a budget that is not a number');
SELECT throws_ok($$SELECT * FROM healthml.train('d', 'public.discharges', 'readmitted', 'auto', '{"folds": 1}')$$,
                 '22023', NULL, 'one fold');
SELECT throws_ok($$SELECT * FROM healthml.train('d', 'public.discharges', 'readmitted', 'auto', '{"hyperparams": {"l2": 3}}')$$,
                 '22023', 'AutoML chooses the hyperparameters: option "hyperparams" does not apply', 'hyperparameters are AutoML''s to choose');
SELECT throws_ok($$SELECT * FROM healthml.train('d', 'public.discharges', 'readmitted', 'gbdt', '{"budget_seconds": 30}')$$,
                 '22023', NULL, 'a budget without AutoML');
SELECT throws_ok($$SELECT * FROM healthml.train('d', 'public.discharges', 'readmitted', 'automl')$$,
                 '22023', 'unknown algorithm "automl"', 'an unknown algorithm names the choices');
SELECT throws_ok($$SELECT * FROM healthml.train('d', 'public.discharges', 'readmitted', 'auto', '{"max_score_us": 0}')$$,
                 '22023', NULL, 'a scoring cap of 0 µs');
SELECT throws_ok($$SELECT * FROM healthml.train('d', 'public.discharges', 'readmitted', 'auto', '{"blend_gain_per_cost_doubling": 1}')$$,
                 '22023', NULL, 'a blend rule above 0.1 AUC per doubling');
-- caps no candidate can meet: refused after the search, with the cheapest candidate's figures
SELECT throws_like($$SELECT * FROM healthml.train('d', 'public.discharges', 'readmitted', 'auto',
                                                  '{"group_by": "patient_id", "exclude": ["discharge_id"], "budget_seconds": 600, "max_score_us": 0.000001}')$$,
                   'no AutoML candidate is within the serving caps%', 'caps no candidate meets are refused');
SELECT is((SELECT count(*) FROM healthml.models WHERE name = 'd'), 0::bigint, 'failed calls store nothing');

-- a generous budget: every candidate is cross-validated
CREATE TEMP TABLE auto AS
SELECT * FROM healthml.train('discharge_auto', 'public.discharges', 'readmitted', 'auto',
                             '{"group_by": "patient_id", "exclude": ["discharge_id"], "budget_seconds": 600}');
CREATE TEMP TABLE board AS SELECT * FROM healthml.leaderboard('discharge_auto');
SELECT ok((SELECT algorithm IN ('logistic', 'gbdt', 'ensemble') FROM auto), 'the chosen model is stored under its own algorithm');
SELECT is((SELECT count(*) FROM board WHERE status = 'ranked'), (SELECT (metrics #>> '{automl,candidates}')::bigint FROM auto),
          'every candidate ranked');
SELECT is((SELECT array_agg(rank ORDER BY rank) FROM board WHERE rank IS NOT NULL),
          (SELECT array_agg(i) FROM generate_series(1, (SELECT count(*)::int FROM board WHERE rank IS NOT NULL)) i), 'ranks 1..n');
SELECT ok((SELECT bool_and(a.cv_auc >= b.cv_auc) FROM board a JOIN board b ON b.rank = a.rank + 1), 'ranked by cross-validated AUC');
SELECT is((SELECT count(*) FROM board WHERE chosen), 1::bigint, 'exactly one entry is chosen');
SELECT is((SELECT CASE WHEN status = 'ensemble' THEN 'ensemble' ELSE algorithm END FROM board WHERE chosen), (SELECT algorithm FROM auto),
          'the chosen entry is the stored model');
SELECT ok((SELECT bool_and(cv_auc > 0.6 AND folds_done = 3) FROM board WHERE status = 'ranked'), '3 patient-grouped folds each, all learn');
SELECT ok((SELECT bool_and(score_us > 0 AND explain_ms > 0) FROM board WHERE status = 'ranked'),
          'every ranked candidate records what scoring and explaining a row cost');
SELECT ok((SELECT coalesce(bool_and(abs(e.score_us - (SELECT sum(b.score_us) FROM board b, jsonb_array_elements(e.hyperparams) m
                                                 WHERE b.candidate = m ->> 'candidate')) < 1e-9), true)
           FROM board e WHERE e.algorithm = 'ensemble'), 'a blend costs what its members cost together');
SELECT ok((SELECT 'automl' = ANY(tags) AND metrics ? 'automl' FROM healthml.models WHERE id = (SELECT model_id FROM auto)),
          'tagged and reported as AutoML');
SELECT is((SELECT jsonb_agg(g ->> 'check' ORDER BY g ->> 'check') FILTER (WHERE g ->> 'status' <> 'ok')
           FROM auto, jsonb_array_elements(metrics #> '{automl,guardrails}') g),
          '["high_cardinality"]'::jsonb, 'guardrails: the 150 wards are reported, nothing else is wrong');
SELECT is((SELECT g ->> 'column' FROM auto, jsonb_array_elements(metrics #> '{automl,guardrails}') g WHERE g ->> 'check' = 'leakage_single_column'),
          'severity', 'the strongest single column is named');

-- reproducible: the same data, options and (generous) budget give the same model, to the byte
CREATE TEMP TABLE again AS
SELECT * FROM healthml.train('discharge_auto', 'public.discharges', 'readmitted', 'auto',
                             '{"group_by": "patient_id", "exclude": ["discharge_id"], "budget_seconds": 600}');
SELECT is((SELECT payload_sha256 FROM healthml.models WHERE id = (SELECT model_id FROM again)),
          (SELECT payload_sha256 FROM healthml.models WHERE id = (SELECT model_id FROM auto)), 'deterministic');

-- the deployed AutoML model scores and explains like any other
CREATE TEMP TABLE d AS SELECT * FROM healthml.deploy('discharge_auto', 1);
SELECT is((SELECT count(*) FROM public.discharges x
           WHERE healthml.predict_row('discharge_auto', x) <> healthml.predict('discharge_auto', to_jsonb(x))), 0::bigint,
          'typed rows and jsonb score the same');
SELECT ok((SELECT max(abs((e ->> 'base')::float8 + (SELECT sum((c ->> 'contribution')::float8) FROM jsonb_array_elements(e -> 'contributions') c)
                          - (e ->> 'raw_score')::float8)) < 1e-6
           FROM (SELECT healthml.explain_jsonb('discharge_auto', to_jsonb(x)) AS e FROM public.discharges x WHERE discharge_id <= 200) q),
          'explanations add up to the log-odds');

-- a tiny budget: the first candidate runs, the rest is skipped and said so
CREATE TEMP TABLE quick AS
SELECT * FROM healthml.train('discharge_quick', 'public.discharges', 'readmitted', 'auto',
                             '{"group_by": "patient_id", "exclude": ["discharge_id"], "budget_seconds": 0.001}');
SELECT is((SELECT array_agg(DISTINCT status ORDER BY status) FROM healthml.leaderboard('discharge_quick')),
          ARRAY['ranked', 'skipped: budget'], 'one candidate ranked, the others skipped for the budget');
SELECT is((SELECT algorithm FROM quick), 'logistic', 'the first, cheapest candidate is the model');
SELECT ok((SELECT bool_and(started_after_seconds > 0.001) FROM healthml.automl_leaderboard
           WHERE model_id = (SELECT model_id FROM quick) AND status <> 'ranked'), 'skipped only once the budget was spent');

-- a column that copies the outcome: reported, loudly
CREATE TABLE public.leaky AS SELECT *, readmitted::int * 10 + discharge_id % 3 AS follow_up_code FROM public.discharges;
CREATE TEMP TABLE leak AS
SELECT * FROM healthml.train('leaky', 'public.leaky', 'readmitted', 'auto',
                             '{"group_by": "patient_id", "exclude": ["discharge_id"], "budget_seconds": 0.001}');
SELECT is((SELECT array_agg(g ->> 'check' || ':' || coalesce(g ->> 'column', '') ORDER BY g ->> 'check')
           FROM leak, jsonb_array_elements(metrics #> '{automl,guardrails}') g WHERE g ->> 'status' = 'alert'),
          ARRAY['leakage_model:', 'leakage_single_column:follow_up_code'], 'single-column and model leakage alerts');
-- and, when asked, left out of the search: the model no longer reads it and is plausible again
CREATE TEMP TABLE unleak AS
SELECT * FROM healthml.train('leaky', 'public.leaky', 'readmitted', 'auto',
                             '{"group_by": "patient_id", "exclude": ["discharge_id"], "budget_seconds": 0.001, "exclude_flagged": true}');
SELECT is((SELECT array_agg(g ->> 'check' || ':' || coalesce(g ->> 'column', '') || ':' || (g ->> 'status') ORDER BY g ->> 'check')
           FROM unleak, jsonb_array_elements(metrics #> '{automl,guardrails}') g WHERE g ->> 'check' LIKE 'leakage%'),
          ARRAY['leakage_model::ok', 'leakage_single_column:follow_up_code:excluded'], 'exclude_flagged leaves the leaking column out');
SELECT ok((SELECT 'follow_up_code' <> ALL (features) FROM healthml.models WHERE id = (SELECT model_id FROM unleak)),
          'the model does not read the excluded column');

-- the comparison view: AutoML against a hand-trained model on the same test rows
CREATE TEMP TABLE hand AS
SELECT * FROM healthml.train('discharge_hand', 'public.discharges', 'readmitted', 'logistic',
                             '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
SELECT is((SELECT count(*) FROM healthml.automl_comparison WHERE automl_name = 'discharge_auto' AND automl_version = 1 AND hand_name = 'discharge_hand'),
          1::bigint, 'a hand model on the same split is compared');
SELECT is((SELECT auc_gain FROM healthml.automl_comparison WHERE automl_name = 'discharge_auto' AND automl_version = 1 AND hand_name = 'discharge_hand'),
          (SELECT round(a.test_auc::numeric, 4) - round(h.test_auc::numeric, 4) FROM auto a, hand h), 'with the AUC gain');
CREATE TEMP TABLE other_split AS
SELECT * FROM healthml.train('discharge_other', 'public.discharges', 'readmitted', 'logistic',
                             '{"group_by": "patient_id", "exclude": ["discharge_id"], "seed": 7}');
SELECT is((SELECT count(*) FROM healthml.automl_comparison WHERE hand_name = 'discharge_other'), 0::bigint,
          'a model tested on other rows is not compared');

-- the leaderboard of a model that never ran AutoML, and dropping a version drops its leaderboard
SELECT throws_ok($$SELECT * FROM healthml.leaderboard('discharge_hand')$$, '42704', 'model "discharge_hand" has no AutoML leaderboard',
                 'no leaderboard without AutoML');
SELECT ok(healthml.drop_model('discharge_quick', 1), 'an AutoML version can be dropped');
SELECT ok(NOT EXISTS (SELECT 1 FROM healthml.automl_leaderboard WHERE model_id = (SELECT model_id FROM quick)),
          'the leaderboard goes with its model');

-- target encoding for a hand-trained model: one rate per ward, out of fold while fitting
CREATE TEMP TABLE target_encoded AS
SELECT * FROM healthml.train('discharge_te', 'public.discharges', 'readmitted', 'gbdt',
                             '{"group_by": "patient_id", "exclude": ["discharge_id"], "recipe": {"categorical_encoding": "target"}}');
SELECT is((SELECT array_agg(s ->> 'column' ORDER BY s ->> 'column') FROM healthml.models m, jsonb_array_elements(m.recipe -> 'steps') s
           WHERE m.id = (SELECT model_id FROM target_encoded) AND s ->> 'action' = 'target_rate'), ARRAY['destination', 'ward'],
          'the text columns are encoded by their readmission rates');
SELECT throws_ok($$SELECT * FROM healthml.standardize('public.discharges', '{"categorical_encoding": "target"}')$$, '22023', NULL,
                 'a recipe alone cannot target-encode: it has no target');

SELECT * FROM finish();
ROLLBACK;
