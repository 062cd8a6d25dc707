-- The modelling cohort and the analyst-facing scoring function of the readmission pack.

-- Encounters that can be readmitted: discharges to hospice or death are left out.
CREATE OR REPLACE VIEW readmission.cohort AS
SELECT * FROM readmission.features WHERE in_cohort;
COMMENT ON VIEW readmission.cohort IS
    'readmission.features without discharges to hospice or death (they cannot be readmitted): the training set of model "readmission".';

-- Probability of readmission within 30 days from the deployed model "readmission", for an encounter
-- of readmission.encounters:  SELECT encounter_id, readmission.readmit_score(e) FROM readmission.encounters e;
-- The encounter's features (history included) are read from readmission.features, where the
-- patient_nbr condition reaches the patient's rows through the index, and scored as a typed row.
CREATE OR REPLACE FUNCTION readmission.readmit_score(e readmission.encounters) RETURNS double precision
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT healthml.predict_row('readmission', f)
    FROM readmission.features f
    WHERE f.patient_nbr = e.patient_nbr AND f.encounter_id = e.encounter_id
$$;
COMMENT ON FUNCTION readmission.readmit_score(readmission.encounters) IS
    'Probability of readmission within 30 days (deployed model "readmission") for an encounter row.';
