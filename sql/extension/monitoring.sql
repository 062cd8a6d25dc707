-- Monitoring reports, written by healthml.drift and healthml.subgroup_report: one row per feature
-- (or subgroup) per call, grouped by report_id, kept next to the model they judge.

CREATE SEQUENCE healthml.drift_report_ids;
CREATE TABLE healthml.drift_reports (
    report_id   bigint           NOT NULL,
    model_id    bigint           NOT NULL REFERENCES healthml.models (id) ON DELETE CASCADE,
    relation    text             NOT NULL,
    computed_at timestamptz      NOT NULL DEFAULT now(),
    computed_by name             NOT NULL DEFAULT current_user,
    feature     text             NOT NULL,
    kind        text             NOT NULL,
    rows        bigint           NOT NULL,
    psi         double precision NOT NULL,
    ks          double precision,
    js          double precision,
    status      text             NOT NULL CHECK (status IN ('ok', 'warn', 'alert')),
    psi_warn    double precision NOT NULL,
    psi_alert   double precision NOT NULL
);
CREATE INDEX drift_reports_model_idx ON healthml.drift_reports (model_id, report_id DESC);
COMMENT ON TABLE healthml.drift_reports IS
    'Every healthml.drift call: per input column and for the score, PSI, Kolmogorov-Smirnov, Jensen-Shannon and a status.';
SELECT pg_catalog.pg_extension_config_dump('healthml.drift_reports', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.drift_report_ids', '');

-- The latest drift report of each model name's deployed version, worst first: what a dashboard shows.
CREATE VIEW healthml.drift_latest AS
SELECT m.name, m.version, r.report_id, r.relation, r.computed_at, r.feature, r.kind, r.rows,
       round(r.psi::numeric, 4) AS psi, round(r.ks::numeric, 4) AS ks, round(r.js::numeric, 4) AS js, r.status
FROM healthml.drift_reports r
JOIN healthml.models m ON m.id = r.model_id
WHERE r.report_id = (SELECT max(x.report_id) FROM healthml.drift_reports x
                     JOIN healthml.models xm ON xm.id = x.model_id WHERE xm.name = m.name);
COMMENT ON VIEW healthml.drift_latest IS 'The latest drift report of each model name, one row per feature and the score.';

CREATE SEQUENCE healthml.subgroup_report_ids;
CREATE TABLE healthml.subgroup_reports (
    report_id         bigint           NOT NULL,
    model_id          bigint           NOT NULL REFERENCES healthml.models (id) ON DELETE CASCADE,
    relation          text             NOT NULL,
    by_column         text             NOT NULL,
    computed_at       timestamptz      NOT NULL DEFAULT now(),
    computed_by       name             NOT NULL DEFAULT current_user,
    threshold         double precision NOT NULL,
    subgroup          text,
    overall           boolean          NOT NULL,
    n                 bigint           NOT NULL,
    positives         bigint           NOT NULL,
    mean_score        double precision NOT NULL,
    observed_rate     double precision NOT NULL,
    auc               double precision,
    calibration_ratio double precision,
    tpr               double precision,
    fpr               double precision,
    flagged_share     double precision NOT NULL,
    auc_gap           double precision,
    calibration_gap   double precision,
    tpr_gap           double precision,
    fpr_gap           double precision,
    -- 0.2.0: the other figures, and their 95 % intervals from resampling each subgroup's patients
    average_precision double precision,
    brier             double precision,
    calibration_intercept double precision,
    calibration_slope double precision,
    auc_low           double precision,
    auc_high          double precision,
    intervals         jsonb
);
CREATE INDEX subgroup_reports_model_idx ON healthml.subgroup_reports (model_id, report_id DESC);
COMMENT ON TABLE healthml.subgroup_reports IS
    'Every healthml.subgroup_report call: per subgroup, scores against outcomes, the gaps to the whole relation, and 95 % intervals.';
SELECT pg_catalog.pg_extension_config_dump('healthml.subgroup_reports', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.subgroup_report_ids', '');

-- Scoring statistics from the extension's shared-memory counters (healthml in
-- shared_preload_libraries): per model version and scoring function, calls, rows scored and call
-- latency since the first call after the server started or after healthml.reset_scoring_stats()
-- (which resets one database).
CREATE VIEW healthml.scoring_stats AS
SELECT m.name, m.version, s.model_id, s.function, s.calls, s.rows_scored,
       round(s.mean_us::numeric, 1) AS mean_us, round(s.p95_us::numeric, 1) AS p95_us,
       round(s.p99_us::numeric, 1) AS p99_us, round(s.max_us::numeric, 1) AS max_us,
       timestamptz '2000-01-01 00:00:00+00' + make_interval(secs => s.counting_since_us / 1e6) AS since
FROM healthml._scoring_stats_rows() s
LEFT JOIN healthml.models m ON m.id = s.model_id;
COMMENT ON VIEW healthml.scoring_stats IS
    'Calls, rows scored and latency (mean, p95, p99, max in microseconds) per model version and scoring function, from counters kept by the extension.';

-- A dropped version's counters go with it (when the drop commits), whether through
-- healthml.drop_model or a DELETE: the shared memory holds a fixed number of slots.
CREATE FUNCTION healthml._models_forget_scoring_stats() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM healthml._forget_scoring_stats(OLD.id);
    RETURN OLD;
END $$;
CREATE TRIGGER models_forget_scoring_stats AFTER DELETE ON healthml.models
    FOR EACH ROW EXECUTE FUNCTION healthml._models_forget_scoring_stats();
-- also when the DELETE comes from the coordinator through logical replication (a shard's registry)
ALTER TABLE healthml.models ENABLE ALWAYS TRIGGER models_forget_scoring_stats;
