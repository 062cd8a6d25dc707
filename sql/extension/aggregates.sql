-- Parallel aggregates over healthml-core's Moments (src/aggregates.rs exports the C functions).
-- The transition and combine functions are not STRICT: they count NULLs and must handle a NULL
-- (not yet created) internal state themselves, as PostgreSQL requires for STYPE internal.

CREATE FUNCTION healthml._moments_accum(internal, double precision) RETURNS internal
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_accum_wrapper';
CREATE FUNCTION healthml._moments_combine(internal, internal) RETURNS internal
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_combine_wrapper';
CREATE FUNCTION healthml._moments_serialize(internal) RETURNS bytea
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_serialize_wrapper';
CREATE FUNCTION healthml._moments_deserialize(bytea, internal) RETURNS internal
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_deserialize_wrapper';
CREATE FUNCTION healthml._moments_skewness_final(internal) RETURNS double precision
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_skewness_final_wrapper';
CREATE FUNCTION healthml._moments_kurtosis_final(internal) RETURNS double precision
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_kurtosis_final_wrapper';

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
COMMENT ON TYPE healthml.moments_summary IS 'Result of healthml.moments(float8).';

CREATE FUNCTION healthml._moments_summary_final(internal) RETURNS healthml.moments_summary
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_summary_final_wrapper';

CREATE AGGREGATE healthml.skewness(double precision) (
    SFUNC = healthml._moments_accum,
    STYPE = internal,
    SSPACE = 80,
    FINALFUNC = healthml._moments_skewness_final,
    COMBINEFUNC = healthml._moments_combine,
    SERIALFUNC = healthml._moments_serialize,
    DESERIALFUNC = healthml._moments_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE healthml.skewness(double precision) IS
    'Sample skewness (adjusted Fisher-Pearson G1, as pandas Series.skew()); NULL below 3 values, '
    '0 for a constant column. NULL, NaN and Infinity inputs are skipped.';

CREATE AGGREGATE healthml.kurtosis(double precision) (
    SFUNC = healthml._moments_accum,
    STYPE = internal,
    SSPACE = 80,
    FINALFUNC = healthml._moments_kurtosis_final,
    COMBINEFUNC = healthml._moments_combine,
    SERIALFUNC = healthml._moments_serialize,
    DESERIALFUNC = healthml._moments_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE healthml.kurtosis(double precision) IS
    'Sample excess kurtosis (bias-corrected G2, as pandas Series.kurt()); NULL below 4 values, '
    '0 for a constant column. NULL, NaN and Infinity inputs are skipped.';

CREATE AGGREGATE healthml.moments(double precision) (
    SFUNC = healthml._moments_accum,
    STYPE = internal,
    SSPACE = 80,
    FINALFUNC = healthml._moments_summary_final,
    COMBINEFUNC = healthml._moments_combine,
    SERIALFUNC = healthml._moments_serialize,
    DESERIALFUNC = healthml._moments_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE healthml.moments(double precision) IS
    'n, nulls, nonfinite, mean, stddev, min, max, skewness and kurtosis of a column in one pass.';
