-- Threshold policies (healthml.set_decision_threshold), healthml.flag and healthml.risk_tier.
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(22);

CREATE TABLE public.discharges AS SELECT * FROM pg_temp.discharges(4000);
CREATE TEMP TABLE m AS SELECT * FROM healthml.train('discharge_risk', 'public.discharges', 'readmitted', 'logistic',
                                                    '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
CREATE TEMP TABLE d AS SELECT * FROM healthml.deploy('discharge_risk');
CREATE TEMP TABLE scored AS SELECT discharge_id, readmitted, healthml.predict_row('discharge_risk', x) AS score FROM public.discharges x;

-- without a policy: the F1-optimal threshold of training
SELECT is(healthml.decision_threshold_by_id((SELECT model_id FROM m)), (SELECT (metrics #>> '{test,threshold}')::float8 FROM m),
          'without a policy the training threshold decides');

-- capacity: the care team follows up 10% of discharges
CREATE TEMP TABLE top10 AS SELECT * FROM healthml.set_decision_threshold('discharge_risk', 'public.discharges', 'top_percent = 10');
SELECT is((SELECT policy FROM top10), 'top_percent=10', 'the policy is stored in its canonical form');
SELECT ok((SELECT avg(healthml.flag('discharge_risk', score)::int) BETWEEN 0.095 AND 0.105 FROM scored), 'flag() flags 10% of the rows, within rounding');
SELECT ok((SELECT abs(flagged_share - 0.1) < 0.005 FROM top10), 'as set_decision_threshold reports');
SELECT is(healthml.decision_threshold_by_id((SELECT model_id FROM m)), (SELECT threshold FROM top10), 'the latest policy decides');

-- a recall floor, a precision floor
CREATE TEMP TABLE r80 AS SELECT * FROM healthml.set_decision_threshold('discharge_risk', 'public.discharges', 'recall>=0.8');
SELECT ok((SELECT avg(healthml.flag('discharge_risk', score)::int) FILTER (WHERE readmitted) >= 0.8 FROM scored), 'recall>=0.8 finds at least 80% of the positives');
SELECT ok((SELECT recall >= 0.8 FROM r80), 'and reports that recall');
CREATE TEMP TABLE p40 AS SELECT * FROM healthml.set_decision_threshold('discharge_risk', 'public.discharges', 'precision>=0.4');
SELECT ok((SELECT avg(readmitted::int) FILTER (WHERE healthml.flag('discharge_risk', score)) >= 0.4 FROM scored), 'precision>=0.4 keeps 40% of flags right');
SELECT is((SELECT count(*) FROM healthml.threshold_policies WHERE model_id = (SELECT model_id FROM m)), 3::bigint, 'every policy is kept, per model version');

-- risk tiers agree with the flag, under the capacity policy again
CREATE TEMP TABLE again AS SELECT * FROM healthml.set_decision_threshold('discharge_risk', 'public.discharges', 'top_percent=10');
SELECT is((SELECT count(*) FROM scored WHERE (healthml.risk_tier('discharge_risk', score) = 'high') <> healthml.flag('discharge_risk', score)),
          0::bigint, 'tier high exactly when flagged');
SELECT ok((SELECT bool_and(score >= (SELECT (metrics ->> 'train_positive_rate')::float8 FROM m))
           FROM scored WHERE healthml.risk_tier('discharge_risk', score) = 'medium'), 'medium: above the training base rate, not flagged');
SELECT is((SELECT array_agg(DISTINCT healthml.risk_tier('discharge_risk', score) ORDER BY healthml.risk_tier('discharge_risk', score)) FROM scored),
          ARRAY['high', 'low', 'medium'], 'all three tiers occur');

-- class weights with calibration (the default for balanced weights) against without
CREATE TEMP TABLE balanced AS SELECT * FROM healthml.train('discharge_balanced', 'public.discharges', 'readmitted', 'logistic',
                                                           '{"group_by": "patient_id", "exclude": ["discharge_id"], "class_weight": "balanced"}');
CREATE TEMP TABLE uncalibrated AS SELECT * FROM healthml.train('discharge_balanced', 'public.discharges', 'readmitted', 'logistic',
                                                               '{"group_by": "patient_id", "exclude": ["discharge_id"], "class_weight": "balanced", "calibration": "none"}');
SELECT is((SELECT metrics #>> '{calibration,method}' FROM balanced), 'platt', 'balanced weights are Platt-calibrated by default');
SELECT ok((SELECT (b.metrics #>> '{test,brier}')::float8 <= (u.metrics #>> '{test,brier}')::float8 FROM balanced b, uncalibrated u),
          'calibration does not worsen the test Brier score');
SELECT throws_ok($$SELECT * FROM healthml.train('x', 'public.discharges', 'readmitted', 'logistic', '{"calibration": "isotonic"}')$$, '22023', NULL,
                 'an unknown calibration');

-- bad input
SELECT throws_ok($$SELECT * FROM healthml.set_decision_threshold('discharge_risk', 'public.discharges', 'accuracy>=0.9')$$, '22023', NULL, 'an unknown policy');
SELECT throws_ok($$SELECT * FROM healthml.set_decision_threshold('discharge_risk', 'public.discharges', 'top_percent=0')$$, '22023', NULL, 'a share of 0%');
CREATE TABLE public.no_readmissions AS SELECT discharge_id, patient_id, severity, destination, false AS readmitted FROM public.discharges;
SELECT throws_ok($$SELECT * FROM healthml.set_decision_threshold('discharge_risk', 'public.no_readmissions', 'precision>=0.5')$$, '22000', NULL,
                 'a precision no threshold reaches');
SELECT throws_ok($$SELECT healthml.flag('nope', 0.5)$$, '42704', NULL, 'flag with an unknown model');
SELECT throws_ok($$SELECT healthml.risk_tier('nope', 0.5)$$, '42704', NULL, 'risk_tier with an unknown model');
SELECT is(healthml.risk_tier('discharge_risk', NULL), NULL, 'a NULL score has no tier');
SELECT is(healthml.decision_threshold_by_id(-1), NULL, 'decision_threshold_by_id of an unknown model id is NULL');

SELECT * FROM finish();
ROLLBACK;
