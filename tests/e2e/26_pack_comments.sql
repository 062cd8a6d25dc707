-- The readmission pack documents itself as healthml does (tests/sql/94_api.sql): every function,
-- table and view the loader creates in schema readmission has a comment, for \df+ and \dt+.
BEGIN;
SELECT plan(2);

CREATE TEMP TABLE pack_objects AS
SELECT 'function ' || p.oid::regprocedure::text AS object, obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc p WHERE p.pronamespace = 'readmission'::regnamespace
UNION ALL
SELECT 'relation ' || c.oid::regclass::text, obj_description(c.oid, 'pg_class')
FROM pg_class c WHERE c.relnamespace = 'readmission'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p');
SELECT ok((SELECT count(*) >= 10 FROM pack_objects), 'the pack''s objects are found');
SELECT is((SELECT string_agg(object, ', ' ORDER BY object) FROM pack_objects WHERE coalesce(comment, '') = ''), NULL,
          'every function, table and view of schema readmission has a comment');

SELECT * FROM finish();
ROLLBACK;
