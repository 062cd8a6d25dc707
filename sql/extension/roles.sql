-- Roles. healthml_admin trains, deploys, rolls back, drops, fits recipes, sets thresholds, runs
-- monitoring and batch scoring; healthml_analyst scores, explains, runs what-if, evaluates on
-- relations it can read, and reads the registry and monitoring tables, but never a model's payload,
-- its training options, its recipe or its training distributions (column privileges). Admins are
-- analysts too. Everything that reads a user's relation runs as the caller, so nobody trains on or
-- evaluates with a table they could not SELECT themselves; scoring reads the payload through
-- healthml's own code as the owner of healthml.models (src/spi.rs, as_models_owner), never through
-- a function an analyst could call to see it.
-- Roles are cluster-wide: created once, kept when the extension is dropped.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'healthml_admin') THEN
        CREATE ROLE healthml_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'healthml_analyst') THEN
        CREATE ROLE healthml_analyst NOLOGIN;
    END IF;
    -- pgaudit's audit role (pgaudit.role): what it may read is what gets logged; nobody logs in as it
    -- or is granted it (docs/security.md, "Audit")
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'healthml_auditor') THEN
        CREATE ROLE healthml_auditor NOLOGIN;
    END IF;
END $$;
GRANT healthml_analyst TO healthml_admin;

REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA healthml FROM PUBLIC;
GRANT USAGE ON SCHEMA healthml TO healthml_analyst;

-- for everyone: statistics and pure helpers. The aggregates' support functions stay with the owner:
-- PostgreSQL checks EXECUTE on them against the aggregate's owner, never against its caller.
GRANT EXECUTE ON FUNCTION healthml.version(), healthml.icd9_group(text),
    healthml.skewness(double precision), healthml.kurtosis(double precision), healthml.moments(double precision),
    healthml.moments_partial(double precision), healthml.moments_merge(double precision[])
    TO PUBLIC;
-- internal helpers, each to the role whose functions call it as the caller (flag and risk_tier
-- refuse a score that is no probability through _invalid_score; the scoring_stats view reads
-- _scoring_stats_rows)
GRANT EXECUTE ON FUNCTION healthml._scoring_stats_rows(), healthml._invalid_score(double precision),
    healthml._inference_log_counters()
    TO healthml_analyst;

-- analysts: scoring, explanations, evaluation and reading
GRANT EXECUTE ON FUNCTION
    healthml.predict(text, jsonb), healthml.predict_by_id(bigint, jsonb), healthml.predict_by_key(text, regclass, bigint),
    healthml.predict_row(text, anyelement), healthml.predict_row_by_id(bigint, anyelement),
    healthml.explain(text, jsonb, integer), healthml.explain_by_id(bigint, jsonb, integer),
    healthml.explain_row(text, anyelement, integer), healthml.explain_row_by_id(bigint, anyelement, integer),
    healthml.explain_jsonb(text, jsonb), healthml.what_if(text, jsonb, jsonb, integer),
    healthml.features_row(text, anyelement), healthml.features_row_by_id(bigint, anyelement),
    healthml.flag(text, double precision), healthml.risk_tier(text, double precision),
    healthml.decision_threshold(text, integer), healthml.decision_threshold_by_id(bigint),
    healthml.model_version_id(text, integer), healthml.coefficients(text, integer), healthml.feature_importance(text, integer),
    healthml.leaderboard(text, integer),
    healthml.evaluate(text, regclass, jsonb), healthml.roc_curve(text, regclass), healthml.pr_curve(text, regclass),
    healthml.calibration_curve(text, regclass, integer),
    healthml.profile(regclass, jsonb), healthml.apply_recipe(text, jsonb), healthml.model_card(text, integer, text),
    healthml.inference_drift(text, jsonb),
    -- 0.1.0's names, deprecated (deprecated.sql)
    healthml.explanation(text, jsonb), healthml.decision_threshold(bigint)
    TO healthml_analyst;
GRANT SELECT (id, name, version, algorithm, created_at, created_by, description, tags, source, target, features,
              hyperparams, metrics, train_rows, test_rows, data_fingerprint, format_version, payload_sha256)
    ON healthml.models TO healthml_analyst;
GRANT SELECT ON healthml.deployments, healthml.threshold_policies, healthml.automl_leaderboard, healthml.drift_reports,
                healthml.subgroup_reports, healthml.training_runs, healthml.model_registry, healthml.automl_comparison,
                healthml.drift_latest, healthml.scoring_stats, healthml.inference_logging, healthml.inference_log_status
    TO healthml_analyst;

-- admins: everything that changes models, deployments, recipes and reports
GRANT EXECUTE ON FUNCTION
    healthml.train(text, regclass, text, text, jsonb), healthml.deploy(text, integer, text), healthml.rollback(text),
    healthml.drop_model(text, integer), healthml.standardize(regclass, jsonb), healthml.apply_recipe(text, regclass, text),
    healthml.set_decision_threshold(text, regclass, text), healthml.drift(text, regclass, jsonb),
    healthml.subgroup_report(text, regclass, text, jsonb), healthml.compare_models(text, integer, integer),
    healthml.compare_models_by_id(bigint, bigint), healthml.reset_scoring_stats(),
    healthml.set_inference_logging(text, double precision), healthml.flush_inference_log(),
    healthml.export_model(text, integer, text), healthml.import_model(text, text, text, jsonb),
    healthml._deployments_are_append_only(), healthml._deployments_changed(), healthml._forget_scoring_stats(bigint),
    healthml._models_forget_scoring_stats(),
    -- 0.1.0's names, deprecated (deprecated.sql, set_threshold in src/api/score.rs)
    healthml.set_threshold(text, text, regclass), healthml.compare_models(bigint, bigint)
    TO healthml_admin;
-- the lake: admins may call it, and the file system then needs what server-side COPY needs
-- (superuser, pg_write_server_files to export, pg_read_server_files to import), checked inside
GRANT EXECUTE ON FUNCTION healthml.export_parquet(text, text, jsonb), healthml.import_parquet(text, text)
    TO healthml_admin;
GRANT EXECUTE ON PROCEDURE healthml.retrain(text, double precision, double precision, boolean),
    healthml.score_batch(text, regclass, text, text, text, integer)
    TO healthml_admin;
-- what the writing SQL functions call first (refused on a standby)
GRANT EXECUTE ON FUNCTION healthml._require_primary(text) TO healthml_admin;
-- what deploy, retrain and score_batch call as the caller
GRANT EXECUTE ON FUNCTION healthml._in_transaction_block(), healthml._retrain_begin(text, double precision, double precision, boolean),
    healthml._retrain_judge(bigint, double precision), healthml._retrain_failed(bigint, text, text), healthml._retrain_challenger(bigint),
    healthml._checked_relation(regclass), healthml._creation_name(text), healthml._leakage_findings(jsonb)
    TO healthml_admin;
-- what train, retrain and compare_models read a sample's rows with (option "sample"), as the caller
GRANT EXECUTE ON FUNCTION healthml._in_sample(text, bigint, double precision), healthml._in_sample(bigint, bigint, double precision)
    TO healthml_admin;
GRANT EXECUTE ON PROCEDURE healthml._score_batch(text, regclass, text, text, text, integer) TO healthml_admin;
GRANT SELECT, INSERT, DELETE ON healthml.models TO healthml_admin;
GRANT SELECT, INSERT ON healthml.recipes, healthml.deployments, healthml.threshold_policies, healthml.automl_leaderboard,
                        healthml.drift_reports, healthml.subgroup_reports
    TO healthml_admin;
GRANT SELECT, INSERT, UPDATE ON healthml.training_runs TO healthml_admin;
-- the inference log holds patient-level inputs: admins read it (audited), analysts see its drift only
GRANT SELECT, INSERT, UPDATE, DELETE ON healthml.inference_logging TO healthml_admin;
GRANT SELECT ON healthml.inference_log TO healthml_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA healthml TO healthml_admin;
-- every read of a model's payload is audited, healthml's own included (a backend loading a model
-- to score with it: the line names the session's user)
GRANT SELECT (payload) ON healthml.models TO healthml_auditor;
GRANT SELECT ON healthml.inference_log TO healthml_auditor;
