-- Each encounter's history features, kept in a table so that a row's features are an indexed
-- lookup: readmission.features used to compute them with window functions over the patient's rows
-- on every read, so scoring one encounter scanned its patient's encounters, and a lookup by
-- encounter_id alone (without patient_nbr) could not use an index at all.
--
-- History counts only the patient's earlier encounters (by encounter_id), never later ones. The
-- table is kept current by statement-level triggers on readmission.encounters (features.sql): any
-- INSERT, UPDATE or DELETE (the loader's merge included) recomputes the history of the patients it
-- touched, in the same transaction, so a reader never sees features and history from different
-- states. Idempotent: the loader runs it before every load, and it fills in what an older database
-- lacks.

CREATE TABLE IF NOT EXISTS readmission.encounter_history (
    encounter_id                      bigint  PRIMARY KEY REFERENCES readmission.encounters ON DELETE CASCADE,
    patient_nbr                       bigint  NOT NULL,
    prior_encounters                  bigint  NOT NULL,
    prior_readmissions_30d            bigint  NOT NULL,
    prior_readmissions_any            bigint  NOT NULL,
    prior_days_in_hospital            bigint  NOT NULL,
    previous_readmitted_30d           boolean,
    previous_readmitted_any           boolean,
    previous_number_inpatient         integer,
    previous_time_in_hospital         integer,
    previous_discharge_disposition_id integer
);
CREATE INDEX IF NOT EXISTS encounter_history_patient_nbr_idx ON readmission.encounter_history (patient_nbr);
COMMENT ON TABLE readmission.encounter_history IS
    'The history features of each encounter (its patient''s earlier encounters, by encounter_id), kept current by triggers on readmission.encounters; read by readmission.features.';

-- Recomputes the history rows of the given patients from their encounters.
CREATE OR REPLACE FUNCTION readmission._refresh_history(patients bigint[]) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    written bigint;
BEGIN
    -- IN (SELECT unnest(...)): a hashed semi-join; = ANY (patients) would compare every row with
    -- every patient of a big load
    DELETE FROM readmission.encounter_history h WHERE h.patient_nbr IN (SELECT pg_catalog.unnest(patients));
    INSERT INTO readmission.encounter_history
    SELECT e.encounter_id,
           e.patient_nbr,
           count(*) OVER earlier,
           count(*) FILTER (WHERE e.readmitted = '<30') OVER earlier,
           count(*) FILTER (WHERE e.readmitted <> 'NO') OVER earlier,
           coalesce(sum(e.time_in_hospital) OVER earlier, 0),
           lag(e.readmitted = '<30') OVER earlier,
           lag(e.readmitted <> 'NO') OVER earlier,
           lag(e.number_inpatient) OVER earlier,
           lag(e.time_in_hospital) OVER earlier,
           lag(e.discharge_disposition_id) OVER earlier
    FROM readmission.encounters e
    WHERE e.patient_nbr IN (SELECT pg_catalog.unnest(patients))
    WINDOW earlier AS (PARTITION BY e.patient_nbr ORDER BY e.encounter_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING);
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;
COMMENT ON FUNCTION readmission._refresh_history(bigint[]) IS
    'Recomputes readmission.encounter_history for the given patients (what the triggers on readmission.encounters call).';

-- The triggers that keep it current (with the stored feature rows) are made by features.sql.
REVOKE EXECUTE ON FUNCTION readmission._refresh_history(bigint[]) FROM PUBLIC;

-- A database loaded before the table existed: fill in the patients without history.
DO $$
BEGIN
    PERFORM readmission._refresh_history(ARRAY(SELECT DISTINCT e.patient_nbr FROM readmission.encounters e
                                               WHERE NOT EXISTS (SELECT FROM readmission.encounter_history h
                                                                 WHERE h.encounter_id = e.encounter_id)));
END $$;
