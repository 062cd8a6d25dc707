-- Roles: an analyst scores and explains but cannot read payloads or training options, train, deploy
-- or run monitoring; an admin trains only on what they can read; changes record who made them.
BEGIN;
SELECT plan(21);

CREATE TABLE public.discharges AS
SELECT i AS discharge_id, i / 2 AS patient_id, (abs(hashint4(i * 3)) % 10000) / 100.0 AS severity,
       CASE WHEN i % 4 = 0 THEN 'rehab' ELSE 'home' END AS destination,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0)))) AS readmitted
FROM generate_series(1, 3000) i;
CREATE TEMP TABLE m AS SELECT * FROM healthml.train('discharge_risk', 'public.discharges', 'readmitted', 'gbdt',
                                                    '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
CREATE TEMP TABLE d AS SELECT * FROM healthml.deploy('discharge_risk');
CREATE ROLE hm_test_alice LOGIN IN ROLE healthml_analyst;
CREATE ROLE hm_test_bob LOGIN IN ROLE healthml_admin;
CREATE ROLE hm_test_carol LOGIN;
GRANT SELECT ON public.discharges TO hm_test_alice;
GRANT CREATE, USAGE ON SCHEMA public TO hm_test_bob;

SELECT ok(EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'healthml_admin') AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'healthml_analyst'),
          'the extension creates both roles');

-- the analyst
SET ROLE hm_test_alice;
SELECT ok(healthml.predict('discharge_risk', '{"severity": 80, "destination": "rehab"}') BETWEEN 0 AND 1, 'an analyst scores');
SELECT ok((SELECT count(*) FROM healthml.explain('discharge_risk', '{"severity": 80, "destination": "rehab"}')) = 2, 'and explains');
SELECT ok((SELECT (healthml.evaluate('discharge_risk', 'public.discharges') ->> 'auc')::float8 > 0.6), 'and evaluates on a table they can read');
SELECT is((SELECT count(*) FROM healthml.model_registry WHERE name = 'discharge_risk'), 1::bigint, 'and reads the registry');
SELECT ok((SELECT metrics ? 'test' FROM healthml.models WHERE name = 'discharge_risk'), 'and test metrics');
SELECT throws_ok($$SELECT payload FROM healthml.models$$, '42501', NULL, 'but not payloads');
SELECT throws_ok($$SELECT options FROM healthml.models$$, '42501', NULL, 'nor training options');
SELECT throws_ok($$SELECT reference FROM healthml.models$$, '42501', NULL, 'nor training distributions');
SELECT throws_ok($$SELECT healthml.train('x', 'public.discharges', 'readmitted', 'logistic')$$, '42501', NULL, 'an analyst cannot train');
SELECT throws_ok($$SELECT healthml.deploy('discharge_risk', 1)$$, '42501', NULL, 'nor deploy');
SELECT throws_ok($$SELECT healthml.drop_model('discharge_risk', 1)$$, '42501', NULL, 'nor drop');
SELECT throws_ok($$CALL healthml.retrain('discharge_risk')$$, '42501', NULL, 'nor retrain');
SELECT throws_ok($$INSERT INTO healthml.deployments (name, model_id, version, reason) VALUES ('discharge_risk', 1, 1, 'sneaky')$$,
                 '42501', NULL, 'nor write the deployment history directly');
SELECT throws_ok($$SELECT * FROM healthml.drift('discharge_risk', 'public.discharges')$$, '42501', NULL, 'nor write monitoring reports');
RESET ROLE;

-- someone with neither role
SET ROLE hm_test_carol;
SELECT throws_ok($$SELECT healthml.predict('discharge_risk', '{"severity": 80}')$$, '42501', NULL, 'without a role, no scoring');
RESET ROLE;

-- the admin
SET ROLE hm_test_bob;
SELECT throws_ok($$SELECT * FROM healthml.train('bob_model', 'public.discharges', 'readmitted', 'logistic', '{"exclude": ["discharge_id"]}')$$,
                 '42501', NULL, 'an admin cannot train on a table they cannot read');
RESET ROLE;
GRANT SELECT ON public.discharges TO hm_test_bob;
SET ROLE hm_test_bob;
CREATE TEMP TABLE bob_model AS SELECT * FROM healthml.train('bob_model', 'public.discharges', 'readmitted', 'logistic',
                                                            '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
CREATE TEMP TABLE bob_deploy AS SELECT * FROM healthml.deploy('bob_model', reason => 'first version');
SELECT ok((SELECT payload IS NOT NULL FROM healthml.models WHERE name = 'bob_model'), 'an admin reads payloads');
RESET ROLE;
SELECT is((SELECT created_by::text FROM healthml.models WHERE name = 'bob_model'), 'hm_test_bob', 'the model records who trained it');
SELECT is((SELECT deployed_by::text FROM healthml.deployments WHERE name = 'bob_model'), 'hm_test_bob', 'the deployment records who deployed it');

-- the elevation to read a payload does not leak: after scoring, the analyst is still the analyst
SET ROLE hm_test_alice;
SELECT is((SELECT current_user::text FROM (SELECT healthml.predict('bob_model', '{"severity": 10}')) s), 'hm_test_alice',
          'scoring returns to the caller''s identity');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
