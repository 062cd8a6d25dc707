-- healthml.profile on small tables with known answers, and its bad-input behaviour.
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(26);

CREATE TABLE public.hm_profile_probe (
    id          integer PRIMARY KEY,
    visits      integer,
    glucose     float8,
    flag        text,
    mostly_null numeric,
    ward        text,
    admitted_on date
);
INSERT INTO public.hm_profile_probe
SELECT i,
       CASE WHEN i % 10 = 0 THEN 40 ELSE i % 4 END,
       CASE WHEN i = 7 THEN 'NaN'::float8 WHEN i = 8 THEN 'Infinity' ELSE 100 + (i % 13) END,
       'No',
       CASE WHEN i % 3 = 0 THEN i % 7 END,
       CASE WHEN i % 5 = 0 THEN NULL WHEN i % 2 = 0 THEN 'north' ELSE 'south' END,
       date '2024-01-01' + i
FROM generate_series(1, 100) i;

CREATE TEMP TABLE p AS SELECT * FROM healthml.profile('public.hm_profile_probe');

SELECT is((SELECT array_agg(column_name ORDER BY column_name) FROM p),
          ARRAY['admitted_on', 'flag', 'glucose', 'id', 'mostly_null', 'visits', 'ward'], 'one row per column');
SELECT is((SELECT suggestion FROM p WHERE column_name = 'id'), 'identifier', 'a unique integer key is an identifier');
SELECT is((SELECT suggestion FROM p WHERE column_name = 'flag'), 'constant', 'a single value is constant');
SELECT is((SELECT suggestion FROM p WHERE column_name = 'mostly_null'), 'drop', '67% NULL is suggested for dropping');
SELECT is((SELECT suggestion FROM healthml.profile('public.hm_profile_probe', '{"drop_threshold": 0.8}') WHERE column_name = 'mostly_null'),
          'ok', 'drop_threshold is an option');
SELECT is((SELECT suggestion FROM p WHERE column_name = 'visits'), 'log_transform', 'skewed non-negative counts: log_transform');
SELECT is((SELECT suggestion FROM p WHERE column_name = 'admitted_on'), 'identifier', 'a unique date is read as text and flagged');
SELECT is((SELECT (nulls, round(null_fraction::numeric, 2), distinct_values) FROM p WHERE column_name = 'ward'),
          (20::bigint, 0.20::numeric, 2::bigint), 'nulls, null fraction and distinct values');
SELECT is((SELECT top_values FROM p WHERE column_name = 'ward'),
          '[{"value": "north", "count": 40}, {"value": "south", "count": 40}]'::jsonb, 'top values by count, then value');
SELECT is((SELECT top_values FROM p WHERE column_name = 'visits'), NULL, 'numeric columns have no top values');

-- numeric statistics agree with PostgreSQL's own aggregates
SELECT ok((SELECT pg_temp.rel_close(p.mean, s.mean) AND pg_temp.rel_close(p.stddev, s.sd)
                  AND p.p25 = s.q[1] AND p.median = s.q[2] AND p.p75 = s.q[3] AND p.min = s.lo AND p.max = s.hi
           FROM p, (SELECT avg(visits)::float8 AS mean, stddev_samp(visits)::float8 AS sd, min(visits)::float8 AS lo,
                           max(visits)::float8 AS hi,
                           percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY visits) AS q
                    FROM public.hm_profile_probe) s
           WHERE p.column_name = 'visits'), 'mean, stddev, quartiles, min and max match avg/stddev_samp/percentile_cont');
SELECT ok((SELECT pg_temp.rel_close(p.skewness, healthml.skewness(visits)) AND pg_temp.rel_close(p.kurtosis, healthml.kurtosis(visits))
           FROM p, public.hm_profile_probe WHERE p.column_name = 'visits' GROUP BY p.skewness, p.kurtosis),
          'skewness and kurtosis match the aggregates');
SELECT is((SELECT outliers_iqr FROM p WHERE column_name = 'visits'), 10::bigint, 'the ten 40s are beyond the IQR fences');
SELECT is((SELECT (nonfinite, min, max) FROM p WHERE column_name = 'glucose'), (2::bigint, 100::float8, 112::float8),
          'NaN and Infinity are counted as nonfinite and left out of the statistics');

-- a view and an all-NULL column
CREATE VIEW public.hm_profile_view AS SELECT id, NULL::float8 AS nothing FROM public.hm_profile_probe;
SELECT is((SELECT (suggestion, mean, distinct_values) FROM healthml.profile('public.hm_profile_view') WHERE column_name = 'nothing'),
          ('drop'::text, NULL::float8, 0::bigint), 'an all-NULL column: drop, no statistics');

-- bad input
SELECT throws_ok($$SELECT * FROM healthml.profile('public.no_such_table')$$, '42P01', NULL, 'an unknown relation is refused');
CREATE TABLE public.hm_profile_empty (x int);
SELECT throws_ok($$SELECT * FROM healthml.profile('public.hm_profile_empty')$$, '22000',
                 'public.hm_profile_empty has no rows to profile', 'an empty table is refused with its name');
SELECT throws_like($$SELECT * FROM healthml.profile('public.hm_profile_probe', '{"drop_treshold": 0.5}')$$,
                   'unknown option "drop_treshold" for healthml.profile', 'a misspelt option is refused');
SELECT throws_ok($$SELECT * FROM healthml.profile('public.hm_profile_probe', '{"drop_threshold": 2}')$$, '22023', NULL,
                 'an option out of range is refused');
SELECT throws_ok($$SELECT * FROM healthml.profile('public.hm_profile_probe', '[1, 2]')$$, '22023', NULL,
                 'options that are not an object are refused');
SELECT is((SELECT count(*) FROM healthml.profile(NULL)), 0::bigint, 'a NULL relation gives no rows (STRICT)');

-- hints reach the client
SELECT is(pg_temp.hint_of($$SELECT * FROM healthml.profile('public.hm_profile_probe', '{"drop_treshold": 0.5}')$$),
          'valid options: drop_threshold, top_values, max_levels', 'the hint lists the valid options');

-- runs as the caller: a role without SELECT cannot profile the table
CREATE ROLE hm_profile_nobody;
GRANT USAGE ON SCHEMA healthml TO hm_profile_nobody;
SET LOCAL ROLE hm_profile_nobody;
SELECT throws_ok($$SELECT * FROM healthml.profile('public.hm_profile_probe')$$, '42501', NULL,
                 'profile runs with the caller''s privileges');
RESET ROLE;

SELECT volatility_is('healthml', 'profile', ARRAY['regclass', 'jsonb'], 'stable', 'profile is STABLE');
SELECT is((SELECT count(*) FROM healthml.profile('public.hm_profile_probe', '{"top_values": 1}') WHERE jsonb_array_length(top_values) > 1),
          0::bigint, 'top_values limits the list');
SELECT is((SELECT suggestion FROM healthml.profile('public.hm_profile_probe', '{"max_levels": 2}') WHERE column_name = 'ward'),
          'ok', 'two levels are within max_levels 2');

SELECT * FROM finish();
ROLLBACK;
