-- A standardization recipe on the full readmission data: fitted, stored, applied to the whole table
-- through generated SQL, and identical to the row-by-row jsonb path.
BEGIN;
SELECT plan(8);

CREATE TEMP TABLE fit AS
SELECT * FROM healthml.standardize('readmission.encounters',
                                   '{"name": "readmission_e2e", "exclude": ["encounter_id", "patient_nbr", "readmitted"]}');

SELECT is((SELECT array_agg(column_name ORDER BY column_name) FROM fit WHERE action = 'dropped'),
          ARRAY['citoglipton', 'examide', 'medical_specialty', 'payer_code', 'weight'],
          'profile-suggested columns are dropped');
SELECT is((SELECT action FROM fit WHERE column_name = 'admission_type_id'), 'one_hot', 'integer codes are one-hot encoded');
SELECT ok((SELECT skewness_after < 4 AND skewness_before > 20 FROM fit WHERE column_name = 'number_emergency'),
          'number_emergency: skewness 22.9 before, below 4 after winsorizing and log1p');
SELECT ok((SELECT bool_and(abs(skewness_after) <= abs(skewness_before)) FROM fit WHERE detail LIKE '%log1p%'),
          'every log-transformed column is less skewed afterwards');

SELECT is(healthml.apply_recipe('readmission_e2e', 'readmission.encounters', 'public.encounters_standardized'),
          101766::bigint, 'the standardized table has every encounter');
SELECT ok((SELECT abs(avg(time_in_hospital)) < 1e-9 AND abs(stddev_samp(time_in_hospital) - 1) < 1e-9
           FROM public.encounters_standardized), 'time_in_hospital is z-scored on the training statistics');
SELECT is((SELECT count(*) FROM readmission.encounters e JOIN public.encounters_standardized s USING (encounter_id)
           WHERE e.encounter_id % 25 = 0
             AND healthml.apply_recipe('readmission_e2e', to_jsonb(e)) <> to_jsonb(s) - 'encounter_id' - 'patient_nbr' - 'readmitted'),
          0::bigint, 'the SQL path equals the jsonb path on every sampled encounter');
SELECT is((SELECT count(*) FROM readmission.encounters e JOIN public.encounters_standardized s USING (encounter_id)
           WHERE s.readmitted IS DISTINCT FROM e.readmitted), 0::bigint, 'excluded columns pass through unchanged');

SELECT * FROM finish();
ROLLBACK;
