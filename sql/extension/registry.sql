-- The registry: models as rows (one per trained version), deployments as an append-only history,
-- and what reads them (the registry view, a version's id, its coefficients and importances).

CREATE TABLE healthml.models (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text        NOT NULL CHECK (btrim(name) <> ''),
    version          integer     NOT NULL CHECK (version > 0),
    algorithm        text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       name        NOT NULL DEFAULT current_user,
    description      text,
    tags             text[]      NOT NULL DEFAULT '{}',
    source           text        NOT NULL,
    target           text        NOT NULL,
    options          jsonb       NOT NULL,
    recipe           jsonb       NOT NULL,
    features         text[]      NOT NULL,
    hyperparams      jsonb       NOT NULL,
    metrics          jsonb       NOT NULL,
    train_rows       bigint      NOT NULL,
    test_rows        bigint      NOT NULL,
    data_fingerprint text        NOT NULL,
    format_version   integer     NOT NULL,
    payload          bytea       NOT NULL,
    payload_sha256   text        NOT NULL,
    -- the training rows' distributions per input column and of the score, for healthml.drift
    reference        jsonb       NOT NULL,
    UNIQUE (name, version)
);
COMMENT ON TABLE healthml.models IS
    'Trained models, one row per version: metadata, test metrics, the recipe, and the versioned payload with its sha256.';

CREATE TABLE healthml.deployments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    model_id    bigint      NOT NULL,
    version     integer     NOT NULL,
    deployed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    deployed_by name        NOT NULL DEFAULT current_user,
    reason      text        NOT NULL
);
CREATE INDEX deployments_name_idx ON healthml.deployments (name, id DESC);
COMMENT ON TABLE healthml.deployments IS
    'Append-only deployment history: the latest row of a name is the deployed model.';

CREATE FUNCTION healthml._deployments_are_append_only() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'healthml.deployments is an append-only history'
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'deploy another version with healthml.deploy() or healthml.rollback() instead';
END $$;
CREATE TRIGGER deployments_append_only BEFORE UPDATE OR DELETE ON healthml.deployments
    FOR EACH ROW EXECUTE FUNCTION healthml._deployments_are_append_only();

-- Their rows and their identity sequences' positions are dumped by pg_dump (a restored database
-- must not hand out ids it already used).
SELECT pg_catalog.pg_extension_config_dump('healthml.models', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.models_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.deployments', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.deployments_id_seq', '');

-- The id of version `version` of a model, or of its deployed version when `version` is NULL.
CREATE FUNCTION healthml.model_version_id(model_name text, version integer DEFAULT NULL)
    RETURNS bigint LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_id bigint;
BEGIN
    IF version IS NULL THEN
        SELECT d.model_id INTO found_id FROM healthml.deployments d WHERE d.name = model_name ORDER BY d.id DESC LIMIT 1;
    ELSE
        SELECT m.id INTO found_id FROM healthml.models m WHERE m.name = model_name AND m.version = model_version_id.version;
    END IF;
    IF found_id IS NULL THEN
        RAISE EXCEPTION 'model "%" % not found', model_name,
              CASE WHEN version IS NULL THEN '(deployed version)' ELSE format('version %s', version) END
            USING ERRCODE = 'undefined_object', HINT = 'name a version, or deploy one';
    END IF;
    RETURN found_id;
END $$;
COMMENT ON FUNCTION healthml.model_version_id(text, integer) IS
    'The id of a model version (NULL: the deployed one): what the _by_id functions take.';

-- The inference table of a logistic model (MADlib's columns), from its stored metrics.
CREATE FUNCTION healthml.coefficients(model_name text, version integer DEFAULT NULL)
    RETURNS TABLE (feature text, coefficient double precision, std_error double precision, z double precision,
                   p_value double precision, odds_ratio double precision)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    fit jsonb;
    algo text;
BEGIN
    SELECT m.metrics -> 'fit', m.algorithm INTO fit, algo
    FROM healthml.models m WHERE m.id = healthml.model_version_id(coefficients.model_name, coefficients.version);
    IF algo <> 'logistic' THEN
        RAISE EXCEPTION 'model "%" is % and has no coefficients', model_name, algo
            USING ERRCODE = 'wrong_object_type', HINT = 'coefficients exist for logistic models only';
    END IF;
    RETURN QUERY
    SELECT c ->> 'feature', (c ->> 'coefficient')::float8, (c ->> 'std_error')::float8, (c ->> 'z')::float8,
           (c ->> 'p_value')::float8, (c ->> 'odds_ratio')::float8
    FROM jsonb_array_elements(fit -> 'coefficients') WITH ORDINALITY AS x(c, i)
    ORDER BY i;
END $$;
COMMENT ON FUNCTION healthml.coefficients(text, integer) IS
    'A logistic model version''s inference table: coefficients, standard errors, z, p-values and odds ratios (NULL version: the deployed one).';

-- Global importance of each input column of a model (deployed version when version is NULL), as
-- measured at training on a sample of validation rows: mean |contribution| to the log-odds, and the
-- share of split gain (gbdt) or the largest |coefficient| (logistic). Largest first.
CREATE FUNCTION healthml.feature_importance(model_name text, version integer DEFAULT NULL)
    RETURNS TABLE (feature text, mean_abs_contribution double precision, gain_share double precision,
                   max_abs_coefficient double precision, rows_sampled integer)
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT i ->> 'column', (i ->> 'mean_abs_contribution')::float8, (i ->> 'gain_share')::float8,
           (i ->> 'max_abs_coefficient')::float8, (m.metrics ->> 'importance_rows')::int
    FROM healthml.models m, jsonb_array_elements(m.metrics -> 'importance') WITH ORDINALITY AS x(i, n)
    WHERE m.id = healthml.model_version_id(feature_importance.model_name, feature_importance.version)
    ORDER BY x.n;
END;
COMMENT ON FUNCTION healthml.feature_importance(text, integer) IS
    'Global importance of each input column of a model version, measured at training: mean |contribution|, gain share or largest |coefficient|.';

-- Drops one version. The deployed version cannot be dropped; its history stays.
CREATE FUNCTION healthml.drop_model(model_name text, version integer)
    RETURNS boolean LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target_id bigint;
BEGIN
    PERFORM healthml._require_primary('healthml.drop_model');
    SELECT m.id INTO target_id FROM healthml.models m WHERE m.name = model_name AND m.version = drop_model.version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" version % does not exist', model_name, version
            USING ERRCODE = 'undefined_object', HINT = 'list models with SELECT name, version FROM healthml.models';
    END IF;
    IF target_id = (SELECT d.model_id FROM healthml.deployments d WHERE d.name = model_name ORDER BY d.id DESC LIMIT 1) THEN
        RAISE EXCEPTION 'model "%" version % is deployed and cannot be dropped', model_name, version
            USING ERRCODE = 'object_in_use', HINT = 'deploy another version (or roll back) first';
    END IF;
    DELETE FROM healthml.models m WHERE m.id = target_id;
    RETURN true;
END $$;
COMMENT ON FUNCTION healthml.drop_model(text, integer) IS
    'Drops one model version (never the deployed one); its deployment history stays.';

CREATE VIEW healthml.model_registry AS
SELECT m.name,
       count(*)                                                         AS versions,
       max(m.version)                                                   AS latest_version,
       d.version                                                        AS deployed_version,
       d.deployed_at,
       d.deployed_by,
       dm.algorithm                                                     AS deployed_algorithm,
       round((dm.metrics #>> '{test,auc}')::numeric, 4)                 AS test_auc,
       round((dm.metrics #>> '{test,average_precision}')::numeric, 4)   AS test_average_precision,
       round((dm.metrics #>> '{test,brier}')::numeric, 4)               AS test_brier,
       max(m.created_at)                                                AS last_trained_at
FROM healthml.models m
LEFT JOIN LATERAL (SELECT * FROM healthml.deployments x WHERE x.name = m.name ORDER BY x.id DESC LIMIT 1) d ON true
LEFT JOIN healthml.models dm ON dm.id = d.model_id
GROUP BY m.name, d.version, d.deployed_at, d.deployed_by, dm.algorithm, dm.metrics;
COMMENT ON VIEW healthml.model_registry IS 'One row per model name: versions, the deployed version and its headline test metrics.';
