-- Deploying: which version of a model scores is the latest row of healthml.deployments.

-- The leakage alerts in a model's metrics (the guardrails every training stores), as one line of
-- text; NULL when there are none. Deploy and retrain refuse a model with any.
CREATE FUNCTION healthml._leakage_findings(metrics jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    RETURN (SELECT string_agg(g ->> 'message', '; ' ORDER BY n)
            FROM jsonb_array_elements(CASE jsonb_typeof(metrics -> 'guardrails') WHEN 'array' THEN metrics -> 'guardrails' ELSE '[]' END)
                 WITH ORDINALITY AS x(g, n)
            WHERE g ->> 'check' LIKE 'leakage%' AND g ->> 'status' = 'alert');

-- Deploys version `version` of a model (NULL: the version with the best test AUC).
CREATE FUNCTION healthml.deploy(model_name text, version integer DEFAULT NULL, reason text DEFAULT NULL)
    RETURNS TABLE (model_id bigint, deployed_version integer, deployed_at timestamptz)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    chosen   healthml.models%ROWTYPE;
    findings text;
BEGIN
    PERFORM healthml._require_primary('healthml.deploy');
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF version IS NULL THEN
        SELECT * INTO chosen FROM healthml.models m WHERE m.name = model_name
        ORDER BY (m.metrics #>> '{test,auc}')::float8 DESC NULLS LAST, m.version DESC LIMIT 1;
    ELSE
        SELECT * INTO chosen FROM healthml.models m WHERE m.name = model_name AND m.version = deploy.version;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%"% does not exist', model_name,
              CASE WHEN version IS NULL THEN '' ELSE format(' version %s', version) END
            USING ERRCODE = 'undefined_object',
                  HINT = 'list models with SELECT name, version FROM healthml.models; train one with healthml.train()';
    END IF;
    findings := healthml._leakage_findings(chosen.metrics);
    IF findings IS NOT NULL THEN
        RAISE EXCEPTION 'model "%" version % has leakage findings: %', model_name, chosen.version, findings
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'train again with the column in "exclude"; once a reviewer has checked a column is known before the outcome, '
                         'train with {"accept_leakage": ["column"]}; for the model''s test AUC, set "leakage_model_auc" to the ceiling '
                         'the task allows (docs/reference/models.md, Leakage)';
    END IF;
    RETURN QUERY
    INSERT INTO healthml.deployments (name, model_id, version, reason)
    VALUES (model_name, chosen.id, chosen.version,
            coalesce(reason, CASE WHEN deploy.version IS NULL THEN 'best test AUC' ELSE 'deployed by version' END))
    RETURNING deployments.model_id, deployments.version, deployments.deployed_at;
END $$;
COMMENT ON FUNCTION healthml.deploy(text, integer, text) IS
    'Deploys a model version (NULL: the best test AUC); takes effect for the next statement.';

-- Deploys again the model that was deployed before the current one.
CREATE FUNCTION healthml.rollback(model_name text)
    RETURNS TABLE (model_id bigint, deployed_version integer, deployed_at timestamptz)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    current_row healthml.deployments%ROWTYPE;
    previous_row healthml.deployments%ROWTYPE;
BEGIN
    PERFORM healthml._require_primary('healthml.rollback');
    SELECT * INTO current_row FROM healthml.deployments d WHERE d.name = model_name ORDER BY d.id DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" has never been deployed', model_name
            USING ERRCODE = 'undefined_object', HINT = 'deploy it first with healthml.deploy()';
    END IF;
    SELECT d.* INTO previous_row FROM healthml.deployments d
    JOIN healthml.models m ON m.id = d.model_id
    WHERE d.name = model_name AND d.id < current_row.id AND d.model_id <> current_row.model_id
    ORDER BY d.id DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" has no earlier deployment to roll back to', model_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'the deployment history has a single model; deploy another version with healthml.deploy()';
    END IF;
    RETURN QUERY
    INSERT INTO healthml.deployments (name, model_id, version, reason)
    VALUES (model_name, previous_row.model_id, previous_row.version,
            format('rollback from version %s to version %s', current_row.version, previous_row.version))
    RETURNING deployments.model_id, deployments.version, deployments.deployed_at;
END $$;
COMMENT ON FUNCTION healthml.rollback(text) IS
    'Deploys again the version deployed before the current one; takes effect for the next statement.';

-- Every backend keeps which model each name is deployed as between statements (src/cache.rs); a
-- change here invalidates that, on this server and on its standbys, when the transaction commits.
-- A registry copied to shards by logical replication (docs/reference/sharding.md) must invalidate
-- too: its apply worker fires only ALWAYS (or REPLICA) triggers, and of statement triggers only
-- TRUNCATE's, hence a row trigger and a TRUNCATE trigger, both ALWAYS.
CREATE TRIGGER deployments_changed AFTER INSERT OR UPDATE OR DELETE ON healthml.deployments
    FOR EACH ROW EXECUTE FUNCTION healthml._deployments_changed();
CREATE TRIGGER deployments_truncated AFTER TRUNCATE ON healthml.deployments
    FOR EACH STATEMENT EXECUTE FUNCTION healthml._deployments_changed();
ALTER TABLE healthml.deployments ENABLE ALWAYS TRIGGER deployments_changed, ENABLE ALWAYS TRIGGER deployments_truncated;
