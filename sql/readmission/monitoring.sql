-- Monitoring the deployed readmission model on the test split (rows it never trained on): drift
-- against its training distributions, and subgroup audits by race, gender and age. Each call stores
-- its report (healthml.drift_reports, healthml.subgroup_reports). Run by scripts/demo; schedule it
-- with pg_cron next to the nightly batch (docs/operations.md).

\echo drift of the test split against the training data (features with PSI >= 0.01, and the score):
SELECT feature, kind, rows, round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks, round(js::numeric, 4) AS js, status
FROM healthml.drift('readmission', 'readmission.test_split')
WHERE psi >= 0.01 OR feature = '(score)'
ORDER BY psi DESC;

\echo subgroup audit on the test split, groups of at least 500 encounters (gaps to the whole; AUC with its 95 % interval,
\echo patients resampled):
SELECT by_column, coalesce(subgroup, 'NULL') AS subgroup, n, round(observed_rate::numeric, 3) AS readmitted,
       round(mean_score::numeric, 3) AS mean_score,
       format('%s [%s, %s]', round(auc::numeric, 3), round(auc_low::numeric, 3), round(auc_high::numeric, 3)) AS auc_95,
       round(auc_gap::numeric, 3) AS auc_gap, round(calibration_ratio::numeric, 2) AS calibration,
       round(calibration_slope::numeric, 2) AS slope, round(tpr::numeric, 3) AS tpr, round(tpr_gap::numeric, 3) AS tpr_gap,
       round(fpr::numeric, 3) AS fpr
FROM (SELECT 'race' AS by_column, * FROM healthml.subgroup_report('readmission', 'readmission.test_split', 'race')
      UNION ALL
      SELECT 'gender', * FROM healthml.subgroup_report('readmission', 'readmission.test_split', 'gender')
      UNION ALL
      SELECT 'age', * FROM healthml.subgroup_report('readmission', 'readmission.test_split', 'age')) r
WHERE NOT overall AND n >= 500
ORDER BY by_column, subgroup;
