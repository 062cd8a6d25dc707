#!/usr/bin/env bash
# Analysts score by pseudonym (sql/readmission/pseudonyms.sql): readmit_score_by_pseudonym gives the
# score readmit_score gives the same encounter, refuses an unknown pseudonym with a hint, and finds an
# encounter added after the pack last ran; the patients' nightly scores are theirs by pseudonym only,
# and the raw-identifier scorers are not theirs. Runs after 95_dashboards.sh (the model is deployed,
# the nightly batch has run).
# A shell test so that it runs after the .sql files and 95_dashboards.sh. pgTAP through psql.
set -u
exec psql -X -q -t -A -v ON_ERROR_STOP=1 -P pager=off -d "${PGDATABASE:?}" <<'SQL'
BEGIN;
SELECT plan(8);

CREATE TEMP TABLE probe AS
SELECT c.encounter_pseudonym, (SELECT r.id FROM readmission_private.reidentify(c.encounter_pseudonym) r) AS encounter_id
FROM readmission.analyst_cohort c ORDER BY c.encounter_pseudonym LIMIT 5;
GRANT SELECT ON probe TO healthml_analyst;
CREATE TEMP TABLE expected AS
SELECT p.encounter_pseudonym, readmission.readmit_score(e) AS score FROM probe p JOIN readmission.encounters e USING (encounter_id);
GRANT SELECT ON expected TO healthml_analyst;

SET ROLE healthml_analyst;
SELECT is((SELECT count(*) FROM expected x WHERE readmission.readmit_score_by_pseudonym(x.encounter_pseudonym) = x.score), 5::bigint,
          'an analyst''s score by pseudonym is readmit_score''s for the same encounter');
SELECT throws_ok($$SELECT readmission.readmit_score_by_pseudonym('E0000')$$, 'P0002',
                 'encounter pseudonym ''E0000'' does not exist', 'an unknown pseudonym is refused');
SELECT is(readmission.readmit_score_by_pseudonym(NULL), NULL, 'NULL scores NULL');
SELECT ok((SELECT count(*) = count(DISTINCT patient_pseudonym) AND count(*) > 0 FROM readmission.analyst_patient_risk),
          'the patients'' latest scores, one row per patient pseudonym');
SELECT throws_ok($$SELECT count(*) FROM readmission.dashboard_patient_risk$$, '42501', NULL, 'not by identifier');
SELECT throws_ok($$SELECT api.score_encounter(12522)$$, '42501', NULL, 'nor through the API''s raw-identifier scorer');
SELECT throws_ok($$SELECT healthml.predict_by_key('readmission', 'readmission.encounter_features', 12522)$$, '42501', NULL,
                 'nor by primary key');
RESET ROLE;

-- an encounter the pack has not seen yet: its pseudonym is found from the key
DELETE FROM readmission_private.encounter_pseudonyms WHERE encounter_pseudonym = (SELECT min(encounter_pseudonym) FROM probe);
SET ROLE healthml_analyst;
SELECT is(readmission.readmit_score_by_pseudonym((SELECT min(encounter_pseudonym) FROM probe)),
          (SELECT score FROM expected WHERE encounter_pseudonym = (SELECT min(encounter_pseudonym) FROM probe)),
          'an encounter missing from the lookup table is scored all the same');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
SQL
