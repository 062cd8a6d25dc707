-- The Parquet lake from SQL: every supported type out and back with NULLs, the types PostgreSQL
-- gets back, clear errors for bad paths, bad files and unsupported types, no partial file or table,
-- and server-side COPY's privilege rule. Files go to the cluster's data directory (the one place a
-- SQL test knows the server can write); tests/lake/ covers pyarrow both ways.
SELECT current_setting('data_directory') || '/healthml_lake_test_' AS lake \gset
BEGIN;
SELECT plan(27);

CREATE TYPE pg_temp.ward AS ENUM ('cardiology', 'oncology');
CREATE TABLE public.lake_types AS
SELECT i AS id,
       (i % 2 = 0) AS flag,
       (i * 7)::smallint AS small,
       (i * 1000)::integer AS count,
       CASE WHEN i = 3 THEN 'NaN'::real ELSE i / 4.0 END::real AS ratio,
       CASE WHEN i = 4 THEN '-Infinity' ELSE 1.0 / i END::float8 AS score,
       round(i * 12.345, 2)::numeric(10,2) AS amount,
       (-i * 100)::numeric(6,-2) AS hundreds,
       'patient ' || i || ' ✓' AS note,
       ('ward ' || i)::varchar(12) AS ward_name,
       ('B' || i)::char(4) AS bed,
       jsonb_build_object('visit', i) AS extra,
       md5(i::text)::uuid AS token,
       (ARRAY['cardiology', 'oncology'])[1 + i % 2]::pg_temp.ward AS ward,
       decode(lpad(to_hex(i), 4, '0'), 'hex') AS raw,
       date '1998-02-28' + i * 400 AS admitted,
       time '07:30:00.000001' + i * interval '1 hour' AS round_at,
       timestamp '1969-12-31 23:59:59.999999' + i * interval '1 day 1 microsecond' AS local_at,
       timestamptz '2026-03-29 01:30:00+00' + i * interval '1 hour' AS instant
FROM generate_series(1, 5) i;
-- a row of NULLs in every column but the key
INSERT INTO public.lake_types (id) VALUES (6);

SELECT is(healthml.export_parquet('SELECT * FROM public.lake_types ORDER BY id', :'lake' || 'types.parquet'), 6::bigint,
          'export_parquet returns the rows written');
SELECT is(healthml.import_parquet(:'lake' || 'types.parquet', 'public.lake_back'), 6::bigint,
          'import_parquet returns the rows loaded');
SELECT is((SELECT string_agg(t::text, '|' ORDER BY id) FROM public.lake_back t),
          (SELECT string_agg(t::text, '|' ORDER BY id) FROM public.lake_types t),
          'every value comes back as it left, NULLs, NaN, infinities, time zones and microseconds included');
SELECT is((SELECT array_agg(format_type(atttypid, atttypmod) ORDER BY attnum) FROM pg_attribute
           WHERE attrelid = 'public.lake_back'::regclass AND attnum > 0),
          ARRAY['integer', 'boolean', 'smallint', 'integer', 'real', 'double precision', 'numeric(10,2)', 'numeric(8,0)',
                'text', 'character varying(12)', 'character(4)', 'jsonb', 'uuid', 'text', 'bytea', 'date', 'time without time zone',
                'timestamp without time zone', 'timestamp with time zone'],
          'the table gets PostgreSQL types from the Arrow schema, and the recorded ones of text-shaped columns (not enums; negative scales as whole numbers)');

-- an empty result still writes a file with the columns
SELECT is(healthml.export_parquet('SELECT * FROM public.lake_types WHERE false', :'lake' || 'empty.parquet'), 0::bigint,
          'an empty result exports 0 rows');
SELECT is(healthml.import_parquet(:'lake' || 'empty.parquet', 'public.lake_empty'), 0::bigint, 'and imports as an empty table');
SELECT is((SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.lake_empty'::regclass AND attnum > 0), 19::bigint,
          'with every column');

-- options
SELECT is(healthml.export_parquet('SELECT id, note FROM public.lake_types', :'lake' || 'zstd.parquet', '{"compression": "zstd"}'),
          6::bigint, 'compression can be chosen');
SELECT throws_ok($$SELECT healthml.export_parquet('SELECT 1', '/tmp/x.parquet', '{"compresion": "zstd"}')$$, '22023',
                 'unknown option "compresion" for healthml.export_parquet', 'unknown options are refused');

-- bad paths and bad files
SELECT throws_ok($$SELECT healthml.export_parquet('SELECT 1', 'lake/x.parquet')$$, '22023',
                 'path "lake/x.parquet" is not absolute', 'a relative path is refused');
SELECT throws_ok($$SELECT healthml.export_parquet('SELECT 1', '/no/such/dir/x.parquet')$$, '58P01',
                 'the directory of "/no/such/dir/x.parquet" does not exist', 'a missing directory is named');
SELECT throws_ok($$SELECT healthml.import_parquet('/no/such/file.parquet', 'public.t')$$, '58P01', NULL,
                 'a missing file is an undefined file');
SELECT lives_ok(format($$COPY (SELECT 'encounter_id,readmitted') TO %L$$, :'lake' || 'not.parquet'), 'a CSV file is written');
SELECT throws_like(format($$SELECT healthml.import_parquet(%L, 'public.t')$$, :'lake' || 'not.parquet'),
                   '%not.parquet" is not a readable Parquet file%', 'a file that is not Parquet is refused');
SELECT throws_ok($$SELECT healthml.import_parquet('/tmp', 'public.t')$$, '22023', '"/tmp" is a directory', 'a directory is refused');
SELECT throws_ok(format($$SELECT healthml.import_parquet(%L, 'public.lake_back')$$, :'lake' || 'types.parquet'), '42P07',
                 'relation public.lake_back already exists', 'an existing table is never appended to');

-- unsupported types, named
SELECT throws_ok($$SELECT healthml.export_parquet('SELECT interval ''1 day'' AS stay', '/tmp/x.parquet')$$, '0A000',
                 'column "stay" has type interval, which export_parquet does not write', 'interval is refused by name');
SELECT throws_ok($$SELECT healthml.export_parquet('SELECT avg(id) AS mean_id FROM public.lake_types', '/tmp/x.parquet')$$, '0A000',
                 'column "mean_id" has type numeric, which export_parquet does not write', 'numeric without a scale is refused');
SELECT throws_ok($$SELECT healthml.export_parquet('SELECT ARRAY[1, 2] AS codes', '/tmp/x.parquet')$$, '0A000', NULL, 'arrays are refused');
SELECT throws_ok($$SELECT healthml.export_parquet('SELECT ''infinity''::date AS discharged', '/tmp/x.parquet')$$, '0A000',
                 'column "discharged" holds an infinite date, which Parquet cannot store', 'infinite dates are refused');
SELECT throws_ok($$SELECT healthml.export_parquet('SELECT 1 AS a, 2 AS a', '/tmp/x.parquet')$$, '22023',
                 'the query returns two columns named "a"', 'duplicate column names are refused');

-- a failing export leaves the previous file whole
SELECT throws_ok(format($$SELECT healthml.export_parquet('SELECT id, 1 / (id - 6) AS x FROM public.lake_types ORDER BY id', %L)$$,
                        :'lake' || 'types.parquet'), '22012', NULL, 'an export whose query fails midway raises the query''s error');
SELECT is(healthml.import_parquet(:'lake' || 'types.parquet', 'public.lake_again'), 6::bigint, 'and the previous file is intact');

-- COPY's privilege rule
CREATE ROLE lake_test_admin;
GRANT healthml_admin TO lake_test_admin;
GRANT USAGE, CREATE ON SCHEMA public TO lake_test_admin;
SET LOCAL ROLE lake_test_admin;
SELECT throws_ok(format($$SELECT healthml.export_parquet('SELECT 1', %L)$$, :'lake' || 'denied.parquet'), '42501',
                 'permission denied to export to a file on the database server', 'an admin without pg_write_server_files cannot export');
SELECT throws_ok(format($$SELECT healthml.import_parquet(%L, 'public.t')$$, :'lake' || 'types.parquet'), '42501',
                 'permission denied to import from a file on the database server', 'nor import without pg_read_server_files');
RESET ROLE;
GRANT pg_write_server_files, pg_read_server_files TO lake_test_admin;
SET LOCAL ROLE lake_test_admin;
SELECT is(healthml.import_parquet(:'lake' || 'types.parquet', 'public.lake_by_admin'), 6::bigint,
          'with pg_read_server_files the admin imports');
RESET ROLE;
CREATE ROLE lake_test_analyst;
GRANT healthml_analyst, pg_write_server_files TO lake_test_analyst;
SET LOCAL ROLE lake_test_analyst;
SELECT throws_ok($$SELECT healthml.export_parquet('SELECT 1', '/tmp/x.parquet')$$, '42501', NULL, 'analysts may not call the lake');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
