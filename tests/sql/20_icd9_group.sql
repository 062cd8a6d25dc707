-- healthml.icd9_group: the Strack et al. (2014) diagnosis groups.
BEGIN;
SELECT plan(8);

SELECT is(array_agg(healthml.icd9_group(code) ORDER BY ord),
          ARRAY['Diabetes', 'Circulatory', 'Circulatory', 'Respiratory', 'Respiratory', 'Digestive', 'Digestive',
                'Injury', 'Musculoskeletal', 'Genitourinary', 'Genitourinary', 'Neoplasms', 'Other', 'Other',
                'Other', 'Other'],
          'one code of each group, by value (38 is 038)')
  FROM unnest(ARRAY['250.83', '428', '785', '486', '786.05', '574.1', '787', '996', '715', '599', '788',
                    '162', '276', '38', 'V57', 'E909']) WITH ORDINALITY AS t(code, ord);
SELECT is(healthml.icd9_group(NULL), 'Missing', 'NULL is Missing');
SELECT is(healthml.icd9_group('   '), 'Missing', 'blank is Missing');
SELECT is(healthml.icd9_group('not a code'), 'Invalid', 'text that is no ICD-9 code is Invalid, not hidden in Other');
SELECT is(healthml.icd9_group('250.123'), 'Invalid', 'three decimals are not an ICD-9 code');
SELECT volatility_is('healthml', 'icd9_group', ARRAY['text'], 'immutable', 'icd9_group is IMMUTABLE');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'healthml.icd9_group(text)'::regprocedure), 's', 'and PARALLEL SAFE');
SELECT is((SELECT proisstrict FROM pg_proc WHERE oid = 'healthml.icd9_group(text)'::regprocedure), false,
          'not STRICT, so NULL gives Missing');

SELECT * FROM finish();
ROLLBACK;
