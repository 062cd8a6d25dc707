-- Models as rows, deployments as an append-only history, and the registry view over both.

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

CREATE FUNCTION healthml.deployments_are_append_only() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'healthml.deployments is an append-only history'
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'deploy another version with healthml.deploy() or healthml.rollback() instead';
END $$;
CREATE TRIGGER deployments_append_only BEFORE UPDATE OR DELETE ON healthml.deployments
    FOR EACH ROW EXECUTE FUNCTION healthml.deployments_are_append_only();

-- Their rows and their identity sequences' positions are dumped by pg_dump (a restored database
-- must not hand out ids it already used).
SELECT pg_catalog.pg_extension_config_dump('healthml.models', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.models_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.deployments', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.deployments_id_seq', '');

CREATE TABLE healthml.automl_leaderboard (
    model_id              bigint  NOT NULL REFERENCES healthml.models (id) ON DELETE CASCADE,
    rank                  integer,
    candidate             text    NOT NULL,
    algorithm             text    NOT NULL,
    hyperparams           jsonb   NOT NULL,
    cv_auc                double precision,
    cv_auc_sd             double precision,
    cv_average_precision  double precision,
    folds_done            integer NOT NULL,
    seconds               double precision NOT NULL,
    started_after_seconds double precision NOT NULL,
    status                text    NOT NULL,
    chosen                boolean NOT NULL
);
CREATE INDEX automl_leaderboard_model_idx ON healthml.automl_leaderboard (model_id);
COMMENT ON TABLE healthml.automl_leaderboard IS
    'Every candidate of an AutoML run (healthml.train(..., ''auto'')): patient-grouped cross-validated AUC, status, and the chosen one.';
SELECT pg_catalog.pg_extension_config_dump('healthml.automl_leaderboard', '');

-- The leaderboard of an AutoML version of a model (NULL: its latest AutoML version): ranked
-- candidates first, then the blend, then what the budget cut.
CREATE FUNCTION healthml.leaderboard(model_name text, version integer DEFAULT NULL)
    RETURNS TABLE (model_version integer, rank integer, candidate text, algorithm text, cv_auc double precision,
                   cv_auc_sd double precision, cv_average_precision double precision, folds_done integer,
                   seconds double precision, status text, chosen boolean, hyperparams jsonb)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    run_id      bigint;
    run_version integer;
BEGIN
    SELECT m.id, m.version INTO run_id, run_version
    FROM healthml.models m
    WHERE m.name = model_name AND (leaderboard.version IS NULL OR m.version = leaderboard.version)
      AND EXISTS (SELECT 1 FROM healthml.automl_leaderboard l WHERE l.model_id = m.id)
    ORDER BY m.version DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%"% has no AutoML leaderboard', model_name,
                coalesce(' version ' || leaderboard.version, '')
            USING ERRCODE = 'undefined_object',
                  HINT = 'train it with algorithm => ''auto''; AutoML versions: SELECT name, version FROM healthml.models WHERE metrics ? ''automl''';
    END IF;
    RETURN QUERY
    SELECT run_version, l.rank, l.candidate, l.algorithm, l.cv_auc, l.cv_auc_sd, l.cv_average_precision,
           l.folds_done, l.seconds, l.status, l.chosen, l.hyperparams
    FROM healthml.automl_leaderboard l
    WHERE l.model_id = run_id
    ORDER BY l.rank NULLS LAST, (l.status = 'ensemble') DESC, l.started_after_seconds, l.candidate;
END $$;

-- AutoML models next to hand-trained ones evaluated on the very same test rows: same source,
-- target and data (fingerprint), same split options. Gains are AutoML minus hand (Brier: lower is
-- better, so a negative gain is an improvement).
CREATE VIEW healthml.automl_comparison AS
SELECT a.name                                                                     AS automl_name,
       a.version                                                                  AS automl_version,
       a.algorithm                                                                AS automl_algorithm,
       h.name                                                                     AS hand_name,
       h.version                                                                  AS hand_version,
       h.algorithm                                                                AS hand_algorithm,
       a.test_rows,
       round((a.metrics #>> '{test,auc}')::numeric, 4)                            AS automl_test_auc,
       round((h.metrics #>> '{test,auc}')::numeric, 4)                            AS hand_test_auc,
       round((a.metrics #>> '{test,auc}')::numeric - (h.metrics #>> '{test,auc}')::numeric, 4) AS auc_gain,
       round((a.metrics #>> '{test,average_precision}')::numeric, 4)              AS automl_test_ap,
       round((h.metrics #>> '{test,average_precision}')::numeric, 4)              AS hand_test_ap,
       round((a.metrics #>> '{test,average_precision}')::numeric
             - (h.metrics #>> '{test,average_precision}')::numeric, 4)            AS ap_gain,
       round((a.metrics #>> '{test,brier}')::numeric, 4)                          AS automl_test_brier,
       round((h.metrics #>> '{test,brier}')::numeric, 4)                          AS hand_test_brier,
       round((a.metrics #>> '{test,brier}')::numeric - (h.metrics #>> '{test,brier}')::numeric, 4) AS brier_gain
FROM healthml.models a
JOIN healthml.models h
  ON h.id <> a.id
 AND NOT (h.metrics ? 'automl')
 AND h.source = a.source AND h.target = a.target AND h.data_fingerprint = a.data_fingerprint
 AND h.test_rows = a.test_rows
 AND h.options -> 'test_where'    IS NOT DISTINCT FROM a.options -> 'test_where'
 AND h.options -> 'test_fraction' IS NOT DISTINCT FROM a.options -> 'test_fraction'
 AND h.options -> 'seed'          IS NOT DISTINCT FROM a.options -> 'seed'
 AND h.options -> 'group_by'      IS NOT DISTINCT FROM a.options -> 'group_by'
 AND h.options -> 'positive'      IS NOT DISTINCT FROM a.options -> 'positive'
WHERE a.metrics ? 'automl';
COMMENT ON VIEW healthml.automl_comparison IS
    'Each AutoML model against every hand-trained model evaluated on the same test rows (same data, target and split).';

-- Deploys version `version` of a model (NULL: the version with the best test AUC).
CREATE FUNCTION healthml.deploy(model_name text, version integer DEFAULT NULL, reason text DEFAULT NULL)
    RETURNS TABLE (model_id bigint, deployed_version integer, deployed_at timestamptz)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    chosen healthml.models%ROWTYPE;
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

-- Scores every row of `source` with the model deployed as `model_name` (pinned for the whole run) into
-- `target_table` (created if missing): (key, model_id, model_version, score, scored_at), plus
-- `reasons` (jsonb: the top_k reasons of each score, from the same model) when top_k is given.
-- mode 'replace' keeps one row per key (rerunning updates it); 'append' keeps every run. One
-- set-based statement.
CREATE PROCEDURE healthml.score_batch(model_name text, source regclass, key_column text, target_table text,
                                      mode text DEFAULT 'replace', top_k integer DEFAULT NULL)
    LANGUAGE plpgsql AS $$
BEGIN
    -- Only the target's name is resolved in the caller's search_path, where their own CREATE TABLE
    -- would put it; everything else runs in _score_batch under a pinned search_path. Every call
    -- here is schema-qualified, so no object of the caller's can stand in for one of these.
    CALL healthml._score_batch(model_name, healthml._checked_relation(source), key_column,
                               healthml._creation_name(target_table), mode, top_k);
END $$;

-- score_batch's work, with the target table's name already qualified.
CREATE PROCEDURE healthml._score_batch(model_name text, source regclass, key_column text, target_table text,
                                       mode text, top_k integer)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target_ident text;
    key_type     text;
    pinned_id    bigint;
    pinned_ver   integer;
    written      bigint;
    reasons_def  text := '';
    reasons_col  text := '';
    reasons_expr text := '';
    reasons_set  text := '';
BEGIN
    PERFORM healthml._require_primary('healthml.score_batch');
    IF mode IS NULL OR mode NOT IN ('replace', 'append') THEN
        RAISE EXCEPTION 'mode must be ''replace'' or ''append'', got %', coalesce(quote_literal(mode), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '''replace'' keeps the latest score per key, ''append'' keeps every run';
    END IF;
    IF top_k IS NOT NULL AND top_k < 1 THEN
        RAISE EXCEPTION 'top_k must be at least 1, got %', top_k
            USING ERRCODE = 'invalid_parameter_value', HINT = 'NULL writes no reasons; 3 or 5 is usual';
    END IF;
    target_ident := target_table;
    SELECT format_type(a.atttypid, a.atttypmod) INTO key_type
    FROM pg_attribute a WHERE a.attrelid = source AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column % does not exist in %', quote_ident(key_column), source
            USING ERRCODE = 'undefined_column', HINT = 'key_column names the column that identifies a row, e.g. encounter_id';
    END IF;
    SELECT d.model_id, d.version INTO pinned_id, pinned_ver
    FROM healthml.deployments d WHERE d.name = model_name ORDER BY d.id DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" is not deployed', model_name
            USING ERRCODE = 'undefined_object', HINT = 'deploy a version with healthml.deploy() first';
    END IF;
    IF top_k IS NOT NULL THEN
        reasons_def  := ', reasons jsonb';
        reasons_col  := ', reasons';
        reasons_expr := ', (SELECT jsonb_agg(jsonb_build_object(''feature'', r.feature, ''value'', r.value, '
                        '''contribution'', r.contribution) ORDER BY r.n) '
                        'FROM healthml.explain_row_by_id($1, s, $3) WITH ORDINALITY AS r(feature, value, contribution, n))';
        reasons_set  := ', reasons = EXCLUDED.reasons';
    END IF;
    IF to_regclass(target_ident) IS NULL THEN
        EXECUTE format('CREATE TABLE %s (%I %s %s, model_id bigint NOT NULL, model_version integer NOT NULL, '
                       'score double precision, scored_at timestamptz NOT NULL%s)',
                       target_ident, key_column, key_type,
                       CASE mode WHEN 'replace' THEN 'PRIMARY KEY' ELSE 'NOT NULL' END, reasons_def);
    ELSIF top_k IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass(target_ident)
                                               AND a.attname = 'reasons' AND NOT a.attisdropped) THEN
        RAISE EXCEPTION '% has no column "reasons" for the top_k reasons', target_ident
            USING ERRCODE = 'undefined_column',
                  HINT = format('ALTER TABLE %s ADD COLUMN reasons jsonb, or write to a new table', target_ident);
    END IF;
    EXECUTE format('INSERT INTO %1$s AS t (%2$I, model_id, model_version, score, scored_at%4$s) '
                   'SELECT s.%2$I, $1, $2, healthml.predict_row_by_id($1, s), now()%5$s FROM %3$s s',
                   target_ident, key_column, source, reasons_col, reasons_expr)
           || CASE mode WHEN 'replace' THEN format(' ON CONFLICT (%I) DO UPDATE SET model_id = EXCLUDED.model_id, '
                   'model_version = EXCLUDED.model_version, score = EXCLUDED.score, scored_at = EXCLUDED.scored_at%s',
                   key_column, reasons_set) ELSE '' END
        USING pinned_id, pinned_ver, top_k;
    GET DIAGNOSTICS written = ROW_COUNT;
    RAISE NOTICE 'scored % rows of % with model "%" version % into %', written, source, model_name, pinned_ver, target_ident;
END $$;
COMMENT ON PROCEDURE healthml.score_batch(text, regclass, text, text, text, integer) IS
    'Nightly batch scoring: CALL healthml.score_batch(''readmission'', ''readmission.cohort'', ''encounter_id'', ''readmission.scores'', top_k => 3);';

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

-- Decision thresholds set by policy (healthml.set_threshold), a history per model version: the
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
SELECT pg_catalog.pg_extension_config_dump('healthml.threshold_policies', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.threshold_policies_id_seq', '');

-- The threshold a model version flags at: its latest policy, or the F1-optimal one of training.
CREATE FUNCTION healthml.decision_threshold(model_id bigint) RETURNS double precision
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce((SELECT p.threshold FROM healthml.threshold_policies p
                     WHERE p.model_id = decision_threshold.model_id ORDER BY p.id DESC LIMIT 1),
                    (SELECT (m.metrics #>> '{test,threshold}')::float8 FROM healthml.models m
                     WHERE m.id = decision_threshold.model_id));

-- Scores are probabilities: anything else (NaN included, which PostgreSQL orders above every number)
-- is refused rather than flagged.
CREATE FUNCTION healthml.invalid_score(score double precision) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'score % is not a probability', score
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'pass a score in [0, 1], as healthml.predict and healthml.predict_row return';
END $$;

-- Whether a score of the deployed model is flagged (score >= its decision threshold).
CREATE FUNCTION healthml.flag(model_name text, score double precision) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN NOT flag.score BETWEEN 0 AND 1 THEN healthml.invalid_score(flag.score)
                ELSE flag.score >= healthml.decision_threshold(healthml.model_version_id(flag.model_name)) END;

-- A score's risk tier under the deployed model's policy: 'high' when flagged, 'medium' when above the
-- rate of positives among the training rows (more risk than the average patient), else 'low'.
CREATE FUNCTION healthml.risk_tier(model_name text, score double precision) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN risk_tier.score IS NULL THEN NULL
                WHEN NOT risk_tier.score BETWEEN 0 AND 1 THEN healthml.invalid_score(risk_tier.score)::text
                WHEN risk_tier.score >= healthml.decision_threshold(m.id) THEN 'high'
                WHEN risk_tier.score >= coalesce((m.metrics ->> 'train_positive_rate')::float8,
                                    (m.metrics #>> '{test,positives}')::float8 / (m.metrics #>> '{test,n}')::float8) THEN 'medium'
                ELSE 'low' END
    FROM healthml.models m WHERE m.id = healthml.model_version_id(risk_tier.model_name);
END;
