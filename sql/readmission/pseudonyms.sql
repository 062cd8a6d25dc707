-- Keyed pseudonyms: analyst-facing views of the pack where every patient and encounter identifier
-- is an HMAC-SHA256 of it under a key only admins can read (pgcrypto). The key is made once and
-- kept (it is backed up with the database), so a patient's pseudonym is the same every night and a
-- dashboard can follow a patient; admins re-identify with readmission_private.reidentify. The views
-- read the key with their owner's rights: an analyst computes no pseudonym, and holds nothing that
-- maps one back. Run after the pack's relations exist (cohort.sql; dashboards.sql for the scores).
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE SCHEMA IF NOT EXISTS readmission_private;
REVOKE ALL ON SCHEMA readmission_private FROM PUBLIC;
GRANT USAGE ON SCHEMA readmission_private TO healthml_admin;
COMMENT ON SCHEMA readmission_private IS
    'The readmission pack''s pseudonym key and re-identification: admins only.';

CREATE TABLE IF NOT EXISTS readmission_private.pseudonym_key (
    only_row   boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    key        bytea       NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE readmission_private.pseudonym_key IS
    'The HMAC key of the pack''s pseudonyms, made once: replacing it gives every patient a new pseudonym.';
REVOKE ALL ON readmission_private.pseudonym_key FROM PUBLIC;
GRANT SELECT ON readmission_private.pseudonym_key TO healthml_admin;

-- pgcrypto may live in any schema: the views name its functions where it is.
DO $pack$
DECLARE
    crypto text := (SELECT quote_ident(n.nspname) FROM pg_catalog.pg_extension x
                    JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace WHERE x.extname = 'pgcrypto');
    -- 'P' or 'E', then the first 20 hex digits (80 bits) of the HMAC of '<kind>:<id>'
    pseudonym text := 'pg_catalog.concat(%L, pg_catalog.left(pg_catalog.encode(%s.hmac(pg_catalog.concat(%L, %s)::bytea, k.key, ''sha256''), ''hex''), 20))';
BEGIN
    EXECUTE format('INSERT INTO readmission_private.pseudonym_key (key) SELECT %s.gen_random_bytes(32)
                    WHERE NOT EXISTS (SELECT FROM readmission_private.pseudonym_key)', crypto);
    -- the cohort with pseudonyms in place of the identifiers (every other column as it is)
    EXECUTE (SELECT format('CREATE OR REPLACE VIEW readmission.analyst_cohort AS SELECT %s AS patient_pseudonym, %s AS encounter_pseudonym, %s
                            FROM readmission.cohort c, readmission_private.pseudonym_key k',
                           format(pseudonym, 'P', crypto, 'patient:', 'c.patient_nbr'),
                           format(pseudonym, 'E', crypto, 'encounter:', 'c.encounter_id'),
                           string_agg('c.' || quote_ident(a.attname), ', ' ORDER BY a.attnum))
             FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = 'readmission.cohort'::regclass AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attname NOT IN ('encounter_id', 'patient_nbr'));
    EXECUTE format($v$
        CREATE OR REPLACE FUNCTION readmission_private.reidentify(pseudonym text)
            RETURNS TABLE (kind text, id bigint)
            LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
            BEGIN ATOMIC
                SELECT 'patient', e.patient_nbr FROM readmission.encounters e, readmission_private.pseudonym_key k
                WHERE reidentify.pseudonym LIKE 'P%%' AND %s = reidentify.pseudonym
                GROUP BY e.patient_nbr
                UNION ALL
                SELECT 'encounter', e.encounter_id FROM readmission.encounters e, readmission_private.pseudonym_key k
                WHERE reidentify.pseudonym LIKE 'E%%' AND %s = reidentify.pseudonym;
            END$v$,
        format(pseudonym, 'P', crypto, 'patient:', 'e.patient_nbr'), format(pseudonym, 'E', crypto, 'encounter:', 'e.encounter_id'));
END $pack$;
COMMENT ON VIEW readmission.analyst_cohort IS
    'The cohort with keyed pseudonyms (patient_pseudonym, encounter_pseudonym: HMAC-SHA256 under an admins-only key, stable across nights) in place of patient_nbr and encounter_id.';
COMMENT ON FUNCTION readmission_private.reidentify(text) IS
    'Admins: the patient_nbr or encounter_id a pseudonym of the pack stands for.';
REVOKE EXECUTE ON FUNCTION readmission_private.reidentify(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION readmission_private.reidentify(text) TO healthml_admin;
GRANT SELECT ON readmission.analyst_cohort TO healthml_analyst, healthml_auditor;
