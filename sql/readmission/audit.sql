-- Who read which patient: pgaudit's object audit (docs/security.md, "Audit") logs every statement
-- that reads a relation its audit role (healthml_auditor, set as pgaudit.role by scripts/cluster and
-- the container image) may read. The role may read every relation of the pack that holds an
-- encounter or a patient, and nothing else; it never logs in and nobody is granted it (membership
-- would give its reads). Run after the pack creates or replaces relations (cohort.sql,
-- dashboards.sql): a replaced view loses its grants.
DO $$
DECLARE
    r record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'healthml_auditor') THEN
        CREATE ROLE healthml_auditor NOLOGIN;
    END IF;
    FOR r IN
        SELECT c.oid::regclass AS relation
        FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'readmission'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
          AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                        AND a.attname IN ('encounter_id', 'patient_nbr'))
        ORDER BY 1
    LOOP
        EXECUTE format('GRANT SELECT ON %s TO healthml_auditor', r.relation);
    END LOOP;
END $$;
