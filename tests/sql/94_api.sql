-- One SQL API (docs/sql-api.md): every public object documents itself (COMMENT ON, for \df+ and
-- \dv+), internal helpers carry a leading underscore, the families take a model by name with a
-- _by_id variant, and 0.1.0's names still work for one release, giving what their replacements give.
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(15);

-- every public function, procedure, aggregate, view, table and type of the schema has a comment
CREATE TEMP TABLE public_objects AS
SELECT 'function ' || p.oid::regprocedure::text AS object, obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc p WHERE p.pronamespace = 'healthml'::regnamespace AND p.proname !~ '^_'
UNION ALL
SELECT 'relation ' || c.oid::regclass::text, obj_description(c.oid, 'pg_class')
FROM pg_class c WHERE c.relnamespace = 'healthml'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
UNION ALL
SELECT 'type ' || t.oid::regtype::text, obj_description(t.oid, 'pg_type')
FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid
WHERE t.typnamespace = 'healthml'::regnamespace AND c.relkind = 'c';
SELECT ok((SELECT count(*) > 60 FROM public_objects), 'the public objects are found');
SELECT is((SELECT string_agg(object, ', ' ORDER BY object) FROM public_objects WHERE coalesce(comment, '') = ''), NULL,
          'every public function, procedure, aggregate, view, table and type has a comment');

-- internal helpers: what only healthml itself calls (trigger functions, aggregate support
-- functions, the helpers of other functions) starts with an underscore
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ')
           FROM pg_proc p
           WHERE p.pronamespace = 'healthml'::regnamespace AND p.proname !~ '^_'
             AND (p.prorettype = 'trigger'::regtype OR p.prorettype = 'internal'::regtype
                  OR 'internal'::regtype = ANY (p.proargtypes))),
          NULL, 'trigger functions and aggregate support functions are internal (leading underscore)');
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ')
           FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
           WHERE p.pronamespace = 'healthml'::regnamespace AND p.proname ~ '^_' AND a.grantee = 0),
          NULL, 'no internal helper is executable by PUBLIC');
-- deprecated names say what replaces them
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ')
           FROM pg_proc p
           WHERE p.pronamespace = 'healthml'::regnamespace
             AND p.oid::regprocedure::text IN ('healthml.explanation(text,jsonb)', 'healthml.decision_threshold(bigint)',
                                               'healthml.compare_models(bigint,bigint)', 'healthml.set_threshold(text,text,regclass)')
             AND obj_description(p.oid, 'pg_proc') !~ '^Deprecated \(removed in 0\.3\.0\): use healthml\.'),
          NULL, 'each deprecated function''s comment names its replacement');

-- the families, by name and by id, and 0.1.0's names against their replacements
CREATE TABLE public.discharges AS SELECT * FROM pg_temp.discharges(3000);
CREATE TEMP TABLE trained AS
SELECT * FROM healthml.train('api_risk', 'public.discharges', 'readmitted', 'logistic', '{"group_by": "patient_id", "exclude": ["discharge_id"]}')
UNION ALL
SELECT * FROM healthml.train('api_risk', 'public.discharges', 'readmitted', 'gbdt',
                             '{"group_by": "patient_id", "exclude": ["discharge_id"], "hyperparams": {"iterations": 40}}');
CREATE TEMP TABLE deployed AS SELECT * FROM healthml.deploy('api_risk', 2);
CREATE TEMP TABLE row1 AS SELECT to_jsonb(d) AS features FROM public.discharges d WHERE discharge_id = 7;

SELECT results_eq($$SELECT * FROM healthml.explain_by_id(healthml.model_version_id('api_risk'), (SELECT features FROM row1), 3)$$,
                  $$SELECT * FROM healthml.explain('api_risk', (SELECT features FROM row1), 3)$$,
                  'explain_by_id of the deployed version is explain');
SELECT isnt((SELECT array_agg(feature ORDER BY feature) FROM healthml.explain_by_id(healthml.model_version_id('api_risk', 1), (SELECT features FROM row1), 3)),
            NULL, 'explain_by_id explains an undeployed version too');
SELECT is(healthml.explanation('api_risk', (SELECT features FROM row1)), healthml.explain_jsonb('api_risk', (SELECT features FROM row1)),
          'explanation (deprecated) is explain_jsonb');

SELECT is(healthml.decision_threshold('api_risk'), healthml.decision_threshold_by_id(healthml.model_version_id('api_risk')),
          'decision_threshold by name is the deployed version''s');
SELECT is(healthml.decision_threshold('api_risk', 1), healthml.decision_threshold_by_id(healthml.model_version_id('api_risk', 1)),
          'and of a version by number');
SELECT is(healthml.decision_threshold(healthml.model_version_id('api_risk', 1)), healthml.decision_threshold('api_risk', 1),
          'decision_threshold(bigint) (deprecated) is decision_threshold_by_id');

CREATE TEMP TABLE by_name AS SELECT healthml.compare_models('api_risk', 1, 2) AS c;
CREATE TEMP TABLE by_id AS SELECT healthml.compare_models_by_id(healthml.model_version_id('api_risk', 1), healthml.model_version_id('api_risk', 2)) AS c;
CREATE TEMP TABLE old_name AS SELECT healthml.compare_models(healthml.model_version_id('api_risk', 1), healthml.model_version_id('api_risk', 2)) AS c;
SELECT is((SELECT c FROM by_name), (SELECT c FROM by_id), 'compare_models by name and version is compare_models_by_id');
SELECT is((SELECT c FROM old_name), (SELECT c FROM by_id), 'compare_models(bigint, bigint) (deprecated) is compare_models_by_id');

CREATE TEMP TABLE new_order AS SELECT * FROM healthml.set_decision_threshold('api_risk', 'public.discharges', 'top_percent=10');
CREATE TEMP TABLE old_order AS SELECT * FROM healthml.set_threshold('api_risk', 'top_percent=10', 'public.discharges');
SELECT results_eq('SELECT * FROM old_order', 'SELECT * FROM new_order',
                  'set_threshold(model, policy, relation) (deprecated) sets what set_decision_threshold(model, relation, policy) sets');
SELECT is((SELECT count(*) FROM healthml.threshold_policies p WHERE p.model_id = healthml.model_version_id('api_risk')), 2::bigint,
          'each call records its policy');

SELECT * FROM finish();
ROLLBACK;
