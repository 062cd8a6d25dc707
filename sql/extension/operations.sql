-- Retraining: healthml.retrain retrains a model with its stored options on the current data, judges
-- champion and challenger on the same held-out rows, deploys the challenger only when it is not
-- worse by more than a tolerance and is calibrated, and logs every run in healthml.training_runs.

CREATE TABLE healthml.training_runs (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_name    text        NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz,
    started_by    name        NOT NULL DEFAULT current_user,
    backend_pid   integer     NOT NULL DEFAULT pg_backend_pid(),
    outcome       text        NOT NULL DEFAULT 'running'
                  CHECK (outcome IN ('running', 'deployed', 'kept champion', 'failed', 'interrupted')),
    champion_id   bigint,
    challenger_id bigint,
    tolerance     double precision NOT NULL,
    metrics       jsonb,
    reason        text,
    -- the gate asked for: deploy only when the interval of the AUC difference clears the tolerance
    require_confidence boolean NOT NULL DEFAULT false
);
CREATE INDEX training_runs_name_idx ON healthml.training_runs (model_name, id DESC);
COMMENT ON TABLE healthml.training_runs IS
    'Every healthml.retrain run: when, by whom, champion and challenger, their figures on the same held-out rows, the outcome and why.';
SELECT pg_catalog.pg_extension_config_dump('healthml.training_runs', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.training_runs_id_seq', '');

-- Outside a transaction block, the run's 'running' row is committed first, so a run whose backend
-- dies (killed, crashed) stays in the log and is marked 'interrupted' by the next retrain. Inside a
-- block (BEGIN ... CALL ...), everything commits or rolls back with the caller's transaction.
-- A failing run (bad data, a dropped relation) is logged as 'failed' with the error, leaves no model
-- row behind, and raises the error again so that the caller (or pg_cron's job log) sees it.
-- The challenger is trained on the champion's stored source and options (test_where included) as
-- the role that trained the champion (healthml._retrain_challenger): whoever runs retrain (a
-- superuser's pg_cron job, say) lends it no rights, and must be that role or a member of it.
-- A procedure that commits cannot carry a SET clause: its body only calls schema-qualified helpers,
-- which run under a pinned search_path.
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

-- Two versions of a model on the same held-out rows (those of the challenger's training), as
-- retrain judges them: compare_models_by_id with the versions' ids.
CREATE FUNCTION healthml.compare_models(model_name text, champion_version integer, challenger_version integer)
    RETURNS jsonb LANGUAGE sql VOLATILE
    RETURN healthml.compare_models_by_id(healthml.model_version_id(compare_models.model_name, compare_models.champion_version),
                                         healthml.model_version_id(compare_models.model_name, compare_models.challenger_version));
COMMENT ON FUNCTION healthml.compare_models(text, integer, integer) IS
    'Two versions of a model on the same held-out rows (the challenger''s test rows), as retrain judges them: AUC, calibration and more, as jsonb.';
