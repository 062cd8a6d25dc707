-- The modelling cohort and the analyst-facing scoring function of the readmission pack.

-- Encounters that can be readmitted: discharges to hospice or death are left out.
CREATE OR REPLACE VIEW readmission.cohort AS
SELECT * FROM readmission.features WHERE in_cohort;
COMMENT ON VIEW readmission.cohort IS
    'readmission.features without discharges to hospice or death (they cannot be readmitted): the training set of model "readmission".';

-- The reference split's test rows (the models never trained on them): what monitoring compares.
CREATE OR REPLACE VIEW readmission.test_split AS
SELECT * FROM readmission.cohort WHERE patient_nbr % 5 = 0;
COMMENT ON VIEW readmission.test_split IS
    'Cohort encounters of the reference split''s test patients (patient_nbr % 5 = 0).';

-- Probability of readmission within 30 days from the deployed model "readmission", for an encounter
-- of readmission.encounters:  SELECT encounter_id, readmission.readmit_score(e) FROM readmission.encounters e;
-- The encounter's features are its stored row (readmission.encounter_features, the table behind
-- readmission.features; features.sql), read through the primary key's index by
-- healthml.predict_by_key: no query runs per call. The body is one expression with an SQL-standard
-- body, so PostgreSQL binds every name in it when the function is created (nothing in a caller's
-- search_path can stand in for them) and inlines the call into the caller's query.
-- On a healthml older than 0.2.0 (no predict_by_key; the pack is loaded again after ALTER EXTENSION
-- healthml UPDATE) it is the PL/pgSQL lookup of 0.1.0, every name and operator schema-qualified.
DO $pack$
BEGIN
    IF pg_catalog.to_regprocedure('healthml.predict_by_key(text,regclass,bigint)') IS NOT NULL THEN
        CREATE OR REPLACE FUNCTION readmission.readmit_score(e readmission.encounters) RETURNS double precision
            LANGUAGE sql STABLE PARALLEL SAFE
            RETURN healthml.predict_by_key('readmission', 'readmission.encounter_features'::regclass, e.encounter_id);
    ELSE
        CREATE OR REPLACE FUNCTION readmission.readmit_score(e readmission.encounters) RETURNS double precision
            LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
        DECLARE
            score double precision;
        BEGIN
            SELECT healthml.predict_row('readmission', f) INTO score
            FROM readmission.features f
            WHERE f.encounter_id OPERATOR(pg_catalog.=) e.encounter_id;
            RETURN score;
        END $$;
    END IF;
END $pack$;
COMMENT ON FUNCTION readmission.readmit_score(readmission.encounters) IS
    'Probability of readmission within 30 days (deployed model "readmission") for an encounter row.';

-- The reasons behind a coded value, in the words of the id mappings: discharge_disposition_id = 1
-- reads "discharge_disposition = Discharged to home".
CREATE OR REPLACE FUNCTION readmission.reason_in_words(feature text, value text, OUT feature text, OUT value text)
    LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN d.description IS NULL THEN $1 ELSE regexp_replace($1, '_id$', '') END,
           coalesce(d.description, $2)
    FROM (SELECT CASE
                     WHEN $1 IN ('discharge_disposition_id', 'previous_discharge_disposition_id')
                         THEN (SELECT x.description FROM readmission.discharge_dispositions x
                               WHERE x.discharge_disposition_id::text = $2)
                     WHEN $1 = 'admission_type_id'
                         THEN (SELECT x.description FROM readmission.admission_types x WHERE x.admission_type_id::text = $2)
                     WHEN $1 = 'admission_source_id'
                         THEN (SELECT x.description FROM readmission.admission_sources x WHERE x.admission_source_id::text = $2)
                 END AS description) d;
END;

COMMENT ON FUNCTION readmission.reason_in_words(text, text) IS
    'A reason in the words of the id mappings: a coded feature and value become its description (discharge_disposition_id 1: "Discharged to home").';

-- Why the deployed model "readmission" scores an encounter as it does:
--   {"score": 0.31, "reasons": [{"feature": "number_inpatient", "value": "3", "contribution": 0.42}, ...]}
-- contributions are exact shares of the log-odds (TreeSHAP or logistic coefficients), largest first.
CREATE OR REPLACE FUNCTION readmission.readmit_explain(e readmission.encounters, top_k integer DEFAULT 5) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT jsonb_build_object(
               'score', healthml.predict_row('readmission', f),
               'reasons', (SELECT jsonb_agg(jsonb_build_object('feature', w.feature, 'value', w.value,
                                                               'contribution', round(r.contribution::numeric, 4))
                                            ORDER BY r.rank)
                           FROM healthml.explain_row('readmission', f, top_k) WITH ORDINALITY AS r(feature, value, contribution, rank),
                                readmission.reason_in_words(r.feature, r.value) AS w))
    FROM readmission.features f
    WHERE f.encounter_id = e.encounter_id;
END;
COMMENT ON FUNCTION readmission.readmit_explain(readmission.encounters, integer) IS
    'Score and top reasons (exact contributions to the log-odds, coded values in words) of an encounter under the deployed model "readmission".';

-- The public data has no dates: the 2,000 cohort encounters with the highest encounter_id stand in for
-- "the day's discharges" that the nightly batch scores.
CREATE OR REPLACE VIEW readmission.recent_discharges AS
SELECT * FROM readmission.cohort ORDER BY encounter_id DESC LIMIT 2000;
COMMENT ON VIEW readmission.recent_discharges IS
    'The 2,000 latest cohort encounters (by encounter_id): the nightly batch''s input in the demo.';

-- Each encounter with its score, computed where the encounter is stored. When readmission.encounters is
-- split across shards, a coordinator reads this view of every shard as the partitions of its own
-- readmission.encounters (docs/reference/sharding.md): postgres_fdw computes calls in a query's select
-- list on the coordinator, after the rows arrived, so the call is made here, on the shard, and a row
-- reaches the coordinator already scored.
CREATE OR REPLACE VIEW readmission.scored_encounters AS
SELECT e.*, readmission.readmit_score(e) AS readmit_score FROM readmission.encounters e;
COMMENT ON VIEW readmission.scored_encounters IS
    'Every encounter with readmit_score (deployed model "readmission"), scored where it is stored: what a sharding coordinator reads.';

-- Analysts (healthml_analyst) read the pack's data and score it; only admins train and deploy.
GRANT USAGE ON SCHEMA readmission TO healthml_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA readmission TO healthml_analyst;
-- but not the internals behind readmission.features (analysts read the stored rows through it)
REVOKE SELECT ON readmission._feature_rows, readmission._features_state FROM healthml_analyst;
-- and every read of a patient's rows is audited
\ir audit.sql
-- analysts' views with keyed pseudonyms in place of the identifiers
\ir pseudonyms.sql
