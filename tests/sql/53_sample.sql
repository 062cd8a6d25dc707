-- Training on a sample (option "sample"): a share of the patients, all of their rows, chosen by a
-- hash of the patient and the seed in the read's WHERE clause; reproducible; the split and the
-- comparison of versions work on the sample as on the whole.
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(12);

CREATE TABLE public.discharges AS SELECT * FROM pg_temp.discharges(6000);
SELECT '{"group_by": "patient_id", "exclude": ["discharge_id"], "sample": 0.3}' AS options \gset

CREATE TEMP TABLE sampled AS SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic', :'options');
CREATE TEMP TABLE stored AS SELECT m.* FROM healthml.models m JOIN sampled s ON s.model_id = m.id;
SELECT is((SELECT train_rows + test_rows FROM stored),
          (SELECT count(*) FROM public.discharges WHERE healthml._in_sample(patient_id::text, 42, 0.3)),
          'the model is trained and tested on the rows of the sampled patients');
SELECT ok((SELECT (train_rows + test_rows)::float8 / 6000 BETWEEN 0.25 AND 0.35 FROM stored), 'about 30 % of the rows');
SELECT is((SELECT count(*) FROM public.discharges WHERE healthml._in_sample(patient_id, 42, 0.3) <> healthml._in_sample(patient_id::text, 42, 0.3)),
          0::bigint, 'an integer key draws as its text does');
SELECT is((SELECT count(*) FROM (SELECT patient_id FROM public.discharges GROUP BY patient_id
                                 HAVING count(DISTINCT healthml._in_sample(patient_id::text, 42, 0.3)) > 1) p), 0::bigint,
          'a patient is sampled with all of their rows or not at all');
SELECT is((SELECT options ->> 'sample' FROM stored), '0.3', 'the sample is stored with the model''s options');

CREATE TEMP TABLE again AS SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic', :'options');
SELECT is((SELECT payload_sha256 FROM healthml.models m JOIN again a ON a.model_id = m.id), (SELECT payload_sha256 FROM stored),
          'the same options give the same sample and the same model, byte for byte');
CREATE TEMP TABLE other_seed AS SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic',
    (:'options')::jsonb || '{"seed": 7}');
SELECT isnt((SELECT data_fingerprint FROM healthml.models m JOIN other_seed o ON o.model_id = m.id), (SELECT data_fingerprint FROM stored),
            'another seed samples other patients');
CREATE TEMP TABLE whole AS SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic',
    (:'options')::jsonb || '{"sample": 1}');
SELECT is((SELECT train_rows + test_rows FROM healthml.models m JOIN whole w ON w.model_id = m.id), 6000::bigint,
          'a sample of 1 is every row');

-- compare_models reads the challenger's test rows again, from its sample
SELECT is((SELECT (c.j ->> 'rows')::bigint FROM healthml.compare_models_by_id((SELECT model_id FROM whole), (SELECT model_id FROM sampled)) c(j)),
          (SELECT test_rows FROM stored), 'comparing versions reads the sampled model''s own test rows again');

SELECT throws_ok($$SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic', '{"sample": 0.3}')$$,
                 '22023', 'option "sample" of healthml.train draws whole groups, but no "group_by" is given',
                 'a sample needs groups to draw');
SELECT throws_ok($$SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic', '{"group_by": "patient_id", "sample": 0.00001}')$$,
                 '22000', 'the sample of 0.00001 of the groups of public.discharges has no rows to train on',
                 'an empty sample says so');
SELECT is(pg_temp.hint_of($$SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic', '{"group_by": "patient_id", "sample": 1.5}')$$),
          'for example {"group_by": "patient_nbr", "sample": 0.1}: every row of a tenth of the patients', 'a share above 1 is refused with an example');

SELECT * FROM finish();
ROLLBACK;
