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

-- 2. One SQL API (docs/sql-api.md). Internal helpers get a leading underscore; 0.1.0's
--    explanation and compare_models(bigint, bigint) become explain_jsonb and compare_models_by_id
--    (the same C functions), and decision_threshold(bigint) decision_threshold_by_id. The old names
--    come back as deprecated wrappers in section 7.
ALTER FUNCTION healthml.in_transaction_block() RENAME TO _in_transaction_block;
ALTER FUNCTION healthml.invalid_score(double precision) RENAME TO _invalid_score;
ALTER FUNCTION healthml.scoring_stats_rows() RENAME TO _scoring_stats_rows;
ALTER FUNCTION healthml.forget_scoring_stats(bigint) RENAME TO _forget_scoring_stats;
ALTER FUNCTION healthml.deployments_are_append_only() RENAME TO _deployments_are_append_only;
ALTER FUNCTION healthml.models_forget_scoring_stats() RENAME TO _models_forget_scoring_stats;
ALTER FUNCTION healthml.moments_accum(internal, double precision) RENAME TO _moments_accum;
ALTER FUNCTION healthml.moments_combine(internal, internal) RENAME TO _moments_combine;
ALTER FUNCTION healthml.moments_serialize(internal) RENAME TO _moments_serialize;
ALTER FUNCTION healthml.moments_deserialize(bytea, internal) RENAME TO _moments_deserialize;
ALTER FUNCTION healthml.moments_skewness_final(internal) RENAME TO _moments_skewness_final;
ALTER FUNCTION healthml.moments_kurtosis_final(internal) RENAME TO _moments_kurtosis_final;
ALTER FUNCTION healthml.moments_summary_final(internal) RENAME TO _moments_summary_final;
ALTER FUNCTION healthml.explanation(text, jsonb) RENAME TO explain_jsonb;
ALTER FUNCTION healthml.compare_models(bigint, bigint) RENAME TO compare_models_by_id;
ALTER FUNCTION healthml.decision_threshold(bigint) RENAME TO decision_threshold_by_id;

-- 3. Helpers: a checked regclass, a table name qualified where the caller's CREATE TABLE would put it,
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

-- 4. No caller's object stands in for healthml's: PL/pgSQL functions pin search_path, SQL functions
--    get SQL-standard bodies, bound when they are created. The functions that write refuse to run on
--    a standby.
ALTER FUNCTION healthml._deployments_are_append_only() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION healthml.leaderboard(text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION healthml.model_version_id(text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION healthml.coefficients(text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION healthml._invalid_score(double precision) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION healthml._models_forget_scoring_stats() SET search_path = pg_catalog, pg_temp;
-- The leakage alerts in a model's metrics (the guardrails every training stores), as one line of
-- text; NULL when there are none. Deploy and retrain refuse a model with any.
CREATE FUNCTION healthml._leakage_findings(metrics jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    RETURN (SELECT string_agg(g ->> 'message', '; ' ORDER BY n)
            FROM jsonb_array_elements(CASE jsonb_typeof(metrics -> 'guardrails') WHEN 'array' THEN metrics -> 'guardrails' ELSE '[]' END)
                 WITH ORDINALITY AS x(g, n)
            WHERE g ->> 'check' LIKE 'leakage%' AND g ->> 'status' = 'alert');
CREATE OR REPLACE FUNCTION healthml.deploy(model_name text, version integer DEFAULT NULL, reason text DEFAULT NULL)
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
CREATE OR REPLACE FUNCTION healthml.decision_threshold_by_id(model_id bigint) RETURNS double precision
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce((SELECT p.threshold FROM healthml.threshold_policies p
                     WHERE p.model_id = decision_threshold_by_id.model_id ORDER BY p.id DESC LIMIT 1),
                    (SELECT (m.metrics #>> '{test,threshold}')::float8 FROM healthml.models m
                     WHERE m.id = decision_threshold_by_id.model_id));
CREATE OR REPLACE FUNCTION healthml.flag(model_name text, score double precision) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN NOT flag.score BETWEEN 0 AND 1 THEN healthml._invalid_score(flag.score)
                ELSE flag.score >= healthml.decision_threshold_by_id(healthml.model_version_id(flag.model_name)) END;
CREATE OR REPLACE FUNCTION healthml.risk_tier(model_name text, score double precision) RETURNS text
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

-- 5. score_batch resolves only the target's name in the caller's search_path; retrain replays stored
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
    pinned_id    bigint;
    pinned_ver   integer;
    written      bigint;
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
    PERFORM FROM pg_attribute a WHERE a.attrelid = source AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
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
        reasons_col  := ', reasons';
        reasons_expr := ', (SELECT jsonb_agg(jsonb_build_object(''feature'', r.feature, ''value'', r.value, '
                        '''contribution'', r.contribution) ORDER BY r.n) '
                        'FROM healthml.explain_row_by_id($1, s, $3) WITH ORDINALITY AS r(feature, value, contribution, n))';
        reasons_set  := ', reasons = EXCLUDED.reasons';
    END IF;
    IF to_regclass(target_ident) IS NULL THEN
        -- A new table is created from the scoring query itself, which PostgreSQL may run in
        -- parallel workers (an INSERT never is), and keyed once it is filled.
        EXECUTE format('CREATE TABLE %1$s AS SELECT s.%2$I, $1 AS model_id, $2 AS model_version, '
                       'healthml.predict_row_by_id($1, s) AS score, now() AS scored_at%4$s FROM %3$s s',
                       target_ident, key_column, source, reasons_expr || CASE WHEN top_k IS NULL THEN '' ELSE ' AS reasons' END)
            USING pinned_id, pinned_ver, top_k;
        GET DIAGNOSTICS written = ROW_COUNT;
        EXECUTE format('COMMENT ON TABLE %s IS %L', target_ident,
                       format('Scores of %s by model "%s" version %s (healthml.score_batch, mode %s%s); key %s.',
                              source, model_name, pinned_ver, mode,
                              CASE WHEN top_k IS NULL THEN '' ELSE format(', top %s reasons', top_k) END, key_column));
        BEGIN
            EXECUTE format('ALTER TABLE %s %s, ALTER COLUMN model_id SET NOT NULL, ALTER COLUMN model_version SET NOT NULL, '
                           'ALTER COLUMN scored_at SET NOT NULL', target_ident,
                           CASE mode WHEN 'replace' THEN format('ADD PRIMARY KEY (%I)', key_column)
                                     ELSE format('ALTER COLUMN %I SET NOT NULL', key_column) END);
        EXCEPTION WHEN unique_violation OR not_null_violation THEN
            RAISE EXCEPTION '% of % does not identify one row each: %', quote_ident(key_column), source, SQLERRM
                USING ERRCODE = SQLSTATE,
                      HINT = 'mode ''replace'' keeps one score per key: pass a unique, non-NULL key_column, or mode ''append''';
        END;
        RAISE NOTICE 'scored % rows of % with model "%" version % into %', written, source, model_name, pinned_ver, target_ident;
        RETURN;
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

ALTER TABLE healthml.training_runs ADD COLUMN require_confidence boolean NOT NULL DEFAULT false;
DROP PROCEDURE healthml.retrain(text, double precision, double precision);
CREATE PROCEDURE healthml.retrain(model_name text, tolerance double precision DEFAULT 0.005,
                                  calibration_tolerance double precision DEFAULT 0.25,
                                  require_confidence boolean DEFAULT false)
    LANGUAGE plpgsql AS $$
DECLARE
    run_id       bigint;
    why          text;
    failed_state text;
    failed_hint  text;
BEGIN
    run_id := healthml._retrain_begin(model_name, tolerance, calibration_tolerance, require_confidence);
    IF NOT healthml._in_transaction_block() THEN
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
        IF NOT healthml._in_transaction_block() THEN
            COMMIT;
        END IF;
        RAISE EXCEPTION 'healthml.retrain(%) failed: %', model_name, why
            USING ERRCODE = failed_state, HINT = failed_hint;
    END IF;
END $$;
COMMENT ON PROCEDURE healthml.retrain(text, double precision, double precision, boolean) IS
    'Retrains a deployed model on current data (as the role that trained it) and deploys the challenger when it is not worse than the champion (with require_confidence: by the 95 % interval of the paired AUC difference); every run is logged in healthml.training_runs.';

REVOKE EXECUTE ON PROCEDURE healthml.retrain(text, double precision, double precision, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE healthml.retrain(text, double precision, double precision, boolean) TO healthml_admin;

-- retrain's first step: checks the arguments, marks runs whose backend died, logs the new run.
CREATE FUNCTION healthml._retrain_begin(model_name text, tolerance double precision, calibration_tolerance double precision,
                                        require_confidence boolean)
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
    IF require_confidence IS NULL THEN
        RAISE EXCEPTION 'require_confidence must be true or false, got NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'leave it out for false (the point estimates decide)';
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
    INSERT INTO healthml.training_runs (model_name, champion_id, tolerance, require_confidence)
    VALUES (_retrain_begin.model_name, champion_id, _retrain_begin.tolerance, _retrain_begin.require_confidence)
    RETURNING id INTO run_id;
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
    judged := healthml.compare_models_by_id(run.champion_id, challenger);
    champ_auc := (judged #>> '{champion,auc}')::float8;
    chall_auc := (judged #>> '{challenger,auc}')::float8;
    chall_ratio := (judged #>> '{challenger,calibration_ratio}')::float8;
    why := healthml._leakage_findings((SELECT m.metrics FROM healthml.models m WHERE m.id = challenger));
    IF why IS NOT NULL THEN
        verdict := 'kept champion';
        why := format('challenger has leakage findings: %s', why);
    ELSIF chall_auc IS NULL OR chall_auc < champ_auc - run.tolerance THEN
        verdict := 'kept champion';
        why := format('challenger AUC %s is below champion AUC %s minus tolerance %s on %s held-out rows',
                      round(chall_auc::numeric, 4), round(champ_auc::numeric, 4), run.tolerance, judged ->> 'rows');
    ELSIF run.require_confidence AND coalesce((judged #>> '{auc_difference,low}')::float8 < -run.tolerance, true) THEN
        verdict := 'kept champion';
        why := format('challenger is not shown to be no worse: the 95%% interval of its AUC minus the champion''s is [%s, %s], '
                      'reaching below -%s (tolerance), on %s held-out rows',
                      round((judged #>> '{auc_difference,low}')::numeric, 4), round((judged #>> '{auc_difference,high}')::numeric, 4),
                      run.tolerance, judged ->> 'rows');
    ELSIF chall_ratio IS NULL OR chall_ratio NOT BETWEEN 1 / (1 + calibration_tolerance) AND 1 + calibration_tolerance THEN
        verdict := 'kept champion';
        why := format('challenger is not calibrated: mean score / observed rate = %s on %s held-out rows (allowed %s to %s)',
                      round(chall_ratio::numeric, 3), judged ->> 'rows', round((1 / (1 + calibration_tolerance))::numeric, 3),
                      1 + calibration_tolerance);
    ELSE
        verdict := 'deployed';
        why := format('challenger AUC %s against champion AUC %s (tolerance %s; difference 95%% interval [%s, %s]), calibration ratio %s, on %s held-out rows',
                      round(chall_auc::numeric, 4), round(champ_auc::numeric, 4), run.tolerance,
                      coalesce(round((judged #>> '{auc_difference,low}')::numeric, 4)::text, '-'),
                      coalesce(round((judged #>> '{auc_difference,high}')::numeric, 4)::text, '-'),
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

-- 6. PUBLIC keeps version, icd9_group and the moment aggregates only; helpers go to their callers.
REVOKE EXECUTE ON FUNCTION healthml._moments_accum(internal, double precision), healthml._moments_combine(internal, internal),
    healthml._moments_serialize(internal), healthml._moments_deserialize(bytea, internal),
    healthml._moments_skewness_final(internal), healthml._moments_kurtosis_final(internal),
    healthml._moments_summary_final(internal), healthml._in_transaction_block(), healthml._invalid_score(double precision)
    FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION healthml._checked_relation(regclass), healthml._creation_name(text), healthml._retrain_challenger(bigint),
    healthml._leakage_findings(jsonb),
    healthml._require_primary(text), healthml._retrain_begin(text, double precision, double precision, boolean),
    healthml._retrain_judge(bigint, double precision), healthml._retrain_failed(bigint, text, text)
    FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE healthml._score_batch(text, regclass, text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml._invalid_score(double precision) TO healthml_analyst;
GRANT EXECUTE ON FUNCTION healthml._require_primary(text) TO healthml_admin;
GRANT EXECUTE ON FUNCTION healthml._in_transaction_block(), healthml._retrain_begin(text, double precision, double precision, boolean),
    healthml._retrain_judge(bigint, double precision), healthml._retrain_failed(bigint, text, text), healthml._retrain_challenger(bigint),
    healthml._checked_relation(regclass), healthml._creation_name(text), healthml._leakage_findings(jsonb)
    TO healthml_admin;
GRANT EXECUTE ON PROCEDURE healthml._score_batch(text, regclass, text, text, text, integer) TO healthml_admin;

-- 7. New in 0.2.0's API: explain_by_id, set_decision_threshold (model, relation, policy: the order of
--    every other function), decision_threshold and compare_models by model name; 0.1.0's names as
--    deprecated wrappers; the bodies that call renamed helpers; a comment on every public object.
CREATE FUNCTION healthml."explain_by_id"("model_id" bigint, "features" jsonb, "top_k" INT DEFAULT 5)
    RETURNS TABLE ("feature" TEXT, "value" TEXT, "contribution" double precision)
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'explain_by_id_wrapper';
CREATE FUNCTION healthml."set_decision_threshold"("model_name" TEXT, "relation" regclass, "policy" TEXT)
    RETURNS TABLE ("model_id" bigint, "policy" TEXT, "threshold" double precision, "flagged_share" double precision,
                   "precision" double precision, "recall" double precision)
    STRICT VOLATILE LANGUAGE c AS 'MODULE_PATHNAME', 'set_decision_threshold_wrapper';
CREATE FUNCTION healthml.decision_threshold(model_name text, version integer DEFAULT NULL) RETURNS double precision
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN healthml.decision_threshold_by_id(healthml.model_version_id(decision_threshold.model_name, decision_threshold.version));
CREATE FUNCTION healthml.compare_models(model_name text, champion_version integer, challenger_version integer)
    RETURNS jsonb LANGUAGE sql VOLATILE
    RETURN healthml.compare_models_by_id(healthml.model_version_id(compare_models.model_name, compare_models.champion_version),
                                         healthml.model_version_id(compare_models.model_name, compare_models.challenger_version));
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
DROP FUNCTION healthml.model_card(text, integer);
CREATE FUNCTION healthml.model_card(model_name text, version integer DEFAULT NULL, format text DEFAULT 'markdown') RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m       healthml.models;
    card    text;
    line    record;
    section text;
    by_day  jsonb;
    fmt4    CONSTANT text := 'FM0.0000';
BEGIN
    SELECT * INTO m FROM healthml.models x
    WHERE x.name = model_name
      AND x.id = coalesce((SELECT y.id FROM healthml.models y WHERE y.name = model_name AND y.version = model_card.version),
                          CASE WHEN model_card.version IS NULL THEN
                              coalesce((SELECT d.model_id FROM healthml.deployments d WHERE d.name = model_name ORDER BY d.id DESC LIMIT 1),
                                       (SELECT max(y.id) FROM healthml.models y WHERE y.name = model_name)) END);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%"% does not exist', model_name, coalesce(' version ' || model_card.version, '')
            USING ERRCODE = 'undefined_object', HINT = 'list models with SELECT name, version FROM healthml.model_registry';
    END IF;

    IF model_card.format IS NULL OR model_card.format NOT IN ('markdown', 'html') THEN
        RAISE EXCEPTION 'format must be ''markdown'' or ''html'', got %', coalesce(quote_literal(model_card.format), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'for example SELECT healthml.model_card(''readmission'', NULL, ''html'')';
    END IF;
    IF model_card.format = 'html' THEN
        -- drift by day of the version's logged scoring calls in the last 30 days (none for a version
        -- without training distributions, or a database still without the inference log)
        BEGIN
            SELECT coalesce(jsonb_agg(jsonb_build_object('day', d.day::text, 'feature', d.feature, 'psi', d.psi) ORDER BY d.day, d.feature), '[]')
            INTO by_day
            FROM healthml.inference_drift(m.name, jsonb_build_object('version', m.version,
                                                                     'since', (now() - interval '30 days')::text)) d;
        EXCEPTION WHEN undefined_object OR undefined_function THEN
            by_day := '[]';
        END;
        -- the figures the page draws: the metrics (intervals, curves, guardrails, importance), the
        -- latest subgroup audit of each column (groups of 100 or more), the latest drift report and
        -- drift by day
        RETURN healthml._model_card_html(jsonb_build_object(
            'name', m.name, 'version', m.version,
            'algorithm', CASE WHEN m.metrics ? 'automl' THEN 'AutoML, chose ' || m.algorithm ELSE m.algorithm END,
            'description', m.description, 'created', to_char(m.created_at, 'YYYY-MM-DD HH24:MI TZ'), 'created_by', m.created_by,
            'source', m.source, 'target', m.target,
            'deployed', coalesce(m.id = (SELECT d.model_id FROM healthml.deployments d WHERE d.name = m.name ORDER BY d.id DESC LIMIT 1), false),
            'metrics', m.metrics, 'leakage_findings', healthml._leakage_findings(m.metrics),
            'subgroups', coalesce((SELECT jsonb_agg(jsonb_build_object('by_column', r.by_column, 'subgroup', r.subgroup, 'n', r.n,
                                                                       'auc', r.auc, 'auc_low', r.auc_low, 'auc_high', r.auc_high,
                                                                       'mean_score', r.mean_score, 'observed_rate', r.observed_rate,
                                                                       'intervals', coalesce(r.intervals, '{}'))
                                                    ORDER BY r.by_column, r.n DESC, r.subgroup)
                                   FROM healthml.subgroup_reports r
                                   WHERE r.model_id = m.id AND NOT r.overall AND r.n >= 100
                                     AND r.report_id = (SELECT max(x.report_id) FROM healthml.subgroup_reports x
                                                        WHERE x.model_id = m.id AND x.by_column = r.by_column)), '[]'),
            'drift', coalesce((SELECT jsonb_agg(jsonb_build_object('feature', d.feature, 'psi', d.psi, 'status', d.status) ORDER BY d.psi DESC)
                               FROM healthml.drift_reports d
                               WHERE d.report_id = (SELECT max(x.report_id) FROM healthml.drift_reports x WHERE x.model_id = m.id)), '[]'),
            'drift_by_day', by_day));
    END IF;

    card := format(E'# Model card: %s, version %s\n\n', m.name, m.version);
    card := card || format(E'**Purpose.** %s\n\n', coalesce(m.description, '(no description: pass "description" when training)'));
    card := card || format(E'- Predicts `%s`%s from `%s` (%s).\n', m.target,
                           CASE WHEN m.options ? 'positive' THEN format(' = %L', m.options ->> 'positive') ELSE '' END, m.source,
                           CASE WHEN m.metrics ? 'automl' THEN 'AutoML, chose ' || m.algorithm ELSE m.algorithm END);
    card := card || format(E'- Trained %s by %s; tags: %s.\n', to_char(m.created_at, 'YYYY-MM-DD HH24:MI TZ'), m.created_by,
                           coalesce(nullif(array_to_string(m.tags, ', '), ''), 'none'));
    card := card || format(E'- Deployed: %s.\n\n',
                           CASE WHEN m.id = (SELECT d.model_id FROM healthml.deployments d WHERE d.name = m.name ORDER BY d.id DESC LIMIT 1)
                                THEN 'yes' ELSE 'no' END);

    card := card || E'## Data\n\n';
    card := card || format(E'- Source `%s`, %s training rows, %s test rows, data fingerprint `%s`.\n',
                           m.source, m.train_rows, m.test_rows, left(m.data_fingerprint, 16));
    card := card || format(E'- Test rows: %s; groups kept on one side: %s.\n',
                           coalesce(format('`%s`', m.options ->> 'test_where'),
                                    format('%s%% of groups by seeded hash', round(100 * coalesce((m.options ->> 'test_fraction')::numeric, 0.2)))),
                           coalesce(format('`%s`', m.options ->> 'group_by'), 'none (rows)'));
    card := card || format(E'- Not features: %s.\n\n',
                           coalesce((SELECT string_agg(format('`%s`', e), ', ' ORDER BY n) FROM jsonb_array_elements_text(
                                        CASE jsonb_typeof(m.options -> 'exclude') WHEN 'array' THEN m.options -> 'exclude'
                                             WHEN 'string' THEN jsonb_build_array(m.options -> 'exclude') ELSE '[]' END)
                                        WITH ORDINALITY AS x(e, n)), 'none'));

    card := card || E'## Recipe\n\n';
    SELECT string_agg(format('%s %s', n, action), ', ' ORDER BY n DESC, action) INTO section
    FROM (SELECT s ->> 'action' AS action, count(*) AS n FROM jsonb_array_elements(m.recipe -> 'steps') s GROUP BY 1) a;
    card := card || format(E'%s source columns: %s; %s features.\n\n', jsonb_array_length(m.recipe -> 'steps'), section,
                           cardinality(m.features));

    card := card || E'## Test metrics\n\n| AUC | average precision | Brier | log loss | threshold | precision | recall |\n|---|---|---|---|---|---|---|\n';
    card := card || format(E'| %s | %s | %s | %s | %s | %s | %s |\n\n',
                           to_char((m.metrics #>> '{test,auc}')::numeric, fmt4), to_char((m.metrics #>> '{test,average_precision}')::numeric, fmt4),
                           to_char((m.metrics #>> '{test,brier}')::numeric, fmt4), to_char((m.metrics #>> '{test,log_loss}')::numeric, fmt4),
                           to_char((m.metrics #>> '{test,threshold}')::numeric, fmt4), to_char((m.metrics #>> '{test,precision}')::numeric, fmt4),
                           to_char((m.metrics #>> '{test,recall}')::numeric, fmt4));
    card := card || CASE WHEN m.metrics #> '{test,intervals}' IS NULL
        THEN E'No intervals: the version was imported, trained before healthml 0.2.0, or with "resamples": 0.\n\n'
        ELSE format('95 %% intervals (%s resamples of %s%s, seed %s): AUC %s to %s; average precision %s to %s; Brier %s to %s; '
                    'calibration intercept %s (%s to %s), slope %s (%s to %s).' || E'\n\n',
                    m.metrics #>> '{test,intervals,resamples_used}', m.metrics #>> '{test,intervals,groups}',
                    coalesce(format(' groups by `%s`', m.metrics #>> '{test,intervals,grouped_by}'), ' rows'),
                    m.metrics #>> '{test,intervals,seed}',
                    to_char((m.metrics #>> '{test,intervals,auc,low}')::numeric, fmt4), to_char((m.metrics #>> '{test,intervals,auc,high}')::numeric, fmt4),
                    to_char((m.metrics #>> '{test,intervals,average_precision,low}')::numeric, fmt4),
                    to_char((m.metrics #>> '{test,intervals,average_precision,high}')::numeric, fmt4),
                    to_char((m.metrics #>> '{test,intervals,brier,low}')::numeric, fmt4), to_char((m.metrics #>> '{test,intervals,brier,high}')::numeric, fmt4),
                    to_char((m.metrics #>> '{test,calibration_intercept}')::numeric, 'FMS0.000'),
                    to_char((m.metrics #>> '{test,intervals,calibration_intercept,low}')::numeric, 'FMS0.000'),
                    to_char((m.metrics #>> '{test,intervals,calibration_intercept,high}')::numeric, 'FMS0.000'),
                    to_char((m.metrics #>> '{test,calibration_slope}')::numeric, 'FM0.000'),
                    to_char((m.metrics #>> '{test,intervals,calibration_slope,low}')::numeric, 'FM0.000'),
                    to_char((m.metrics #>> '{test,intervals,calibration_slope,high}')::numeric, 'FM0.000')) END;
    card := card || format(E'Calibration: %s.\n',
                           CASE m.metrics #>> '{calibration,method}'
                               WHEN 'platt' THEN format('Platt scaling on %s validation rows (validation Brier %s before, %s after)',
                                                        m.metrics #>> '{calibration,fitted_on_rows}',
                                                        to_char((m.metrics #>> '{calibration,validation_brier_before}')::numeric, fmt4),
                                                        to_char((m.metrics #>> '{calibration,validation_brier_after}')::numeric, fmt4))
                               ELSE 'none (the model was fitted without class weights)' END);
    IF m.metrics ? 'automl' THEN
        card := card || format(E'AutoML: %s; %s of %s candidates cross-validated in %s s.\n',
                               m.metrics #>> '{automl,chosen}', m.metrics #>> '{automl,evaluated}', m.metrics #>> '{automl,candidates}',
                               round((m.metrics #>> '{automl,search_seconds}')::numeric));
    END IF;
    card := card || E'\n## Leakage and guardrails\n\n';
    SELECT string_agg(format('| %s | %s | %s | %s | %s | %s |', g ->> 'check', coalesce(g ->> 'column', '-'),
                             to_char((g ->> 'value')::numeric, 'FM0.000'), to_char((g ->> 'limit')::numeric, 'FM0.000'),
                             upper(g ->> 'status'), replace(g ->> 'message', '|', '/')),
                      E'\n' ORDER BY (g ->> 'status' = 'ok'), n)
    INTO section
    FROM jsonb_array_elements(CASE jsonb_typeof(m.metrics -> 'guardrails') WHEN 'array' THEN m.metrics -> 'guardrails' ELSE '[]' END)
         WITH ORDINALITY AS x(g, n);
    card := card || CASE
        WHEN section IS NULL THEN E'Not checked: the version was imported, or trained before healthml 0.2.0.\n'
        ELSE format(E'%s\n\n| check | column | value | limit | status | finding |\n|---|---|---|---|---|---|\n%s\n',
                    CASE WHEN healthml._leakage_findings(m.metrics) IS NULL
                         THEN 'No unresolved leakage finding: the version may be deployed.'
                         ELSE '**Probable leakage: healthml.deploy and retrain refuse this version.**' END,
                    section) END;
    card := card || E'\n## Threshold policy\n\n';
    SELECT * INTO line FROM healthml.threshold_policies p WHERE p.model_id = m.id ORDER BY p.id DESC LIMIT 1;
    IF FOUND THEN
        card := card || format(E'`%s` set %s by %s on `%s`: threshold %s flags %s%% of rows, precision %s, recall %s.\n\n',
                               line.policy, to_char(line.set_at, 'YYYY-MM-DD'), line.set_by, line.computed_on,
                               to_char(line.threshold, fmt4), round(100 * line.flagged_share::numeric, 1),
                               to_char(line.precision::numeric, fmt4), to_char(line.recall::numeric, fmt4));
    ELSE
        card := card || format(E'F1-optimal on the validation rows: %s.\n\n', to_char(healthml.decision_threshold_by_id(m.id)::numeric, fmt4));
    END IF;

    card := card || E'## Subgroup audit\n\n';
    section := NULL;
    SELECT string_agg(format('| %s | %s | %s | %s | %s | %s | %s |', r.by_column, coalesce(r.subgroup, 'NULL'), r.n,
                             coalesce(to_char(r.auc::numeric, 'FM0.000')
                                      || coalesce(format(' [%s, %s]', to_char(r.auc_low::numeric, 'FM0.000'), to_char(r.auc_high::numeric, 'FM0.000')), ''),
                                      '-'),
                             coalesce(to_char(r.auc_gap::numeric, 'FMS0.000'), '-'),
                             coalesce(to_char(r.calibration_ratio::numeric, 'FM0.00'), '-'), coalesce(to_char(r.tpr_gap::numeric, 'FMS0.000'), '-')),
                      E'\n' ORDER BY r.by_column, r.n DESC)
    INTO section
    FROM healthml.subgroup_reports r
    WHERE r.model_id = m.id AND NOT r.overall AND r.n >= 100
      AND r.report_id = (SELECT max(x.report_id) FROM healthml.subgroup_reports x WHERE x.model_id = m.id AND x.by_column = r.by_column);
    card := card || coalesce(E'| by | group | n | AUC [95 % interval] | AUC gap | calibration | TPR gap |\n|---|---|---|---|---|---|---|\n' || section || E'\n\n',
                             E'No subgroup audit yet: run healthml.subgroup_report.\n\n');

    card := card || E'## Drift\n\n';
    SELECT format('Latest report (%s, on `%s`): %s ok, %s warn, %s alert%s.', to_char(max(d.computed_at), 'YYYY-MM-DD HH24:MI'), max(d.relation),
                  count(*) FILTER (WHERE d.status = 'ok'), count(*) FILTER (WHERE d.status = 'warn'), count(*) FILTER (WHERE d.status = 'alert'),
                  coalesce('; worst: ' || string_agg(format('%s (PSI %s)', d.feature, to_char(d.psi::numeric, 'FM0.000')), ', '
                                                     ORDER BY d.psi DESC, d.feature)
                                          FILTER (WHERE d.status <> 'ok'), ''))
    INTO section
    FROM healthml.drift_reports d
    WHERE d.report_id = (SELECT max(x.report_id) FROM healthml.drift_reports x WHERE x.model_id = m.id);
    card := card || CASE WHEN section IS NULL OR section LIKE 'Latest report (,%' OR section LIKE 'Latest report (%: 0 ok, 0 warn, 0 alert.'
                         THEN E'No drift report yet: run healthml.drift.\n\n' ELSE section || E'\n\n' END;

    card := card || E'## Top global features\n\n| column | mean abs contribution |\n|---|---|\n';
    SELECT string_agg(format('| %s | %s |', i ->> 'column', to_char((i ->> 'mean_abs_contribution')::numeric, 'FM0.0000')), E'\n' ORDER BY n)
    INTO section
    FROM jsonb_array_elements(m.metrics -> 'importance') WITH ORDINALITY AS x(i, n) WHERE n <= 10;
    card := card || coalesce(section, '') || E'\n\n';

    card := card || E'## Version history\n\n| version | algorithm | trained | by | test AUC | deployments |\n|---|---|---|---|---|---|\n';
    FOR line IN
        SELECT v.version, v.algorithm, v.created_at, v.created_by, (v.metrics #>> '{test,auc}')::numeric AS auc,
               (SELECT string_agg(format('%s (%s)', to_char(d.deployed_at, 'YYYY-MM-DD HH24:MI'), d.reason), '; ' ORDER BY d.id)
                FROM healthml.deployments d WHERE d.model_id = v.id) AS deployments
        FROM healthml.models v WHERE v.name = m.name ORDER BY v.version
    LOOP
        card := card || format(E'| %s%s | %s | %s | %s | %s | %s |\n', line.version, CASE WHEN line.version = m.version THEN ' (this card)' ELSE '' END,
                               line.algorithm, to_char(line.created_at, 'YYYY-MM-DD HH24:MI'), line.created_by,
                               to_char(line.auc, fmt4), coalesce(line.deployments, '-'));
    END LOOP;
    RETURN card;
END $$;
REVOKE EXECUTE ON FUNCTION healthml.model_card(text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml.model_card(text, integer, text) TO healthml_analyst;
COMMENT ON FUNCTION healthml.model_card(text, integer, text) IS
    'A model version''s card (NULL version: the deployed one) in Markdown, or as one self-contained HTML page with SVG figures (format ''html''): purpose, data lineage, recipe, test metrics with 95 % intervals, leakage and guardrail findings, threshold policy, subgroup audit, drift, top features, version history.';
CREATE OR REPLACE FUNCTION healthml._models_forget_scoring_stats() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM healthml._forget_scoring_stats(OLD.id);
    RETURN OLD;
END $$;
COMMENT ON TYPE healthml.moments_summary IS 'Result of healthml.moments(float8).';
COMMENT ON AGGREGATE healthml.skewness(double precision) IS
    'Sample skewness (adjusted Fisher-Pearson G1, as pandas Series.skew()); NULL below 3 values, '
    '0 for a constant column. NULL, NaN and Infinity inputs are skipped.';
COMMENT ON AGGREGATE healthml.kurtosis(double precision) IS
    'Sample excess kurtosis (bias-corrected G2, as pandas Series.kurt()); NULL below 4 values, '
    '0 for a constant column. NULL, NaN and Infinity inputs are skipped.';
COMMENT ON AGGREGATE healthml.moments(double precision) IS
    'n, nulls, nonfinite, mean, stddev, min, max, skewness and kurtosis of a column in one pass.';
COMMENT ON TABLE healthml.automl_leaderboard IS
    'Every candidate of an AutoML run (healthml.train(..., ''auto'')): patient-grouped cross-validated AUC, status, and the chosen one.';
COMMENT ON FUNCTION healthml.leaderboard(text, integer) IS
    'The candidates of an AutoML version of a model (NULL: its latest), ranked by cross-validated AUC, with the blend and what the budget cut.';
COMMENT ON VIEW healthml.automl_comparison IS
    'Each AutoML model against every hand-trained model evaluated on the same test rows (same data, target and split).';
COMMENT ON FUNCTION healthml.train(text, regclass, text, text, jsonb) IS
    'Trains a model version on a relation (algorithm logistic, gbdt or auto) with a patient-grouped test split; returns its test metrics.';
COMMENT ON FUNCTION healthml.compare_models_by_id(bigint, bigint) IS
    'Two model versions by id on the same held-out rows (the challenger''s test rows, read as the role that trained it): AUC, calibration and more, as jsonb.';
COMMENT ON FUNCTION healthml.version() IS 'The installed healthml version (the library''s).';
COMMENT ON FUNCTION healthml.predict(text, jsonb) IS
    'Probability from the deployed model for one row given as jsonb (source column to value).';
COMMENT ON FUNCTION healthml.predict_by_id(bigint, jsonb) IS
    'Probability from one model version by id (deployed or not) for one row given as jsonb.';
COMMENT ON FUNCTION healthml.predict_row(text, anyelement) IS
    'Probability from the deployed model for a whole typed row (a table or view alias), read without a jsonb round trip.';
COMMENT ON FUNCTION healthml.predict_row_by_id(bigint, anyelement) IS
    'Probability from one model version by id for a whole typed row: what batch scoring uses to pin a model.';
COMMENT ON FUNCTION healthml.set_decision_threshold(text, regclass, text) IS
    'Sets the deployed model''s decision threshold by a policy (f1, recall>=0.7, precision>=0.3, top_percent=10) measured on a labelled relation.';
COMMENT ON FUNCTION healthml.set_threshold(text, text, regclass) IS
    'Deprecated (removed in 0.3.0): use healthml.set_decision_threshold(model_name, relation, policy).';
COMMENT ON FUNCTION healthml.explain(text, jsonb, integer) IS
    'The top_k contributions of one row (jsonb) to the deployed model''s log-odds, largest magnitude first.';
COMMENT ON FUNCTION healthml.explain_by_id(bigint, jsonb, integer) IS
    'The top_k contributions of one row (jsonb) to one model version''s log-odds, by id.';
COMMENT ON FUNCTION healthml.explain_row(text, anyelement, integer) IS
    'The top_k contributions of a whole typed row to the deployed model''s log-odds.';
COMMENT ON FUNCTION healthml.explain_row_by_id(bigint, anyelement, integer) IS
    'The top_k contributions of a whole typed row to one model version''s log-odds, by id.';
COMMENT ON FUNCTION healthml.explain_jsonb(text, jsonb) IS
    'The whole explanation of one row as jsonb: probability, raw_score, base and every column''s contribution (base + contributions = raw_score).';
COMMENT ON FUNCTION healthml.what_if(text, jsonb, jsonb, integer) IS
    'The deployed model''s score of a row before and after changing some of its values, and the top reasons after.';
COMMENT ON FUNCTION healthml.roc_curve(text, regclass) IS 'The deployed model''s ROC curve on a labelled relation.';
COMMENT ON FUNCTION healthml.pr_curve(text, regclass) IS 'The deployed model''s precision-recall curve on a labelled relation.';
COMMENT ON FUNCTION healthml.calibration_curve(text, regclass, integer) IS
    'The deployed model''s reliability diagram on a labelled relation: mean score against observed rate per probability bin.';
COMMENT ON FUNCTION healthml.profile(regclass, jsonb) IS
    'One row per column of a relation: type, missing share, distinct values, moments, quantiles, top levels and what to do about it.';
COMMENT ON FUNCTION healthml.standardize(regclass, jsonb) IS
    'Fits a named recipe (imputation, clipping, log, scaling, encodings) on a relation and stores it in healthml.recipes.';
COMMENT ON FUNCTION healthml.apply_recipe(text, jsonb) IS 'A stored recipe''s features of one row given as jsonb.';
COMMENT ON FUNCTION healthml.apply_recipe(text, regclass, text) IS
    'Writes a stored recipe''s features of every row of a relation into a new table.';
COMMENT ON FUNCTION healthml.icd9_group(text) IS 'The Strack et al. (2014) group of an ICD-9 diagnosis code (Circulatory, Respiratory, Diabetes, ...; Missing, Invalid).';
COMMENT ON FUNCTION healthml.export_parquet(text, text, jsonb) IS
    'Writes a query''s result to a Parquet file on the server (needs the rights server-side COPY needs).';
COMMENT ON FUNCTION healthml.import_parquet(text, text) IS
    'Loads a Parquet file on the server into a new table (needs the rights server-side COPY needs).';
COMMENT ON FUNCTION healthml.drift(text, regclass, jsonb) IS
    'Drift of a relation from the deployed model''s training rows, per input column and of the score (PSI, Kolmogorov-Smirnov, Jensen-Shannon); stored in healthml.drift_reports.';
COMMENT ON FUNCTION healthml.reset_scoring_stats() IS
    'Zeroes the scoring statistics of this database''s models; returns whether statistics are kept.';
COMMENT ON FUNCTION healthml.deploy(text, integer, text) IS
    'Deploys a model version (NULL: the best test AUC); takes effect for the next statement.';
COMMENT ON FUNCTION healthml.rollback(text) IS
    'Deploys again the version deployed before the current one; takes effect for the next statement.';
COMMENT ON TABLE healthml.drift_reports IS
    'Every healthml.drift call: per input column and for the score, PSI, Kolmogorov-Smirnov, Jensen-Shannon and a status.';
COMMENT ON VIEW healthml.drift_latest IS 'The latest drift report of each model name, one row per feature and the score.';
COMMENT ON VIEW healthml.scoring_stats IS
    'Calls, rows scored and latency (mean, p95, p99, max in microseconds) per model version and scoring function, from counters kept by the extension.';
COMMENT ON TABLE healthml.training_runs IS
    'Every healthml.retrain run: when, by whom, champion and challenger, their figures on the same held-out rows, the outcome and why.';
COMMENT ON FUNCTION healthml.compare_models(text, integer, integer) IS
    'Two versions of a model on the same held-out rows (the challenger''s test rows), as retrain judges them: AUC, calibration and more, as jsonb.';
COMMENT ON TABLE healthml.recipes IS
    'Standardization recipes fitted by healthml.standardize(): per column the action and the training-time statistics it uses.';
COMMENT ON TABLE healthml.models IS
    'Trained models, one row per version: metadata, test metrics, the recipe, and the versioned payload with its sha256.';
COMMENT ON TABLE healthml.deployments IS
    'Append-only deployment history: the latest row of a name is the deployed model.';
COMMENT ON FUNCTION healthml.model_version_id(text, integer) IS
    'The id of a model version (NULL: the deployed one): what the _by_id functions take.';
COMMENT ON FUNCTION healthml.coefficients(text, integer) IS
    'A logistic model version''s inference table: coefficients, standard errors, z, p-values and odds ratios (NULL version: the deployed one).';
COMMENT ON FUNCTION healthml.feature_importance(text, integer) IS
    'Global importance of each input column of a model version, measured at training: mean |contribution|, gain share or largest |coefficient|.';
COMMENT ON FUNCTION healthml.drop_model(text, integer) IS
    'Drops one model version (never the deployed one); its deployment history stays.';
COMMENT ON VIEW healthml.model_registry IS 'One row per model name: versions, the deployed version and its headline test metrics.';
COMMENT ON PROCEDURE healthml.score_batch(text, regclass, text, text, text, integer) IS
    'Nightly batch scoring: CALL healthml.score_batch(''readmission'', ''readmission.cohort'', ''encounter_id'', ''readmission.scores'', top_k => 3);';
COMMENT ON TABLE healthml.threshold_policies IS
    'Decision thresholds set by policy, a history per model version: the latest row of a version is its threshold.';
COMMENT ON FUNCTION healthml.decision_threshold_by_id(bigint) IS
    'The threshold a model version flags at, by id: its latest policy, or the F1-optimal threshold of its training.';
COMMENT ON FUNCTION healthml.decision_threshold(text, integer) IS
    'The threshold a model flags at (NULL version: the deployed one): its latest policy, or the F1-optimal threshold of its training.';
COMMENT ON FUNCTION healthml.flag(text, double precision) IS
    'Whether a score of the deployed model is flagged: at or above its decision threshold.';
COMMENT ON FUNCTION healthml.risk_tier(text, double precision) IS
    'A score''s risk tier under the deployed model: high when flagged, medium above the training positive rate, else low.';
REVOKE EXECUTE ON FUNCTION healthml.explain_by_id(bigint, jsonb, integer), healthml.set_decision_threshold(text, regclass, text),
    healthml.decision_threshold(text, integer), healthml.compare_models(text, integer, integer),
    healthml.decision_threshold(bigint), healthml.compare_models(bigint, bigint), healthml.explanation(text, jsonb)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml.explain_by_id(bigint, jsonb, integer), healthml.decision_threshold(text, integer),
    healthml.decision_threshold(bigint), healthml.explanation(text, jsonb)
    TO healthml_analyst;
GRANT EXECUTE ON FUNCTION healthml.set_decision_threshold(text, regclass, text), healthml.compare_models(text, integer, integer),
    healthml.compare_models(bigint, bigint)
    TO healthml_admin;

-- 8. Each backend keeps which model a name is deployed as between statements (src/cache.rs); any
--    change to healthml.deployments invalidates that on every backend, and on standbys through the
--    commit record, when its transaction commits.
CREATE FUNCTION healthml."_deployments_changed"() RETURNS TRIGGER LANGUAGE c AS 'MODULE_PATHNAME', '_deployments_changed_wrapper';
-- a row trigger and a TRUNCATE trigger, both ALWAYS, so that a registry copied to shards by logical
-- replication invalidates their caches too (deploy.sql)
CREATE TRIGGER deployments_changed AFTER INSERT OR UPDATE OR DELETE ON healthml.deployments
    FOR EACH ROW EXECUTE FUNCTION healthml._deployments_changed();
CREATE TRIGGER deployments_truncated AFTER TRUNCATE ON healthml.deployments
    FOR EACH STATEMENT EXECUTE FUNCTION healthml._deployments_changed();
ALTER TABLE healthml.deployments ENABLE ALWAYS TRIGGER deployments_changed, ENABLE ALWAYS TRIGGER deployments_truncated;
ALTER TABLE healthml.models ENABLE ALWAYS TRIGGER models_forget_scoring_stats;
REVOKE EXECUTE ON FUNCTION healthml._deployments_changed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml._deployments_changed() TO healthml_admin;

-- 9. Models leave the warehouse: a gbdt version as a LightGBM text model (admins: the whole model),
--    and the features a model computes from a row (analysts: what an exported model reads).
CREATE FUNCTION healthml."export_model"("model_name" TEXT, "version" INT DEFAULT NULL, "format" TEXT DEFAULT 'lightgbm')
    RETURNS TEXT STABLE LANGUAGE c AS 'MODULE_PATHNAME', 'export_model_wrapper';
CREATE FUNCTION healthml."features_row"("model_name" TEXT, "row" anyelement) RETURNS double precision[]
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'features_row_wrapper';
CREATE FUNCTION healthml."features_row_by_id"("model_id" bigint, "row" anyelement) RETURNS double precision[]
    STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'features_row_by_id_wrapper';
REVOKE EXECUTE ON FUNCTION healthml.export_model(text, integer, text), healthml.features_row(text, anyelement),
    healthml.features_row_by_id(bigint, anyelement) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml.features_row(text, anyelement), healthml.features_row_by_id(bigint, anyelement)
    TO healthml_analyst;
GRANT EXECUTE ON FUNCTION healthml.export_model(text, integer, text) TO healthml_admin;
COMMENT ON FUNCTION healthml.export_model(text, integer, text) IS
    'A gbdt version (or an AutoML blend of gbdts) of a model as a LightGBM text model (NULL version: the deployed one); it reads healthml.features_row and scores as healthml does.';
COMMENT ON FUNCTION healthml.features_row(text, anyelement) IS
    'The features the deployed model computes from a whole typed row (its recipe applied), in the model''s feature order: the input of an exported model.';
COMMENT ON FUNCTION healthml.features_row_by_id(bigint, anyelement) IS
    'The features one model version computes from a whole typed row, by id.';

-- 10. AutoML knows what serving costs: every candidate records the microseconds it takes to score
--     a row and the milliseconds to explain one; options cap them (max_score_us, max_explain_ms).
--     leaderboard() returns both, so it is created anew.
ALTER TABLE healthml.automl_leaderboard ADD COLUMN score_us double precision, ADD COLUMN explain_ms double precision;
DROP FUNCTION healthml.leaderboard(text, integer);
CREATE FUNCTION healthml.leaderboard(model_name text, version integer DEFAULT NULL)
    RETURNS TABLE (model_version integer, rank integer, candidate text, algorithm text, cv_auc double precision,
                   cv_auc_sd double precision, cv_average_precision double precision, folds_done integer,
                   seconds double precision, score_us double precision, explain_ms double precision, status text,
                   chosen boolean, hyperparams jsonb)
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
           l.folds_done, l.seconds, l.score_us, l.explain_ms, l.status, l.chosen, l.hyperparams
    FROM healthml.automl_leaderboard l
    WHERE l.model_id = run_id
    ORDER BY l.rank NULLS LAST, (l.status = 'ensemble') DESC, l.started_after_seconds, l.candidate;
END $$;
COMMENT ON FUNCTION healthml.leaderboard(text, integer) IS
    'The candidates of an AutoML version of a model (NULL: its latest), ranked by cross-validated AUC, with what each costs to serve (µs to score, ms to explain a row), the blend and what the budget or the serving caps cut.';
REVOKE EXECUTE ON FUNCTION healthml.leaderboard(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml.leaderboard(text, integer) TO healthml_analyst;

-- 11. The planner knows what a row costs: scoring about 100 operators, explaining about 10,000, so
--     that it runs batch scoring (score_batch into a new table) in parallel workers.
ALTER FUNCTION healthml.predict(text, jsonb) COST 100;
ALTER FUNCTION healthml.predict_by_id(bigint, jsonb) COST 100;
ALTER FUNCTION healthml.predict_row(text, anyelement) COST 100;
ALTER FUNCTION healthml.predict_row_by_id(bigint, anyelement) COST 100;
ALTER FUNCTION healthml.features_row(text, anyelement) COST 100;
ALTER FUNCTION healthml.features_row_by_id(bigint, anyelement) COST 100;
ALTER FUNCTION healthml.explain(text, jsonb, integer) COST 10000;
ALTER FUNCTION healthml.explain_by_id(bigint, jsonb, integer) COST 10000;
ALTER FUNCTION healthml.explain_row(text, anyelement, integer) COST 10000;
ALTER FUNCTION healthml.explain_row_by_id(bigint, anyelement, integer) COST 10000;
ALTER FUNCTION healthml.explain_jsonb(text, jsonb) COST 10000;
ALTER FUNCTION healthml.what_if(text, jsonb, jsonb, integer) COST 10000;

-- 12. Models enter the warehouse: a LightGBM or XGBoost model stored as an ordinary version (admins).
CREATE FUNCTION healthml."import_model"("model_name" TEXT, "format" TEXT, "model" TEXT, "options" jsonb DEFAULT '{}')
    RETURNS TABLE ("model_id" bigint, "name" TEXT, "version" INT, "algorithm" TEXT, "test_auc" double precision,
                   "test_average_precision" double precision, "metrics" jsonb)
    STRICT VOLATILE LANGUAGE c AS 'MODULE_PATHNAME', 'import_model_wrapper';
REVOKE EXECUTE ON FUNCTION healthml.import_model(text, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml.import_model(text, text, text, jsonb) TO healthml_admin;
COMMENT ON FUNCTION healthml.import_model(text, text, text, jsonb) IS
    'A model trained elsewhere (format ''lightgbm'': a LightGBM text model; ''xgboost'': an XGBoost JSON model) stored as the next version of a model, scoring and explaining as its library does: its features read from columns as the options map them, measured on options.evaluate_on when given.';

-- 13. One row scored by its primary key: the row is read through the key's index, without a query
-- (readmission.readmit_score uses it), with the caller's SELECT right checked.
CREATE FUNCTION healthml."predict_by_key"("model_name" TEXT, "relation" regclass, "key" bigint) RETURNS double precision
    STRICT STABLE PARALLEL SAFE COST 100 LANGUAGE c AS 'MODULE_PATHNAME', 'predict_by_key_wrapper';
REVOKE EXECUTE ON FUNCTION healthml.predict_by_key(text, regclass, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml.predict_by_key(text, regclass, bigint) TO healthml_analyst;
COMMENT ON FUNCTION healthml.predict_by_key(text, regclass, bigint) IS
    'Probability from the deployed model for the row of a table whose primary key (one integer column) is key, read through the key''s index without a query; NULL when no row has it.';

-- 14. Evidence a statistician accepts: evaluate and subgroup_report take options and give 95 %
--     intervals from a patient-clustered bootstrap (subgroup reports store them); retrain can
--     require the challenger to be no worse with confidence (the new column of training_runs and
--     the procedure's new argument, above).
ALTER TABLE healthml.subgroup_reports
    ADD COLUMN average_precision double precision,
    ADD COLUMN brier double precision,
    ADD COLUMN calibration_intercept double precision,
    ADD COLUMN calibration_slope double precision,
    ADD COLUMN auc_low double precision,
    ADD COLUMN auc_high double precision,
    ADD COLUMN intervals jsonb;
COMMENT ON TABLE healthml.subgroup_reports IS
    'Every healthml.subgroup_report call: per subgroup, scores against outcomes, the gaps to the whole relation, and 95 % intervals.';
DROP FUNCTION healthml.evaluate(text, regclass);
CREATE FUNCTION healthml."evaluate"("model_name" TEXT, "relation" regclass, "options" jsonb DEFAULT '{}') RETURNS jsonb
    STRICT STABLE LANGUAGE c AS 'MODULE_PATHNAME', 'evaluate_with_intervals_wrapper';
REVOKE EXECUTE ON FUNCTION healthml.evaluate(text, regclass, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml.evaluate(text, regclass, jsonb) TO healthml_analyst;
COMMENT ON FUNCTION healthml.evaluate(text, regclass, jsonb) IS
    'The deployed model''s metrics on a labelled relation: AUC, average precision, Brier, log loss, confusion at its threshold, calibration intercept and slope, with 95 % intervals from a patient-clustered bootstrap (options group_by, resamples, seed).';
DROP FUNCTION healthml.subgroup_report(text, regclass, text);
CREATE FUNCTION healthml."subgroup_report"("model_name" TEXT, "relation" regclass, "by" TEXT, "options" jsonb DEFAULT '{}')
    RETURNS TABLE ("subgroup" TEXT, "overall" bool, "n" bigint, "positives" bigint, "mean_score" double precision,
                   "observed_rate" double precision, "auc" double precision, "calibration_ratio" double precision,
                   "tpr" double precision, "fpr" double precision, "flagged_share" double precision, "auc_gap" double precision,
                   "calibration_gap" double precision, "tpr_gap" double precision, "fpr_gap" double precision,
                   "average_precision" double precision, "brier" double precision, "calibration_intercept" double precision,
                   "calibration_slope" double precision, "auc_low" double precision, "auc_high" double precision,
                   "intervals" jsonb)
    STRICT VOLATILE LANGUAGE c AS 'MODULE_PATHNAME', 'subgroup_report_with_intervals_wrapper';
REVOKE EXECUTE ON FUNCTION healthml.subgroup_report(text, regclass, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml.subgroup_report(text, regclass, text, jsonb) TO healthml_admin;
COMMENT ON FUNCTION healthml.subgroup_report(text, regclass, text, jsonb) IS
    'The deployed model on each subgroup of a labelled relation (by a column): AUC, calibration and error-rate gaps, average precision, Brier, calibration intercept and slope, with 95 % intervals from resampling each subgroup''s patients; stored in healthml.subgroup_reports.';

-- 15. Who read which patient: pgaudit's audit role, which may read the model payloads (every read of
--     one is then logged, healthml's own loads included).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'healthml_auditor') THEN
        CREATE ROLE healthml_auditor NOLOGIN;
    END IF;
END $$;
GRANT SELECT (payload) ON healthml.models TO healthml_auditor;

-- 16. The model card as one self-contained HTML page (model_card's format 'html', above): the
--     figures drawn in Rust from what the card gathers; model_card (SECURITY DEFINER) calls it.
CREATE FUNCTION healthml."_model_card_html"("card" jsonb) RETURNS TEXT
    IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'model_card_html_wrapper';
REVOKE EXECUTE ON FUNCTION healthml._model_card_html(jsonb) FROM PUBLIC;

-- 17. The inference log: sampled scoring calls, opt-in per model, stored by a background worker into
--     a table partitioned by day (sql/extension/inference_log.sql, src/inference_log.rs); drift
--     reads it (drift is no longer STRICT: its relation is NULL for the log) and so does
--     inference_drift, by day.
CREATE FUNCTION healthml."_inference_log_counters"() RETURNS TABLE ("buffer_slots" bigint, "pending" bigint, "sampled" bigint,
        "stored" bigint, "dropped_buffer_full" bigint, "dropped_too_large" bigint, "dropped_unstored" bigint, "workers" integer)
    STRICT VOLATILE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'inference_log_counters_wrapper';
CREATE TABLE healthml.inference_logging (
    model_name  text PRIMARY KEY,
    sample_rate double precision NOT NULL CHECK (sample_rate > 0 AND sample_rate <= 1),
    set_by      text NOT NULL DEFAULT session_user,
    set_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('healthml.inference_logging', '');
COMMENT ON TABLE healthml.inference_logging IS
    'Which models'' scoring calls are logged into healthml.inference_log, and what share of them (set with healthml.set_inference_logging).';
-- every backend caches the rates: a change reaches them the way a deploy does (src/cache.rs)
CREATE TRIGGER inference_logging_changed AFTER INSERT OR UPDATE OR DELETE ON healthml.inference_logging
    FOR EACH ROW EXECUTE FUNCTION healthml._deployments_changed();
CREATE TRIGGER inference_logging_truncated AFTER TRUNCATE ON healthml.inference_logging
    FOR EACH STATEMENT EXECUTE FUNCTION healthml._deployments_changed();
ALTER TABLE healthml.inference_logging ENABLE ALWAYS TRIGGER inference_logging_changed,
    ENABLE ALWAYS TRIGGER inference_logging_truncated;

-- No foreign key to healthml.models: a dropped model's calls stay until retention removes their day.
-- The day partitions are made by healthml._store_inference_log, not by the extension: pg_dump
-- dumps them (and their rows) as tables of their own, attached again on restore. Each gets its own
-- index; an index on the parent would be the extension's, not dumped, and its copy made when a
-- restored day is attached would collide with the day's dumped index.
CREATE TABLE healthml.inference_log (
    logged_at timestamptz NOT NULL,
    model_id  bigint NOT NULL,
    role      text NOT NULL,
    function  text NOT NULL,
    score     double precision NOT NULL,
    inputs    jsonb NOT NULL
) PARTITION BY RANGE (logged_at);
COMMENT ON TABLE healthml.inference_log IS
    'Sampled scoring calls: when, which model version, the session''s role, the scoring function, the score and the inputs as the model read them. Partitioned by day (UTC); patient-level data, readable by admins (and audited through healthml_auditor).';

-- Stores a batch of records drained from shared memory (called by healthml's code as the owner of
-- healthml's tables): makes the day partitions it needs, inserts, and drops the days past retention.
CREATE FUNCTION healthml._store_inference_log(
    logged_at timestamptz[], model_id bigint[], role_oid bigint[], function text[], score double precision[],
    inputs jsonb[], retention_days integer
) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    day date;
    partition text;
    stored bigint;
    expired regclass;
BEGIN
    -- one store at a time (src/inference_log.rs takes it before draining): one makes a missing partition
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('healthml.inference_log'));
    FOR day IN SELECT DISTINCT (t AT TIME ZONE 'UTC')::date FROM pg_catalog.unnest(logged_at) AS t LOOP
        partition := 'inference_log_' || pg_catalog.to_char(day, 'YYYYMMDD');
        IF pg_catalog.to_regclass('healthml.' || partition) IS NULL THEN
            EXECUTE pg_catalog.format(
                'CREATE TABLE healthml.%I PARTITION OF healthml.inference_log FOR VALUES FROM (%L) TO (%L)',
                partition,
                pg_catalog.to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00',
                pg_catalog.to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
            EXECUTE pg_catalog.format('CREATE INDEX %I ON healthml.%I (model_id, logged_at)', partition || '_model_time', partition);
        END IF;
    END LOOP;
    INSERT INTO healthml.inference_log (logged_at, model_id, role, function, score, inputs)
    SELECT r.logged_at, r.model_id, pg_catalog.pg_get_userbyid(r.role_oid::oid), r.function, r.score, r.inputs
    FROM ROWS FROM (pg_catalog.unnest(logged_at), pg_catalog.unnest(model_id), pg_catalog.unnest(role_oid),
                    pg_catalog.unnest(function), pg_catalog.unnest(score), pg_catalog.unnest(inputs))
         AS r(logged_at, model_id, role_oid, function, score, inputs);
    GET DIAGNOSTICS stored = ROW_COUNT;
    FOR expired IN
        SELECT c.oid::regclass
        FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'healthml.inference_log'::regclass
          AND c.relname ~ '^inference_log_[0-9]{8}$'
          AND pg_catalog.to_date(pg_catalog.substr(c.relname, 15), 'YYYYMMDD')
              < (pg_catalog.now() AT TIME ZONE 'UTC')::date - retention_days
    LOOP
        EXECUTE pg_catalog.format('DROP TABLE %s', expired);
    END LOOP;
    RETURN stored;
END
$$;

CREATE FUNCTION healthml.set_inference_logging(model_name text, sample_rate double precision)
RETURNS SETOF healthml.inference_logging
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    wanted_name ALIAS FOR $1;
    wanted_rate ALIAS FOR $2;
BEGIN
    PERFORM healthml._require_primary('healthml.set_inference_logging');
    IF wanted_name IS NULL THEN
        RAISE EXCEPTION 'model_name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'name a model: SELECT name FROM healthml.model_registry';
    END IF;
    IF wanted_rate IS NULL OR wanted_rate = 'NaN'::double precision OR wanted_rate < 0 OR wanted_rate > 1 THEN
        RAISE EXCEPTION 'sample_rate must be between 0 and 1, got %', coalesce(wanted_rate::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '0.01 logs one call in a hundred, 1 every call, 0 none (logging off)';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM healthml.models m WHERE m.name = wanted_name) THEN
        RAISE EXCEPTION 'model "%" does not exist', wanted_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'list models with SELECT * FROM healthml.model_registry';
    END IF;
    IF wanted_rate = 0 THEN
        DELETE FROM healthml.inference_logging l WHERE l.model_name = wanted_name;
        RETURN;
    END IF;
    RETURN QUERY
    INSERT INTO healthml.inference_logging AS l (model_name, sample_rate) VALUES (wanted_name, wanted_rate)
    ON CONFLICT (model_name) DO UPDATE SET sample_rate = EXCLUDED.sample_rate, set_by = session_user, set_at = pg_catalog.now()
    RETURNING l.*;
END
$$;
COMMENT ON FUNCTION healthml.set_inference_logging(text, double precision) IS
    'Logs this share (0 to 1; 0: off) of the scoring calls of every version of a model into healthml.inference_log.';

CREATE VIEW healthml.inference_log_status AS
SELECT c.buffer_slots, c.pending, c.sampled, c.stored, c.dropped_buffer_full, c.dropped_too_large, c.dropped_unstored,
       c.workers,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_inherits i
        WHERE i.inhparent = 'healthml.inference_log'::regclass) AS days_kept
FROM healthml._inference_log_counters() c;
COMMENT ON VIEW healthml.inference_log_status IS
    'The inference log''s shared-memory buffer since the server started (slots, calls waiting, sampled, stored, dropped because the buffer was full, too large or unstorable, running workers) and the days kept.';
CREATE FUNCTION healthml."flush_inference_log"() RETURNS bigint
    STRICT VOLATILE LANGUAGE c AS 'MODULE_PATHNAME', 'flush_inference_log_wrapper';
CREATE FUNCTION healthml."inference_drift"("model_name" TEXT, "options" jsonb DEFAULT '{}')
    RETURNS TABLE ("day" date, "feature" TEXT, "kind" TEXT, "rows" bigint, "psi" double precision, "ks" double precision,
                   "js" double precision, "status" TEXT)
    STRICT STABLE LANGUAGE c AS 'MODULE_PATHNAME', 'inference_drift_wrapper';
ALTER FUNCTION healthml.drift(text, regclass, jsonb) CALLED ON NULL INPUT;
COMMENT ON FUNCTION healthml.drift(text, regclass, jsonb) IS
    'Drift of a relation (or, with option source inference_log and a NULL relation, of the logged scoring calls in a window) from the deployed model''s training rows, per input column and of the score (PSI, Kolmogorov-Smirnov, Jensen-Shannon); stored in healthml.drift_reports.';
COMMENT ON FUNCTION healthml.inference_drift(text, jsonb) IS
    'Drift of the logged scoring calls of a model version from its training rows, per UTC day and input column and of the score (options since, until, version, psi_warn, psi_alert); not stored.';
COMMENT ON FUNCTION healthml.flush_inference_log() IS
    'Stores the sampled scoring calls of this database still waiting in shared memory now; returns how many were stored.';
REVOKE EXECUTE ON FUNCTION healthml._inference_log_counters(), healthml._store_inference_log(timestamptz[], bigint[], bigint[], text[], double precision[], jsonb[], integer),
    healthml.set_inference_logging(text, double precision), healthml.flush_inference_log(), healthml.inference_drift(text, jsonb)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml._inference_log_counters(), healthml.inference_drift(text, jsonb) TO healthml_analyst;
GRANT SELECT ON healthml.inference_logging, healthml.inference_log_status TO healthml_analyst;
GRANT EXECUTE ON FUNCTION healthml.set_inference_logging(text, double precision), healthml.flush_inference_log() TO healthml_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON healthml.inference_logging TO healthml_admin;
GRANT SELECT ON healthml.inference_log TO healthml_admin, healthml_auditor;

-- 18. Aggregates another server can combine: skewness, kurtosis and moments keep their state in a
--     double precision[] instead of internal (CREATE OR REPLACE AGGREGATE may change the state type,
--     and keeps each aggregate's oid, grants, comment and the views that use it), so Citus, or
--     moments_partial / moments_merge through postgres_fdw, can combine partial states of shards.
CREATE FUNCTION healthml._moments_state_accum(double precision[], double precision) RETURNS double precision[]
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_state_accum';
CREATE FUNCTION healthml._moments_state_combine(double precision[], double precision[]) RETURNS double precision[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_state_combine';
CREATE FUNCTION healthml._moments_state_skewness(double precision[]) RETURNS double precision
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_state_skewness_wrapper';
CREATE FUNCTION healthml._moments_state_kurtosis(double precision[]) RETURNS double precision
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_state_kurtosis_wrapper';
CREATE FUNCTION healthml._moments_state_summary(double precision[]) RETURNS healthml.moments_summary
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'moments_state_summary_wrapper';

CREATE OR REPLACE AGGREGATE healthml.skewness(double precision) (
    SFUNC = healthml._moments_state_accum,
    STYPE = double precision[],
    INITCOND = '{0,0,0,0,0,0,0,Infinity,-Infinity}',
    FINALFUNC = healthml._moments_state_skewness,
    COMBINEFUNC = healthml._moments_state_combine,
    PARALLEL = SAFE
);

CREATE OR REPLACE AGGREGATE healthml.kurtosis(double precision) (
    SFUNC = healthml._moments_state_accum,
    STYPE = double precision[],
    INITCOND = '{0,0,0,0,0,0,0,Infinity,-Infinity}',
    FINALFUNC = healthml._moments_state_kurtosis,
    COMBINEFUNC = healthml._moments_state_combine,
    PARALLEL = SAFE
);

CREATE OR REPLACE AGGREGATE healthml.moments(double precision) (
    SFUNC = healthml._moments_state_accum,
    STYPE = double precision[],
    INITCOND = '{0,0,0,0,0,0,0,Infinity,-Infinity}',
    FINALFUNC = healthml._moments_state_summary,
    COMBINEFUNC = healthml._moments_state_combine,
    PARALLEL = SAFE
);

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
COMMENT ON TYPE healthml.moments_summary IS 'Result of healthml.moments(float8) and healthml.moments_merge(float8[]).';
DROP FUNCTION healthml._moments_accum(internal, double precision), healthml._moments_combine(internal, internal),
    healthml._moments_serialize(internal), healthml._moments_deserialize(bytea, internal),
    healthml._moments_skewness_final(internal), healthml._moments_kurtosis_final(internal),
    healthml._moments_summary_final(internal);
REVOKE EXECUTE ON FUNCTION healthml._moments_state_accum(double precision[], double precision),
    healthml._moments_state_combine(double precision[], double precision[]), healthml._moments_state_skewness(double precision[]),
    healthml._moments_state_kurtosis(double precision[]), healthml._moments_state_summary(double precision[]),
    healthml.moments_partial(double precision), healthml.moments_merge(double precision[])
    FROM PUBLIC;
-- revoked and granted again, so that their privileges read as a fresh install's
GRANT EXECUTE ON FUNCTION healthml.moments_partial(double precision), healthml.moments_merge(double precision[]) TO PUBLIC;

-- 19. Training on a sample of the groups (option "sample" of train): the read keeps the rows of the
--     groups this function draws, in its WHERE clause (so a postgres_fdw shard filters them itself).
CREATE FUNCTION healthml."_in_sample"("group_key" TEXT, "seed" bigint, "share" double precision) RETURNS bool
    IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'in_sample_wrapper';
CREATE FUNCTION healthml."_in_sample"("group_key" bigint, "seed" bigint, "share" double precision) RETURNS bool
    IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'in_sample_integer_wrapper';
REVOKE EXECUTE ON FUNCTION healthml._in_sample(text, bigint, double precision), healthml._in_sample(bigint, bigint, double precision)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION healthml._in_sample(text, bigint, double precision), healthml._in_sample(bigint, bigint, double precision)
    TO healthml_admin;
