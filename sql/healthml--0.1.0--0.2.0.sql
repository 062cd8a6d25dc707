-- healthml 0.1.0 -> 0.2.0, run by ALTER EXTENSION healthml UPDATE. Once 0.2.0 is released this file
-- is never edited again (the upgrade tier checks it against the release's commit): later changes go
-- into the next version's script.
\echo Use "ALTER EXTENSION healthml UPDATE" to load this file. \quit

-- 1. pg_dump keeps the identity sequences' positions with the rows (a restored database handed out
--    ids it had already used).
SELECT pg_catalog.pg_extension_config_dump('healthml.models_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.deployments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.threshold_policies_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.recipes_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.training_runs_id_seq', '');

-- 2. Helpers: a checked regclass, a table name qualified where the caller's CREATE TABLE would put it,
--    the challenger trained as the role that trained the champion, and the standby check of the
--    functions that write.
CREATE FUNCTION healthml."_checked_relation"("relation" regclass) RETURNS oid
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'checked_relation_wrapper';
CREATE FUNCTION healthml."_creation_name"("table_name" TEXT) RETURNS TEXT
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'creation_name_wrapper';
CREATE FUNCTION healthml."_retrain_challenger"("champion_id" bigint) RETURNS TABLE ("model_id" bigint, "version" INT)
    STRICT VOLATILE LANGUAGE c AS 'MODULE_PATHNAME', 'retrain_challenger_wrapper';
CREATE FUNCTION healthml."_require_primary"("what" TEXT) RETURNS void
    STRICT VOLATILE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'require_primary_wrapper';

-- 3. No caller's object stands in for healthml's: PL/pgSQL functions pin search_path, SQL functions
--    get SQL-standard bodies, bound when they are created. The functions that write refuse to run on
--    a standby.
ALTER FUNCTION healthml.deployments_are_append_only() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION healthml.leaderboard(text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION healthml.model_version_id(text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION healthml.coefficients(text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION healthml.invalid_score(double precision) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION healthml.models_forget_scoring_stats() SET search_path = pg_catalog, pg_temp;
CREATE OR REPLACE FUNCTION healthml.deploy(model_name text, version integer DEFAULT NULL, reason text DEFAULT NULL)
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
CREATE OR REPLACE FUNCTION healthml.rollback(model_name text)
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
CREATE OR REPLACE FUNCTION healthml.drop_model(model_name text, version integer)
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
CREATE OR REPLACE FUNCTION healthml.feature_importance(model_name text, version integer DEFAULT NULL)
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
CREATE OR REPLACE FUNCTION healthml.decision_threshold(model_id bigint) RETURNS double precision
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce((SELECT p.threshold FROM healthml.threshold_policies p
                     WHERE p.model_id = decision_threshold.model_id ORDER BY p.id DESC LIMIT 1),
                    (SELECT (m.metrics #>> '{test,threshold}')::float8 FROM healthml.models m
                     WHERE m.id = decision_threshold.model_id));
CREATE OR REPLACE FUNCTION healthml.flag(model_name text, score double precision) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN NOT flag.score BETWEEN 0 AND 1 THEN healthml.invalid_score(flag.score)
                ELSE flag.score >= healthml.decision_threshold(healthml.model_version_id(flag.model_name)) END;
CREATE OR REPLACE FUNCTION healthml.risk_tier(model_name text, score double precision) RETURNS text
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

-- 4. score_batch resolves only the target's name in the caller's search_path; retrain replays stored
--    SQL as its author. Both call schema-qualified helpers that pin search_path.
CREATE OR REPLACE PROCEDURE healthml.score_batch(model_name text, source regclass, key_column text, target_table text,
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

CREATE OR REPLACE PROCEDURE healthml.retrain(model_name text, tolerance double precision DEFAULT 0.005,
                                  calibration_tolerance double precision DEFAULT 0.25)
    LANGUAGE plpgsql AS $$
DECLARE
    run_id       bigint;
    why          text;
    failed_state text;
    failed_hint  text;
BEGIN
    run_id := healthml._retrain_begin(model_name, tolerance, calibration_tolerance);
    IF NOT healthml.in_transaction_block() THEN
        COMMIT;
    END IF;
    BEGIN
        PERFORM healthml._retrain_judge(run_id, calibration_tolerance);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS why = MESSAGE_TEXT, failed_state = RETURNED_SQLSTATE, failed_hint = PG_EXCEPTION_HINT;
    END;
    IF failed_state IS NOT NULL THEN
        failed_hint := healthml._retrain_failed(run_id, why, failed_hint);
        -- the log row stays, and the caller (pg_cron too) still sees the run fail
        IF NOT healthml.in_transaction_block() THEN
            COMMIT;
        END IF;
        RAISE EXCEPTION 'healthml.retrain(%) failed: %', model_name, why
            USING ERRCODE = failed_state, HINT = failed_hint;
    END IF;
END $$;
COMMENT ON PROCEDURE healthml.retrain(text, double precision, double precision) IS
    'Retrains a deployed model on current data (as the role that trained it) and deploys the challenger when it is not worse than the champion; every run is logged in healthml.training_runs.';

-- retrain's first step: checks the arguments, marks runs whose backend died, logs the new run.
CREATE FUNCTION healthml._retrain_begin(model_name text, tolerance double precision, calibration_tolerance double precision)
    RETURNS bigint LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    champion_id bigint;
    run_id      bigint;
BEGIN
    PERFORM healthml._require_primary('healthml.retrain');
    IF tolerance IS NULL OR tolerance < 0 OR calibration_tolerance IS NULL OR calibration_tolerance < 0 THEN
        RAISE EXCEPTION 'tolerance and calibration_tolerance must be >= 0, got % and %', tolerance, calibration_tolerance
            USING ERRCODE = 'invalid_parameter_value', HINT = 'for example CALL healthml.retrain(''readmission'', tolerance => 0.005)';
    END IF;
    UPDATE healthml.training_runs r
    SET outcome = 'interrupted', finished_at = clock_timestamp(),
        reason = 'the backend running it ended before it finished'
    WHERE r.outcome = 'running'
      AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid AND a.backend_start <= r.started_at);
    SELECT d.model_id INTO champion_id FROM healthml.deployments d WHERE d.name = _retrain_begin.model_name ORDER BY d.id DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" is not deployed', model_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'retrain replaces a deployed champion: train and deploy a first version with healthml.train and healthml.deploy';
    END IF;
    INSERT INTO healthml.training_runs (model_name, champion_id, tolerance)
    VALUES (_retrain_begin.model_name, champion_id, _retrain_begin.tolerance) RETURNING id INTO run_id;
    RETURN run_id;
END $$;

-- retrain's work: trains the challenger, judges both on the challenger's held-out rows, deploys
-- the challenger or keeps the champion, and records the outcome in the run's row.
CREATE FUNCTION healthml._retrain_judge(run_id bigint, calibration_tolerance double precision)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    run         healthml.training_runs;
    challenger  bigint;
    challenger_version integer;
    judged      jsonb;
    champ_auc   double precision;
    chall_auc   double precision;
    chall_ratio double precision;
    verdict     text;
    why         text;
BEGIN
    SELECT * INTO run FROM healthml.training_runs r WHERE r.id = _retrain_judge.run_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'training run % does not exist', run_id
            USING ERRCODE = 'undefined_object', HINT = 'healthml.retrain calls this with the run it logged; call retrain instead';
    END IF;
    SELECT c.model_id, c.version INTO challenger, challenger_version FROM healthml._retrain_challenger(run.champion_id) c;
    judged := healthml.compare_models(run.champion_id, challenger);
    champ_auc := (judged #>> '{champion,auc}')::float8;
    chall_auc := (judged #>> '{challenger,auc}')::float8;
    chall_ratio := (judged #>> '{challenger,calibration_ratio}')::float8;
    IF chall_auc IS NULL OR chall_auc < champ_auc - run.tolerance THEN
        verdict := 'kept champion';
        why := format('challenger AUC %s is below champion AUC %s minus tolerance %s on %s held-out rows',
                      round(chall_auc::numeric, 4), round(champ_auc::numeric, 4), run.tolerance, judged ->> 'rows');
    ELSIF chall_ratio IS NULL OR chall_ratio NOT BETWEEN 1 / (1 + calibration_tolerance) AND 1 + calibration_tolerance THEN
        verdict := 'kept champion';
        why := format('challenger is not calibrated: mean score / observed rate = %s on %s held-out rows (allowed %s to %s)',
                      round(chall_ratio::numeric, 3), judged ->> 'rows', round((1 / (1 + calibration_tolerance))::numeric, 3),
                      1 + calibration_tolerance);
    ELSE
        verdict := 'deployed';
        why := format('challenger AUC %s against champion AUC %s (tolerance %s), calibration ratio %s, on %s held-out rows',
                      round(chall_auc::numeric, 4), round(champ_auc::numeric, 4), run.tolerance,
                      round(chall_ratio::numeric, 3), judged ->> 'rows');
        PERFORM healthml.deploy(run.model_name, challenger_version, 'retrain: ' || why);
    END IF;
    UPDATE healthml.training_runs r
    SET outcome = verdict, reason = why, metrics = judged, challenger_id = challenger, finished_at = clock_timestamp()
    WHERE r.id = _retrain_judge.run_id;
END $$;

-- retrain's record of a failed run; returns the hint to raise it with (the error's own, if any).
CREATE FUNCTION healthml._retrain_failed(run_id bigint, why text, hint text)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE healthml.training_runs r
    SET outcome = 'failed', reason = why, finished_at = clock_timestamp()
    WHERE r.id = _retrain_failed.run_id;
    RETURN concat_ws('; ', nullif(hint, ''), 'the run is logged in healthml.training_runs');
END $$;

-- 5. PUBLIC keeps version, icd9_group and the moment aggregates only; helpers go to their callers.
REVOKE EXECUTE ON FUNCTION healthml.moments_accum(internal, double precision), healthml.moments_combine(internal, internal),
    healthml.moments_serialize(internal), healthml.moments_deserialize(bytea, internal),
    healthml.moments_skewness_final(internal), healthml.moments_kurtosis_final(internal),
    healthml.moments_summary_final(internal), healthml.in_transaction_block(), healthml.invalid_score(double precision)
    FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION healthml._checked_relation(regclass), healthml._creation_name(text), healthml._retrain_challenger(bigint),
    healthml._require_primary(text), healthml._retrain_begin(text, double precision, double precision),
    healthml._retrain_judge(bigint, double precision), healthml._retrain_failed(bigint, text, text)
    FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE healthml._score_batch(text, regclass, text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml.invalid_score(double precision) TO healthml_analyst;
GRANT EXECUTE ON FUNCTION healthml._require_primary(text) TO healthml_admin;
GRANT EXECUTE ON FUNCTION healthml.in_transaction_block(), healthml._retrain_begin(text, double precision, double precision),
    healthml._retrain_judge(bigint, double precision), healthml._retrain_failed(bigint, text, text), healthml._retrain_challenger(bigint),
    healthml._checked_relation(regclass), healthml._creation_name(text)
    TO healthml_admin;
GRANT EXECUTE ON PROCEDURE healthml._score_batch(text, regclass, text, text, text, integer) TO healthml_admin;
