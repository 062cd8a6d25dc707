-- Lands a Parquet file of encounters, imported into pg_temp.encounters_parquet by
-- healthml.import_parquet, in pg_temp.encounters_csv as if it were the CSV file: its columns must be
-- the CSV header's names or readmission.encounters' names, in order; '?' (the source's missing value)
-- becomes NULL; every value is cast to the landing table's type, whatever type the file's writer chose
-- (pandas writes int64 for integer columns, text for a column that holds '?').

DO $$
DECLARE
    got      text[];
    as_csv   text[];
    as_table text[];
BEGIN
    SELECT array_agg(attname::text ORDER BY attnum) FILTER (WHERE attrelid = 'pg_temp.encounters_parquet'::regclass),
           array_agg(attname::text ORDER BY attnum) FILTER (WHERE attrelid = 'pg_temp.encounters_csv'::regclass),
           array_agg(attname::text ORDER BY attnum) FILTER (WHERE attrelid = 'readmission.encounters'::regclass)
    INTO got, as_csv, as_table
    FROM pg_attribute
    WHERE attrelid IN ('pg_temp.encounters_parquet'::regclass, 'pg_temp.encounters_csv'::regclass, 'readmission.encounters'::regclass)
      AND attnum > 0 AND NOT attisdropped;
    IF got IS NOT DISTINCT FROM as_csv OR got IS NOT DISTINCT FROM as_table THEN
        RETURN;
    END IF;
    FOR i IN 1 .. greatest(cardinality(got), cardinality(as_csv)) LOOP
        IF got[i] IS DISTINCT FROM as_csv[i] AND got[i] IS DISTINCT FROM as_table[i] THEN
            RAISE EXCEPTION 'Parquet column % is "%", expected "%" (or "%")', i, coalesce(got[i], '(none)'), as_csv[i], as_table[i]
                USING ERRCODE = 'bad_copy_file_format',
                      HINT = 'the file''s columns must be the 50 columns of diabetic_data.csv (or of readmission.encounters), in order';
        END IF;
    END LOOP;
END $$;

SELECT format('INSERT INTO pg_temp.encounters_csv SELECT %s FROM pg_temp.encounters_parquet',
              string_agg(CASE WHEN p.atttypid = 'text'::regtype
                              THEN format('nullif(%I, %L)::%s', p.attname, '?', format_type(c.atttypid, c.atttypmod))
                              ELSE format('%I::%s', p.attname, format_type(c.atttypid, c.atttypmod)) END,
                         ', ' ORDER BY p.attnum))
FROM pg_attribute p
JOIN pg_attribute c ON c.attrelid = 'pg_temp.encounters_csv'::regclass AND c.attnum = p.attnum
WHERE p.attrelid = 'pg_temp.encounters_parquet'::regclass AND p.attnum > 0 AND NOT p.attisdropped
\gexec
