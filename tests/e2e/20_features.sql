-- readmission.features on the full data.
BEGIN;
SELECT plan(12);

SELECT is((SELECT count(*) FROM readmission.features), 101766::bigint, 'one row per encounter');
SELECT is((SELECT count(*) FROM readmission.features WHERE in_cohort), 99343::bigint,
          'the cohort without hospice/death discharges has 99,343 encounters (as REFERENCE-RESULTS.md)');
SELECT is((SELECT count(*) FROM readmission.features WHERE in_cohort AND readmitted_30d), 11314::bigint,
          '11,314 of them are readmitted within 30 days');
SELECT is((SELECT count(*) FROM readmission.features WHERE NOT in_cohort AND readmitted_30d), 43::bigint,
          'the data set has a few readmissions after a recorded death/hospice discharge');
SELECT is((SELECT count(*) FROM readmission.features WHERE prior_encounters = 0), 71518::bigint,
          'each patient has exactly one encounter without earlier ones');
SELECT is((SELECT max(prior_encounters) FROM readmission.features), 39::bigint, 'the most frequent patient has 40 encounters');
SELECT is((SELECT count(*) FROM readmission.features f WHERE prior_readmissions_30d > prior_encounters), 0::bigint,
          'prior readmissions never exceed prior encounters');
SELECT is((SELECT count(*) FROM readmission.features WHERE a1c_tested), 17018::bigint, 'A1C tested on 17,018 encounters');
SELECT is((SELECT count(*) FROM readmission.features WHERE diag_1_group = 'Missing'), 21::bigint, 'diag_1 missing on 21');
SELECT is((SELECT count(*) FROM readmission.features WHERE 'Invalid' IN (diag_1_group, diag_2_group, diag_3_group)), 0::bigint,
          'every diagnosis code in the data is a valid ICD-9 code');
SELECT is((SELECT array_agg(DISTINCT age_years ORDER BY age_years) FROM readmission.features),
          ARRAY[5, 15, 25, 35, 45, 55, 65, 75, 85, 95], 'age brackets become their midpoints');
SELECT is((SELECT medication_changes FROM readmission.features WHERE encounter_id = 149190), 1,
          'encounter 149190 changed one medication (insulin Up)');

SELECT * FROM finish();
ROLLBACK;
