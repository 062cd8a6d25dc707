-- healthml.train / deploy / rollback / drop_model / predict and the registry, on a small synthetic
-- table with a known signal; bad input with SQLSTATEs.
BEGIN;
SELECT plan(34);

-- risk rises with visits and in ward B; patients have several stays
CREATE TABLE public.stays AS
SELECT i AS stay_id, i / 3 AS patient_id,
       (i * 7 % 6) AS visits,
       CASE WHEN i % 5 < 2 THEN 'B' ELSE 'A' END AS ward,
       CASE WHEN i % 11 = 0 THEN NULL ELSE (i % 13) END AS noise,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-2.0 + 0.5 * (i * 7 % 6) + CASE WHEN i % 5 < 2 THEN 1 ELSE 0 END))) AS outcome
FROM generate_series(1, 3000) i;

CREATE TEMP TABLE t1 AS SELECT * FROM healthml.train('stay_risk', 'public.stays', 'outcome', 'logistic',
    '{"group_by": "patient_id", "exclude": ["stay_id"], "seed": 7, "tags": ["test"], "description": "synthetic"}');
SELECT is((SELECT (name, version, algorithm) FROM t1), ('stay_risk'::text, 1, 'logistic'::text), 'train returns name, version 1, algorithm');
SELECT ok((SELECT test_auc > 0.65 FROM t1), 'logistic learns the signal (test AUC > 0.65)');
SELECT ok((SELECT metrics ? 'test' AND metrics -> 'test' ?& ARRAY['n', 'positives', 'auc', 'average_precision', 'brier', 'log_loss', 'confusion'] FROM t1),
          'stored metrics: n, positives, AUC, AP, Brier, log loss, confusion matrix');
SELECT is((SELECT (m.train_rows + m.test_rows)::int FROM healthml.models m WHERE m.name = 'stay_risk'), 3000, 'every row is used for training or testing');
SELECT is((SELECT features @> ARRAY['visits', 'ward=A'] AND NOT features && ARRAY['stay_id', 'patient_id', 'outcome'] FROM healthml.models WHERE name = 'stay_risk'),
          true, 'features exclude the key, the group and the target');
SELECT is((SELECT (created_by, tags, description, format_version, length(payload_sha256)) FROM healthml.models WHERE name = 'stay_risk'),
          (current_user::name, ARRAY['test'], 'synthetic'::text, 2, 64), 'metadata, format version and sha256 are stored');

CREATE TEMP TABLE t2 AS SELECT * FROM healthml.train('stay_risk', 'public.stays', 'outcome', 'gbdt',
    '{"group_by": "patient_id", "exclude": ["stay_id"], "seed": 7, "hyperparams": {"iterations": 200}}');
SELECT is((SELECT version FROM t2), 2, 'a second training is version 2');
SELECT ok((SELECT test_auc > 0.65 FROM t2), 'gbdt learns the signal too');
CREATE TEMP TABLE t3 AS SELECT * FROM healthml.train('stay_risk', 'public.stays', 'outcome', 'gbdt',
    '{"group_by": "patient_id", "exclude": ["stay_id"], "seed": 7, "hyperparams": {"iterations": 200}}');
SELECT is((SELECT payload_sha256 FROM healthml.models WHERE name = 'stay_risk' AND version = 3),
          (SELECT payload_sha256 FROM healthml.models WHERE name = 'stay_risk' AND version = 2),
          'the same data, options and seed give a byte-identical payload');
SELECT is((SELECT data_fingerprint FROM healthml.models WHERE version = 3 AND name = 'stay_risk'),
          (SELECT data_fingerprint FROM healthml.models WHERE version = 1 AND name = 'stay_risk'), 'and the same data fingerprint');

-- deploy, predict, redeploy in the same session, rollback, history
SELECT throws_ok($$SELECT healthml.predict('stay_risk', '{"visits": 3}')$$, '42704', 'model "stay_risk" is not deployed',
                 'predicting before any deployment is refused');
SELECT is((SELECT deployed_version FROM healthml.deploy('stay_risk', 1)), 1, 'deploy version 1');
CREATE TEMP TABLE p1 AS SELECT healthml.predict('stay_risk', '{"visits": 5, "ward": "B"}') AS p;
SELECT ok((SELECT p > healthml.predict('stay_risk', '{"visits": 0, "ward": "A"}') FROM p1), 'more visits in ward B score higher');
SELECT ok((SELECT p > 0 AND p < 1 FROM p1), 'a probability');
SELECT is(healthml.predict('stay_risk', '{"visits": 5, "ward": "B", "stay_id": 1, "outcome": true}'), (SELECT p FROM p1),
          'key, group and target columns in the row are ignored');
SELECT is((SELECT deployed_version FROM healthml.deploy('stay_risk', 2)), 2, 'deploy version 2');
SELECT isnt(healthml.predict('stay_risk', '{"visits": 5, "ward": "B"}'), (SELECT p FROM p1),
            'the next statement in the same session scores with the new deployment');
SELECT is((SELECT deployed_version FROM healthml.rollback('stay_risk')), 1, 'rollback returns to version 1');
SELECT is(healthml.predict('stay_risk', '{"visits": 5, "ward": "B"}'), (SELECT p FROM p1), 'and scores like version 1 again');
SELECT is((SELECT array_agg(version ORDER BY id) FROM healthml.deployments WHERE name = 'stay_risk'), ARRAY[1, 2, 1],
          'the deployment history keeps every step');
SELECT ok((SELECT bool_and(deployed_by = current_user) FROM healthml.deployments WHERE name = 'stay_risk'), 'and who did it');
SELECT is((SELECT (versions, deployed_version) FROM healthml.model_registry WHERE name = 'stay_risk'), (3::bigint, 1),
          'the registry shows 3 versions, version 1 deployed');
SELECT is((SELECT deployed_version FROM healthml.deploy('stay_risk')), (SELECT version FROM healthml.models WHERE name = 'stay_risk'
           ORDER BY (metrics #>> '{test,auc}')::float8 DESC, version DESC LIMIT 1), 'deploy without a version picks the best test AUC');
SELECT throws_ok($$UPDATE healthml.deployments SET version = 9$$, '55000', NULL, 'the deployment history cannot be rewritten');

-- drop
SELECT throws_ok(format('SELECT healthml.drop_model(%L, %s)', 'stay_risk',
                        (SELECT deployed_version FROM healthml.model_registry WHERE name = 'stay_risk')::text), '55006', NULL,
                 'the deployed version cannot be dropped');
SELECT ok(healthml.drop_model('stay_risk', (SELECT min(version) FROM healthml.models WHERE name = 'stay_risk'
                                              AND version <> (SELECT deployed_version FROM healthml.model_registry WHERE name = 'stay_risk'))),
          'another version can');

-- bad input
SELECT throws_ok($$SELECT * FROM healthml.train('x', 'public.stays', 'nope', 'logistic')$$, '42703', NULL, 'an unknown target column');
SELECT throws_ok($$SELECT * FROM healthml.train('x', 'public.stays', 'ward', 'logistic')$$, '22023', NULL,
                 'a text target without "positive"');
SELECT throws_ok($$SELECT * FROM healthml.train('x', 'public.stays', 'ward', 'logistic', '{"positive": "C"}')$$, '22000', NULL,
                 'a target with one class');
SELECT throws_ok($$SELECT * FROM healthml.train('x', 'public.stays', 'outcome', 'forest')$$, '22023', 'unknown algorithm "forest"',
                 'an unknown algorithm');
SELECT throws_ok($$SELECT * FROM healthml.train('x', 'public.stays', 'outcome', 'logistic', '{"test_where": "true; DROP TABLE public.stays"}')$$,
                 '22023', NULL, 'a test_where with a second statement is refused');
SELECT throws_ok($$SELECT * FROM healthml.train('x', 'public.stays', 'outcome', 'logistic', '{"test_where": "stay_id > (SELECT 1"}')$$,
                 '42601', NULL, 'a test_where that is not a condition is a syntax error, nothing runs');
SELECT throws_ok($$SELECT healthml.predict('nope', '{}')$$, '42704', 'model "nope" does not exist', 'an unknown model');
SELECT throws_ok($$SELECT healthml.predict('stay_risk', '{"visitz": 1}')$$, '42703', NULL, 'an unknown feature key');

SELECT * FROM finish();
ROLLBACK;
