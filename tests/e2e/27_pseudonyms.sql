-- Keyed pseudonyms (sql/readmission/pseudonyms.sql, loaded with the pack): the analysts' views carry
-- HMAC pseudonyms instead of patient_nbr and encounter_id, stable when the pack is loaded again, one
-- per patient and per encounter; the key and re-identification are admins' only, and analysts read
-- no relation of the pack that has an identifier (the scores by pseudonym: 96_pseudonym_scores.sh).
BEGIN;
SELECT plan(15);

SELECT is((SELECT count(*) FROM pg_attribute WHERE attrelid = 'readmission.analyst_cohort'::regclass AND attnum > 0
           AND attname IN ('patient_nbr', 'encounter_id')), 0::bigint, 'the analysts'' cohort has no raw identifier');
SELECT is((SELECT count(*) FROM readmission.analyst_cohort), (SELECT count(*) FROM readmission.cohort), 'and every cohort row');
SELECT is((SELECT count(DISTINCT patient_pseudonym) FROM readmission.analyst_cohort),
          (SELECT count(DISTINCT patient_nbr) FROM readmission.cohort), 'one pseudonym per patient');
SELECT is((SELECT count(DISTINCT encounter_pseudonym) FROM readmission.analyst_cohort), (SELECT count(*) FROM readmission.cohort),
          'one per encounter');
SELECT ok((SELECT bool_and(patient_pseudonym ~ '^P[0-9a-f]{20}$' AND encounter_pseudonym ~ '^E[0-9a-f]{20}$') FROM readmission.analyst_cohort),
          'P or E and 80 bits of HMAC-SHA256');
CREATE TEMP TABLE before AS SELECT encounter_pseudonym, patient_pseudonym FROM readmission.analyst_cohort ORDER BY encounter_pseudonym LIMIT 100;
\set QUIET 1
\o /dev/null
\ir ../../sql/readmission/pseudonyms.sql
\o
SELECT is((SELECT count(*) FROM before b JOIN readmission.analyst_cohort c USING (encounter_pseudonym, patient_pseudonym)), 100::bigint,
          'loading the pack again keeps every pseudonym (the key is made once)');
CREATE TEMP TABLE probe AS SELECT * FROM readmission.analyst_cohort ORDER BY encounter_pseudonym LIMIT 1;
CREATE TEMP TABLE found AS
SELECT (SELECT id FROM readmission_private.reidentify(p.encounter_pseudonym) WHERE kind = 'encounter') AS encounter_id,
       (SELECT id FROM readmission_private.reidentify(p.patient_pseudonym) WHERE kind = 'patient') AS patient_nbr
FROM probe p;
SELECT is((SELECT to_jsonb(c) - 'encounter_id' - 'patient_nbr' FROM readmission.cohort c JOIN found f USING (encounter_id, patient_nbr)),
          (SELECT to_jsonb(p) - 'encounter_pseudonym' - 'patient_pseudonym' FROM probe p),
          'an admin re-identifies an encounter and its patient: the same row');
SET ROLE healthml_analyst;
SELECT ok((SELECT count(*) > 0 FROM readmission.analyst_cohort), 'an analyst reads the pseudonymized cohort');
SELECT throws_ok($$SELECT * FROM readmission_private.pseudonym_key$$, '42501', NULL, 'but not the key');
SELECT throws_ok($$SELECT * FROM readmission_private.reidentify('P0')$$, '42501', NULL, 'nor re-identifies');
SELECT throws_ok($$SELECT count(*) FROM readmission.encounters$$, '42501', NULL, 'nor reads the raw encounters');
SELECT throws_ok($$SELECT count(*) FROM readmission.cohort$$, '42501', NULL, 'nor the raw cohort');
SELECT ok((SELECT count(*) > 0 FROM readmission.analyst_test_split), 'the test split, by pseudonym');
SELECT ok((SELECT count(*) > 0 FROM readmission.admission_types), 'and the code tables');
RESET ROLE;
-- every relation of the pack an analyst may read is free of identifiers
SELECT is((SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class c
           WHERE c.relnamespace = 'readmission'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
             AND has_table_privilege('healthml_analyst', c.oid, 'SELECT')
             AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                         AND a.attname IN ('encounter_id', 'patient_nbr'))), NULL,
          'no relation an analyst reads has an encounter_id or a patient_nbr');

SELECT * FROM finish();
ROLLBACK;
