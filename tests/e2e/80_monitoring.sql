-- Monitoring the readmission pack's deployed model on the real data: the test split does not drift
-- from the training split, patients aged 70+ do (on age), and the subgroup audits of the pack run.
BEGIN;
SELECT plan(8);

\set QUIET 1
\o /dev/null
\ir ../../sql/readmission/train.sql
\ir ../../sql/readmission/monitoring.sql
\o
CREATE TEMP TABLE test_drift AS
SELECT * FROM healthml.drift_reports WHERE report_id = (SELECT min(report_id) FROM healthml.drift_reports);
SELECT is((SELECT relation FROM test_drift LIMIT 1), 'readmission.test_split', 'the pack measured the test split');
SELECT is((SELECT array_agg(DISTINCT status) FROM test_drift), ARRAY['ok'], 'the test split does not drift from the training split');
SELECT is((SELECT count(*) FROM test_drift), (SELECT count(*) + 1 FROM healthml.models m, jsonb_array_elements(m.reference -> 'columns')
                                              WHERE m.id = (SELECT model_id FROM test_drift LIMIT 1)), 'every input column and the score');

CREATE VIEW pg_temp.aged_70_plus AS SELECT * FROM readmission.test_split WHERE age_years >= 75;
CREATE TEMP TABLE old AS SELECT * FROM healthml.drift('readmission', 'pg_temp.aged_70_plus');
SELECT is((SELECT status FROM old WHERE feature = 'age'), 'alert', 'patients aged 70+: age raises an alert');
SELECT is((SELECT status FROM old WHERE feature = 'age_years'), 'alert', 'and so does age in years');
SELECT ok((SELECT count(*) FILTER (WHERE status = 'alert') < count(*) / 3 FROM old), 'most columns do not alert');

SELECT is((SELECT array_agg(DISTINCT by_column ORDER BY by_column) FROM healthml.subgroup_reports), ARRAY['age', 'gender', 'race'],
          'subgroup reports by age, gender and race are stored');
SELECT ok((SELECT bool_and(s.total = o.n) FROM (SELECT report_id, sum(n) AS total FROM healthml.subgroup_reports WHERE NOT overall GROUP BY 1) s
           JOIN healthml.subgroup_reports o ON o.report_id = s.report_id AND o.overall), 'each audit covers every test encounter');

SELECT * FROM finish();
ROLLBACK;
