-- readmission.features: one row per encounter with the engineered columns a clinician expects, the
-- input of the readmission models. Diagnosis groups follow Strack et al. (2014); patient history
-- counts only the patient's earlier encounters (by encounter_id), never later ones, and is read
-- from readmission.encounter_history (history.sql), so one encounter's row is an indexed lookup.
-- Recreated by the loader after every load (it depends on healthml.icd9_group).

CREATE OR REPLACE VIEW readmission.features AS
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
