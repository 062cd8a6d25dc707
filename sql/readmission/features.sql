-- readmission.features: one row per encounter with the engineered columns a clinician expects, the
-- input of the readmission models. Diagnosis groups follow Strack et al. (2014); patient history
-- counts only the patient's earlier encounters (by encounter_id), never later ones.
--
-- The rows are computed by readmission._feature_rows and stored in readmission.encounter_features,
-- which readmission.features reads. Scoring one encounter (readmission.readmit_score) is then a
-- single primary-key lookup of a stored row: computing it per call costs an executor start of a
-- five-way join and of seventy-odd expressions, more than scoring the row with a 1,200-tree model.
-- The statement-level triggers on readmission.encounters (and on the lookup tables) recompute the
-- rows of the patients a statement touched, in the same transaction, so no reader sees a stored row
-- that disagrees with the encounters. Run by the loader before every load; idempotent.

-- The computation, over the encounters, their stored history (history.sql) and the id mappings.
-- Columns are only ever appended (the stored table follows by appending too).
CREATE OR REPLACE VIEW readmission._feature_rows AS
SELECT e.encounter_id,
       e.patient_nbr,
       e.race,
       e.gender,
       e.age,
       substring(e.age FROM '^\[(\d+)-')::int + 5                   AS age_years,
       e.admission_type_id,
       at.description                                                 AS admission_type,
       e.discharge_disposition_id,
       dd.description                                                 AS discharge_disposition,
       e.admission_source_id,
       src.description                                                AS admission_source,
       e.time_in_hospital,
       e.payer_code,
       e.medical_specialty,
       e.num_lab_procedures,
       e.num_procedures,
       e.num_medications,
       e.number_outpatient,
       e.number_emergency,
       e.number_inpatient,
       e.number_outpatient + e.number_emergency + e.number_inpatient AS prior_year_visits,
       e.number_diagnoses,
       e.diag_1,
       e.diag_2,
       e.diag_3,
       healthml.icd9_group(e.diag_1)                                  AS diag_1_group,
       healthml.icd9_group(e.diag_2)                                  AS diag_2_group,
       healthml.icd9_group(e.diag_3)                                  AS diag_3_group,
       e.max_glu_serum,
       e.a1c_result,
       e.a1c_result <> 'None'                                         AS a1c_tested,
       CASE e.a1c_result WHEN 'None' THEN 'Not tested'
                         WHEN 'Norm' THEN 'Normal'
                         ELSE 'High' END                              AS a1c_status,
       e.metformin,
       e.repaglinide,
       e.nateglinide,
       e.chlorpropamide,
       e.glimepiride,
       e.acetohexamide,
       e.glipizide,
       e.glyburide,
       e.tolbutamide,
       e.pioglitazone,
       e.rosiglitazone,
       e.acarbose,
       e.miglitol,
       e.troglitazone,
       e.tolazamide,
       e.examide,
       e.citoglipton,
       e.insulin,
       e.glyburide_metformin,
       e.glipizide_metformin,
       e.glimepiride_pioglitazone,
       e.metformin_rosiglitazone,
       e.metformin_pioglitazone,
       ((e.metformin IN ('Up', 'Down'))::int
         + (e.repaglinide IN ('Up', 'Down'))::int
         + (e.nateglinide IN ('Up', 'Down'))::int
         + (e.chlorpropamide IN ('Up', 'Down'))::int
         + (e.glimepiride IN ('Up', 'Down'))::int
         + (e.acetohexamide IN ('Up', 'Down'))::int
         + (e.glipizide IN ('Up', 'Down'))::int
         + (e.glyburide IN ('Up', 'Down'))::int
         + (e.tolbutamide IN ('Up', 'Down'))::int
         + (e.pioglitazone IN ('Up', 'Down'))::int
         + (e.rosiglitazone IN ('Up', 'Down'))::int
         + (e.acarbose IN ('Up', 'Down'))::int
         + (e.miglitol IN ('Up', 'Down'))::int
         + (e.troglitazone IN ('Up', 'Down'))::int
         + (e.tolazamide IN ('Up', 'Down'))::int
         + (e.examide IN ('Up', 'Down'))::int
         + (e.citoglipton IN ('Up', 'Down'))::int
         + (e.insulin IN ('Up', 'Down'))::int
         + (e.glyburide_metformin IN ('Up', 'Down'))::int
         + (e.glipizide_metformin IN ('Up', 'Down'))::int
         + (e.glimepiride_pioglitazone IN ('Up', 'Down'))::int
         + (e.metformin_rosiglitazone IN ('Up', 'Down'))::int
         + (e.metformin_pioglitazone IN ('Up', 'Down'))::int)                                                     AS medication_changes,
       ((e.metformin <> 'No')::int
         + (e.repaglinide <> 'No')::int
         + (e.nateglinide <> 'No')::int
         + (e.chlorpropamide <> 'No')::int
         + (e.glimepiride <> 'No')::int
         + (e.acetohexamide <> 'No')::int
         + (e.glipizide <> 'No')::int
         + (e.glyburide <> 'No')::int
         + (e.tolbutamide <> 'No')::int
         + (e.pioglitazone <> 'No')::int
         + (e.rosiglitazone <> 'No')::int
         + (e.acarbose <> 'No')::int
         + (e.miglitol <> 'No')::int
         + (e.troglitazone <> 'No')::int
         + (e.tolazamide <> 'No')::int
         + (e.examide <> 'No')::int
         + (e.citoglipton <> 'No')::int
         + (e.insulin <> 'No')::int
         + (e.glyburide_metformin <> 'No')::int
         + (e.glipizide_metformin <> 'No')::int
         + (e.glimepiride_pioglitazone <> 'No')::int
         + (e.metformin_rosiglitazone <> 'No')::int
         + (e.metformin_pioglitazone <> 'No')::int)                                                  AS medications_prescribed,
       e.change,
       e.diabetes_med,
       h.prior_encounters,
       h.prior_readmissions_30d,
       h.prior_readmissions_any,
       e.discharge_disposition_id NOT IN (11, 13, 14, 19, 20, 21)     AS in_cohort,
       e.readmitted,
       e.readmitted = '<30'                                           AS readmitted_30d,
       -- added later: CREATE OR REPLACE VIEW only appends columns
       h.prior_days_in_hospital,
       h.previous_readmitted_30d,
       h.previous_readmitted_any,
       h.previous_number_inpatient,
       h.previous_time_in_hospital,
       h.previous_discharge_disposition_id
FROM readmission.encounters e
LEFT JOIN readmission.admission_types at USING (admission_type_id)
LEFT JOIN readmission.discharge_dispositions dd USING (discharge_disposition_id)
LEFT JOIN readmission.admission_sources src USING (admission_source_id)
LEFT JOIN readmission.encounter_history h USING (encounter_id);

COMMENT ON VIEW readmission._feature_rows IS
    'How readmission.features computes each encounter''s row (what readmission.encounter_features stores): the encounter, its history and the id mappings.';

CREATE TABLE IF NOT EXISTS readmission.encounter_features AS SELECT * FROM readmission._feature_rows WITH NO DATA;
COMMENT ON TABLE readmission.encounter_features IS
    'The stored rows of readmission.features (computed by readmission._feature_rows), kept current by triggers on readmission.encounters and the id mappings.';

-- Which definition the stored rows were computed with: the computation and the healthml library it
-- calls (healthml.icd9_group). When either changes, every row is computed again below.
CREATE TABLE IF NOT EXISTS readmission._features_state (
    computed_with text NOT NULL
);
COMMENT ON TABLE readmission._features_state IS
    'The definition (view text and healthml version) readmission.encounter_features was computed with; features.sql recomputes every row when it changes.';

DO $$
DECLARE
    missing record;
BEGIN
    -- columns the computation gained since the table was made, appended in the view's order
    FOR missing IN
        SELECT v.attname, format_type(v.atttypid, v.atttypmod) AS type
        FROM pg_attribute v
        WHERE v.attrelid = 'readmission._feature_rows'::regclass AND v.attnum > 0
          AND NOT EXISTS (SELECT FROM pg_attribute t WHERE t.attrelid = 'readmission.encounter_features'::regclass
                                                        AND t.attname = v.attname AND NOT t.attisdropped)
        ORDER BY v.attnum
    LOOP
        EXECUTE format('ALTER TABLE readmission.encounter_features ADD COLUMN %I %s', missing.attname, missing.type);
    END LOOP;
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'readmission.encounter_features'::regclass AND contype = 'p') THEN
        ALTER TABLE readmission.encounter_features ADD PRIMARY KEY (encounter_id);
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS encounter_features_patient_nbr_idx ON readmission.encounter_features (patient_nbr);

-- Recomputes the stored rows of the given patients (an encounter's row depends on its patient's
-- earlier encounters through the history).
CREATE OR REPLACE FUNCTION readmission._refresh_features(patients bigint[]) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    written bigint;
BEGIN
    -- IN (SELECT unnest(...)): a hashed semi-join, as in readmission._refresh_history
    DELETE FROM readmission.encounter_features f WHERE f.patient_nbr IN (SELECT pg_catalog.unnest(patients));
    INSERT INTO readmission.encounter_features
    SELECT * FROM readmission._feature_rows r WHERE r.patient_nbr IN (SELECT pg_catalog.unnest(patients));
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;
COMMENT ON FUNCTION readmission._refresh_features(bigint[]) IS
    'Recomputes readmission.encounter_features for the given patients (what the triggers on readmission.encounters call).';

-- The triggers' function: the patients of the rows a statement inserted, updated (before and after:
-- an encounter may move to another patient) or deleted get their history, then their stored rows,
-- computed again. SECURITY DEFINER so that whoever may change encounters keeps the derived tables
-- current without rights on them; it reads only the transition tables and runs only the fixed,
-- schema-qualified functions above.
CREATE OR REPLACE FUNCTION readmission._encounters_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    patients bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        patients := ARRAY(SELECT DISTINCT n.patient_nbr FROM new_rows n);
    ELSIF TG_OP = 'UPDATE' THEN
        patients := ARRAY(SELECT n.patient_nbr FROM new_rows n UNION SELECT o.patient_nbr FROM old_rows o);
    ELSE
        patients := ARRAY(SELECT DISTINCT o.patient_nbr FROM old_rows o);
    END IF;
    PERFORM readmission._refresh_history(patients);
    PERFORM readmission._refresh_features(patients);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION readmission._encounters_changed() IS
    'Trigger function: keeps readmission.encounter_history and readmission.encounter_features current for the patients a statement on readmission.encounters touched.';

-- A changed description in an id mapping: the stored rows of the encounters with that id follow.
CREATE OR REPLACE FUNCTION readmission._mappings_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- admission_types -> admission_type_id: the first column of each mapping table
    id_column text := pg_catalog.regexp_replace(TG_TABLE_NAME, 's$', '_id');
    ids bigint[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        ids := ARRAY(SELECT (pg_catalog.to_jsonb(o) OPERATOR(pg_catalog.->>) id_column)::bigint FROM old_rows o);
    ELSE
        ids := ARRAY(SELECT (pg_catalog.to_jsonb(n) OPERATOR(pg_catalog.->>) id_column)::bigint FROM new_rows n);
    END IF;
    IF pg_catalog.cardinality(ids) OPERATOR(pg_catalog.>) 0 THEN
        PERFORM readmission._refresh_features(ARRAY(
            SELECT DISTINCT e.patient_nbr FROM readmission.encounters e
            WHERE CASE TG_TABLE_NAME WHEN 'admission_types' THEN e.admission_type_id
                                     WHEN 'discharge_dispositions' THEN e.discharge_disposition_id
                                     ELSE e.admission_source_id END IN (SELECT pg_catalog.unnest(ids))));
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION readmission._mappings_changed() IS
    'Trigger function: recomputes the stored rows of readmission.features whose admission type, discharge disposition or admission source description changed.';
REVOKE EXECUTE ON FUNCTION readmission._refresh_features(bigint[]), readmission._encounters_changed(),
    readmission._mappings_changed() FROM PUBLIC;

CREATE OR REPLACE TRIGGER encounters_history_insert AFTER INSERT ON readmission.encounters
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION readmission._encounters_changed();
CREATE OR REPLACE TRIGGER encounters_history_update AFTER UPDATE ON readmission.encounters
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION readmission._encounters_changed();
CREATE OR REPLACE TRIGGER encounters_history_delete AFTER DELETE ON readmission.encounters
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION readmission._encounters_changed();
DO $$
DECLARE
    mapping text;
BEGIN
    FOREACH mapping IN ARRAY ARRAY['admission_types', 'discharge_dispositions', 'admission_sources'] LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %1$I AFTER INSERT ON readmission.%2$I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION readmission._mappings_changed()', mapping || '_insert', mapping);
        EXECUTE format('CREATE OR REPLACE TRIGGER %1$I AFTER UPDATE ON readmission.%2$I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION readmission._mappings_changed()', mapping || '_update', mapping);
        EXECUTE format('CREATE OR REPLACE TRIGGER %1$I AFTER DELETE ON readmission.%2$I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION readmission._mappings_changed()', mapping || '_delete', mapping);
    END LOOP;
END $$;

-- Fill in what is missing: every row again when the definition changed (or on the first run),
-- otherwise the encounters without a stored row (a database loaded before the table existed).
DO $$
DECLARE
    definition text := md5(pg_get_viewdef('readmission._feature_rows'::regclass))
                       || ' healthml ' || (SELECT extversion FROM pg_extension WHERE extname = 'healthml');
BEGIN
    IF definition IS DISTINCT FROM (SELECT computed_with FROM readmission._features_state) THEN
        TRUNCATE readmission.encounter_features;
        INSERT INTO readmission.encounter_features SELECT * FROM readmission._feature_rows;
        DELETE FROM readmission._features_state;
        INSERT INTO readmission._features_state VALUES (definition);
    ELSE
        PERFORM readmission._refresh_features(ARRAY(
            SELECT DISTINCT e.patient_nbr FROM readmission.encounters e
            WHERE NOT EXISTS (SELECT FROM readmission.encounter_features f WHERE f.encounter_id = e.encounter_id)));
    END IF;
END $$;

CREATE OR REPLACE VIEW readmission.features AS SELECT * FROM readmission.encounter_features;


COMMENT ON VIEW readmission.features IS
    'Engineered readmission features: diagnosis groups (Strack et al. 2014), age in years (bracket '
    'midpoint), A1C testing, medication changes, the patient''s earlier encounters and 30-day '
    'readmissions, and in_cohort = false for discharges to hospice or death (cannot be readmitted).';
COMMENT ON COLUMN readmission.features.prior_readmissions_30d IS
    'Earlier encounters of the same patient (by encounter_id) that were followed by a readmission within 30 days.';
COMMENT ON COLUMN readmission.features.prior_readmissions_any IS
    'Earlier encounters of the same patient that were followed by a readmission at any time.';
COMMENT ON COLUMN readmission.features.previous_readmitted_30d IS
    'Whether the patient''s previous encounter (by encounter_id) was followed by a readmission within 30 days; NULL for a first encounter.';
COMMENT ON COLUMN readmission.features.prior_days_in_hospital IS
    'Days in hospital over the patient''s earlier encounters.';
COMMENT ON COLUMN readmission.features.in_cohort IS
    'false for discharge_disposition_id 11, 19, 20, 21 (expired) and 13, 14 (hospice): they cannot be readmitted.';
