-- Decision thresholds: set by policy (healthml.set_decision_threshold), a history per model
-- version, read by flag and risk_tier. Without a policy, a version flags at the F1-optimal
-- threshold of its training.

-- A history per model version: the
-- latest row of a model id is its threshold; without one, the F1-optimal threshold of training.
CREATE TABLE healthml.threshold_policies (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id      bigint      NOT NULL REFERENCES healthml.models (id) ON DELETE CASCADE,
    policy        text        NOT NULL,
    threshold     double precision NOT NULL,
    computed_on   text        NOT NULL,
    rows          bigint      NOT NULL,
    flagged_share double precision NOT NULL,
    precision     double precision,
    recall        double precision,
    set_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    set_by        name        NOT NULL DEFAULT current_user
);
CREATE INDEX threshold_policies_model_idx ON healthml.threshold_policies (model_id, id DESC);
COMMENT ON TABLE healthml.threshold_policies IS
    'Decision thresholds set by policy, a history per model version: the latest row of a version is its threshold.';
SELECT pg_catalog.pg_extension_config_dump('healthml.threshold_policies', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.threshold_policies_id_seq', '');

-- The threshold a model version flags at: its latest policy, or the F1-optimal one of training.
CREATE FUNCTION healthml.decision_threshold_by_id(model_id bigint) RETURNS double precision
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce((SELECT p.threshold FROM healthml.threshold_policies p
                     WHERE p.model_id = decision_threshold_by_id.model_id ORDER BY p.id DESC LIMIT 1),
                    (SELECT (m.metrics #>> '{test,threshold}')::float8 FROM healthml.models m
                     WHERE m.id = decision_threshold_by_id.model_id));
COMMENT ON FUNCTION healthml.decision_threshold_by_id(bigint) IS
    'The threshold a model version flags at, by id: its latest policy, or the F1-optimal threshold of its training.';

-- The same for a model by name: its deployed version, or version `version`.
CREATE FUNCTION healthml.decision_threshold(model_name text, version integer DEFAULT NULL) RETURNS double precision
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN healthml.decision_threshold_by_id(healthml.model_version_id(decision_threshold.model_name, decision_threshold.version));
COMMENT ON FUNCTION healthml.decision_threshold(text, integer) IS
    'The threshold a model flags at (NULL version: the deployed one): its latest policy, or the F1-optimal threshold of its training.';

-- Scores are probabilities: anything else (NaN included, which PostgreSQL orders above every number)
-- is refused rather than flagged.
CREATE FUNCTION healthml._invalid_score(score double precision) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'score % is not a probability', score
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'pass a score in [0, 1], as healthml.predict and healthml.predict_row return';
END $$;

-- Whether a score of the deployed model is flagged (score >= its decision threshold).
CREATE FUNCTION healthml.flag(model_name text, score double precision) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN NOT flag.score BETWEEN 0 AND 1 THEN healthml._invalid_score(flag.score)
                ELSE flag.score >= healthml.decision_threshold_by_id(healthml.model_version_id(flag.model_name)) END;
COMMENT ON FUNCTION healthml.flag(text, double precision) IS
    'Whether a score of the deployed model is flagged: at or above its decision threshold.';

-- A score's risk tier under the deployed model's policy: 'high' when flagged, 'medium' when above the
-- rate of positives among the training rows (more risk than the average patient), else 'low'.
CREATE FUNCTION healthml.risk_tier(model_name text, score double precision) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN risk_tier.score IS NULL THEN NULL
                WHEN NOT risk_tier.score BETWEEN 0 AND 1 THEN healthml._invalid_score(risk_tier.score)::text
                WHEN risk_tier.score >= healthml.decision_threshold_by_id(m.id) THEN 'high'
                WHEN risk_tier.score >= coalesce((m.metrics ->> 'train_positive_rate')::float8,
                                    (m.metrics #>> '{test,positives}')::float8 / (m.metrics #>> '{test,n}')::float8) THEN 'medium'
                ELSE 'low' END
    FROM healthml.models m WHERE m.id = healthml.model_version_id(risk_tier.model_name);
END;
COMMENT ON FUNCTION healthml.risk_tier(text, double precision) IS
    'A score''s risk tier under the deployed model: high when flagged, medium above the training positive rate, else low.';
