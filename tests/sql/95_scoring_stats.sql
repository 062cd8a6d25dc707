-- Scoring statistics: real counters kept by the extension in shared memory, per model version and
-- scoring function, in this database; resettable; off with healthml.track_scoring.
BEGIN;
SELECT plan(11);

CREATE TABLE public.discharges AS
SELECT i AS discharge_id, i / 2 AS patient_id, (abs(hashint4(i * 3)) % 10000) / 100.0 AS severity,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0)))) AS readmitted
FROM generate_series(1, 2000) i;
CREATE TEMP TABLE m AS SELECT * FROM healthml.train('discharge_risk', 'public.discharges', 'readmitted', 'logistic',
                                                    '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
CREATE TEMP TABLE d AS SELECT * FROM healthml.deploy('discharge_risk');

SELECT ok(healthml.reset_scoring_stats(), 'statistics are kept (healthml is preloaded)');
SELECT is((SELECT count(*) FROM healthml.scoring_stats WHERE name = 'discharge_risk'), 0::bigint, 'nothing counted after a reset');
CREATE TEMP TABLE scored AS SELECT healthml.predict_row('discharge_risk', x) AS s FROM public.discharges x;
SELECT is((SELECT calls FROM healthml.scoring_stats WHERE name = 'discharge_risk' AND function = 'predict_row'), 2000::bigint,
          'every predict_row call is counted');
CREATE TEMP TABLE more AS SELECT healthml.predict('discharge_risk', jsonb_build_object('severity', g)) FROM generate_series(1, 7) g;
CREATE TEMP TABLE why AS SELECT * FROM healthml.explain('discharge_risk', '{"severity": 50}');
SELECT is((SELECT array_agg(function || '=' || calls ORDER BY function) FROM healthml.scoring_stats WHERE name = 'discharge_risk'),
          ARRAY['explain=1', 'predict=7', 'predict_row=2000'], 'per scoring function');
SELECT ok((SELECT bool_and(rows_scored = calls AND mean_us > 0 AND p95_us <= p99_us AND p99_us <= max_us AND mean_us <= max_us)
           FROM healthml.scoring_stats WHERE name = 'discharge_risk'), 'rows and latencies are consistent');
SELECT is((SELECT version FROM healthml.scoring_stats WHERE name = 'discharge_risk' LIMIT 1), 1, 'named by model and version');

SET LOCAL healthml.track_scoring = off;
CREATE TEMP TABLE untracked AS SELECT healthml.predict_row('discharge_risk', x) AS s FROM public.discharges x;
SELECT is((SELECT calls FROM healthml.scoring_stats WHERE name = 'discharge_risk' AND function = 'predict_row'), 2000::bigint,
          'healthml.track_scoring = off stops counting');
SET LOCAL healthml.track_scoring = on;

-- parallel workers add to the same counters
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL parallel_leader_participation = off;
CREATE TEMP TABLE reset_again AS SELECT healthml.reset_scoring_stats();
SELECT ok((SELECT sum(healthml.predict_row('discharge_risk', x)) FROM public.discharges x) > 0, 'a parallel scan scores');
SELECT is((SELECT calls FROM healthml.scoring_stats WHERE name = 'discharge_risk' AND function = 'predict_row'), 2000::bigint,
          'every call of the workers is counted');
SELECT ok((SELECT since > now() - interval '1 minute' FROM healthml.scoring_stats WHERE name = 'discharge_risk' LIMIT 1), 'since the reset');

CREATE ROLE hm_test_dana LOGIN IN ROLE healthml_analyst;
SET ROLE hm_test_dana;
SELECT throws_ok($$SELECT healthml.reset_scoring_stats()$$, '42501', NULL, 'an analyst reads the statistics but cannot reset them');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
