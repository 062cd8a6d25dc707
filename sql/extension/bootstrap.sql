-- healthml reads and writes text as UTF-8 (model and column names, levels of categorical features,
-- JSON documents, the lake's Parquet strings). In a database of another encoding a non-ASCII value
-- would fail deep inside a call; refuse up front instead, with the fix.
DO $$
BEGIN
    IF pg_catalog.getdatabaseencoding() <> 'UTF8' THEN
        RAISE EXCEPTION 'healthml needs a UTF8 database; database "%" uses %', pg_catalog.current_database(), pg_catalog.getdatabaseencoding()
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'create the database with ENCODING ''UTF8'' (and TEMPLATE template0 if the template differs), move the data there, then CREATE EXTENSION healthml';
    END IF;
END $$;
