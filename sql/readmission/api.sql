-- The real-time scoring API of the readmission pack: api.score_encounter(encounter_id) returns the
-- encounter's score, risk tier and top 3 reasons as jsonb. Schema api holds nothing else, so PostgREST
-- (docker/compose.yaml: PGRST_DB_SCHEMAS=api) exposes exactly this function, as
-- POST /rpc/score_encounter {"encounter_id": 12522}, to the anonymous role healthml_web_anon, which
-- can call it and nothing else: it reads no table and no other function. The function runs as its
-- owner (SECURITY DEFINER, fixed search_path) and reads one encounter's features.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'healthml_web_anon') THEN
        CREATE ROLE healthml_web_anon NOLOGIN;
    END IF;
END $$;

CREATE SCHEMA IF NOT EXISTS api;
REVOKE ALL ON SCHEMA api FROM PUBLIC;

CREATE OR REPLACE FUNCTION api.score_encounter(encounter_id bigint) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f      readmission.features;
    score  double precision;
BEGIN
    -- The patient condition reaches the features view's window partitions (its history columns):
    -- without it the view computes every patient's history for one encounter.
    SELECT * INTO f FROM readmission.features x
    WHERE x.patient_nbr = (SELECT e.patient_nbr FROM readmission.encounters e WHERE e.encounter_id = score_encounter.encounter_id)
      AND x.encounter_id = score_encounter.encounter_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'encounter % does not exist', encounter_id
            USING ERRCODE = 'no_data_found', HINT = 'pass the encounter_id of a row of readmission.encounters';
    END IF;
    score := healthml.predict_row('readmission', f);
    RETURN jsonb_build_object(
        'encounter_id', f.encounter_id,
        'score', round(score::numeric, 4),
        'tier', healthml.risk_tier('readmission', score),
        'model_version', (SELECT m.version FROM healthml.models m WHERE m.id = healthml.model_version_id('readmission')),
        'reasons', (SELECT jsonb_agg(jsonb_build_object('feature', w.feature, 'value', w.value,
                                                        'contribution', round(r.contribution::numeric, 3)) ORDER BY r.n)
                    FROM healthml.explain_row('readmission', f, 3) WITH ORDINALITY AS r(feature, value, contribution, n),
                         readmission.reason_in_words(r.feature, r.value) AS w));
END $$;
COMMENT ON FUNCTION api.score_encounter(bigint) IS
    'Score, risk tier and top 3 reasons of one encounter (deployed model "readmission"): the HTTP scoring API through PostgREST.';
REVOKE EXECUTE ON FUNCTION api.score_encounter(bigint) FROM PUBLIC;
GRANT USAGE ON SCHEMA api TO healthml_web_anon;
GRANT EXECUTE ON FUNCTION api.score_encounter(bigint) TO healthml_web_anon;
-- Not to analysts, who work on pseudonyms (pseudonyms.sql): a scorer that takes an encounter_id
-- would let them link pseudonyms back by matching scores. They score with
-- readmission.readmit_score_by_pseudonym.
REVOKE EXECUTE ON FUNCTION api.score_encounter(bigint) FROM healthml_analyst;
REVOKE USAGE ON SCHEMA api FROM healthml_analyst;
