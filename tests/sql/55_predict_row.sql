-- healthml.predict_row / predict_row_by_id: typed rows scored without jsonb, equal to the jsonb
-- path; row types that change between statements; parallel workers; bad rows. Also the training
-- inputs the registry issue lists (empty relation, quoted names).
BEGIN;
SELECT plan(29);
\ir ../bin/helpers.sql

CREATE TABLE public.visits AS
SELECT i AS visit_id, i / 4 AS patient_id, (i * 7 % 6) AS stays, (i % 9)::numeric(4,1) / 2 AS dose,
       CASE WHEN i % 5 < 2 THEN 'B' ELSE 'A' END AS ward, (i % 3 = 0) AS insured,
       CASE WHEN i % 13 = 0 THEN NULL ELSE (i % 17) END AS noise,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-2.0 + 0.5 * (i * 7 % 6) + CASE WHEN i % 5 < 2 THEN 1 ELSE 0 END))) AS outcome
FROM generate_series(1, 4000) i;

SELECT lives_ok($$CREATE TEMP TABLE lg AS SELECT * FROM healthml.train('visit_risk', 'public.visits', 'outcome', 'logistic', '{"group_by": "patient_id", "exclude": ["visit_id"]}')$$,
                'a logistic model on text, boolean, numeric and NULL-bearing columns');
SELECT lives_ok($$CREATE TEMP TABLE gb AS SELECT * FROM healthml.train('visit_risk', 'public.visits', 'outcome', 'gbdt', '{"group_by": "patient_id", "exclude": ["visit_id"], "hyperparams": {"iterations": 150}}')$$,
                'a gbdt model on the same table');
CREATE TEMP TABLE deployed AS SELECT * FROM healthml.deploy('visit_risk', 2);

-- the row path and the jsonb path agree on every row, for both algorithms
SELECT is((SELECT count(*) FROM public.visits v WHERE healthml.predict_row('visit_risk', v) IS DISTINCT FROM healthml.predict('visit_risk', to_jsonb(v))),
          0::bigint, 'gbdt: predict_row equals predict(to_jsonb(row)) on all 4000 rows');
SELECT is((SELECT count(*) FROM public.visits v
           WHERE healthml.predict_row_by_id((SELECT model_id FROM lg), v) IS DISTINCT FROM healthml.predict_by_id((SELECT model_id FROM lg), to_jsonb(v))),
          0::bigint, 'logistic: predict_row_by_id equals predict_by_id(to_jsonb(row))');
SELECT is(healthml.predict_row('visit_risk', ROW(1, 2, 3, 1.5, 'B', true, NULL, true)::public.visits),
          healthml.predict('visit_risk', '{"stays": 3, "dose": 1.5, "ward": "B", "insured": true}'), 'a ROW(...) cast to the table type scores too');
SELECT is(healthml.predict_row('visit_risk', NULL::public.visits), NULL, 'a NULL row gives NULL');

-- other columns are ignored; a row of another shape must still carry every input
CREATE TEMP VIEW wider AS SELECT v.*, 'extra'::text AS comment FROM public.visits v;
SELECT is((SELECT count(*) FROM wider w WHERE healthml.predict_row('visit_risk', w) <> healthml.predict('visit_risk', to_jsonb(w) - 'comment')),
          0::bigint, 'columns the model does not know are ignored');
SELECT throws_ok($$SELECT healthml.predict_row('visit_risk', t) FROM (SELECT visit_id, stays FROM public.visits) t$$, '42703', NULL,
                 'a row without one of the model''s inputs is refused');
SELECT throws_ok($$SELECT healthml.predict_row('visit_risk', t) FROM (SELECT visit_id, stays::text AS stays, dose, ward, insured, noise FROM public.visits) t$$,
                 '42804', NULL, 'a text column where the model reads a number is refused');
SELECT throws_ok($$SELECT healthml.predict_row('visit_risk', 42)$$, '42804', NULL, 'a value that is not a row is refused');
SELECT throws_ok($$SELECT healthml.predict_row('nope', v) FROM public.visits v LIMIT 1$$, '42704', 'model "nope" does not exist', 'an unknown model');
SELECT throws_ok($$SELECT healthml.predict_row_by_id(-1, v) FROM public.visits v LIMIT 1$$, '42704', NULL, 'an unknown model id');

-- the row type changes between statements of one session: the new shape is read, not a stale plan
CREATE TEMP TABLE before_change AS SELECT visit_id, healthml.predict_row('visit_risk', v) AS p FROM public.visits v;
DROP VIEW wider;
ALTER TABLE public.visits DROP COLUMN stays;
ALTER TABLE public.visits ADD COLUMN stays integer;
UPDATE public.visits SET stays = visit_id * 7 % 6;
SELECT is((SELECT count(*) FROM public.visits v JOIN before_change b USING (visit_id) WHERE healthml.predict_row('visit_risk', v) <> b.p),
          0::bigint, 'after a column is dropped and added back at another position, scores are unchanged');

-- parallel workers score (the function is PARALLEL SAFE and reads the deployment read-only)
CREATE TEMP TABLE serial_sum AS SELECT sum(healthml.predict_row('visit_risk', v)) AS s FROM public.visits v;
SELECT pg_temp.force_parallel();
SELECT matches(pg_temp.plan_of($$SELECT sum(healthml.predict_row('visit_risk', v)) FROM public.visits v$$), 'Workers Launched: [12]',
               'a forced parallel plan launches workers');
SELECT ok(pg_temp.rel_close((SELECT sum(healthml.predict_row('visit_risk', v)) FROM public.visits v), (SELECT s FROM serial_sum)),
          'and scores the same rows as the serial plan');
RESET ALL;

-- predict_by_key: the row of a table found through its primary key's index scores as predict_row
-- scores it, sees what the statement sees, and is read with the caller's rights
ALTER TABLE public.visits ADD PRIMARY KEY (visit_id);
SELECT is((SELECT count(*) FROM public.visits v
           WHERE healthml.predict_by_key('visit_risk', 'public.visits', v.visit_id) IS DISTINCT FROM healthml.predict_row('visit_risk', v)),
          0::bigint, 'predict_by_key equals predict_row on all 4000 rows');
SELECT is(healthml.predict_by_key('visit_risk', 'public.visits', 40001), NULL, 'a key no row has gives NULL');
UPDATE public.visits SET stays = 5, ward = 'B' WHERE visit_id = 17;
SELECT is(healthml.predict_by_key('visit_risk', 'public.visits', 17), (SELECT healthml.predict_row('visit_risk', v) FROM public.visits v WHERE visit_id = 17),
          'a row changed in this transaction is read as changed');
CREATE ROLE hm_keyed_reader IN ROLE healthml_analyst;
SET ROLE hm_keyed_reader;
SELECT throws_ok($$SELECT healthml.predict_by_key('visit_risk', 'public.visits', 17)$$, '42501', 'permission denied for table public.visits',
                 'a role that may not SELECT the table may not score its rows by key');
RESET ROLE;
GRANT SELECT ON public.visits TO hm_keyed_reader;
SET ROLE hm_keyed_reader;
SELECT is(healthml.predict_by_key('visit_risk', 'public.visits', 17) IS NOT NULL, true, 'with SELECT on the table it may');
RESET ROLE;
ALTER TABLE public.visits ENABLE ROW LEVEL SECURITY;
CREATE POLICY even_visits ON public.visits FOR SELECT USING (visit_id % 2 = 0);
SET ROLE hm_keyed_reader;
SELECT throws_ok($$SELECT healthml.predict_by_key('visit_risk', 'public.visits', 18)$$, '0A000', NULL,
                 'a table under row-level security is refused: only a query applies its policies');
RESET ROLE;
ALTER TABLE public.visits DISABLE ROW LEVEL SECURITY;
SET LOCAL max_parallel_workers_per_gather = 2; SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0; SET LOCAL min_parallel_table_scan_size = 0;
SELECT is((SELECT count(*) FROM public.visits v
           WHERE healthml.predict_by_key('visit_risk', 'public.visits', v.visit_id) IS DISTINCT FROM healthml.predict_row('visit_risk', v)),
          0::bigint, 'and in parallel workers');
RESET max_parallel_workers_per_gather; RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;

-- stored payloads are verified when a backend first loads them
CREATE TEMP TABLE tampered AS SELECT model_id FROM healthml.train('tampered', 'public.visits', 'outcome', 'logistic', '{"group_by": "patient_id"}');
UPDATE healthml.models SET payload = set_byte(payload, length(payload) - 1, get_byte(payload, length(payload) - 1) # 1)
WHERE id = (SELECT model_id FROM tampered);
SELECT throws_ok($$SELECT healthml.predict_by_id((SELECT model_id FROM tampered), '{}')$$, 'XX001', NULL,
                 'a payload whose bytes no longer match its sha256 is refused');
CREATE TEMP TABLE future AS SELECT model_id FROM healthml.train('future', 'public.visits', 'outcome', 'logistic', '{"group_by": "patient_id"}');
UPDATE healthml.models SET payload = set_byte(payload, 4, 99) WHERE id = (SELECT model_id FROM future);
UPDATE healthml.models SET payload_sha256 = encode(sha256(payload), 'hex') WHERE id = (SELECT model_id FROM future);
SELECT throws_ok($$SELECT healthml.predict_by_id((SELECT model_id FROM future), '{}')$$, 'XX001',
                 'model payload format_version 99 is unknown to this healthml (it reads formats 1 to 2)',
                 'a payload of an unknown format_version is refused, even with a matching sha256');

-- training inputs from the registry issue
CREATE TABLE public.empty_visits (LIKE public.visits);
SELECT throws_ok($$SELECT * FROM healthml.train('e', 'public.empty_visits', 'outcome', 'logistic')$$, '22000', NULL, 'an empty relation is refused');
SELECT throws_ok($$SELECT * FROM healthml.train('e', 'public.visits', 'outcome', 'logistic', '{"group_by": "patient_id", "test_where": "visit_id < 0"}')$$,
                 '22000', NULL, 'a test_where that selects no row is refused');
SELECT throws_ok($$SELECT * FROM healthml.train('', 'public.visits', 'outcome')$$, '22023', NULL, 'an empty model name is refused');
SELECT is((SELECT name FROM healthml.train('risk''; DROP TABLE public.visits; --', 'public.visits', 'outcome', 'logistic',
                                           '{"group_by": "patient_id", "exclude": ["visit_id"]}')),
          'risk''; DROP TABLE public.visits; --', 'a model name with quotes is data: stored as given');
SELECT ok(to_regclass('public.visits') IS NOT NULL, 'and nothing was executed from it');

SELECT * FROM finish();
ROLLBACK;
