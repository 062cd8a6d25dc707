-- healthml.standardize / healthml.apply_recipe: fit, store, apply to a row and to a table, bad input.
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(30);

-- identifiers that need quoting: a space, a quote, upper case
CREATE TABLE public."Ward Stays" (
    stay_id      integer PRIMARY KEY,
    "Length ""days""" integer,
    score        float8,
    unit         text,
    outcome      boolean
);
INSERT INTO public."Ward Stays"
SELECT i,
       CASE WHEN i % 25 = 0 THEN NULL ELSE floor(exp((i % 9) * 0.6)) END,
       CASE WHEN i = 3 THEN 'NaN' ELSE (i % 11) - 5.5 END,
       CASE WHEN i % 10 = 0 THEN NULL WHEN i % 3 = 0 THEN 'ICU' WHEN i = 7 THEN 'Attic' ELSE 'General' END,
       i % 4 = 0
FROM generate_series(1, 400) i;

CREATE TEMP TABLE fit AS
SELECT * FROM healthml.standardize('public."Ward Stays"', '{"name": "ward", "exclude": ["stay_id", "outcome"]}');

SELECT is((SELECT count(*) FROM fit), 5::bigint, 'one report row per source column');
SELECT is((SELECT array_agg(action ORDER BY column_name) FROM fit),
          ARRAY['numeric', 'excluded', 'numeric', 'excluded', 'one_hot'], 'actions per column');
SELECT is((SELECT (recipe_name, version) FROM fit LIMIT 1), ('ward'::text, 1), 'stored as version 1 of "ward"');
SELECT is((SELECT count(*) FROM healthml.recipes WHERE name = 'ward'), 1::bigint, 'one row in healthml.recipes');
SELECT ok((SELECT detail LIKE '%log1p%' FROM fit WHERE column_name = 'Length "days"'), 'exponentially spread counts are log-transformed');
SELECT ok((SELECT abs(skewness_after) < abs(skewness_before) FROM fit WHERE column_name = 'Length "days"'),
          'and less skewed afterwards');
SELECT is((SELECT detail FROM fit WHERE column_name = 'unit'), 'one-hot 3 levels, 1 rare folded into (other), NULL as (missing)',
          'the rare unit is folded, NULL is a level');
SELECT is((SELECT max(version) FROM healthml.standardize('public."Ward Stays"', '{"name": "ward", "exclude": ["stay_id", "outcome"]}')),
          2, 'refitting under the same name adds version 2');

-- one row as jsonb
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(healthml.apply_recipe('ward', '{"score": 1}')) k),
          ARRAY['Length "days"', 'score', 'unit=(missing)', 'unit=(other)', 'unit=General', 'unit=ICU'], 'features of a row');
SELECT is(healthml.apply_recipe('ward', '{"unit": "ICU"}') -> 'unit=ICU', '1'::jsonb, 'one-hot of a known level');
SELECT is(healthml.apply_recipe('ward', '{"unit": "Roof"}') -> 'unit=(other)', '1'::jsonb, 'an unseen level is (other)');
SELECT is(healthml.apply_recipe('ward', '{"unit": null}') -> 'unit=(missing)', '1'::jsonb, 'NULL is the (missing) level');
SELECT is(healthml.apply_recipe('ward', '{}'), healthml.apply_recipe('ward', '{"score": null, "unit": null, "Length \"days\"": null}'),
          'a missing key is the same as NULL');
SELECT is(healthml.apply_recipe('ward', '{"score": "NaN"}'), healthml.apply_recipe('ward', '{"score": null}'),
          'NaN is imputed like NULL');
SELECT is(healthml.apply_recipe('ward', '{"score": "2.5"}'), healthml.apply_recipe('ward', '{"score": 2.5}'),
          'a number given as text is read as a number');
SELECT is(healthml.apply_recipe('ward', '{"stay_id": 5, "outcome": true}'), healthml.apply_recipe('ward', '{}'),
          'excluded columns are accepted and ignored');

-- the whole table, through generated SQL, agrees with the row path exactly
SELECT is(healthml.apply_recipe('ward', 'public."Ward Stays"', 'public.ward_std'), 400::bigint, 'the standardized table has every row');
SELECT is((SELECT count(*) FROM public."Ward Stays" w JOIN public.ward_std s USING (stay_id)
           WHERE healthml.apply_recipe('ward', to_jsonb(w)) <> to_jsonb(s) - 'stay_id' - 'outcome'), 0::bigint,
          'every row of the table equals the jsonb path');
SELECT ok((SELECT abs(avg("score")) < 1e-12 AND abs(stddev_pop("score") - 1) < 0.01 FROM public.ward_std),
          'a z-scored column has mean 0 and sd about 1');
SELECT has_column('public', 'ward_std', 'unit=(other)', 'feature columns are named column=level');

-- bad input
SELECT throws_ok($$SELECT healthml.apply_recipe('ward', '{"scor": 1}')$$, '42703',
                 'key "scor" is not a column of the recipe''s source public."Ward Stays"', 'an unknown key is refused');
SELECT throws_ok($$SELECT healthml.apply_recipe('ward', '{"score": "high"}')$$, '22P02', NULL, 'text that is no number is refused');
SELECT throws_ok($$SELECT healthml.apply_recipe('ward', '{"score": [1]}')$$, '42804', NULL, 'a wrong JSON type is refused');
SELECT throws_ok($$SELECT healthml.apply_recipe('ward', '[1]')$$, '22023', NULL, 'a row that is not an object is refused');
SELECT throws_ok($$SELECT healthml.apply_recipe('nope', '{}')$$, '42704', 'recipe "nope" does not exist', 'an unknown recipe is refused');
SELECT throws_ok($$SELECT * FROM healthml.standardize('public."Ward Stays"', '{"scale": "minmax"}')$$, '22023', NULL,
                 'an unknown scale is refused');
SELECT throws_ok($$SELECT * FROM healthml.standardize('public."Ward Stays"', '{"drop": ["nope"]}')$$, '42703', NULL,
                 'dropping an unknown column is refused');
CREATE TABLE public.hm_empty (x int);
SELECT throws_ok($$SELECT * FROM healthml.standardize('public.hm_empty')$$, '22000', NULL, 'an empty table is refused');
SELECT throws_ok($$SELECT healthml.apply_recipe('ward', 'public."Ward Stays"', 'public.ward_std')$$, '42P07', NULL,
                 'an existing target table is not overwritten');
SELECT throws_ok($$SELECT healthml.apply_recipe('ward', 'public."Ward Stays"', 'x; DROP TABLE public.ward_std')$$, '22023', NULL,
                 'a target name that is not an identifier is refused, not executed');

SELECT * FROM finish();
ROLLBACK;
