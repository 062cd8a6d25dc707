-- 0.1.0's names whose 0.2.0 replacements follow the one SQL API scheme (docs/sql-api.md): kept for
-- one release, each calling its replacement; removed in 0.3.0. (set_threshold, whose argument order
-- changed, is a C function of its own: src/api/score.rs.)

CREATE FUNCTION healthml.decision_threshold(model_id bigint) RETURNS double precision
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN healthml.decision_threshold_by_id(decision_threshold.model_id);
COMMENT ON FUNCTION healthml.decision_threshold(bigint) IS
    'Deprecated (removed in 0.3.0): use healthml.decision_threshold_by_id(model_id), or healthml.decision_threshold(model_name, version).';

CREATE FUNCTION healthml.compare_models(champion_id bigint, challenger_id bigint) RETURNS jsonb
    LANGUAGE sql VOLATILE
    RETURN healthml.compare_models_by_id(compare_models.champion_id, compare_models.challenger_id);
COMMENT ON FUNCTION healthml.compare_models(bigint, bigint) IS
    'Deprecated (removed in 0.3.0): use healthml.compare_models_by_id(champion_id, challenger_id), or healthml.compare_models(model_name, champion_version, challenger_version).';

CREATE FUNCTION healthml.explanation(model_name text, features jsonb) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN healthml.explain_jsonb(explanation.model_name, explanation.features);
COMMENT ON FUNCTION healthml.explanation(text, jsonb) IS
    'Deprecated (removed in 0.3.0): use healthml.explain_jsonb(model_name, features).';
