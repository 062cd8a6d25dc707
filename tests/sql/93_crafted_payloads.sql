-- Crafted payloads: an admin may INSERT rows into healthml.models and can compute a matching sha256
-- for any bytes. Truncated, bit-flipped and foreign payloads with correct checksums score as a clean
-- error (XX001, with a hint) or, where a flip still leaves a readable model, as a probability: never
-- an internal error, a panic or a crash. tests of the core tier craft payloads field by field.
BEGIN;
SELECT plan(7);
\ir ../bin/helpers.sql
CREATE TABLE public.discharges AS SELECT * FROM pg_temp.discharges(2000);
CREATE TEMP TABLE trained AS SELECT * FROM healthml.train('crafted', 'public.discharges', 'readmitted', 'gbdt',
                                                         '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
CREATE ROLE hm_test_crafter IN ROLE healthml_admin;
GRANT SELECT ON public.discharges TO hm_test_crafter;

-- variants of the real payload: cut at 40 places, 60 single-bit flips, garbage behind the real header
CREATE TEMP TABLE variants AS
WITH real AS (SELECT m.payload AS p FROM healthml.models m WHERE m.name = 'crafted')
SELECT 'cut at ' || n AS what, substring(p FROM 1 FOR (length(p) * n / 40)) AS payload, true AS must_fail
FROM real, generate_series(0, 39) n
UNION ALL
SELECT 'bit ' || b || ' flipped', set_bit(p, b, 1 - get_bit(p, b)), false
FROM real, LATERAL (SELECT 48 + (abs(hashint4(k)) % (8 * length(p) - 48)) AS b FROM generate_series(1, 60) k) bits
UNION ALL
SELECT 'garbage behind the header', substring(p FROM 1 FOR 6) || decode(repeat('c3', 5000), 'hex'), true FROM real
UNION ALL
SELECT 'an empty payload', ''::bytea, true FROM real;
GRANT SELECT ON variants TO hm_test_crafter;

SET ROLE hm_test_crafter;
INSERT INTO healthml.models (name, version, algorithm, source, target, options, recipe, features, hyperparams, metrics,
                             train_rows, test_rows, data_fingerprint, format_version, payload, payload_sha256, reference)
SELECT 'crafted_' || row_number() OVER (), 1, m.algorithm, m.source, m.target, '{}', m.recipe, m.features, m.hyperparams,
       jsonb_build_object('what', v.what, 'must_fail', v.must_fail), m.train_rows, m.test_rows, m.data_fingerprint,
       m.format_version, v.payload, encode(sha256(v.payload), 'hex'), '{}'
FROM variants v, healthml.models m WHERE m.name = 'crafted';
RESET ROLE;

CREATE FUNCTION pg_temp.score(id bigint, OUT state text, OUT hint text, OUT score float8) LANGUAGE plpgsql AS $$
BEGIN
    score := healthml.predict_row_by_id(id, d) FROM public.discharges d ORDER BY discharge_id LIMIT 1;
    PERFORM healthml.explain_row_by_id(id, d, 3) FROM public.discharges d ORDER BY discharge_id LIMIT 1;
    state := 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, hint = PG_EXCEPTION_HINT;
END $$;
CREATE TEMP TABLE outcomes AS
SELECT m.metrics ->> 'what' AS what, (m.metrics ->> 'must_fail')::boolean AS must_fail, s.*
FROM healthml.models m, pg_temp.score(m.id) s WHERE m.name LIKE 'crafted\_%';

SELECT is((SELECT count(*) FROM outcomes), 102::bigint, '102 crafted payloads were stored with matching checksums and scored');
SELECT is((SELECT count(*) FROM outcomes WHERE state NOT IN ('ok', 'XX001')), 0::bigint,
          'each gives a clean data_corrupted error (XX001) or a score: no internal error, no panic');
SELECT diag(format('%s: %s', what, state)) FROM outcomes WHERE state NOT IN ('ok', 'XX001');
SELECT is((SELECT count(*) FROM outcomes WHERE must_fail AND state <> 'XX001'), 0::bigint,
          'every truncated, empty or garbage payload is refused');
SELECT is((SELECT count(*) FROM outcomes WHERE state = 'XX001' AND coalesce(hint, '') = ''), 0::bigint, 'with a hint');
SELECT ok((SELECT bool_and(score BETWEEN 0 AND 1) FROM outcomes WHERE state = 'ok'), 'what still reads scores a probability');

-- an object of the extension altered by hand (the library reads the payload as bytea): a clear
-- 55000 naming the step and a hint, never an internal error
SAVEPOINT altered;
ALTER TABLE healthml.models ALTER COLUMN payload TYPE text USING encode(payload, 'hex');
SELECT throws_ok($$SELECT healthml.predict_by_id((SELECT model_id FROM trained), '{}')$$, '55000', NULL,
                 'a registry column of another type gives object_not_in_prerequisite_state');
SELECT matches(pg_temp.hint_of($$SELECT healthml.predict_by_id((SELECT model_id FROM trained), '{}')$$),
               'ALTER EXTENSION healthml UPDATE', 'with a hint to update the extension''s objects');
ROLLBACK TO SAVEPOINT altered;

SELECT * FROM finish();
ROLLBACK;
