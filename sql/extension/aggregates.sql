-- Parallel aggregates over healthml-core's Moments (src/aggregates.rs exports the C functions).
--
-- The state is a double precision[] of 9 words (n, nulls, nonfinite, mean, m2, m3, m4, min, max), a
-- plain SQL type, so partial states can be computed on other servers and combined here: Citus does it
-- for any aggregate whose state is not internal, and healthml.moments_partial / moments_merge do it
-- by hand through postgres_fdw (docs/reference/sharding.md). The transition function is not STRICT: it
-- counts NULLs. Every aggregate starts from the state of no values, so the final functions are STRICT.

CREATE FUNCTION healthml._moments_state_accum(double precision[], double precision) RETURNS double precision[]
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_state_accum';
CREATE FUNCTION healthml._moments_state_combine(double precision[], double precision[]) RETURNS double precision[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_state_combine';
CREATE FUNCTION healthml._moments_state_skewness(double precision[]) RETURNS double precision
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_state_skewness_wrapper';
CREATE FUNCTION healthml._moments_state_kurtosis(double precision[]) RETURNS double precision
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_state_kurtosis_wrapper';
CREATE TYPE healthml.moments_summary AS (
    n         bigint,            -- finite values used
    nulls     bigint,            -- NULL inputs
    nonfinite bigint,            -- NaN and ±Infinity inputs, left out of every moment
    mean      double precision,
    stddev    double precision,  -- sample (n - 1)
    min       double precision,
    max       double precision,
    skewness  double precision,  -- adjusted Fisher-Pearson G1, as pandas Series.skew()
    kurtosis  double precision   -- bias-corrected excess kurtosis G2, as pandas Series.kurt()
);
COMMENT ON TYPE healthml.moments_summary IS 'Result of healthml.moments(float8) and healthml.moments_merge(float8[]).';

CREATE FUNCTION healthml._moments_state_summary(double precision[]) RETURNS healthml.moments_summary
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_state_summary_wrapper';

CREATE AGGREGATE healthml.skewness(double precision) (
    SFUNC = healthml._moments_state_accum,
    STYPE = double precision[],
    INITCOND = '{0,0,0,0,0,0,0,Infinity,-Infinity}',
    FINALFUNC = healthml._moments_state_skewness,
    COMBINEFUNC = healthml._moments_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE healthml.skewness(double precision) IS
    'Sample skewness (adjusted Fisher-Pearson G1, as pandas Series.skew()); NULL below 3 values, '
    '0 for a constant column. NULL, NaN and Infinity inputs are skipped.';

CREATE AGGREGATE healthml.kurtosis(double precision) (
    SFUNC = healthml._moments_state_accum,
    STYPE = double precision[],
    INITCOND = '{0,0,0,0,0,0,0,Infinity,-Infinity}',
    FINALFUNC = healthml._moments_state_kurtosis,
    COMBINEFUNC = healthml._moments_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE healthml.kurtosis(double precision) IS
    'Sample excess kurtosis (bias-corrected G2, as pandas Series.kurt()); NULL below 4 values, '
    '0 for a constant column. NULL, NaN and Infinity inputs are skipped.';

CREATE AGGREGATE healthml.moments(double precision) (
    SFUNC = healthml._moments_state_accum,
    STYPE = double precision[],
    INITCOND = '{0,0,0,0,0,0,0,Infinity,-Infinity}',
    FINALFUNC = healthml._moments_state_summary,
    COMBINEFUNC = healthml._moments_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE healthml.moments(double precision) IS
    'n, nulls, nonfinite, mean, stddev, min, max, skewness and kurtosis of a column in one pass.';

CREATE AGGREGATE healthml.moments_partial(double precision) (
    SFUNC = healthml._moments_state_accum,
    STYPE = double precision[],
    INITCOND = '{0,0,0,0,0,0,0,Infinity,-Infinity}',
    COMBINEFUNC = healthml._moments_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE healthml.moments_partial(double precision) IS
    'The partial state of healthml.moments over a part of a column (a shard, a partition): a '
    'double precision[] of n, nulls, nonfinite, mean, m2, m3, m4, min, max. Combine the parts with '
    'healthml.moments_merge.';

CREATE AGGREGATE healthml.moments_merge(double precision[]) (
    SFUNC = healthml._moments_state_combine,
    STYPE = double precision[],
    INITCOND = '{0,0,0,0,0,0,0,Infinity,-Infinity}',
    FINALFUNC = healthml._moments_state_summary,
    COMBINEFUNC = healthml._moments_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE healthml.moments_merge(double precision[]) IS
    'healthml.moments of a whole column from the healthml.moments_partial states of its parts, equal to '
    'healthml.moments over all of it; NULL states are skipped, a malformed one is refused.';
