-- The full UCI Diabetes 130-US data as loaded by scripts/load-readmission.
BEGIN;
SELECT plan(22);

SELECT is((SELECT count(*) FROM readmission.encounters), 101766::bigint, '101,766 encounters');
SELECT is((SELECT count(DISTINCT patient_nbr) FROM readmission.encounters), 71518::bigint, '71,518 distinct patients');
SELECT is((SELECT count(*) FROM readmission.encounters WHERE readmitted = '<30'), 11357::bigint, '11,357 readmitted within 30 days');
SELECT is((SELECT count(*) FROM readmission.encounters WHERE readmitted = '>30'), 35545::bigint, '35,545 readmitted after 30 days');
SELECT is((SELECT count(*) FROM readmission.admission_types), 8::bigint, '8 admission types');
SELECT is((SELECT count(*) FROM readmission.discharge_dispositions), 30::bigint, '30 discharge dispositions');
SELECT is((SELECT count(*) FROM readmission.admission_sources), 25::bigint, '25 admission sources');
SELECT is((SELECT description FROM readmission.admission_sources WHERE admission_source_id = 7), 'Emergency Room', 'descriptions are trimmed');
SELECT is((SELECT description FROM readmission.discharge_dispositions WHERE discharge_disposition_id = 19),
          'Expired at home. Medicaid only, hospice.', 'quoted descriptions with commas survive');

SELECT col_is_pk('readmission', 'encounters', 'encounter_id', 'encounter_id is the primary key');
SELECT has_index('readmission', 'encounters', 'encounters_patient_nbr_idx', 'patient_nbr', 'patient_nbr is indexed');
SELECT col_is_fk('readmission', 'encounters', 'admission_type_id', 'admission_type_id references admission_types');
SELECT col_is_fk('readmission', 'encounters', 'discharge_disposition_id', 'discharge_disposition_id references discharge_dispositions');
SELECT col_is_fk('readmission', 'encounters', 'admission_source_id', 'admission_source_id references admission_sources');
SELECT col_type_is('readmission', 'encounters', 'time_in_hospital', 'integer', 'counts are integers');
SELECT col_type_is('readmission', 'encounters', 'diag_1', 'text', 'diagnosis codes are text');

-- '?' is missing; 'None' (test not done) is a value. Rates from the data set's README.
SELECT is((SELECT round(100.0 * avg((weight IS NULL)::int), 1) FROM readmission.encounters), 96.9, 'weight is 96.9 % NULL');
SELECT is((SELECT count(*) FROM readmission.encounters WHERE race IS NULL), 2273::bigint, 'race is NULL where the file has ?');
SELECT is((SELECT count(*) FROM readmission.encounters WHERE a1c_result = 'None'), 84748::bigint, '"None" stays a value in a1c_result');
SELECT is((SELECT count(*) FROM readmission.encounters WHERE max_glu_serum IS NULL), 0::bigint, 'max_glu_serum has no NULLs');
SELECT is((SELECT count(*) FROM readmission.encounters WHERE '?' IN (race, payer_code, medical_specialty, diag_1, diag_2, diag_3, weight)),
          0::bigint, 'no ? sentinel is left anywhere');
SELECT is((SELECT md5(string_agg(encounter_id::text, ',' ORDER BY encounter_id)) FROM readmission.encounters WHERE patient_nbr = 8222157),
          md5('2278392'), 'the first row of the file is there');

SELECT * FROM finish();
ROLLBACK;
