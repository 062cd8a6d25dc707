-- Relations by kind: every function that takes a regclass reads tables, views, materialized views,
-- partitioned tables and foreign tables (postgres_fdw, a loopback server) alike, and refuses what
-- has no rows to read (a sequence, an index, a composite type) or no longer exists (OID 0, a
-- dropped relation's OID) with a SQLSTATE and a hint instead of PostgreSQL's internal
-- "could not open relation with OID 0". The base table is committed first, so that the foreign
-- server's own session sees it; everything else rolls back.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
DROP TABLE IF EXISTS public.rk_base CASCADE;
CREATE TABLE public.rk_base AS
SELECT i AS discharge_id, i / 2 AS patient_id, (abs(hashint4(i * 3)) % 10000) / 100.0 AS severity,
       CASE WHEN i % 4 = 0 THEN 'rehab' ELSE 'home' END AS destination,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0)))) AS readmitted
FROM generate_series(1, 2000) i;
CREATE TABLE public.rk_dropped ();
SELECT 'public.rk_dropped'::regclass::oid AS dropped_oid \gset
DROP TABLE public.rk_dropped;

BEGIN;
SELECT plan(11);
CREATE VIEW public.rk_view AS SELECT * FROM public.rk_base;
CREATE MATERIALIZED VIEW public.rk_matview AS SELECT * FROM public.rk_base;
CREATE TABLE public.rk_parted (LIKE public.rk_base) PARTITION BY RANGE (discharge_id);
CREATE TABLE public.rk_parted_1 PARTITION OF public.rk_parted FOR VALUES FROM (MINVALUE) TO (1000);
CREATE TABLE public.rk_parted_2 PARTITION OF public.rk_parted FOR VALUES FROM (1000) TO (MAXVALUE);
INSERT INTO public.rk_parted SELECT * FROM public.rk_base;
SELECT format('CREATE SERVER rk_loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L)',
              split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'), current_database()) \gexec
CREATE USER MAPPING FOR CURRENT_USER SERVER rk_loopback OPTIONS (user 'postgres');
CREATE FOREIGN TABLE public.rk_foreign (discharge_id integer, patient_id integer, severity numeric, destination text, readmitted boolean)
    SERVER rk_loopback OPTIONS (schema_name 'public', table_name 'rk_base');
CREATE SEQUENCE public.rk_sequence;
CREATE INDEX rk_index ON public.rk_base (discharge_id);
CREATE TYPE public.rk_type AS (a integer);

CREATE TEMP TABLE trained AS SELECT * FROM healthml.train('rk', 'public.rk_base', 'readmitted', 'logistic',
                                                         '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
CREATE TEMP TABLE deployed AS SELECT * FROM healthml.deploy('rk');

-- every kind with rows reads the same rows: the same evaluation, profile and training
CREATE TEMP TABLE kinds (relation regclass);
INSERT INTO kinds VALUES ('public.rk_view'), ('public.rk_matview'), ('public.rk_parted'), ('public.rk_foreign');
SELECT is((SELECT count(*) FROM kinds WHERE healthml.evaluate('rk', relation) <> healthml.evaluate('rk', 'public.rk_base')),
          0::bigint, 'evaluate reads a view, a materialized view, a partitioned table and a foreign table as the table itself');
SELECT is((SELECT count(*) FROM kinds k, healthml.drift('rk', k.relation) d WHERE d.status <> 'ok'), 0::bigint,
          'drift of each against the training data: nothing drifts');
SELECT is((SELECT count(DISTINCT (SELECT array_agg(p.mean ORDER BY p.column_name) FROM healthml.profile(k.relation) p)) FROM kinds k),
          1::bigint, 'profile gives the same means for all four');
SELECT is((SELECT count(DISTINCT t.test_auc) FROM kinds k, healthml.train('rk_kind', k.relation, 'readmitted', 'logistic',
                                                   '{"group_by": "patient_id", "exclude": ["discharge_id"]}') t),
          1::bigint, 'and training on each gives the same model quality');
SELECT is((SELECT test_auc FROM healthml.train('rk_foreign_model', 'public.rk_foreign', 'readmitted', 'logistic',
                                               '{"group_by": "patient_id", "exclude": ["discharge_id"]}')),
          (SELECT test_auc FROM trained), 'a model trained through the foreign table equals the one trained on the table');

-- what has no rows, or is gone
CREATE TEMP TABLE bad (what text, relation regclass, sqlstate text);
INSERT INTO bad VALUES ('OID 0', 0::oid::regclass, '42P01'), ('a dropped relation''s OID', :dropped_oid::oid::regclass, '42P01'),
                       ('a sequence', 'public.rk_sequence', '42809'), ('an index', 'public.rk_index', '42809'),
                       ('a composite type', 'public.rk_type', '42809');
CREATE FUNCTION pg_temp.state_of(sql text, OUT state text, OUT hint text) LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    state := 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, hint = PG_EXCEPTION_HINT;
END $$;
CREATE TEMP TABLE calls (call text);
INSERT INTO calls VALUES ('SELECT * FROM healthml.profile(%s)'), ('SELECT * FROM healthml.train(''rk_bad'', %s, ''readmitted'')'),
    ('SELECT healthml.evaluate(''rk'', %s)'), ('SELECT * FROM healthml.roc_curve(''rk'', %s)'), ('SELECT * FROM healthml.pr_curve(''rk'', %s)'),
    ('SELECT * FROM healthml.calibration_curve(''rk'', %s)'), ('SELECT * FROM healthml.standardize(%s)'),
    ('SELECT * FROM healthml.set_decision_threshold(''rk'', %s, ''f1'')'), ('SELECT * FROM healthml.drift(''rk'', %s)'),
    ('SELECT * FROM healthml.subgroup_report(''rk'', %s, ''destination'')'),
    ('SELECT healthml.apply_recipe(''rk_recipe'', %s, ''public.rk_out'')'),
    ('CALL healthml.score_batch(''rk'', %s, ''discharge_id'', ''public.rk_out'')');
CREATE TEMP TABLE outcomes AS
SELECT b.what, c.call, b.sqlstate AS expected, r.state, r.hint
FROM bad b, calls c, pg_temp.state_of(format(c.call, b.relation::oid || '::oid::regclass')) r;
SELECT is((SELECT count(*) FROM outcomes WHERE state IS DISTINCT FROM expected), 0::bigint,
          format('%s calls of %s functions with OID 0, a dropped OID, a sequence, an index and a composite type give 42P01 or 42809',
                 (SELECT count(*) FROM outcomes), (SELECT count(*) FROM calls)));
SELECT diag(format('%s with %s: expected %s, got %s', call, what, expected, state)) FROM outcomes WHERE state IS DISTINCT FROM expected;
SELECT is((SELECT count(*) FROM outcomes WHERE coalesce(hint, '') = ''), 0::bigint, 'each with a hint');
SELECT throws_ok($$SELECT healthml.evaluate('rk', 0::oid::regclass)$$, '42P01', 'relation with OID 0 does not exist', 'the message names the OID');
SELECT throws_ok($$SELECT healthml.evaluate('rk', 'public.rk_sequence')$$, '42809',
                 'public.rk_sequence is a sequence, not a relation with rows', 'and the relation and its kind');
SELECT throws_ok($$SELECT healthml.evaluate('rk', 'public.rk_index')$$, '42809',
                 'public.rk_index is an index, not a relation with rows', 'an index');
SELECT throws_ok($$SELECT healthml.evaluate('rk', 'public.rk_type')$$, '42809',
                 'public.rk_type is a composite type, not a relation with rows', 'a composite type');

SELECT * FROM finish();
ROLLBACK;
DROP TABLE public.rk_base;
DROP EXTENSION postgres_fdw;
