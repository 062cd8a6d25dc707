-- healthml.profile on the full readmission data: the suggestions the issue names.
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(8);

CREATE TEMP TABLE p AS SELECT * FROM healthml.profile('readmission.encounters');

SELECT is((SELECT count(*) FROM p), 50::bigint, 'one row per column');
SELECT is((SELECT array_agg(column_name ORDER BY column_name) FROM p WHERE suggestion = 'drop'),
          ARRAY['medical_specialty', 'payer_code', 'weight'], 'weight, payer_code and medical_specialty: drop');
SELECT is((SELECT array_agg(column_name ORDER BY column_name) FROM p WHERE suggestion = 'identifier'),
          ARRAY['encounter_id', 'patient_nbr'], 'encounter_id and patient_nbr: identifier');
SELECT is((SELECT array_agg(column_name ORDER BY column_name) FROM p WHERE suggestion = 'constant'),
          ARRAY['citoglipton', 'examide'], 'examide and citoglipton: constant');
SELECT is((SELECT array_agg(column_name ORDER BY column_name) FROM p WHERE suggestion = 'high_cardinality'),
          ARRAY['diag_1', 'diag_2', 'diag_3'], 'the raw diagnosis codes: high_cardinality');
SELECT is((SELECT suggestion FROM p WHERE column_name = 'number_emergency'), 'log_transform', 'number_emergency: log_transform');
SELECT ok((SELECT pg_temp.rel_close(skewness, 22.855582151471218) AND pg_temp.rel_close(kurtosis, 1191.6867259312025)
           FROM p WHERE column_name = 'number_emergency'), 'its skewness and kurtosis agree with pandas');
SELECT is((SELECT round(null_fraction::numeric, 3) FROM p WHERE column_name = 'weight'), 0.969, 'weight is 96.9% missing');

SELECT * FROM finish();
ROLLBACK;
