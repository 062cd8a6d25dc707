-- Drift against the training distributions stored with a model, and subgroup audits.
BEGIN;
SELECT plan(23);

CREATE TABLE public.discharges AS
SELECT i AS discharge_id, i / 2 AS patient_id, (abs(hashint4(i * 3)) % 10000) / 100.0 AS severity,
       CASE WHEN i % 4 = 0 THEN 'rehab' ELSE 'home' END AS destination,
       CASE WHEN i % 7 = 0 THEN NULL WHEN i % 3 = 0 THEN 'F' ELSE 'M' END AS sex,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0)
                                                      + CASE WHEN i % 4 = 0 THEN 1 ELSE 0 END))) AS readmitted
FROM generate_series(1, 4000) i;
CREATE TEMP TABLE m AS SELECT * FROM healthml.train('discharge_risk', 'public.discharges', 'readmitted', 'gbdt',
                                                    '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
CREATE TEMP TABLE d AS SELECT * FROM healthml.deploy('discharge_risk');

SELECT ok((SELECT reference ? 'columns' AND reference ? 'score' FROM healthml.models WHERE id = (SELECT model_id FROM m)),
          'training distributions are stored with the model');

-- the same population: no drift
CREATE TEMP TABLE same AS SELECT * FROM healthml.drift('discharge_risk', 'public.discharges');
SELECT is((SELECT array_agg(feature ORDER BY feature) FROM same), ARRAY['(score)', 'destination', 'severity', 'sex'],
          'one line per input column and one for the score');
SELECT is((SELECT array_agg(DISTINCT status) FROM same), ARRAY['ok'], 'the training population does not drift');
SELECT ok((SELECT ks IS NOT NULL AND js IS NULL FROM same WHERE feature = 'severity')
          AND (SELECT js IS NOT NULL AND ks IS NULL FROM same WHERE feature = 'destination'),
          'Kolmogorov-Smirnov for numbers, Jensen-Shannon for levels');

-- the most severe cases only: severity and the score drift
CREATE VIEW public.severe AS SELECT * FROM public.discharges WHERE severity > 70;
CREATE TEMP TABLE shifted AS SELECT * FROM healthml.drift('discharge_risk', 'public.severe');
SELECT is((SELECT status FROM shifted WHERE feature = 'severity'), 'alert', 'a shifted column raises an alert');
SELECT is((SELECT status FROM shifted WHERE feature = '(score)'), 'alert', 'and so does the score it drives');
SELECT is((SELECT status FROM shifted WHERE feature = 'destination'), 'ok', 'an unrelated column stays ok');
SELECT ok((SELECT ks > 0.5 FROM shifted WHERE feature = 'severity'), 'the KS distance sees the cut at the 70th percentile');

-- stored, with the limits used, and the latest per model in a view
SELECT is((SELECT count(DISTINCT report_id) FROM healthml.drift_reports WHERE model_id = (SELECT model_id FROM m)), 2::bigint,
          'each call is one stored report');
SELECT is((SELECT array_agg(DISTINCT relation) FROM healthml.drift_latest WHERE name = 'discharge_risk'), ARRAY['public.severe'],
          'drift_latest shows the latest report');
CREATE TEMP TABLE strict AS SELECT * FROM healthml.drift('discharge_risk', 'public.discharges', '{"psi_warn": 0.0, "psi_alert": 0.0}');
SELECT is((SELECT array_agg(DISTINCT status) FROM strict), ARRAY['alert'], 'the PSI limits are options');

-- bad input
SELECT throws_ok($$SELECT * FROM healthml.drift('discharge_risk', 'public.discharges', '{"psi_alert": 0.05}')$$, '22023', NULL,
                 'an alert limit below the warning limit');
SELECT throws_ok($$SELECT * FROM healthml.drift('discharge_risk', 'public.discharges', '{"psi": 0.2}')$$, '22023', NULL, 'an unknown option');
CREATE VIEW public.no_severity AS SELECT discharge_id, patient_id, destination, sex, readmitted FROM public.discharges;
SELECT throws_ok($$SELECT * FROM healthml.drift('discharge_risk', 'public.no_severity')$$, '42703', NULL, 'a relation without an input column');
CREATE TABLE public.nothing AS SELECT * FROM public.discharges WHERE false;
SELECT throws_ok($$SELECT * FROM healthml.drift('discharge_risk', 'public.nothing')$$, '22000', NULL, 'an empty relation');

-- subgroup audit by sex (NULL is a group of its own)
CREATE TEMP TABLE by_sex AS SELECT * FROM healthml.subgroup_report('discharge_risk', 'public.discharges', 'sex');
SELECT is((SELECT array_agg(coalesce(subgroup, 'NULL') ORDER BY n DESC) FROM by_sex WHERE NOT overall), ARRAY['M', 'F', 'NULL'],
          'one row per group, largest first');
SELECT is((SELECT sum(n)::bigint FROM by_sex WHERE NOT overall), (SELECT n FROM by_sex WHERE overall), 'the groups add up to the whole');
SELECT ok((SELECT bool_and(abs(s.auc_gap - (s.auc - o.auc)) < 1e-12 AND abs(s.tpr_gap - (s.tpr - o.tpr)) < 1e-12)
           FROM by_sex s, by_sex o WHERE o.overall AND NOT s.overall), 'gaps are the group''s figure minus the whole''s');
SELECT is((SELECT count(*) FROM healthml.subgroup_reports WHERE model_id = (SELECT model_id FROM m) AND by_column = 'sex'), 4::bigint,
          'stored next to the model');
SELECT ok((SELECT bool_and(auc_low <= auc AND auc <= auc_high AND average_precision IS NOT NULL AND brier IS NOT NULL
                    AND calibration_slope IS NOT NULL AND (intervals #>> '{brier,low}')::float8 <= brier)
           FROM by_sex), 'each group has its intervals, AUC''s as columns, every one in intervals');
SELECT ok((SELECT (o.auc_high - o.auc_low) < (s.auc_high - s.auc_low) FROM by_sex o, by_sex s WHERE o.overall AND s.subgroup = 'F'),
          'a group''s interval is wider than the whole relation''s');
SELECT is((SELECT count(*) FROM healthml.subgroup_reports WHERE model_id = (SELECT model_id FROM m) AND by_column = 'sex' AND auc_low IS NOT NULL
             AND intervals ? 'calibration_slope'), 4::bigint, 'and stored with the report');
SELECT throws_ok($$SELECT * FROM healthml.subgroup_report('discharge_risk', 'public.discharges', 'gender')$$, '42703', NULL,
                 'an unknown column to group by');

SELECT * FROM finish();
ROLLBACK;
