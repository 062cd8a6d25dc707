-- Helpers for pgTAP files (\ir ../bin/helpers.sql after BEGIN); temporary, gone at ROLLBACK.

-- |got - want| within 1e-9 of |want|
CREATE FUNCTION pg_temp.rel_close(got float8, want float8) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$ SELECT abs(got - want) <= 1e-9 * abs(want) $$;

-- The hint of the error a query raises (NULL if it succeeds), to check that hints reach the client.
CREATE FUNCTION pg_temp.hint_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
    EXECUTE query;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN h;
END $$;

-- The executed plan of a query, as text (EXPLAIN ANALYZE, no timings).
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END $$;

-- Makes the planner choose parallel plans for small tables, with all rows going through workers.
CREATE FUNCTION pg_temp.force_parallel() RETURNS void LANGUAGE sql AS $$
    SELECT set_config(name, value, true) FROM (VALUES
        ('max_parallel_workers_per_gather', '2'), ('parallel_setup_cost', '0'),
        ('parallel_tuple_cost', '0'), ('min_parallel_table_scan_size', '0'),
        ('parallel_leader_participation', 'off')) AS s(name, value)
$$;

-- Synthetic discharges: two per patient, risk rising with severity and with discharge to rehab.
CREATE FUNCTION pg_temp.discharges(n integer)
    RETURNS TABLE (discharge_id integer, patient_id integer, severity numeric, destination text, readmitted boolean)
    LANGUAGE sql IMMUTABLE AS $$
SELECT i, i / 2, (abs(hashint4(i * 3)) % 10000) / 100.0,
       CASE WHEN i % 4 = 0 THEN 'rehab' ELSE 'home' END,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0)
                                                      + CASE WHEN i % 4 = 0 THEN 1 ELSE 0 END)))
FROM generate_series(1, n) i
$$;
