-- AutoML's records: every candidate of a run, and AutoML models next to hand-trained ones.

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
    chosen                boolean NOT NULL,
    -- what serving costs, measured on the candidate's last fold model (NULL before 0.2.0)
    score_us              double precision,
    explain_ms            double precision
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
