-- Keyed pseudonyms: analyst-facing views of the pack where every patient and encounter identifier
-- is an HMAC-SHA256 of it under a key only admins can read (pgcrypto); analysts read no identifier. The key is made once and
-- kept (it is backed up with the database), so a patient's pseudonym is the same every night and a
-- dashboard can follow a patient; admins re-identify with readmission_private.reidentify. The views
-- read the key with their owner's rights: an analyst computes no pseudonym, and holds nothing that
-- maps one back. Run after the pack's relations exist and are granted (the end of cohort.sql, and again
-- of dashboards.sql for the scores): it takes the identifying ones away from analysts.
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

CREATE TABLE IF NOT EXISTS readmission_private.encounter_pseudonyms (
    encounter_pseudonym text   PRIMARY KEY,
    encounter_id        bigint NOT NULL UNIQUE
);
COMMENT ON TABLE readmission_private.encounter_pseudonyms IS
    'Every encounter''s pseudonym, filled when the pack runs: what readmission.readmit_score_by_pseudonym looks up.';
REVOKE ALL ON readmission_private.encounter_pseudonyms FROM PUBLIC;

-- pgcrypto may live in any schema: the views name its functions where it is.
DO $pack$
DECLARE
    v      record;
    crypto text := (SELECT quote_ident(n.nspname) FROM pg_catalog.pg_extension x
                    JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace WHERE x.extname = 'pgcrypto');
    -- 'P' or 'E', then the first 20 hex digits (80 bits) of the HMAC of '<kind>:<id>'
    pseudonym text := 'pg_catalog.concat(%L, pg_catalog.left(pg_catalog.encode(%s.hmac(pg_catalog.concat(%L, %s)::bytea, k.key, ''sha256''), ''hex''), 20))';
BEGIN
    EXECUTE format('INSERT INTO readmission_private.pseudonym_key (key) SELECT %s.gen_random_bytes(32)
                    WHERE NOT EXISTS (SELECT FROM readmission_private.pseudonym_key)', crypto);
    -- the analysts' views: each relation of the pack they read that has the identifiers, with
    -- pseudonyms in their place (every other column as it is)
    FOR v IN SELECT x.source, x.target, x.what
             FROM (VALUES ('cohort', 'analyst_cohort', 'The cohort'),
                          ('test_split', 'analyst_test_split', 'The reference test split'),
                          ('dashboard_patient_risk', 'analyst_patient_risk',
                           'Per patient, the latest encounter''s nightly score, tier and top reasons')) AS x(source, target, what)
             WHERE pg_catalog.to_regclass('readmission.' || x.source) IS NOT NULL
    LOOP
        EXECUTE (SELECT format('CREATE OR REPLACE VIEW readmission.%I AS SELECT %s AS patient_pseudonym, %s AS encounter_pseudonym, %s
                                FROM readmission.%I c, readmission_private.pseudonym_key k',
                               v.target,
                               format(pseudonym, 'P', crypto, 'patient:', 'c.patient_nbr'),
                               format(pseudonym, 'E', crypto, 'encounter:', 'c.encounter_id'),
                               string_agg('c.' || quote_ident(a.attname), ', ' ORDER BY a.attnum), v.source)
                 FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = ('readmission.' || v.source)::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.attname NOT IN ('encounter_id', 'patient_nbr'));
        EXECUTE format('COMMENT ON VIEW readmission.%I IS %L', v.target,
                       v.what || ' with keyed pseudonyms (patient_pseudonym, encounter_pseudonym: HMAC-SHA256 under an admins-only key, stable across nights) in place of patient_nbr and encounter_id.');
        EXECUTE format('GRANT SELECT ON readmission.%I TO healthml_analyst, healthml_auditor', v.target);
    END LOOP;
    -- every encounter's pseudonym, for scoring by pseudonym without computing them all on each call;
    -- only encounters not there yet are hashed (this file runs at every load and dashboard refresh)
    EXECUTE format('INSERT INTO readmission_private.encounter_pseudonyms (encounter_pseudonym, encounter_id)
                    SELECT %s, e.encounter_id FROM readmission.encounters e, readmission_private.pseudonym_key k
                    WHERE NOT EXISTS (SELECT FROM readmission_private.encounter_pseudonyms p WHERE p.encounter_id = e.encounter_id)
                    ON CONFLICT DO NOTHING', format(pseudonym, 'E', crypto, 'encounter:', 'e.encounter_id'));
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
COMMENT ON FUNCTION readmission_private.reidentify(text) IS
    'Admins: the patient_nbr or encounter_id a pseudonym of the pack stands for.';
REVOKE EXECUTE ON FUNCTION readmission_private.reidentify(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION readmission_private.reidentify(text) TO healthml_admin;

-- Risk by pseudonym: what analysts score with. It runs as the pack's owner and takes a pseudonym,
-- never an identifier: a scorer that took encounter_id would let an analyst link pseudonyms back to
-- identifiers by matching scores.
CREATE OR REPLACE FUNCTION readmission.readmit_score_by_pseudonym(encounter_pseudonym text) RETURNS double precision
    LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    SELECT p.encounter_id INTO id FROM readmission_private.encounter_pseudonyms p
    WHERE p.encounter_pseudonym = readmit_score_by_pseudonym.encounter_pseudonym;
    IF NOT FOUND THEN
        -- an encounter added since the pack last ran: found from the key
        SELECT r.id INTO id FROM readmission_private.reidentify(readmit_score_by_pseudonym.encounter_pseudonym) r
        WHERE r.kind = 'encounter';
    END IF;
    IF id IS NULL THEN
        RAISE EXCEPTION 'encounter pseudonym % does not exist', quote_literal(readmit_score_by_pseudonym.encounter_pseudonym)
            USING ERRCODE = 'no_data_found',
                  HINT = 'pass an encounter_pseudonym of readmission.analyst_cohort or readmission.analyst_patient_risk';
    END IF;
    RETURN healthml.predict_by_key('readmission', 'readmission.encounter_features'::regclass, id);
END $$;
COMMENT ON FUNCTION readmission.readmit_score_by_pseudonym(text) IS
    'The deployed readmission model''s probability for the encounter with this pseudonym (analysts score by pseudonym, never by identifier).';
REVOKE EXECUTE ON FUNCTION readmission.readmit_score_by_pseudonym(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION readmission.readmit_score_by_pseudonym(text) TO healthml_analyst;

-- Analysts see identifiers only as pseudonyms: no relation of the pack with an encounter_id or a
-- patient_nbr column (admins, and the audit role, keep them).
DO $$
DECLARE
    r regclass;
BEGIN
    FOR r IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'readmission'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
          AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attname IN ('encounter_id', 'patient_nbr'))
    LOOP
        EXECUTE format('REVOKE SELECT ON %s FROM healthml_analyst', r);
    END LOOP;
END $$;
