#!/usr/bin/env bash
# A hostile search_path against every function, procedure and view of healthml and of the readmission
# pack that an analyst or an admin may call. Two roles (an analyst, an admin) log in with a schema of
# their own, "hostile", that shadows what healthml's SQL uses: comparison and arithmetic operators on
# the types involved, ->, ->>, #>>, ?, ||, and lower, upper, format, quote_ident, count, string_agg...
# Each shadow announces itself with a WARNING naming current_user and session_user (a WARNING, not a
# row: it must also report from read-only statements and parallel workers, where nothing can be
# written), then returns what pg_catalog's would. Each call runs twice as the same role: with
# search_path = work, pg_catalog (clean) and with hostile, work, pg_catalog first; the test asserts
# that no shadow ran at all (and so none under another identity) and that both sessions print the
# same rows or the same error (SQLSTATE and message). A last check proves the shadows are live, and
# one replays the escalation of issue 14: an analyst's = (bigint, bigint) that tries ALTER ROLE ...
# SUPERUSER when readmit_score loads a model. Runs on the e2e database (the real data, model
# "readmission" deployed). TAP output; run by prove (tests/bin/tap-exec).
set -u
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=${PGDATABASE:?}
psql_as() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"; }
tmp=$(mktemp -d)
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT; echo "# outputs in $tmp" >&2

# --- setup, as the superuser -------------------------------------------------------------------
setup_ok=true
psql_as -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || setup_ok=false
SET client_min_messages = warning;
-- the pack's functions score with the deployed model "readmission" (the e2e tier deploys it)
SELECT healthml.model_version_id('readmission');
DROP SCHEMA IF EXISTS hostile CASCADE;
DROP SCHEMA IF EXISTS work CASCADE;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hostile_analyst') THEN CREATE ROLE hostile_analyst LOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hostile_admin') THEN CREATE ROLE hostile_admin LOGIN; END IF;
END $$;
ALTER ROLE hostile_analyst NOSUPERUSER;
ALTER ROLE hostile_admin NOSUPERUSER;
GRANT healthml_analyst TO hostile_analyst;
GRANT healthml_admin TO hostile_admin;
CREATE SCHEMA hostile;
CREATE SCHEMA work;
GRANT USAGE, CREATE ON SCHEMA hostile, work TO hostile_analyst, hostile_admin;
-- the API role's function (analysts score by pseudonym instead): the admin calls it here
GRANT USAGE ON SCHEMA api TO hostile_admin;
GRANT EXECUTE ON FUNCTION api.score_encounter(bigint) TO hostile_admin;
-- a small labelled sample of the cohort, readable by both
CREATE TABLE work.sample AS SELECT * FROM readmission.cohort WHERE encounter_id % 40 = 0;
ALTER TABLE work.sample ADD PRIMARY KEY (encounter_id);
ALTER TABLE work.sample OWNER TO hostile_admin;
GRANT SELECT ON work.sample TO hostile_analyst;
-- the admin keeps encounters and id mappings current (the triggers that maintain their history and
-- stored feature rows run then)
GRANT UPDATE ON readmission.encounters TO hostile_admin;
GRANT UPDATE ON readmission.admission_types TO hostile_admin;

-- The shadows: one plpgsql function per operator or function, created by the analyst (what any
-- role with a schema of its own can do).
SET ROLE hostile_analyst;
CREATE FUNCTION hostile.shadow_ran(what text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    RAISE WARNING 'hostile shadow % ran as % (session %)', what, current_user, session_user;
END $f$;
DO $$
DECLARE
    op record;
    n integer := 0;
BEGIN
    FOR op IN
        SELECT o.oprname, o.oprleft::regtype AS l, o.oprright::regtype AS r, o.oprresult::regtype AS res
        FROM pg_catalog.pg_operator o
        WHERE o.oprnamespace = 'pg_catalog'::regnamespace
          AND o.oprname IN ('=', '<>', '<', '>', '<=', '>=', '+', '-', '*', '/', '%', '->', '->>', '#>>', '?', '||', '~', '@>')
          AND o.oprleft IN ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype, 'text'::regtype, 'name'::regtype,
                            'double precision'::regtype, 'numeric'::regtype, 'jsonb'::regtype, 'oid'::regtype,
                            'boolean'::regtype, 'timestamp with time zone'::regtype, 'text[]'::regtype)
          AND o.oprright <> 0 AND o.oprright = ANY (ARRAY['bigint', 'integer', 'smallint', 'text', 'name', 'double precision',
                            'numeric', 'jsonb', 'oid', 'boolean', 'timestamp with time zone', 'text[]', 'interval']::regtype[])
    LOOP
        n := n + 1;
        EXECUTE format('CREATE FUNCTION hostile.op_%s(a %s, b %s) RETURNS %s LANGUAGE plpgsql AS $b$ BEGIN '
                       'PERFORM hostile.shadow_ran(%L); RETURN a OPERATOR(pg_catalog.%s) b; END $b$',
                       n, op.l, op.r, op.res, format('%s %s %s', op.l, op.oprname, op.r), op.oprname);
        EXECUTE format('CREATE OPERATOR hostile.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = hostile.op_%s)',
                       op.oprname, op.l, op.r, n);
    END LOOP;
END $$;
CREATE FUNCTION hostile.lower(t text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('lower(text)'); RETURN pg_catalog.lower(t); END $f$;
CREATE FUNCTION hostile.upper(t text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('upper(text)'); RETURN pg_catalog.upper(t); END $f$;
CREATE FUNCTION hostile.btrim(t text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('btrim(text)'); RETURN pg_catalog.btrim(t); END $f$;
CREATE FUNCTION hostile.format(f text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('format(text)'); RETURN pg_catalog.format(f); END $f$;
CREATE FUNCTION hostile.format(f text, a text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('format(text, text)'); RETURN pg_catalog.format(f, a); END $f$;
CREATE FUNCTION hostile.quote_ident(t text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('quote_ident(text)'); RETURN pg_catalog.quote_ident(t); END $f$;
CREATE FUNCTION hostile.quote_literal(t text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('quote_literal(text)'); RETURN pg_catalog.quote_literal(t); END $f$;
CREATE FUNCTION hostile.parse_ident(t text, strict boolean DEFAULT true) RETURNS text[] LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('parse_ident(text)'); RETURN pg_catalog.parse_ident(t, strict); END $f$;
CREATE FUNCTION hostile.to_regclass(t text) RETURNS regclass LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('to_regclass(text)'); RETURN pg_catalog.to_regclass(t); END $f$;
CREATE FUNCTION hostile.current_schema() RETURNS name LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('current_schema()'); RETURN pg_catalog.current_schema(); END $f$;
CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('now()'); RETURN pg_catalog.now(); END $f$;
CREATE FUNCTION hostile.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('clock_timestamp()'); RETURN pg_catalog.clock_timestamp(); END $f$;
CREATE FUNCTION hostile.round(v numeric, d integer) RETURNS numeric LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('round(numeric, integer)'); RETURN pg_catalog.round(v, d); END $f$;
CREATE FUNCTION hostile.jsonb_build_object(k text, v text) RETURNS jsonb LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('jsonb_build_object(text, text)'); RETURN pg_catalog.jsonb_build_object(k, v); END $f$;
CREATE FUNCTION hostile.jsonb_array_elements(j jsonb) RETURNS SETOF jsonb LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('jsonb_array_elements(jsonb)'); RETURN QUERY SELECT pg_catalog.jsonb_array_elements(j); END $f$;
CREATE FUNCTION hostile.unnest(a text[]) RETURNS SETOF text LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('unnest(text[])'); RETURN QUERY SELECT pg_catalog.unnest(a); END $f$;
CREATE FUNCTION hostile.count_step(s bigint) RETURNS bigint LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('count(*)'); RETURN s OPERATOR(pg_catalog.+) 1; END $f$;
CREATE AGGREGATE hostile.count(*) (SFUNC = hostile.count_step, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION hostile.string_agg_step(s text, v text, d text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('string_agg(text, text)');
      RETURN CASE WHEN s IS NULL THEN v ELSE s OPERATOR(pg_catalog.||) d OPERATOR(pg_catalog.||) v END; END $f$;
CREATE AGGREGATE hostile.string_agg(text, text) (SFUNC = hostile.string_agg_step, STYPE = text);
CREATE FUNCTION hostile.max_step(s bigint, v bigint) RETURNS bigint LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('max(bigint)'); RETURN pg_catalog.greatest(s, v); END $f$;
CREATE AGGREGATE hostile.max(bigint) (SFUNC = hostile.max_step, STYPE = bigint);
CREATE FUNCTION hostile.max_step(s integer, v integer) RETURNS integer LANGUAGE plpgsql AS $f$
BEGIN PERFORM hostile.shadow_ran('max(integer)'); RETURN pg_catalog.greatest(s, v); END $f$;
CREATE AGGREGATE hostile.max(integer) (SFUNC = hostile.max_step, STYPE = integer);
RESET ROLE;

-- the models the calls use, trained by the admin (so that the admin may retrain them)
SET ROLE hostile_admin;
SELECT count(*) FROM healthml.train('hostile_logit', 'work.sample', 'readmitted_30d', 'logistic',
    '{"group_by": "patient_nbr", "test_where": "patient_nbr % 5 = 0", "exclude": ["encounter_id", "readmitted", "in_cohort"]}');
SELECT count(*) FROM healthml.train('hostile_gbdt', 'work.sample', 'readmitted_30d', 'gbdt',
    '{"group_by": "patient_nbr", "exclude": ["encounter_id", "readmitted", "in_cohort"]}');
SELECT count(*) FROM healthml.train('hostile_gbdt', 'work.sample', 'readmitted_30d', 'gbdt',
    '{"group_by": "patient_nbr", "exclude": ["encounter_id", "readmitted", "in_cohort"], "seed": 7}');
SELECT count(*) FROM healthml.deploy('hostile_logit', 1);
SELECT count(*) FROM healthml.deploy('hostile_gbdt', 1);
SELECT count(*) FROM healthml.standardize('work.sample', '{"name": "hostile_recipe", "exclude": ["encounter_id", "readmitted", "readmitted_30d"]}');
-- a model whose every call is logged, scored once here and never again (its log stays the same)
SELECT count(*) FROM healthml.train('hostile_logged', 'work.sample', 'readmitted_30d', 'logistic',
    '{"group_by": "patient_nbr", "exclude": ["encounter_id", "readmitted", "in_cohort"]}');
SELECT count(*) FROM healthml.deploy('hostile_logged');
SELECT count(*) FROM healthml.set_inference_logging('hostile_logged', 1);
SELECT count(healthml.predict_row('hostile_logged', s)) FROM work.sample s;
SELECT healthml.flush_inference_log();
RESET ROLE;
SQL
$setup_ok || { echo "1..1"; echo "not ok 1 - setup"; exit 1; }

# --- the calls: role | object | SQL ---------------------------------------------------------------
# The SQL of a call uses nothing the shadows replace (qualified functions, OPERATOR(pg_catalog.=)),
# so that any WARNING comes from healthml or the pack. Admins may not UPDATE the deployment history
# at all (its append-only trigger guards it from its owner): that case compares the refusal.
ids="(SELECT pg_catalog.array_agg(m.id ORDER BY m.version) FROM healthml.models m WHERE m.name OPERATOR(pg_catalog.=) 'hostile_gbdt')"
row="(SELECT s FROM work.sample s ORDER BY s.encounter_id LIMIT 1)"
jrow="(SELECT pg_catalog.to_jsonb(s) FROM work.sample s ORDER BY s.encounter_id LIMIT 1)"
enc="(SELECT e FROM readmission.encounters e ORDER BY e.encounter_id LIMIT 1)"
cases=$(cat <<CASES
analyst|healthml.version()|SELECT pg_catalog.jsonb_typeof(healthml.version())
analyst|healthml.icd9_group(text)|SELECT healthml.icd9_group('428'), healthml.icd9_group('250.01'), healthml.icd9_group('V58')
analyst|healthml.skewness(double precision)|SELECT healthml.skewness(s.num_medications) FROM work.sample s
analyst|healthml.kurtosis(double precision)|SELECT healthml.kurtosis(s.num_medications) FROM work.sample s
analyst|healthml.moments(double precision)|SELECT healthml.moments(s.num_lab_procedures) FROM work.sample s
analyst|healthml.moments_partial(double precision)|SELECT healthml.moments_partial(s.num_lab_procedures) FROM work.sample s
analyst|healthml.moments_merge(double precision[])|SELECT healthml.moments_merge(p.state) FROM (SELECT healthml.moments_partial(s.num_lab_procedures) AS state FROM work.sample s GROUP BY s.encounter_id OPERATOR(pg_catalog.%) 3) p
analyst|healthml.predict(text,jsonb)|SELECT healthml.predict('hostile_logit', $jrow)
analyst|healthml.predict_by_id(bigint,jsonb)|SELECT healthml.predict_by_id(healthml.model_version_id('hostile_logit'), $jrow)
analyst|healthml.predict_row(text,anyelement)|SELECT healthml.predict_row('hostile_gbdt', s) FROM work.sample s ORDER BY s.encounter_id LIMIT 3
analyst|healthml.predict_row_by_id(bigint,anyelement)|SELECT healthml.predict_row_by_id(($ids)[2], $row)
analyst|healthml.predict_by_key(text,regclass,bigint)|SELECT healthml.predict_by_key('hostile_gbdt', 'work.sample', s.encounter_id) FROM work.sample s ORDER BY s.encounter_id LIMIT 3
analyst|healthml.explain(text,jsonb,integer)|SELECT * FROM healthml.explain('hostile_gbdt', $jrow, 3)
analyst|healthml.explain_row(text,anyelement,integer)|SELECT * FROM healthml.explain_row('hostile_logit', $row, 3)
analyst|healthml.explain_row_by_id(bigint,anyelement,integer)|SELECT * FROM healthml.explain_row_by_id(($ids)[1], $row, 3)
analyst|healthml.explain_by_id(bigint,jsonb,integer)|SELECT * FROM healthml.explain_by_id(($ids)[2], $jrow, 3)
analyst|healthml.explain_jsonb(text,jsonb)|SELECT healthml.explain_jsonb('hostile_gbdt', $jrow)
analyst|healthml.explanation(text,jsonb)|SELECT healthml.explanation('hostile_gbdt', $jrow)
analyst|healthml.features_row(text,anyelement)|SELECT healthml.features_row('hostile_gbdt', $row)
analyst|healthml.features_row_by_id(bigint,anyelement)|SELECT healthml.features_row_by_id(($ids)[1], $row)
analyst|healthml.what_if(text,jsonb,jsonb,integer)|SELECT healthml.what_if('hostile_gbdt', $jrow, '{"number_inpatient": 3}', 3)
analyst|healthml.flag(text,double precision)|SELECT healthml.flag('hostile_logit', 0.05), healthml.flag('hostile_logit', 0.9)
analyst|healthml.risk_tier(text,double precision)|SELECT healthml.risk_tier('hostile_logit', 0.01), healthml.risk_tier('hostile_logit', 0.95)
analyst|healthml._invalid_score(double precision)|SELECT healthml.flag('hostile_logit', 'NaN')
analyst|healthml.decision_threshold(text,integer)|SELECT healthml.decision_threshold('hostile_gbdt'), healthml.decision_threshold('hostile_gbdt', 1)
analyst|healthml.decision_threshold_by_id(bigint)|SELECT healthml.decision_threshold_by_id(healthml.model_version_id('hostile_gbdt'))
analyst|healthml.decision_threshold(bigint)|SELECT healthml.decision_threshold(healthml.model_version_id('hostile_gbdt'))
analyst|healthml.model_version_id(text,integer)|SELECT healthml.model_version_id('hostile_gbdt', 2) OPERATOR(pg_catalog.=) ($ids)[2]
analyst|healthml.coefficients(text,integer)|SELECT * FROM healthml.coefficients('hostile_logit') LIMIT 5
analyst|healthml.feature_importance(text,integer)|SELECT * FROM healthml.feature_importance('hostile_gbdt') LIMIT 5
analyst|healthml.leaderboard(text,integer)|SELECT * FROM healthml.leaderboard((SELECT m.name FROM healthml.models m WHERE pg_catalog.jsonb_exists(m.metrics, 'automl') ORDER BY m.id LIMIT 1))
analyst|healthml.evaluate(text,regclass,jsonb)|SELECT healthml.evaluate('hostile_gbdt', 'work.sample', '{"resamples": 50}')
analyst|healthml.roc_curve(text,regclass)|SELECT * FROM healthml.roc_curve('hostile_logit', 'work.sample') LIMIT 5
analyst|healthml.pr_curve(text,regclass)|SELECT * FROM healthml.pr_curve('hostile_logit', 'work.sample') LIMIT 5
analyst|healthml.calibration_curve(text,regclass,integer)|SELECT * FROM healthml.calibration_curve('hostile_logit', 'work.sample', 5)
analyst|healthml.profile(regclass,jsonb)|SELECT * FROM healthml.profile('work.sample')
analyst|healthml.apply_recipe(text,jsonb)|SELECT healthml.apply_recipe('hostile_recipe', $jrow)
analyst|healthml.model_card(text,integer,text)|SELECT pg_catalog.regexp_replace(healthml.model_card('hostile_logit'), '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:.+]+', 'T', 'g'), pg_catalog.md5(healthml.model_card('hostile_gbdt', 1, 'html'))
analyst|healthml._scoring_stats_rows()|SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>=) 0 FROM healthml._scoring_stats_rows()
admin|readmission.readmit_score(readmission.encounters)|SELECT readmission.readmit_score(e) FROM readmission.encounters e ORDER BY e.encounter_id LIMIT 3
admin|readmission.readmit_explain(readmission.encounters,integer)|SELECT readmission.readmit_explain($enc, 3)
analyst|readmission.readmit_score_by_pseudonym(text)|SELECT readmission.readmit_score_by_pseudonym(c.encounter_pseudonym) FROM readmission.analyst_cohort c ORDER BY c.encounter_pseudonym LIMIT 3
admin|readmission._encounters_changed()|UPDATE readmission.encounters SET readmitted = readmitted WHERE encounter_id OPERATOR(pg_catalog.=) (SELECT pg_catalog.min(e.encounter_id) FROM readmission.encounters e); SELECT h.prior_encounters, h.prior_readmissions_30d FROM readmission.encounter_history h ORDER BY h.encounter_id LIMIT 3
admin|readmission._mappings_changed()|UPDATE readmission.admission_types SET description = description WHERE admission_type_id OPERATOR(pg_catalog.=) 7; SELECT f.encounter_id, f.admission_type FROM readmission.features f WHERE f.admission_type_id OPERATOR(pg_catalog.=) 7 ORDER BY f.encounter_id LIMIT 3
analyst|readmission.reason_in_words(text,text)|SELECT * FROM readmission.reason_in_words('discharge_disposition_id', '1')
admin|api.score_encounter(bigint)|SELECT api.score_encounter(e.encounter_id) FROM readmission.encounters e ORDER BY e.encounter_id LIMIT 1
admin|healthml.train(text,regclass,text,text,jsonb)|SELECT name, algorithm, test_auc FROM healthml.train('hostile_train', 'work.sample', 'readmitted_30d', 'logistic', '{"group_by": "patient_nbr", "test_where": "patient_nbr % 5 = 0 AND lower(gender) = ''female''", "exclude": ["encounter_id", "readmitted", "in_cohort"]}')
admin|healthml.deploy(text,integer,text)|SELECT deployed_version FROM healthml.deploy('hostile_gbdt', 2, 'hostile test')
admin|healthml.rollback(text)|SELECT deployed_version FROM healthml.deploy('hostile_gbdt', 2); SELECT deployed_version FROM healthml.rollback('hostile_gbdt')
admin|healthml.drop_model(text,integer)|SELECT healthml.drop_model('hostile_drop', (SELECT t.version FROM healthml.train('hostile_drop', 'work.sample', 'readmitted_30d', 'logistic', '{"exclude": ["encounter_id", "readmitted", "in_cohort"]}') t))
admin|healthml.standardize(regclass,jsonb)|SELECT column_name, action, detail, outputs FROM healthml.standardize('work.sample', '{"name": "hostile_std", "exclude": ["encounter_id"]}')
admin|healthml.apply_recipe(text,regclass,text)|SELECT healthml.apply_recipe('hostile_recipe', 'work.sample', 'recipe_out_' OPERATOR(pg_catalog.||) pg_catalog.txid_current()::text)
admin|healthml.set_decision_threshold(text,regclass,text)|SELECT policy, threshold, flagged_share FROM healthml.set_decision_threshold('hostile_logit', 'work.sample', 'top_percent=10')
admin|healthml.set_threshold(text,text,regclass)|SELECT policy, threshold, flagged_share FROM healthml.set_threshold('hostile_logit', 'top_percent=10', 'work.sample')
admin|healthml.drift(text,regclass,jsonb)|SELECT * FROM healthml.drift('hostile_gbdt', 'work.sample') ORDER BY 1
admin|healthml.subgroup_report(text,regclass,text,jsonb)|SELECT * FROM healthml.subgroup_report('hostile_logit', 'work.sample', 'gender', '{"resamples": 50}') ORDER BY 1, 2
admin|healthml.compare_models(text,integer,integer)|SELECT healthml.compare_models('hostile_gbdt', 1, 2)
admin|healthml.compare_models_by_id(bigint,bigint)|SELECT healthml.compare_models_by_id(($ids)[1], ($ids)[2])
admin|healthml.compare_models(bigint,bigint)|SELECT healthml.compare_models(($ids)[1], ($ids)[2])
admin|healthml.reset_scoring_stats()|SELECT healthml.reset_scoring_stats()
admin|healthml._forget_scoring_stats(bigint)|SELECT healthml._forget_scoring_stats(($ids)[1])
admin|healthml.export_model(text,integer,text)|SELECT pg_catalog.md5(healthml.export_model('hostile_gbdt', 2))
admin|healthml.import_model(text,text,text,jsonb)|SELECT name, algorithm, metrics FROM healthml.import_model('hostile_imported', 'lightgbm', healthml.export_model('hostile_gbdt', 2), '{"tags": ["hostile"]}')
admin|healthml.export_parquet(text,text,jsonb)|SELECT healthml.export_parquet('SELECT 1 AS one', '/tmp/hostile.parquet')
admin|healthml.import_parquet(text,text)|SELECT healthml.import_parquet('/tmp/hostile.parquet', 'hostile_import')
admin|healthml.retrain(text,double precision,double precision,boolean)|CALL healthml.retrain('hostile_logit', require_confidence => true); SELECT outcome, reason FROM healthml.training_runs r WHERE r.model_name OPERATOR(pg_catalog.=) 'hostile_logit' ORDER BY r.id DESC LIMIT 1
admin|healthml.score_batch(text,regclass,text,text,text,integer)|CALL healthml.score_batch('hostile_logit', 'work.sample', 'encounter_id', 'batch_scores', 'replace', 2); SELECT pg_catalog.count(*), pg_catalog.sum(b.score) FROM batch_scores b
admin|healthml._in_transaction_block()|SELECT healthml._in_transaction_block()
admin|healthml._retrain_begin(text,double precision,double precision,boolean)|SELECT healthml._retrain_begin('hostile_nothing', 0, 0, false)
admin|healthml._retrain_judge(bigint,double precision)|SELECT healthml._retrain_judge(-1, 0)
admin|healthml._retrain_failed(bigint,text,text)|SELECT healthml._retrain_failed(-1, 'nothing', 'a hint')
admin|healthml._retrain_challenger(bigint)|SELECT version OPERATOR(pg_catalog.>) 1 FROM healthml._retrain_challenger(($ids)[1])
admin|healthml._require_primary(text)|SELECT healthml._require_primary('a test')
admin|readmission_private.reidentify(text)|SELECT r.kind, r.id FROM readmission_private.reidentify((SELECT c.encounter_pseudonym FROM readmission.analyst_cohort c ORDER BY c.encounter_pseudonym LIMIT 1)) r
admin|healthml._leakage_findings(jsonb)|SELECT m.name, m.version, healthml._leakage_findings(m.metrics), healthml._leakage_findings('{"guardrails": [{"check": "leakage_model", "status": "alert", "message": "too good"}]}') FROM healthml.models m ORDER BY m.id
admin|healthml._checked_relation(regclass)|SELECT healthml._checked_relation('work.sample')::regclass
admin|healthml._in_sample(text,bigint,double precision)|SELECT pg_catalog.count(*) FROM work.sample s WHERE healthml._in_sample(s.patient_nbr::text, 42, 0.5)
admin|healthml._in_sample(bigint,bigint,double precision)|SELECT pg_catalog.count(*) FROM work.sample s WHERE healthml._in_sample(s.patient_nbr, 42, 0.5)
admin|healthml._creation_name(text)|SELECT healthml._creation_name('work.x'), healthml._creation_name('s."Odd Name"')
admin|healthml._score_batch(text,regclass,text,text,text,integer)|CALL healthml._score_batch('hostile_logit', 'work.sample', 'encounter_id', 'work.batch_direct', 'replace', NULL); SELECT pg_catalog.count(*) FROM work.batch_direct
admin|healthml._deployments_changed()|SELECT deployed_version FROM healthml.deploy('hostile_gbdt', 2, 'the trigger that invalidates every backend''s cached deployment runs')
admin|healthml._deployments_are_append_only()|UPDATE healthml.deployments SET reason = 'x' WHERE name OPERATOR(pg_catalog.=) 'hostile_gbdt'
analyst|healthml._inference_log_counters()|SELECT c.buffer_slots FROM healthml._inference_log_counters() c
analyst|readmission.dashboard_inference_drift|SELECT d.day, d.feature, d.rows, d.psi FROM readmission.dashboard_inference_drift d WHERE d.day OPERATOR(pg_catalog.<) (pg_catalog.now() AT TIME ZONE 'UTC')::date ORDER BY 1, 2
analyst|healthml.inference_log_status|SELECT s.buffer_slots, s.days_kept OPERATOR(pg_catalog.>) 0 FROM healthml.inference_log_status s
analyst|healthml.inference_drift(text,jsonb)|SELECT d.feature, d.rows, d.status FROM healthml.inference_drift('hostile_logged', '{"since": "2000-01-01"}') d ORDER BY 1
admin|healthml.set_inference_logging(text,double precision)|SELECT l.model_name, l.sample_rate FROM healthml.set_inference_logging('hostile_logged', 1) l
admin|healthml.flush_inference_log()|SELECT healthml.flush_inference_log() OPERATOR(pg_catalog.>=) 0
admin|healthml.drift(text,regclass,jsonb)|SELECT d.feature, d.rows FROM healthml.drift('hostile_logged', NULL, '{"source": "inference_log", "since": "2000-01-01"}') d ORDER BY 1
admin|healthml._models_forget_scoring_stats()|DELETE FROM healthml.models WHERE name OPERATOR(pg_catalog.=) 'hostile_train'
CASES
)

# The views and the registry tables an analyst reads, each in full, in a fixed order.
views=$(psql_as -c "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname IN ('healthml', 'readmission', 'api') AND c.relkind IN ('v', 'm')
                      AND has_table_privilege('healthml_analyst', c.oid, 'SELECT')
                      -- live counters, and the inference log's drift of today (calls are logged
                      -- while the cases run): cases of their own above
                      AND c.oid NOT IN ('healthml.inference_log_status'::regclass,
                                        'readmission.dashboard_inference_drift'::regclass) ORDER BY 1")
for v in $views; do
    # training_runs and dashboards of scores carry times: compare everything but timestamps
    cases+=$'\n'"analyst|$v|SELECT pg_catalog.md5(pg_catalog.regexp_replace(pg_catalog.string_agg(x::text, '|' ORDER BY x::text), '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.+]+', 'T', 'g')) FROM $v x"
done

# Everything an analyst or an admin may execute is covered.
callable=$(psql_as -c "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                       WHERE n.nspname IN ('healthml', 'readmission', 'api')
                         AND (has_function_privilege('healthml_analyst', p.oid, 'EXECUTE')
                              OR has_function_privilege('healthml_admin', p.oid, 'EXECUTE')
                              OR p.prorettype = 'trigger'::regtype)
                       ORDER BY 1" | sed 's/, /,/g')
covered=$(printf '%s\n' "$cases" | cut -d'|' -f2 | sort -u)
missing=$(comm -23 <(printf '%s\n' "$callable" | sort -u) <(printf '%s\n' "$covered"))

count=$(printf '%s\n' "$cases" | grep -c '|')
plan $((count * 2 + 3))
is "$missing" "" "every function and procedure an analyst or admin may call has a hostile-search_path case"

run() { # role, search_path, SQL, output file prefix
    PGOPTIONS="-c search_path=$2" psql -X -q -t -A -d "$db" -U "hostile_$1" -v VERBOSITY=verbose -c "$3" \
        >"$4.out" 2>"$4.err"
    # errors (with their SQLSTATE) are part of the result; a failed connection fails the case
    grep -E '^(ERROR|psql:.*ERROR|psql: error)' "$4.err" | sed 's/^psql:[^E]*ERROR/ERROR/' >>"$4.out"
}
i=0
while IFS='|' read -r role object sql; do
    [ -n "$role" ] || continue
    i=$((i + 1))
    run "$role" 'work,pg_catalog' "$sql" "$tmp/clean$i"
    run "$role" 'hostile,work,pg_catalog' "$sql" "$tmp/hostile$i"
    ran=$(grep -h 'hostile shadow' "$tmp/hostile$i.err" | sed 's/.*WARNING: *//' | sort | uniq -c | head -5)
    is "$ran" "" "$object ($role): nothing of the caller's hostile schema ran"
    if grep -q '^psql: error' "$tmp/clean$i.out"; then
        is "$(cat "$tmp/clean$i.out")" "" "$object ($role): the clean session connects"
    else
        is "$(cat "$tmp/hostile$i.out")" "$(cat "$tmp/clean$i.out")" "$object ($role): the same result as with a clean search_path"
    fi
done <<<"$cases"

# The shadows are live: the same roles' own SQL does reach them.
run analyst 'hostile,work,pg_catalog' "SELECT 1::bigint = 1::bigint, pg_catalog.count(*) FROM (SELECT lower('A')) x" "$tmp/live"
like "$(cat "$tmp/live.err")" 'hostile shadow bigint = bigint ran as hostile_analyst \(session hostile_analyst\)' \
     "the shadows are live: an unqualified = on bigint in the caller's own SQL runs the shadow"

# Issue 14's escalation: the analyst's = (bigint, bigint) tries to make itself superuser when
# healthml loads a model as the owner of healthml.models.
psql_as -c "GRANT CREATE ON DATABASE \"$db\" TO hostile_analyst" >/dev/null
psql_as -U hostile_analyst >/dev/null <<'SQL'
CREATE SCHEMA escalation;
CREATE FUNCTION escalation.escalate(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    BEGIN
        EXECUTE 'ALTER ROLE hostile_analyst SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN a OPERATOR(pg_catalog.=) b;
END $f$;
CREATE OPERATOR escalation.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = escalation.escalate);
SQL
for sql in "SELECT readmission.readmit_score(e) FROM readmission.encounters e LIMIT 1" \
           "SELECT healthml.predict_row('hostile_logit', s) FROM work.sample s LIMIT 1"; do
    PGOPTIONS="-c search_path=escalation,pg_catalog" psql -X -q -t -A -d "$db" -U hostile_analyst -c "$sql" >/dev/null 2>&1
done
is "$(psql_as -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'hostile_analyst'")" f \
   "an analyst's = (bigint, bigint) in their own schema does not make them superuser through readmit_score or predict_row"
psql_as >/dev/null <<SQL
SET client_min_messages = warning;
DROP SCHEMA escalation CASCADE;
REVOKE CREATE ON DATABASE "$db" FROM hostile_analyst;
SQL
