-- skewness / kurtosis / moments on small inputs: NULLs, tiny samples, constants, NaN and Infinity,
-- empty input, grouping, and the catalog properties that make them parallel.
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(23);

CREATE TEMP TABLE v (g int, x float8);
INSERT INTO v VALUES (1, 1), (1, 2), (1, 3), (1, 4), (1, 10), (1, NULL),
                     (2, 7), (2, 7), (2, 7), (2, 7),
                     (3, 1), (3, 2);

-- pandas: pd.Series([1, 2, 3, 4, 10.0]).skew() / .kurt()
SELECT is(round(healthml.skewness(x)::numeric, 12), 1.697056274848, 'skewness matches pandas') FROM v WHERE g = 1;
SELECT is(round(healthml.kurtosis(x)::numeric, 12), 3.152000000000, 'kurtosis matches pandas') FROM v WHERE g = 1;
SELECT is((healthml.moments(x)).nulls, 1::bigint, 'NULLs are counted') FROM v WHERE g = 1;
SELECT is((healthml.moments(x)).n, 5::bigint, 'and not used') FROM v WHERE g = 1;
SELECT is(healthml.skewness(x), 0::float8, 'a constant column has skewness 0 (as pandas)') FROM v WHERE g = 2;
SELECT is(healthml.kurtosis(x), 0::float8, 'and kurtosis 0') FROM v WHERE g = 2;
SELECT is(healthml.skewness(x), NULL, 'skewness of 2 values is NULL') FROM v WHERE g = 3;
SELECT is(healthml.kurtosis(x), NULL, 'kurtosis of 3 values is NULL') FROM (VALUES (1.0::float8), (2), (4)) t(x);
SELECT isnt(healthml.skewness(x), NULL, 'skewness of 3 values is defined') FROM (VALUES (1.0::float8), (2), (4)) t(x);
SELECT is(array_agg(s ORDER BY g), ARRAY[1.697056274848, 0, NULL]::numeric[], 'GROUP BY gives one answer per group')
  FROM (SELECT g, round(healthml.skewness(x)::numeric, 12) AS s FROM v GROUP BY g) t;

SELECT is(healthml.moments(x)::text, '(2,1,3,1.5,0.7071067811865476,1,2,,)',
          'NaN and ±Infinity are counted as nonfinite and left out')
  FROM (VALUES (NULL::float8), ('NaN'), ('Infinity'), ('-Infinity'), (1), (2)) t(x);
SELECT is(healthml.moments(x)::text, '(0,0,0,,,,,,)', 'no rows: n = 0, every statistic NULL')
  FROM (SELECT 1.0::float8 WHERE false) t(x);
SELECT is(healthml.moments(x)::text, '(0,2,0,,,,,,)', 'all NULL: counted, every statistic NULL')
  FROM (VALUES (NULL::float8), (NULL)) t(x);
SELECT is(healthml.skewness(x), NULL, 'skewness of no rows is NULL') FROM (SELECT 1.0::float8 WHERE false) t(x);

SELECT is(round(healthml.skewness(x::numeric)::numeric, 9), round(healthml.skewness(x)::numeric, 9),
          'numeric input is accepted through the implicit cast') FROM v;
SELECT is(round(healthml.skewness(i)::numeric, 9), 1.697056275, 'integer input is accepted')
  FROM (VALUES (1), (2), (3), (4), (10)) t(i);
SELECT throws_ok($$SELECT healthml.skewness(x::text) FROM v$$, '42883', NULL,
                 'a text column is refused: the aggregates take numbers');

-- catalog: parallel-safe aggregates with combine / serialize / deserialize
SELECT is((SELECT count(*) FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'healthml' AND p.proname IN ('skewness', 'kurtosis', 'moments')
             AND a.aggcombinefn <> 0 AND a.aggserialfn <> 0 AND a.aggdeserialfn <> 0
             AND p.proparallel = 's'), 3::bigint,
          'all three aggregates are PARALLEL SAFE with combine, serial and deserial functions');
SELECT is((SELECT bool_and(p.proparallel = 's' AND p.provolatile = 'i') FROM pg_aggregate a
           JOIN pg_proc p ON p.oid IN (a.aggtransfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.aggfinalfn)
           WHERE a.aggfnoid = 'healthml.moments(float8)'::regprocedure), true,
          'their support functions are IMMUTABLE and PARALLEL SAFE');
SELECT is((SELECT p.proisstrict FROM pg_proc p WHERE p.oid = 'healthml._moments_combine(internal, internal)'::regprocedure),
          false, 'the combine function handles NULL states itself (not STRICT)');

-- a table large enough to split across workers, compared with a serial run (temp tables are never
-- scanned in parallel, hence a regular table inside this rolled-back transaction)
CREATE TABLE public.healthml_parallel_probe AS SELECT (i % 97)::float8 ^ 2 AS x FROM generate_series(1, 200000) i;
ANALYZE public.healthml_parallel_probe;
SET LOCAL max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_result AS SELECT healthml.moments(x) AS m FROM public.healthml_parallel_probe;
SELECT pg_temp.force_parallel();
SELECT matches(pg_temp.plan_of('SELECT healthml.moments(x) FROM public.healthml_parallel_probe'),
               'Workers Launched: [12](.|\n)*Partial Aggregate',
               'the forced plan runs partial aggregates in launched workers');
CREATE TEMP TABLE parallel_result AS SELECT healthml.moments(x) AS m FROM public.healthml_parallel_probe;
SELECT is((SELECT (m).n FROM parallel_result), 200000::bigint, 'the parallel run sees every row');
SELECT ok((SELECT pg_temp.rel_close((p.m).skewness, (s.m).skewness) AND pg_temp.rel_close((p.m).kurtosis, (s.m).kurtosis)
                  AND pg_temp.rel_close((p.m).mean, (s.m).mean)
           FROM parallel_result p, serial_result s), 'parallel and serial agree to 1e-9');

SELECT * FROM finish();
ROLLBACK;
