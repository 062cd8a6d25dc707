-- Merges the landed rows into the pack's tables by key: new keys are inserted, changed rows are
-- updated, identical rows are left alone. Loading the same file twice therefore changes nothing, and
-- rows that are no longer in the file are kept (a loader merges; it does not delete history).

INSERT INTO readmission.admission_types AS t (admission_type_id, description)
SELECT id, btrim(description) FROM pg_temp.id_mappings_csv WHERE block = 'admission_type_id'
ON CONFLICT (admission_type_id) DO UPDATE SET description = EXCLUDED.description
WHERE t.description IS DISTINCT FROM EXCLUDED.description;

INSERT INTO readmission.discharge_dispositions AS t (discharge_disposition_id, description)
SELECT id, btrim(description) FROM pg_temp.id_mappings_csv WHERE block = 'discharge_disposition_id'
ON CONFLICT (discharge_disposition_id) DO UPDATE SET description = EXCLUDED.description
WHERE t.description IS DISTINCT FROM EXCLUDED.description;

INSERT INTO readmission.admission_sources AS t (admission_source_id, description)
SELECT id, btrim(description) FROM pg_temp.id_mappings_csv WHERE block = 'admission_source_id'
ON CONFLICT (admission_source_id) DO UPDATE SET description = EXCLUDED.description
WHERE t.description IS DISTINCT FROM EXCLUDED.description;

-- The 49 non-key columns are listed from the catalog rather than by hand, so the update cannot drift
-- from the table definition; identifiers are quoted.
SELECT format(
    $merge$
    WITH merged AS (
        INSERT INTO readmission.encounters AS t SELECT * FROM pg_temp.encounters_csv
        ON CONFLICT (encounter_id) DO UPDATE SET (%s) = ROW(%s)
        WHERE (t.*) IS DISTINCT FROM (EXCLUDED.*)
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted)     AS encounters_inserted,
           count(*) FILTER (WHERE NOT inserted) AS encounters_updated,
           (SELECT count(*) FROM pg_temp.encounters_csv) AS rows_in_file
    FROM merged
    $merge$,
    string_agg(quote_ident(attname), ', ' ORDER BY attnum),
    string_agg('EXCLUDED.' || quote_ident(attname), ', ' ORDER BY attnum))
FROM pg_attribute
WHERE attrelid = 'readmission.encounters'::regclass AND attnum > 1 AND NOT attisdropped
\gexec

ANALYZE readmission.admission_types, readmission.discharge_dispositions,
        readmission.admission_sources, readmission.encounters, readmission.encounter_history,
        readmission.encounter_features;
