-- skewness / kurtosis / moments on the full data against pandas (tests/oracle/pandas_moments.py,
-- pandas 3.1.1), to 1e-9 relative, serially and with a forced parallel plan whose partial states
-- travel through the serialize / deserialize / combine functions.
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(49);

CREATE TEMP TABLE oracle (col text PRIMARY KEY, skew float8, kurt float8, mean float8, sd float8);
INSERT INTO oracle VALUES
    ('admission_type_id', 1.5919843274988872, 1.9424761136620063, 2.024006053102215, 1.4454028297561203),
    ('discharge_disposition_id', 2.5630669932162577, 6.003346764232534, 3.7156417664052825, 5.280165509299271),
    ('admission_source_id', 1.0299348778012447, 1.7449893722074286, 5.754436648782501, 4.064080834283899),
    ('time_in_hospital', 1.1339987193338794, 0.8502508404660876, 4.395986871843248, 2.985107767471267),
    ('num_lab_procedures', -0.23654392055049012, -0.24507351890263676, 43.09564098028811, 19.674362249142124),
    ('num_procedures', 1.3164147632805108, 0.8571103020595137, 1.339730361810428, 1.7058069791211592),
    ('num_medications', 1.3266721343814563, 3.4681549150398876, 16.021844230882614, 8.127566209167284),
    ('number_outpatient', 8.832958927156989, 147.9077362976595, 0.36935715268360747, 1.267265096532678),
    ('number_emergency', 22.855582151471218, 1191.6867259312025, 0.19783621248747127, 0.9304722684224636),
    ('number_inpatient', 3.6141389923026255, 20.719396947816353, 0.635565906098304, 1.2628632900973233),
    ('number_diagnoses', -0.8767462388449535, -0.07905602427394721, 7.422606764538254, 1.9336001449974285);

SET LOCAL max_parallel_workers_per_gather = 0;
-- every integer column at once: one scan, serially and then in parallel
CREATE TEMP VIEW got AS
SELECT unnest(ARRAY['admission_type_id', 'discharge_disposition_id', 'admission_source_id', 'time_in_hospital', 'num_lab_procedures', 'num_procedures', 'num_medications', 'number_outpatient', 'number_emergency', 'number_inpatient', 'number_diagnoses']) AS col,
       unnest(ARRAY[healthml.skewness(admission_type_id), healthml.skewness(discharge_disposition_id), healthml.skewness(admission_source_id), healthml.skewness(time_in_hospital), healthml.skewness(num_lab_procedures), healthml.skewness(num_procedures), healthml.skewness(num_medications), healthml.skewness(number_outpatient), healthml.skewness(number_emergency), healthml.skewness(number_inpatient), healthml.skewness(number_diagnoses)]) AS skew,
       unnest(ARRAY[healthml.kurtosis(admission_type_id), healthml.kurtosis(discharge_disposition_id), healthml.kurtosis(admission_source_id), healthml.kurtosis(time_in_hospital), healthml.kurtosis(num_lab_procedures), healthml.kurtosis(num_procedures), healthml.kurtosis(num_medications), healthml.kurtosis(number_outpatient), healthml.kurtosis(number_emergency), healthml.kurtosis(number_inpatient), healthml.kurtosis(number_diagnoses)]) AS kurt,
       unnest(ARRAY[(healthml.moments(admission_type_id)).mean, (healthml.moments(discharge_disposition_id)).mean, (healthml.moments(admission_source_id)).mean, (healthml.moments(time_in_hospital)).mean, (healthml.moments(num_lab_procedures)).mean, (healthml.moments(num_procedures)).mean, (healthml.moments(num_medications)).mean, (healthml.moments(number_outpatient)).mean, (healthml.moments(number_emergency)).mean, (healthml.moments(number_inpatient)).mean, (healthml.moments(number_diagnoses)).mean]) AS mean,
       unnest(ARRAY[(healthml.moments(admission_type_id)).stddev, (healthml.moments(discharge_disposition_id)).stddev, (healthml.moments(admission_source_id)).stddev, (healthml.moments(time_in_hospital)).stddev, (healthml.moments(num_lab_procedures)).stddev, (healthml.moments(num_procedures)).stddev, (healthml.moments(num_medications)).stddev, (healthml.moments(number_outpatient)).stddev, (healthml.moments(number_emergency)).stddev, (healthml.moments(number_inpatient)).stddev, (healthml.moments(number_diagnoses)).stddev]) AS sd
FROM readmission.encounters;
CREATE TEMP TABLE got_serial AS SELECT * FROM got;

SELECT pg_temp.force_parallel();
SELECT matches(pg_temp.plan_of('SELECT * FROM got'), 'Workers Launched: [12](.|\n)*Partial Aggregate',
               'the forced plan of the all-columns query aggregates partially in launched workers');
SELECT matches(pg_temp.plan_of($q$SELECT healthml.kurtosis(number_emergency) FROM readmission.encounters$q$),
               'Workers Launched: [12]', 'and the workers really ran');
CREATE TEMP TABLE got_parallel AS SELECT * FROM got;

SELECT is((SELECT count(*) FROM got_serial), 11::bigint, 'serial: one row per integer column');
SELECT is((SELECT count(*) FROM got_parallel), 11::bigint, 'parallel: one row per integer column');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'admission_type_id'),
          'serial skewness and kurtosis of admission_type_id agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'admission_type_id'),
          'parallel skewness and kurtosis of admission_type_id agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'admission_type_id'),
          'mean and stddev of admission_type_id agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'admission_type_id'),
          'parallel equals serial for admission_type_id');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'discharge_disposition_id'),
          'serial skewness and kurtosis of discharge_disposition_id agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'discharge_disposition_id'),
          'parallel skewness and kurtosis of discharge_disposition_id agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'discharge_disposition_id'),
          'mean and stddev of discharge_disposition_id agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'discharge_disposition_id'),
          'parallel equals serial for discharge_disposition_id');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'admission_source_id'),
          'serial skewness and kurtosis of admission_source_id agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'admission_source_id'),
          'parallel skewness and kurtosis of admission_source_id agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'admission_source_id'),
          'mean and stddev of admission_source_id agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'admission_source_id'),
          'parallel equals serial for admission_source_id');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'time_in_hospital'),
          'serial skewness and kurtosis of time_in_hospital agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'time_in_hospital'),
          'parallel skewness and kurtosis of time_in_hospital agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'time_in_hospital'),
          'mean and stddev of time_in_hospital agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'time_in_hospital'),
          'parallel equals serial for time_in_hospital');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'num_lab_procedures'),
          'serial skewness and kurtosis of num_lab_procedures agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'num_lab_procedures'),
          'parallel skewness and kurtosis of num_lab_procedures agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'num_lab_procedures'),
          'mean and stddev of num_lab_procedures agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'num_lab_procedures'),
          'parallel equals serial for num_lab_procedures');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'num_procedures'),
          'serial skewness and kurtosis of num_procedures agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'num_procedures'),
          'parallel skewness and kurtosis of num_procedures agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'num_procedures'),
          'mean and stddev of num_procedures agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'num_procedures'),
          'parallel equals serial for num_procedures');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'num_medications'),
          'serial skewness and kurtosis of num_medications agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'num_medications'),
          'parallel skewness and kurtosis of num_medications agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'num_medications'),
          'mean and stddev of num_medications agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'num_medications'),
          'parallel equals serial for num_medications');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'number_outpatient'),
          'serial skewness and kurtosis of number_outpatient agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'number_outpatient'),
          'parallel skewness and kurtosis of number_outpatient agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'number_outpatient'),
          'mean and stddev of number_outpatient agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'number_outpatient'),
          'parallel equals serial for number_outpatient');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'number_emergency'),
          'serial skewness and kurtosis of number_emergency agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'number_emergency'),
          'parallel skewness and kurtosis of number_emergency agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'number_emergency'),
          'mean and stddev of number_emergency agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'number_emergency'),
          'parallel equals serial for number_emergency');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'number_inpatient'),
          'serial skewness and kurtosis of number_inpatient agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'number_inpatient'),
          'parallel skewness and kurtosis of number_inpatient agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'number_inpatient'),
          'mean and stddev of number_inpatient agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'number_inpatient'),
          'parallel equals serial for number_inpatient');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'number_diagnoses'),
          'serial skewness and kurtosis of number_diagnoses agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.skew, o.skew) AND pg_temp.rel_close(g.kurt, o.kurt) FROM got_parallel g JOIN oracle o USING (col) WHERE col = 'number_diagnoses'),
          'parallel skewness and kurtosis of number_diagnoses agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(g.mean, o.mean) AND pg_temp.rel_close(g.sd, o.sd) FROM got_serial g JOIN oracle o USING (col) WHERE col = 'number_diagnoses'),
          'mean and stddev of number_diagnoses agree with pandas');
SELECT ok((SELECT pg_temp.rel_close(p.skew, s.skew) AND pg_temp.rel_close(p.kurt, s.kurt) FROM got_parallel p JOIN got_serial s USING (col) WHERE col = 'number_diagnoses'),
          'parallel equals serial for number_diagnoses');
SELECT is((SELECT round(skew::numeric, 6) || ' ' || round(kurt::numeric, 6) FROM got_parallel WHERE col = 'number_emergency'),
          '22.855582 1191.686726', 'number_emergency as quoted in the issue');

SELECT * FROM finish();
ROLLBACK;
