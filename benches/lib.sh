# shellcheck shell=bash
# What the benchmark scripts share (sourced after scripts/lib/common.sh); $runs sets the repetitions.

# median_ms <sql> : median wall time of <sql> over $runs runs, in milliseconds, measured in the server
median_ms() {
    hm_psql -d "$HEALTHML_DB" -tA -v sql="$1" -v runs="${runs:?}" <<'SQL'
SELECT set_config('bench.sql', :'sql', false), set_config('bench.runs', :'runs', false) \gset
DO $$
DECLARE t0 timestamptz; times float8[] := '{}';
BEGIN
    FOR i IN 1 .. current_setting('bench.runs')::int LOOP
        t0 := clock_timestamp();
        EXECUTE current_setting('bench.sql');
        times := times || extract(epoch FROM clock_timestamp() - t0) * 1000;
    END LOOP;
    PERFORM set_config('bench.result', (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY t)::numeric, 1)::text
                                        FROM unnest(times) t), false);
END $$;
SELECT current_setting('bench.result');
SQL
}
