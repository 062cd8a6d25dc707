-- Dashboard views of the readmission pack: what Grafana (docker/grafana), Power BI or any SQL client
-- reads. Plain views over the registry, the monitoring reports and the nightly batch
-- (readmission.nightly_scores, written by healthml.score_batch with the top 3 reasons): a dashboard
-- refresh runs a query, never a training. Run by scripts/demo after the nightly batch.

-- The analysts' pseudonymized views the dashboards read (analyst_test_split), made if the pack was
-- loaded before they existed; pseudonyms.sql runs again at the end for the patients' scores.
\ir pseudonyms.sql

-- Latest score of each patient's latest encounter: the care team's work list.
CREATE OR REPLACE VIEW readmission.dashboard_patient_risk AS
SELECT DISTINCT ON (e.patient_nbr)
       e.patient_nbr, s.encounter_id, e.age, e.gender, s.model_version, round(s.score::numeric, 4) AS risk,
       healthml.risk_tier('readmission', s.score) AS tier,
       (SELECT string_agg(format('%s = %s (%s)', w.feature, coalesce(w.value, 'NULL'), to_char((r ->> 'contribution')::float8, 'S0.00')), '; '
                          ORDER BY n)
        FROM jsonb_array_elements(s.reasons) WITH ORDINALITY AS x(r, n),
             readmission.reason_in_words(r ->> 'feature', r ->> 'value') AS w) AS top_reasons,
       s.scored_at
FROM readmission.nightly_scores s
JOIN readmission.encounters e USING (encounter_id)
ORDER BY e.patient_nbr, s.encounter_id DESC;
COMMENT ON VIEW readmission.dashboard_patient_risk IS
    'Per patient: the latest encounter''s score from the nightly batch, its tier and top reasons in words.';

-- Every version of the model with its test figures, the deployed one marked.
CREATE OR REPLACE VIEW readmission.dashboard_model_performance AS
SELECT m.version, m.algorithm, m.created_at, m.created_by,
       round((m.metrics #>> '{test,auc}')::numeric, 4) AS test_auc,
       round((m.metrics #>> '{test,average_precision}')::numeric, 4) AS test_average_precision,
       round((m.metrics #>> '{test,brier}')::numeric, 4) AS test_brier,
       round((m.metrics #>> '{test,precision}')::numeric, 4) AS test_precision,
       round((m.metrics #>> '{test,recall}')::numeric, 4) AS test_recall,
       (m.metrics #>> '{test,n}')::int AS test_rows,
       m.id = healthml.model_version_id('readmission') AS deployed,
       -- 95 % intervals from resampling the test patients (versions trained since 0.2.0)
       round((m.metrics #>> '{test,intervals,auc,low}')::numeric, 4) AS test_auc_low,
       round((m.metrics #>> '{test,intervals,auc,high}')::numeric, 4) AS test_auc_high,
       round((m.metrics #>> '{test,calibration_slope}')::numeric, 3) AS calibration_slope,
       round((m.metrics #>> '{test,intervals,calibration_slope,low}')::numeric, 3) AS calibration_slope_low,
       round((m.metrics #>> '{test,intervals,calibration_slope,high}')::numeric, 3) AS calibration_slope_high
FROM healthml.models m WHERE m.name = 'readmission';
COMMENT ON VIEW readmission.dashboard_model_performance IS
    'Every version of model "readmission" with its test figures and their 95 % intervals; deployed marks the version in use.';

-- ROC and calibration of the deployed model on the test split, computed when read (about a second):
-- ROC thinned to at most about 200 points for plotting.
CREATE OR REPLACE VIEW readmission.dashboard_roc AS
SELECT round(fpr::numeric, 4) AS fpr, round(tpr::numeric, 4) AS tpr, round(threshold::numeric, 4) AS threshold
FROM (SELECT r.*, row_number() OVER (ORDER BY r.fpr, r.tpr) AS i, count(*) OVER () AS n
      FROM healthml.roc_curve('readmission', 'readmission.analyst_test_split') r) t
WHERE i = 1 OR i = n OR i % greatest(n / 200, 1) = 0;
COMMENT ON VIEW readmission.dashboard_roc IS
    'ROC curve of the deployed model on readmission.test_split, thinned to about 200 points; computed when read.';

-- The band: each bin's observed rate resampled by patient, as stored when the deployed version was
-- trained (its test rows are the test split's).
CREATE OR REPLACE VIEW readmission.dashboard_calibration AS
SELECT c.bin, round(c.mean_predicted::numeric, 4) AS mean_predicted, round(c.observed_rate::numeric, 4) AS observed_rate, c.n,
       round((b.band ->> 'observed_low')::numeric, 4) AS observed_low, round((b.band ->> 'observed_high')::numeric, 4) AS observed_high
FROM healthml.calibration_curve('readmission', 'readmission.analyst_test_split', 10) c
LEFT JOIN (SELECT x.band, x.bin
           FROM healthml.models m,
                jsonb_array_elements(m.metrics #> '{test,curves,calibration}') WITH ORDINALITY AS x(band, bin)
           WHERE m.id = healthml.model_version_id('readmission')) b ON b.bin = c.bin;
COMMENT ON VIEW readmission.dashboard_calibration IS
    'Calibration of the deployed model on readmission.test_split in 10 bins: mean score against observed rate (computed when read), with the 95 % band of each bin''s observed rate stored at training.';

-- The latest drift report and subgroup audits of the model.
CREATE OR REPLACE VIEW readmission.dashboard_drift AS
SELECT version, computed_at, feature, kind, rows, psi, ks, js, status
FROM healthml.drift_latest WHERE name = 'readmission';
COMMENT ON VIEW readmission.dashboard_drift IS
    'The latest drift report of model "readmission", per feature (PSI, KS, JS and status).';

-- Real-time drift: the logged scoring calls of the deployed version (1 % of them, train.sql), per UTC
-- day of the last 14 and feature, against the training rows. Computed when read; analysts see these
-- aggregates, never the logged rows.
CREATE OR REPLACE VIEW readmission.dashboard_inference_drift AS
SELECT day, feature, kind, rows, round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks, round(js::numeric, 4) AS js, status
FROM healthml.inference_drift('readmission', jsonb_build_object('since', (now() - interval '14 days')::text));
COMMENT ON VIEW readmission.dashboard_inference_drift IS
    'Drift by UTC day of the deployed readmission model''s logged scoring calls (the inference log) against its training rows, per feature and of the score, the last 14 days.';

CREATE OR REPLACE VIEW readmission.dashboard_subgroups AS
SELECT r.by_column, coalesce(r.subgroup, 'NULL') AS subgroup, r.n, round(r.observed_rate::numeric, 4) AS readmitted,
       round(r.mean_score::numeric, 4) AS mean_score, round(r.auc::numeric, 4) AS auc, round(r.auc_gap::numeric, 4) AS auc_gap,
       round(r.calibration_ratio::numeric, 3) AS calibration_ratio, round(r.tpr::numeric, 4) AS tpr, round(r.fpr::numeric, 4) AS fpr,
       r.computed_at,
       -- 95 % intervals, each subgroup's patients resampled
       round(r.auc_low::numeric, 4) AS auc_low, round(r.auc_high::numeric, 4) AS auc_high,
       round(r.calibration_slope::numeric, 3) AS calibration_slope,
       round((r.intervals #>> '{calibration_slope,low}')::numeric, 3) AS calibration_slope_low,
       round((r.intervals #>> '{calibration_slope,high}')::numeric, 3) AS calibration_slope_high
FROM healthml.subgroup_reports r
JOIN healthml.models m ON m.id = r.model_id AND m.name = 'readmission'
WHERE NOT r.overall
  AND r.report_id = (SELECT max(x.report_id) FROM healthml.subgroup_reports x
                     JOIN healthml.models xm ON xm.id = x.model_id AND xm.name = 'readmission'
                     WHERE x.by_column = r.by_column);
COMMENT ON VIEW readmission.dashboard_subgroups IS
    'The latest subgroup audit of model "readmission" per grouping column: rates, AUC with its 95 % interval and gap, calibration ratio and slope with its interval, TPR and FPR.';

-- Readmission within 30 days by admission source, age band and A1C testing (all encounters).
CREATE OR REPLACE VIEW readmission.dashboard_rates AS
SELECT 'admission_source' AS dimension, coalesce(admission_source, 'unknown') AS value, count(*) AS encounters,
       round(avg(readmitted_30d::int), 4) AS readmitted_30d
FROM readmission.features GROUP BY 2
UNION ALL
SELECT 'age', age, count(*), round(avg(readmitted_30d::int), 4) FROM readmission.features GROUP BY 2
UNION ALL
SELECT 'a1c_testing', a1c_status, count(*), round(avg(readmitted_30d::int), 4) FROM readmission.features GROUP BY 2;
COMMENT ON VIEW readmission.dashboard_rates IS
    'Readmission within 30 days by admission source, age band and A1C testing, over all encounters.';

-- Scoring volume and latency of the deployed model's versions.
CREATE OR REPLACE VIEW readmission.dashboard_scoring AS
SELECT version, function, calls, rows_scored, mean_us, p95_us, p99_us, since
FROM healthml.scoring_stats WHERE name = 'readmission';
COMMENT ON VIEW readmission.dashboard_scoring IS
    'Scoring volume and latency (mean, p95, p99 in microseconds) of the versions of model "readmission".';

GRANT SELECT ON ALL TABLES IN SCHEMA readmission TO healthml_analyst;
-- but not the internals behind readmission.features (analysts read the stored rows through it)
REVOKE SELECT ON readmission._feature_rows, readmission._features_state FROM healthml_analyst;
-- and every read of a patient's rows is audited
\ir audit.sql
-- and analysts read the patients' scores by pseudonym only
\ir pseudonyms.sql
