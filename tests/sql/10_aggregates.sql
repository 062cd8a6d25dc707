-- skewness / kurtosis / moments on small inputs: NULLs, tiny samples, constants, NaN and Infinity,
-- empty input, grouping, windows, the partial states another server can combine (moments_partial and
-- moments_merge), and the catalog properties that make them parallel and distributable.
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(35);

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

-- catalog: parallel-safe aggregates with a combine function over a state of a plain SQL type, which
-- is what Citus needs to combine them across nodes (it cannot ship internal states)
SELECT is((SELECT count(*) FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'healthml' AND p.proname IN ('skewness', 'kurtosis', 'moments', 'moments_partial', 'moments_merge')
             AND a.aggcombinefn <> 0 AND a.aggtranstype = 'float8[]'::regtype AND a.aggserialfn = 0
             AND a.agginitval = '{0,0,0,0,0,0,0,Infinity,-Infinity}' AND p.proparallel = 's'), 5::bigint,
          'all five aggregates are PARALLEL SAFE, combinable, with a double precision[] state from the empty state');
SELECT is((SELECT bool_and(p.proparallel = 's' AND p.provolatile = 'i') FROM pg_aggregate a
           JOIN pg_proc p ON p.oid IN (a.aggtransfn, a.aggcombinefn, a.aggfinalfn)
           WHERE a.aggfnoid IN ('healthml.moments(float8)'::regprocedure, 'healthml.moments_merge(float8[])'::regprocedure)), true,
          'their support functions are IMMUTABLE and PARALLEL SAFE');
SELECT is((SELECT array_agg(p.proisstrict ORDER BY p.proname) FROM pg_proc p
           WHERE p.oid IN ('healthml._moments_state_accum(float8[], float8)'::regprocedure,
                           'healthml._moments_state_combine(float8[], float8[])'::regprocedure)),
          ARRAY[false, true], 'the transition function sees NULL values (to count them); the combine function skips NULL states');

-- partial states: what a shard computes, and their combination on the coordinator
SELECT is(healthml.moments_partial(x), '{5,1,0,4,50,180,1394,1,10}'::float8[],
          'a partial state is n, nulls, nonfinite, mean and the sums of powers of deviations, min, max') FROM v WHERE g = 1;
SELECT is(healthml.moments_partial(x), '{0,0,0,0,0,0,0,Infinity,-Infinity}'::float8[], 'the state of no rows')
  FROM (SELECT 1.0::float8 WHERE false) t(x);
SELECT ok((m).n = (w).n AND (m).nulls = (w).nulls AND (m).min = (w).min AND (m).max = (w).max
          AND pg_temp.rel_close((m).mean, (w).mean) AND pg_temp.rel_close((m).stddev, (w).stddev)
          AND pg_temp.rel_close((m).skewness, (w).skewness) AND pg_temp.rel_close((m).kurtosis, (w).kurtosis),
          'merging the states of three groups gives moments of the whole (to 1e-9), NULLs counted')
  FROM (SELECT healthml.moments_merge(s) FROM (SELECT g, healthml.moments_partial(x) s FROM v GROUP BY g) t) merged(m),
       (SELECT healthml.moments(x) FROM v) whole(w);
SELECT is((SELECT healthml.moments_merge(s)::text FROM (VALUES (NULL::float8[]), ('{0,0,0,0,0,0,0,Infinity,-Infinity}')) t(s)),
          '(0,0,0,,,,,,)', 'NULL and empty states add nothing');
SELECT throws_ok($$SELECT healthml.moments_merge(s) FROM (VALUES ('{1,2,3}'::float8[])) t(s)$$, '22023',
                 'moments state of 1 dimension(s), 3 value(s) is not a state of healthml.moments_partial',
                 'a state of the wrong length is refused');
SELECT throws_ok($$SELECT healthml.moments_merge(s) FROM (VALUES ('{5,1,0,4,-50,126,1000,1,10}'::float8[])) t(s)$$, '22023',
                 NULL, 'a state no values could make (negative sum of squares) is refused');
SELECT throws_ok($$SELECT healthml.moments_merge(s) FROM (VALUES ('{{5,1,0},{4,50,126},{1000,1,10}}'::float8[])) t(s)$$, '22023',
                 NULL, 'a two-dimensional state is refused');
SELECT throws_ok($$SELECT healthml.moments_merge(s) FROM (VALUES ('{5,1,0,4,50,126,1000,1,NULL}'::float8[])) t(s)$$, '22023',
                 NULL, 'a state with a NULL is refused');
SELECT is((SELECT pg_temp.hint_of($$SELECT healthml.moments_merge(s) FROM (VALUES ('{1,2,3}'::float8[])) t(s)$$)),
          'a state is a one-dimensional double precision[] of 9 values made by healthml.moments_partial(value)',
          'and the hint says what a state is');

-- the state is changed in place only inside an aggregate: a direct call leaves its argument alone
CREATE TEMP TABLE stored_state AS SELECT '{5,1,0,4,50,180,1394,1,10}'::float8[] AS s;
SELECT ok(bool_and(pg_temp.rel_close(got, want)),
          'a direct call of the transition function returns the new state (numpy''s two-pass sums of 1, 2, 3, 4, 10, 6)')
  FROM unnest((SELECT healthml._moments_state_accum(s, 6) FROM stored_state),
              '{6,1,0,4.333333333333333,53.333333333333336,134.44444444444449,1195.1111111111115,1,10}'::float8[]) t(got, want);
SELECT is((SELECT s FROM stored_state), '{5,1,0,4,50,180,1394,1,10}'::float8[], 'and leaves the stored one unchanged');
SELECT is(array_agg(round(k::numeric, 9) ORDER BY x),
          ARRAY[NULL, NULL, NULL, -1.2, 3.152]::numeric[],
          'as a window function each row sees its running state (kurtosis of 1..4 is -1.2)')
  FROM (SELECT x, healthml.kurtosis(x) OVER (ORDER BY x) AS k FROM v WHERE g = 1 AND x IS NOT NULL) t;

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
