-- The bad-input catalogue: every public function of healthml called with NULLs, empty and one-class
-- tables, NaN and Infinity, huge and unicode identifiers, quoted names with spaces and injection
-- strings. Each case's documented result is its expected SQLSTATE ('ok': no error; for STRICT
-- functions a NULL argument gives NULL or no rows). The server must never crash, no case may end in
-- an internal error (XX000) or a Rust panic, every error healthml raises carries a hint, and no
-- injection string changes anything.
BEGIN;
SELECT plan(6);
SET client_min_messages = warning;

CREATE TABLE public.bi AS
SELECT i AS id, i / 2 AS patient, (abs(hashint4(i * 3)) % 10000) / 100.0 AS severity,
       CASE WHEN i % 4 = 0 THEN 'rehab' ELSE 'home' END AS destination,
       (abs(hashint4(i)) % 1000) / 1000.0 < 0.1 + 0.008 * ((abs(hashint4(i * 3)) % 10000) / 100.0) AS readmitted
FROM generate_series(1, 1500) i;
CREATE TABLE public.bi_empty AS SELECT * FROM public.bi WHERE false;
CREATE TABLE public.bi_one_class AS SELECT id, patient, severity, destination, true AS readmitted FROM public.bi;
CREATE TABLE public.bi_nonfinite AS
SELECT id, patient, CASE id % 3 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN 'Infinity'::float8 ELSE severity::float8 END AS severity,
       destination, readmitted FROM public.bi;
CREATE TABLE public."bi spaced ""quoted""" AS SELECT id, patient, severity AS "sévérité 🚑", destination AS "destination; DROP TABLE bi; --", readmitted FROM public.bi;
CREATE TABLE public.bi_no_target AS SELECT id, patient, severity, destination FROM public.bi;
CREATE TABLE public.bi_text_severity AS SELECT id, patient, severity::text || 'x' AS severity, destination, readmitted FROM public.bi;
CREATE TEMP TABLE setup_model AS SELECT * FROM healthml.train('bi', 'public.bi', 'readmitted', 'gbdt', '{"group_by": "patient", "exclude": ["id"]}');
CREATE TEMP TABLE setup_deploy AS SELECT * FROM healthml.deploy('bi');
CREATE TABLE public.bi_leaky AS SELECT *, CASE WHEN readmitted THEN 'back' ELSE 'done' END AS follow_up FROM public.bi;
CREATE TEMP TABLE setup_leaky AS SELECT * FROM healthml.train('bi_leaky', 'public.bi_leaky', 'readmitted', 'logistic', '{"group_by": "patient", "exclude": ["id"]}');
CREATE TEMP TABLE setup_undeployed AS SELECT * FROM healthml.train('bi_undeployed', 'public.bi', 'readmitted', 'logistic', '{"group_by": "patient", "exclude": ["id"]}');
-- relations with no rows to read, or gone
CREATE SEQUENCE public.bi_sequence;
CREATE INDEX bi_index ON public.bi (id);
CREATE TYPE public.bi_type AS (a integer);
-- tables a row is found in by its key, or not
CREATE TABLE public.bi_keyed AS SELECT * FROM public.bi;
ALTER TABLE public.bi_keyed ADD PRIMARY KEY (id);
CREATE TABLE public.bi_int2_key AS SELECT id::smallint AS id, patient, severity, destination, readmitted FROM public.bi;
ALTER TABLE public.bi_int2_key ADD PRIMARY KEY (id);
CREATE TABLE public.bi_text_key AS SELECT id::text AS id, patient, severity, destination, readmitted FROM public.bi;
ALTER TABLE public.bi_text_key ADD PRIMARY KEY (id);
CREATE TABLE public.bi_two_column_key AS SELECT * FROM public.bi;
ALTER TABLE public.bi_two_column_key ADD PRIMARY KEY (id, patient);
CREATE TABLE public.bi_secured AS SELECT * FROM public.bi;
ALTER TABLE public.bi_secured ADD PRIMARY KEY (id);
ALTER TABLE public.bi_secured ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.bi_secured FORCE ROW LEVEL SECURITY;
CREATE VIEW public.bi_view AS SELECT * FROM public.bi_keyed;
CREATE TABLE public.bi_keyed_without_severity AS SELECT id, patient, destination, readmitted FROM public.bi;
ALTER TABLE public.bi_keyed_without_severity ADD PRIMARY KEY (id);
CREATE TABLE public.bi_dropped ();
CREATE TEMP TABLE dropped AS SELECT 'public.bi_dropped'::regclass::oid AS oid;
DROP TABLE public.bi_dropped;

CREATE TEMP TABLE cases (name text PRIMARY KEY, expected text NOT NULL, sql text NOT NULL);
CREATE FUNCTION pg_temp.run_case(sql text, OUT state text, OUT message text, OUT hint text) LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    state := 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
END $$;

INSERT INTO cases (name, expected, sql) VALUES
-- predict / predict_by_id / explain family: model names
('predict: NULL model', 'ok', $$SELECT healthml.predict(NULL, '{}')$$),
('predict: empty model name', '42704', $$SELECT healthml.predict('', '{}')$$),
('predict: unknown model', '42704', $$SELECT healthml.predict('nope', '{}')$$),
('predict: undeployed model', '42704', $$SELECT healthml.predict('bi_undeployed', '{}')$$),
('predict: injection in model name', '42704', $$SELECT healthml.predict('bi''); DROP TABLE public.bi; --', '{}')$$),
('predict: 10k-character model name', '42704', $$SELECT healthml.predict(repeat('m', 10000), '{}')$$),
('predict: unicode model name', '42704', $$SELECT healthml.predict('модель 🚑', '{}')$$),
('predict: model name with spaces', '42704', $$SELECT healthml.predict(' bi ', '{}')$$),
-- features
('predict: NULL features', 'ok', $$SELECT healthml.predict('bi', NULL)$$),
('predict: features array', '22023', $$SELECT healthml.predict('bi', '[1, 2]')$$),
('predict: features string', '22023', $$SELECT healthml.predict('bi', '"severity"')$$),
('predict: empty features', 'ok', $$SELECT healthml.predict('bi', '{}')$$),
('predict: unknown feature', '42703', $$SELECT healthml.predict('bi', '{"severty": 3}')$$),
('predict: text for a number', '22P02', $$SELECT healthml.predict('bi', '{"severity": "abc"}')$$),
('predict: "NaN" for a number', 'ok', $$SELECT healthml.predict('bi', '{"severity": "NaN"}')$$),
('predict: "Infinity" for a number', 'ok', $$SELECT healthml.predict('bi', '{"severity": "Infinity"}')$$),
('predict: huge number', 'ok', $$SELECT healthml.predict('bi', '{"severity": 1e400}')$$),
('predict: object for a number', '42804', $$SELECT healthml.predict('bi', '{"severity": {"a": 1}}')$$),
('predict: number for a level', 'ok', $$SELECT healthml.predict('bi', '{"destination": 7}')$$),
('predict: unicode level', 'ok', $$SELECT healthml.predict('bi', '{"destination": "réadaptation 🚑"}')$$),
('predict: injection as a level', 'ok', $$SELECT healthml.predict('bi', '{"destination": "x''); DROP TABLE public.bi; --"}')$$),
('predict_by_id: unknown id', '42704', $$SELECT healthml.predict_by_id(-1, '{}')$$),
-- predict_by_key: tables, keys
('predict_by_key: a key', 'ok', $$SELECT healthml.predict_by_key('bi', 'public.bi_keyed', 7)$$),
('predict_by_key: no row has the key', 'ok', $$SELECT healthml.predict_by_key('bi', 'public.bi_keyed', -5)$$),
('predict_by_key: NULL key', 'ok', $$SELECT healthml.predict_by_key('bi', 'public.bi_keyed', NULL)$$),
('predict_by_key: key beyond smallint', 'ok', $$SELECT healthml.predict_by_key('bi', 'public.bi_int2_key', 9223372036854775807)$$),
('predict_by_key: unknown model', '42704', $$SELECT healthml.predict_by_key('nope', 'public.bi_keyed', 7)$$),
('predict_by_key: undeployed model', '42704', $$SELECT healthml.predict_by_key('bi_undeployed', 'public.bi_keyed', 7)$$),
('predict_by_key: table without a primary key', '42P17', $$SELECT healthml.predict_by_key('bi', 'public.bi', 7)$$),
('predict_by_key: text primary key', '0A000', $$SELECT healthml.predict_by_key('bi', 'public.bi_text_key', 7)$$),
('predict_by_key: two-column primary key', '0A000', $$SELECT healthml.predict_by_key('bi', 'public.bi_two_column_key', 7)$$),
('predict_by_key: row-level security, read by a superuser (who bypasses it)', 'ok', $$SELECT healthml.predict_by_key('bi', 'public.bi_secured', 7)$$),
('predict_by_key: a view', '42809', $$SELECT healthml.predict_by_key('bi', 'public.bi_view', 7)$$),
('predict_by_key: a sequence', '42809', $$SELECT healthml.predict_by_key('bi', 'public.bi_sequence', 7)$$),
('predict_by_key: a table without an input column', '42703', $$SELECT healthml.predict_by_key('bi', 'public.bi_keyed_without_severity', 7)$$),
('predict_by_key: a dropped table', '42P01', $$SELECT healthml.predict_by_key('bi', (SELECT oid FROM dropped)::regclass, 7)$$),
('predict_by_key: injection as a relation', '42P01', $$SELECT healthml.predict_by_key('bi', 'public."bi_keyed; DROP TABLE public.bi"', 7)$$),
('predict_by_id: NULL id', 'ok', $$SELECT healthml.predict_by_id(NULL, '{}')$$),
-- typed rows
('predict_row: a row without the target (not an input)', 'ok', $$SELECT healthml.predict_row('bi', x) FROM public.bi_no_target x LIMIT 1$$),
('predict_row: text where a number is read', '42804', $$SELECT healthml.predict_row('bi', x) FROM public.bi_text_severity x LIMIT 1$$),
('predict_row: NaN and Infinity values', 'ok', $$SELECT healthml.predict_row('bi', x) FROM public.bi_nonfinite x$$),
('predict_row: a scalar, not a row', '42804', $$SELECT healthml.predict_row('bi', 42)$$),
('predict_row: NULL row', 'ok', $$SELECT healthml.predict_row('bi', NULL::public.bi)$$),
('predict_row_by_id: unknown id', '42704', $$SELECT healthml.predict_row_by_id(-1, x) FROM public.bi x LIMIT 1$$),
-- explanations
('explain: top_k 0', '22023', $$SELECT * FROM healthml.explain('bi', '{}', 0)$$),
('explain: top_k negative', '22023', $$SELECT * FROM healthml.explain('bi', '{}', -3)$$),
('explain: top_k huge', 'ok', $$SELECT * FROM healthml.explain('bi', '{}', 2147483647)$$),
('explain: NULL top_k', 'ok', $$SELECT * FROM healthml.explain('bi', '{}', NULL)$$),
('explain: unknown feature', '42703', $$SELECT * FROM healthml.explain('bi', '{"x": 1}')$$),
('explain_row: top_k 0', '22023', $$SELECT * FROM public.bi x, healthml.explain_row('bi', x, 0) LIMIT 1$$),
('explain_row_by_id: unknown id', '42704', $$SELECT * FROM public.bi x, healthml.explain_row_by_id(-5, x) LIMIT 1$$),
('explain_jsonb: array', '22023', $$SELECT healthml.explain_jsonb('bi', '[]')$$),
('explain_by_id: unknown id', '42704', $$SELECT * FROM healthml.explain_by_id(-1, '{}')$$),
('explain_by_id: top_k 0', '22023', $$SELECT * FROM healthml.explain_by_id(healthml.model_version_id('bi'), '{}', 0)$$),
('features_row: NULL row', 'ok', $$SELECT healthml.features_row('bi', NULL::public.bi)$$),
('features_row: not a row', '42804', $$SELECT healthml.features_row('bi', 42)$$),
('features_row: a row without the target (not an input)', 'ok', $$SELECT healthml.features_row('bi', x) FROM public.bi_no_target x LIMIT 1$$),
('features_row: text where a number is read', '42804', $$SELECT healthml.features_row('bi', x) FROM public.bi_text_severity x LIMIT 1$$),
('features_row: NaN and Infinity values', 'ok', $$SELECT healthml.features_row('bi', x) FROM public.bi_nonfinite x$$),
('features_row: undeployed model', '42704', $$SELECT healthml.features_row('bi_undeployed', x) FROM public.bi x LIMIT 1$$),
('features_row_by_id: unknown id', '42704', $$SELECT healthml.features_row_by_id(-1, x) FROM public.bi x LIMIT 1$$),
('export_model: NULL model', 'ok', $$SELECT healthml.export_model(NULL)$$),
('export_model: NULL format', 'ok', $$SELECT healthml.export_model('bi', NULL, NULL)$$),
('export_model: unknown model', '42704', $$SELECT healthml.export_model('no such model')$$),
('export_model: unknown version', '42704', $$SELECT healthml.export_model('bi', 99)$$),
('export_model: unknown format', '22023', $$SELECT healthml.export_model('bi', NULL, 'onnx')$$),
('export_model: a logistic model', '22023', $$SELECT healthml.export_model('bi_undeployed', 1)$$),
('export_model: injection in the name', '42704', $$SELECT healthml.export_model('bi''; DROP TABLE public.bi; --')$$),
('import_model: NULL model text', 'ok', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', NULL)$$),
('import_model: empty name', '22023', $$SELECT * FROM healthml.import_model(' ', 'lightgbm', healthml.export_model('bi'))$$),
('import_model: unknown format', '22023', $$SELECT * FROM healthml.import_model('bi_in', 'onnx', healthml.export_model('bi'))$$),
('import_model: not a model', '22P04', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', 'hello')$$),
('import_model: truncated', '22P04', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', left(healthml.export_model('bi'), 400))$$),
('import_model: empty text', '22P04', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', '')$$),
('import_model: options not an object', '22023', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '[1]')$$),
('import_model: unknown option', '22023', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '{"colums": {}}')$$),
('import_model: columns not an object', '22023', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '{"columns": [1]}')$$),
('import_model: levels not distinct', '22023', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '{"levels": {"severity": ["a", "a"]}}')$$),
('import_model: evaluate_on without target', '22023', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '{"evaluate_on": "public.bi"}')$$),
('import_model: evaluate_on a missing relation', '42P01', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '{"evaluate_on": "public.no_such", "target": "readmitted"}')$$),
('import_model: injection in evaluate_on', '42602', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '{"evaluate_on": "public.bi; DROP TABLE public.bi; --", "target": "readmitted"}')$$),
('import_model: a text column for a number', '42804', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '{"evaluate_on": "public.bi", "target": "readmitted"}')$$),
('import_model: relation without its columns', '42703', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '{"evaluate_on": "public.bi", "target": "readmitted", "columns": {"severity": "sev"}, "levels": {"destination": ["home", "rehab"]}}')$$),
('import_model: relation without the target', '42703', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '{"evaluate_on": "public.bi_no_target", "target": "readmitted"}')$$),
('import_model: unknown feature', '42703', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'), '{"columns": {"nope": "severity"}}')$$),
('import_model: NaN threshold', '22P04', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', regexp_replace(healthml.export_model('bi'), E'\nthreshold=[^ \n]+', E'\nthreshold=nan'))$$),
('import_model: XGBoost, not JSON', '22P04', $$SELECT * FROM healthml.import_model('bi_in', 'xgboost', 'hello')$$),
('import_model: XGBoost, JSON without a learner', '22P04', $$SELECT * FROM healthml.import_model('bi_in', 'xgboost', '{"version": [3, 2, 0]}')$$),
('import_model: XGBoost, a LightGBM model', '22P04', $$SELECT * FROM healthml.import_model('bi_in', 'xgboost', healthml.export_model('bi'))$$),
('import_model: XGBoost, regression', '0A000', $$SELECT * FROM healthml.import_model('bi_in', 'xgboost', '{"learner": {"objective": {"name": "reg:squarederror"}}}')$$),
('import_model: an exported model reads back', 'ok', $$SELECT * FROM healthml.import_model('bi_in', 'lightgbm', healthml.export_model('bi'))$$),
('what_if: unknown column in changes', '42703', $$SELECT * FROM healthml.what_if('bi', '{"severity": 3}', '{"severty": 5}')$$),
('what_if: text for a number in changes', '22P02', $$SELECT * FROM healthml.what_if('bi', '{"severity": 3}', '{"severity": "high"}')$$),
('what_if: changes not an object', '22023', $$SELECT * FROM healthml.what_if('bi', '{"severity": 3}', '[1]')$$),
('what_if: empty changes', 'ok', $$SELECT * FROM healthml.what_if('bi', '{"severity": 3}', '{}')$$),
('what_if: top_k 0', '22023', $$SELECT * FROM healthml.what_if('bi', '{}', '{"severity": 5}', 0)$$),
-- thresholds and tiers
('flag: NaN score', '22023', $$SELECT healthml.flag('bi', 'NaN')$$),
('flag: score above 1', '22023', $$SELECT healthml.flag('bi', 7)$$),
('risk_tier: negative score', '22023', $$SELECT healthml.risk_tier('bi', -1)$$),
('risk_tier: unknown model', '42704', $$SELECT healthml.risk_tier('nope', 0.5)$$),
('decision_threshold_by_id: unknown id', 'ok', $$SELECT healthml.decision_threshold_by_id(-1)$$),
('decision_threshold: unknown model', '42704', $$SELECT healthml.decision_threshold('no_such_model')$$),
('decision_threshold: unknown version', '42704', $$SELECT healthml.decision_threshold('bi', 999)$$),
('set_decision_threshold: unknown policy', '22023', $$SELECT * FROM healthml.set_decision_threshold('bi', 'public.bi', 'accuracy>=0.9')$$),
('set_decision_threshold: recall above 1', '22023', $$SELECT * FROM healthml.set_decision_threshold('bi', 'public.bi', 'recall>=1.5')$$),
('set_decision_threshold: injection as policy', '22023', $$SELECT * FROM healthml.set_decision_threshold('bi', 'public.bi', 'f1''; DROP TABLE public.bi; --')$$),
('set_decision_threshold: empty relation', '22000', $$SELECT * FROM healthml.set_decision_threshold('bi', 'public.bi_empty', 'f1')$$),
('set_decision_threshold: relation without the target', '42703', $$SELECT * FROM healthml.set_decision_threshold('bi', 'public.bi_no_target', 'f1')$$),
-- registry
('model_version_id: unknown version', '42704', $$SELECT healthml.model_version_id('bi', 99)$$),
('coefficients: of a gbdt model', '42809', $$SELECT * FROM healthml.coefficients('bi')$$),
('feature_importance: unknown model', '42704', $$SELECT * FROM healthml.feature_importance('nope')$$),
('model_card: unknown model', '42704', $$SELECT healthml.model_card('nope')$$),
('model_card: unknown version', '42704', $$SELECT healthml.model_card('bi', 99)$$),
('model_card: NULL model', '42704', $$SELECT healthml.model_card(NULL)$$),
('model_card: unknown format', '22023', $$SELECT healthml.model_card('bi', 1, 'pdf')$$),
('model_card: NULL format', '22023', $$SELECT healthml.model_card('bi', 1, NULL)$$),
('model_card: html', 'ok', $$SELECT healthml.model_card('bi', 1, 'html')$$),
('_model_card_html: figures that do not read', '22023', $$SELECT healthml._model_card_html('{"name": 1}')$$),
('_model_card_html: NULL', 'ok', $$SELECT healthml._model_card_html(NULL)$$),
-- the lake (files on the server; successful writes are covered by tests/sql/97_lake.sql)
('export_parquet: NULL query', 'ok', $$SELECT healthml.export_parquet(NULL, '/tmp/x.parquet')$$),
('export_parquet: empty query', '22023', $$SELECT healthml.export_parquet('', '/tmp/x.parquet')$$),
('export_parquet: two statements', '42P11', $$SELECT healthml.export_parquet('SELECT 1; DROP TABLE public.bi', '/tmp/x.parquet')$$),
('export_parquet: DELETE without RETURNING', '42P11', $$SELECT healthml.export_parquet('DELETE FROM public.bi', '/tmp/x.parquet')$$),
('export_parquet: syntax error', '42601', $$SELECT healthml.export_parquet('SELEC 1', '/tmp/x.parquet')$$),
('export_parquet: no columns', '22023', $$SELECT healthml.export_parquet('SELECT FROM public.bi', '/tmp/x.parquet')$$),
('export_parquet: relative path', '22023', $$SELECT healthml.export_parquet('SELECT 1', 'x.parquet')$$),
('export_parquet: empty path', '22023', $$SELECT healthml.export_parquet('SELECT 1', '')$$),
('export_parquet: missing directory', '58P01', $$SELECT healthml.export_parquet('SELECT 1', '/no/such/dir/x.parquet')$$),
('export_parquet: path is a directory', '22023', $$SELECT healthml.export_parquet('SELECT 1', '/tmp')$$),
('export_parquet: unwritable directory', '58030', $$SELECT healthml.export_parquet('SELECT 1', '/x.parquet')$$),
('export_parquet: interval column', '0A000', $$SELECT healthml.export_parquet('SELECT interval ''1 day''', '/tmp/x.parquet')$$),
('export_parquet: numeric without scale', '0A000', $$SELECT healthml.export_parquet('SELECT avg(severity) FROM public.bi', '/tmp/x.parquet')$$),
('export_parquet: NaN numeric', '0A000', $$SELECT healthml.export_parquet('SELECT ''NaN''::numeric(5,2)', '/tmp/x.parquet')$$),
('export_parquet: infinite timestamp', '0A000', $$SELECT healthml.export_parquet('SELECT ''infinity''::timestamp', '/tmp/x.parquet')$$),
('export_parquet: unknown option', '22023', $$SELECT healthml.export_parquet('SELECT 1', '/tmp/x.parquet', '{"codec": "zstd"}')$$),
('export_parquet: unknown codec', '22023', $$SELECT healthml.export_parquet('SELECT 1', '/tmp/x.parquet', '{"compression": "brotli"}')$$),
('_forget_scoring_stats: NULL model', 'ok', $$SELECT healthml._forget_scoring_stats(NULL)$$),
('_forget_scoring_stats: unknown model', 'ok', $$SELECT healthml._forget_scoring_stats(-5)$$),
('import_parquet: NULL path', 'ok', $$SELECT healthml.import_parquet(NULL, 'public.t')$$),
('import_parquet: missing file', '58P01', $$SELECT healthml.import_parquet('/no/such/file.parquet', 'public.t')$$),
('import_parquet: not a Parquet file', '22P04', $$SELECT healthml.import_parquet('/etc/passwd', 'public.t')$$),
('import_parquet: relative path', '22023', $$SELECT healthml.import_parquet('x.parquet', 'public.t')$$),
('import_parquet: existing table', '42P07', $$SELECT healthml.import_parquet('/no/such/file.parquet', 'public.bi')$$),
('import_parquet: injection in table name', '22023', $$SELECT healthml.import_parquet('/no/such/file.parquet', 'x; DROP TABLE public.bi; --')$$),
('import_parquet: empty table name', '22023', $$SELECT healthml.import_parquet('/no/such/file.parquet', '')$$),
('leaderboard: model without AutoML', '42704', $$SELECT * FROM healthml.leaderboard('bi')$$),
('deploy: unknown version', '42704', $$SELECT * FROM healthml.deploy('bi', 42)$$),
('deploy: unknown model', '42704', $$SELECT * FROM healthml.deploy('nope')$$),
('deploy: a version with leakage findings', '55000', $$SELECT * FROM healthml.deploy('bi_leaky', 1)$$),
('rollback: nothing to roll back to', '55000', $$SELECT * FROM healthml.rollback('bi')$$),
('rollback: unknown model', '42704', $$SELECT * FROM healthml.rollback('nope')$$),
('drop_model: the deployed version', '55006', $$SELECT healthml.drop_model('bi', 1)$$),
('drop_model: unknown version', '42704', $$SELECT healthml.drop_model('bi', 77)$$),
('deployments: update the history', '55000', $$UPDATE healthml.deployments SET reason = 'x'$$),
-- evaluation on relations
('evaluate: unknown relation', '42P01', $$SELECT healthml.evaluate('bi', 'public.nope')$$),
('evaluate: empty relation', '22000', $$SELECT healthml.evaluate('bi', 'public.bi_empty')$$),
('evaluate: one-class relation', 'ok', $$SELECT healthml.evaluate('bi', 'public.bi_one_class')$$),
('evaluate: relation without the target', '42703', $$SELECT healthml.evaluate('bi', 'public.bi_no_target')$$),
('evaluate: NaN and Infinity in a feature', 'ok', $$SELECT healthml.evaluate('bi', 'public.bi_nonfinite')$$),
('evaluate: options not an object', '22023', $$SELECT healthml.evaluate('bi', 'public.bi', '[1]')$$),
('evaluate: unknown option', '22023', $$SELECT healthml.evaluate('bi', 'public.bi', '{"resample": 10}')$$),
('evaluate: resamples too many', '22023', $$SELECT healthml.evaluate('bi', 'public.bi', '{"resamples": 1e9}')$$),
('evaluate: seed not a number', '22023', $$SELECT healthml.evaluate('bi', 'public.bi', '{"seed": "x"}')$$),
('evaluate: group_by not a name', '22023', $$SELECT healthml.evaluate('bi', 'public.bi', '{"group_by": 3}')$$),
('evaluate: group_by unknown column', '42703', $$SELECT healthml.evaluate('bi', 'public.bi', '{"group_by": "nope; DROP TABLE public.bi"}')$$),
('evaluate: NULL options', 'ok', $$SELECT healthml.evaluate('bi', 'public.bi', NULL)$$),
('evaluate: one-class relation with intervals', 'ok', $$SELECT healthml.evaluate('bi', 'public.bi_one_class', '{"resamples": 20}')$$),
('roc_curve: empty relation', '22000', $$SELECT * FROM healthml.roc_curve('bi', 'public.bi_empty')$$),
('calibration_curve: 0 bins', '22023', $$SELECT * FROM healthml.calibration_curve('bi', 'public.bi', 0)$$),
('calibration_curve: negative bins', '22023', $$SELECT * FROM healthml.calibration_curve('bi', 'public.bi', -2)$$),
-- training
('train: NULL target', 'ok', $$SELECT * FROM healthml.train('t1', 'public.bi', NULL)$$),
('train: unknown target', '42703', $$SELECT * FROM healthml.train('t1', 'public.bi', 'nope')$$),
('train: empty model name', '22023', $$SELECT * FROM healthml.train('  ', 'public.bi', 'readmitted')$$),
('train: unknown algorithm', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'forest')$$),
('train: empty relation', '22000', $$SELECT * FROM healthml.train('t1', 'public.bi_empty', 'readmitted')$$),
('train: sample 0', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'logistic', '{"group_by": "patient", "sample": 0}')$$),
('train: sample as text', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'logistic', '{"group_by": "patient", "sample": "half"}')$$),
('train: sample without group_by', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'logistic', '{"sample": 0.5}')$$),
('train: sample of an unknown group column', '42703', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'logistic', '{"group_by": "nope", "sample": 0.5}')$$),
('train: sample too small to hold both classes', '22000', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'logistic', '{"group_by": "patient", "sample": 0.0001}')$$),
('_in_sample: NULL key', 'ok', $$SELECT healthml._in_sample(NULL::text, 42, 0.5)$$),
('_in_sample: NULL integer key', 'ok', $$SELECT healthml._in_sample(NULL::bigint, 42, 0.5)$$),
('_in_sample: share out of range', 'ok', $$SELECT healthml._in_sample(7, 42, 5)$$),
('train: one-class target', '22000', $$SELECT * FROM healthml.train('t1', 'public.bi_one_class', 'readmitted')$$),
('train: NaN and Infinity values', 'ok', $$SELECT * FROM healthml.train('t1', 'public.bi_nonfinite', 'readmitted', 'gbdt', '{"group_by": "patient"}')$$),
('train: unicode and quoted column names', 'ok', $$SELECT * FROM healthml.train('t1', 'public."bi spaced ""quoted"""', 'readmitted', 'logistic', '{"group_by": "patient"}')$$),
('train: options not an object', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '[]')$$),
('train: unknown option', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"tests_fraction": 0.3}')$$),
('train: test_fraction 2', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"test_fraction": 2}')$$),
('train: exclude not names', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"exclude": [1, 2]}')$$),
('train: exclude unknown column', '42703', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"exclude": ["nope"]}')$$),
('train: test_where with a ;', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"test_where": "true; DROP TABLE public.bi"}')$$),
('train: test_where injection with a )', '42601', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"test_where": "true)) FROM public.bi --"}')$$),
('train: test_where matching nothing', '22000', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"test_where": "false"}')$$),
('train: test_where not boolean', '42846', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"test_where": "severity"}')$$),
('train: hyperparams out of range', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"hyperparams": {"max_depth": 0}}')$$),
('train: hyperparams unknown', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'logistic', '{"hyperparams": {"depth": 3}}')$$),
('train: budget 0', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'auto', '{"budget_seconds": 0}')$$),
('train: exclude_flagged not a boolean', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'auto', '{"exclude_flagged": "yes"}')$$),
('train: budget Infinity', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'auto', '{"budget_seconds": 1e400}')$$),
('train: positive not a value', '22000', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"positive": "maybe"}')$$),
('train: unknown stored recipe', '42704', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"recipe": "nope"}')$$),
('train: accept_leakage unknown column', '42703', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"accept_leakage": ["nope"]}')$$),
('train: accept_leakage not names', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"accept_leakage": true}')$$),
('train: leakage_model_auc 1.5', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'gbdt', '{"leakage_model_auc": 1.5}')$$),
('train: leakage_feature_auc not a number', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'logistic', '{"leakage_feature_auc": "high"}')$$),
('train: a leaking column (warns)', 'ok', $$SELECT * FROM healthml.train('t1', 'public.bi_leaky', 'readmitted', 'logistic', '{"group_by": "patient", "exclude": ["id"]}')$$),
('train: 64-character model name', 'ok', $$SELECT * FROM healthml.train(repeat('n', 64), 'public.bi', 'readmitted', 'logistic', '{"group_by": "patient"}')$$),
-- recipes and profiles
('profile: empty relation', '22000', $$SELECT * FROM healthml.profile('public.bi_empty')$$),
('profile: NaN and Infinity', 'ok', $$SELECT * FROM healthml.profile('public.bi_nonfinite')$$),
('profile: unknown option', '22023', $$SELECT * FROM healthml.profile('public.bi', '{"bins": 3}')$$),
('standardize: empty relation', '22000', $$SELECT * FROM healthml.standardize('public.bi_empty')$$),
('standardize: drop_threshold 2', '22023', $$SELECT * FROM healthml.standardize('public.bi', '{"drop_threshold": 2}')$$),
('apply_recipe: unknown recipe', '42704', $$SELECT healthml.apply_recipe('nope', '{}'::jsonb)$$),
('apply_recipe: injection as target table', '42704', $$SELECT healthml.apply_recipe('nope', 'public.bi', 'x; DROP TABLE public.bi')$$),
-- monitoring
('drift: empty relation', '22000', $$SELECT * FROM healthml.drift('bi', 'public.bi_empty')$$),
('drift: text where a number is read (unparseable values count as missing)', 'ok', $$SELECT * FROM healthml.drift('bi', 'public.bi_text_severity')$$),
('drift: NaN and Infinity', 'ok', $$SELECT * FROM healthml.drift('bi', 'public.bi_nonfinite')$$),
('drift: limits reversed', '22023', $$SELECT * FROM healthml.drift('bi', 'public.bi', '{"psi_warn": 0.5, "psi_alert": 0.1}')$$),
('drift: NULL relation', '22004', $$SELECT * FROM healthml.drift('bi', NULL)$$),
('drift: NULL model', '22004', $$SELECT * FROM healthml.drift(NULL, 'public.bi')$$),
('drift: NULL options', 'ok', $$SELECT * FROM healthml.drift('bi', 'public.bi', NULL)$$),
('drift: a relation and the inference log', '22023', $$SELECT * FROM healthml.drift('bi', 'public.bi', '{"source": "inference_log"}')$$),
('drift: unknown source', '22023', $$SELECT * FROM healthml.drift('bi', NULL, '{"source": "kafka"}')$$),
('drift: inference log with nothing logged', '22000', $$SELECT * FROM healthml.drift('bi', NULL, '{"source": "inference_log"}')$$),
('drift: inference log since no timestamp', '22007', $$SELECT * FROM healthml.drift('bi', NULL, '{"source": "inference_log", "since": "soon"}')$$),
('drift: inference log since a number', '22023', $$SELECT * FROM healthml.drift('bi', NULL, '{"source": "inference_log", "since": 3}')$$),
('inference_drift: unknown model', '42704', $$SELECT * FROM healthml.inference_drift('nope')$$),
('inference_drift: NULL model', 'ok', $$SELECT * FROM healthml.inference_drift(NULL)$$),
('inference_drift: undeployed model', '42704', $$SELECT * FROM healthml.inference_drift('bi_undeployed')$$),
('inference_drift: version 0', '22023', $$SELECT * FROM healthml.inference_drift('bi', '{"version": 0}')$$),
('inference_drift: version 1.5', '22023', $$SELECT * FROM healthml.inference_drift('bi', '{"version": 1.5}')$$),
('inference_drift: version that does not exist', '42704', $$SELECT * FROM healthml.inference_drift('bi', '{"version": 99}')$$),
('inference_drift: source is no option of it', '22023', $$SELECT * FROM healthml.inference_drift('bi', '{"source": "inference_log"}')$$),
('inference_drift: nothing logged', 'ok', $$SELECT * FROM healthml.inference_drift('bi', '{"since": "2000-01-01", "until": "infinity"}')$$),
('inference_drift: until not a timestamp', '22007', $$SELECT * FROM healthml.inference_drift('bi', '{"until": "later"}')$$),
('set_inference_logging: rate 2', '22023', $$SELECT * FROM healthml.set_inference_logging('bi', 2)$$),
('set_inference_logging: negative rate', '22023', $$SELECT * FROM healthml.set_inference_logging('bi', -0.1)$$),
('set_inference_logging: NULL rate', '22023', $$SELECT * FROM healthml.set_inference_logging('bi', NULL)$$),
('set_inference_logging: Infinity', '22023', $$SELECT * FROM healthml.set_inference_logging('bi', 'Infinity')$$),
('set_inference_logging: NULL model', '22004', $$SELECT * FROM healthml.set_inference_logging(NULL, 0.5)$$),
('set_inference_logging: unknown model', '42704', $$SELECT * FROM healthml.set_inference_logging('nope', 0.5)$$),
('set_inference_logging: injection as model', '42704', $$SELECT * FROM healthml.set_inference_logging('bi''; DROP TABLE public.bi; --', 0.5)$$),
('set_inference_logging: off for a model never logged', 'ok', $$SELECT * FROM healthml.set_inference_logging('bi', 0)$$),
('flush_inference_log: nothing waiting', 'ok', $$SELECT healthml.flush_inference_log()$$),
('subgroup_report: unknown column', '42703', $$SELECT * FROM healthml.subgroup_report('bi', 'public.bi', 'nope')$$),
('subgroup_report: NULL column', 'ok', $$SELECT * FROM healthml.subgroup_report('bi', 'public.bi', NULL)$$),
('subgroup_report: injection as column', '42703', $$SELECT * FROM healthml.subgroup_report('bi', 'public.bi', 'id; DROP TABLE public.bi')$$),
('subgroup_report: empty relation', '22000', $$SELECT * FROM healthml.subgroup_report('bi', 'public.bi_empty', 'destination')$$),
('subgroup_report: unknown option', '22023', $$SELECT * FROM healthml.subgroup_report('bi', 'public.bi', 'destination', '{"resample": 5}')$$),
('subgroup_report: group_by unknown column', '42703', $$SELECT * FROM healthml.subgroup_report('bi', 'public.bi', 'destination', '{"group_by": "nope"}')$$),
('compare_models_by_id: unknown ids', '42704', $$SELECT healthml.compare_models_by_id(-1, -2)$$),
('compare_models: unknown version', '42704', $$SELECT healthml.compare_models('bi', 1, 999)$$),
('retrain: unknown model', '42704', $$CALL healthml.retrain('nope')$$),
('retrain: require_confidence NULL', '22004', $$CALL healthml.retrain('bi', require_confidence => NULL)$$),
('train: resamples negative', '22023', $$SELECT * FROM healthml.train('t1', 'public.bi', 'readmitted', 'logistic', '{"resamples": -3}')$$),
('retrain: negative tolerance', '22023', $$CALL healthml.retrain('bi', -1)$$),
-- batch scoring
('score_batch: unknown mode', '22023', $$CALL healthml.score_batch('bi', 'public.bi', 'id', 'public.bi_out', 'upsert')$$),
('score_batch: unknown key column', '42703', $$CALL healthml.score_batch('bi', 'public.bi', 'nope', 'public.bi_out')$$),
('score_batch: injection as target table', '22023', $$CALL healthml.score_batch('bi', 'public.bi', 'id', 'public.bi_out; DROP TABLE public.bi')$$),
('score_batch: top_k 0', '22023', $$CALL healthml.score_batch('bi', 'public.bi', 'id', 'public.bi_out', 'replace', 0)$$),
('score_batch: unknown model', '42704', $$CALL healthml.score_batch('nope', 'public.bi', 'id', 'public.bi_out')$$),
('score_batch: empty source', 'ok', $$CALL healthml.score_batch('bi', 'public.bi_empty', 'id', 'public.bi_empty_out')$$),
-- statistics and helpers
('skewness: NaN and Infinity', 'ok', $$SELECT healthml.skewness(severity) FROM public.bi_nonfinite$$),
('moments: no rows', 'ok', $$SELECT healthml.moments(severity::float8) FROM public.bi_empty$$),
('moments_partial: no rows', 'ok', $$SELECT healthml.moments_partial(severity::float8) FROM public.bi_empty$$),
('moments_merge: a state of the wrong length', '22023', $$SELECT healthml.moments_merge('{1,2,3}'::float8[])$$),
('moments_merge: a state with NaN', '22023', $$SELECT healthml.moments_merge('{3,0,0,NaN,1,1,1,0,1}'::float8[])$$),
('moments_merge: a state with an absurd count', '22023', $$SELECT healthml.moments_merge('{1e300,0,0,0,0,0,0,0,0}'::float8[])$$),
('moments_merge: an empty array', '22023', $$SELECT healthml.moments_merge('{}'::float8[])$$),
('icd9_group: garbage code', 'ok', $$SELECT healthml.icd9_group('💥; DROP TABLE x')$$),
('icd9_group: NULL', 'ok', $$SELECT healthml.icd9_group(NULL)$$),
-- internal helpers an admin can call by hand
('_retrain_begin: unknown model', '42704', $$SELECT healthml._retrain_begin('nope', 0.005, 0.25, false)$$),
('_retrain_judge: unknown run', '42704', $$SELECT healthml._retrain_judge(-1, 0.25)$$),
('_retrain_failed: unknown run', 'ok', $$SELECT healthml._retrain_failed(-1, 'why', NULL)$$),
('_retrain_challenger: unknown model', '42704', $$SELECT * FROM healthml._retrain_challenger(-1)$$),
('_checked_relation: OID 0', '42P01', $$SELECT healthml._checked_relation(0::oid::regclass)$$),
('_creation_name: not a name', '22023', $$SELECT healthml._creation_name('a.b; DROP TABLE public.bi')$$),
('_creation_name: empty', '22023', $$SELECT healthml._creation_name('')$$),
('_require_primary: on the primary', 'ok', $$SELECT healthml._require_primary('a test')$$);

-- every function that takes a regclass, with OID 0 and with one other relation that has no rows to
-- read (or is gone): 42P01 or 42809, never PostgreSQL's internal "could not open relation"
INSERT INTO cases (name, expected, sql)
SELECT format('%s: %s', f.name, k.what), k.expected, format(f.call, k.relation)
FROM (VALUES (1, 'profile', 'SELECT * FROM healthml.profile(%s)'),
             (2, 'train', 'SELECT * FROM healthml.train(''t1'', %s, ''readmitted'')'),
             (3, 'evaluate', 'SELECT healthml.evaluate(''bi'', %s)'),
             (4, 'roc_curve', 'SELECT * FROM healthml.roc_curve(''bi'', %s)'),
             (5, 'pr_curve', 'SELECT * FROM healthml.pr_curve(''bi'', %s)'),
             (6, 'calibration_curve', 'SELECT * FROM healthml.calibration_curve(''bi'', %s)'),
             (7, 'standardize', 'SELECT * FROM healthml.standardize(%s)'),
             (8, 'apply_recipe', 'SELECT healthml.apply_recipe(''nope'', %s, ''public.bi_out'')'),
             (9, 'set_decision_threshold', 'SELECT * FROM healthml.set_decision_threshold(''bi'', %s, ''f1'')'),
             (10, 'drift', 'SELECT * FROM healthml.drift(''bi'', %s)'),
             (11, 'subgroup_report', 'SELECT * FROM healthml.subgroup_report(''bi'', %s, ''destination'')'),
             (12, 'score_batch', 'CALL healthml.score_batch(''bi'', %s, ''id'', ''public.bi_out'')')) AS f(n, name, call),
     (VALUES (0, 'relation OID 0', '0::oid::regclass', '42P01'),
             (1, 'dropped relation''s OID', (SELECT oid FROM dropped) || '::oid::regclass', '42P01'),
             (2, 'a sequence', '''public.bi_sequence''', '42809'),
             (3, 'an index', '''public.bi_index''', '42809'),
             (4, 'a composite type', '''public.bi_type''', '42809')) AS k(n, what, relation, expected)
WHERE k.n = 0 OR k.n = 1 + f.n % 4;

CREATE TEMP TABLE results AS
SELECT c.name, c.expected, r.state, r.message, r.hint FROM cases c, pg_temp.run_case(c.sql) r;

SELECT is((SELECT count(*) FROM results WHERE state IS DISTINCT FROM expected), 0::bigint,
          format('every one of the %s cases gives its documented result', (SELECT count(*) FROM cases)));
SELECT diag(format('mismatch: %s: expected %s, got %s (%s)', name, expected, state, message))
FROM results WHERE state IS DISTINCT FROM expected ORDER BY name;
SELECT is((SELECT count(*) FROM results WHERE state LIKE 'XX%' AND state <> 'XX001' OR message ILIKE '%panic%'), 0::bigint,
          'no internal error, no panic');
-- errors PostgreSQL itself raises on the caller's own SQL (a relation name, a test_where condition)
SELECT is((SELECT count(*) FROM results WHERE state NOT IN ('ok', '42P01', '42601', '42846') AND coalesce(hint, '') = ''), 0::bigint,
          'every error healthml raises has a hint');
SELECT diag(format('no hint: %s (%s)', name, message)) FROM results
WHERE state NOT IN ('ok', '42P01', '42601', '42846') AND coalesce(hint, '') = '' ORDER BY name;
SELECT is((SELECT count(*) FROM public.bi), 1500::bigint, 'the injection strings dropped nothing');
SELECT ok((SELECT count(DISTINCT name) >= 30 FROM (SELECT split_part(name, ':', 1) AS name FROM cases) f), 'at least 30 functions and objects are covered');
SELECT ok(true, 'the server is still up');
SELECT diag(format('bad-input catalogue: %s cases over %s functions: %s raise a documented error, %s give a documented result',
                   count(*), count(DISTINCT split_part(name, ':', 1)), count(*) FILTER (WHERE state <> 'ok'), count(*) FILTER (WHERE state = 'ok')))
FROM results;

SELECT * FROM finish();
ROLLBACK;
