-- healthml.model_card: a model version described in markdown (or as one self-contained HTML page
-- with its figures, format 'html'), from what the registry knows: purpose, data lineage, recipe, test
-- metrics with their intervals and calibration, leakage findings, threshold policy, subgroup audit,
-- drift, top global features and version history. SECURITY DEFINER (fixed search_path) so that analysts, who
-- cannot read recipes and options, get the summary without the underlying rows.

CREATE FUNCTION healthml.model_card(model_name text, version integer DEFAULT NULL, format text DEFAULT 'markdown') RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m       healthml.models;
    card    text;
    line    record;
    section text;
    by_day  jsonb;
    fmt4    CONSTANT text := 'FM0.0000';
BEGIN
    SELECT * INTO m FROM healthml.models x
    WHERE x.name = model_name
      AND x.id = coalesce((SELECT y.id FROM healthml.models y WHERE y.name = model_name AND y.version = model_card.version),
                          CASE WHEN model_card.version IS NULL THEN
                              coalesce((SELECT d.model_id FROM healthml.deployments d WHERE d.name = model_name ORDER BY d.id DESC LIMIT 1),
                                       (SELECT max(y.id) FROM healthml.models y WHERE y.name = model_name)) END);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%"% does not exist', model_name, coalesce(' version ' || model_card.version, '')
            USING ERRCODE = 'undefined_object', HINT = 'list models with SELECT name, version FROM healthml.model_registry';
    END IF;

    IF model_card.format IS NULL OR model_card.format NOT IN ('markdown', 'html') THEN
        RAISE EXCEPTION 'format must be ''markdown'' or ''html'', got %', coalesce(quote_literal(model_card.format), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'for example SELECT healthml.model_card(''readmission'', NULL, ''html'')';
    END IF;
    IF model_card.format = 'html' THEN
        -- drift by day of the version's logged scoring calls in the last 30 days (none for a version
        -- without training distributions, or a database still without the inference log)
        BEGIN
            SELECT coalesce(jsonb_agg(jsonb_build_object('day', d.day::text, 'feature', d.feature, 'psi', d.psi) ORDER BY d.day, d.feature), '[]')
            INTO by_day
            FROM healthml.inference_drift(m.name, jsonb_build_object('version', m.version,
                                                                     'since', (now() - interval '30 days')::text)) d;
        EXCEPTION WHEN undefined_object OR undefined_function THEN
            by_day := '[]';
        END;
        -- the figures the page draws: the metrics (intervals, curves, guardrails, importance), the
        -- latest subgroup audit of each column (groups of 100 or more), the latest drift report and
        -- drift by day
        RETURN healthml._model_card_html(jsonb_build_object(
            'name', m.name, 'version', m.version,
            'algorithm', CASE WHEN m.metrics ? 'automl' THEN 'AutoML, chose ' || m.algorithm ELSE m.algorithm END,
            'description', m.description, 'created', to_char(m.created_at, 'YYYY-MM-DD HH24:MI TZ'), 'created_by', m.created_by,
            'source', m.source, 'target', m.target,
            'deployed', coalesce(m.id = (SELECT d.model_id FROM healthml.deployments d WHERE d.name = m.name ORDER BY d.id DESC LIMIT 1), false),
            'metrics', m.metrics, 'leakage_findings', healthml._leakage_findings(m.metrics),
            'subgroups', coalesce((SELECT jsonb_agg(jsonb_build_object('by_column', r.by_column, 'subgroup', r.subgroup, 'n', r.n,
                                                                       'auc', r.auc, 'auc_low', r.auc_low, 'auc_high', r.auc_high,
                                                                       'mean_score', r.mean_score, 'observed_rate', r.observed_rate,
                                                                       'intervals', coalesce(r.intervals, '{}'))
                                                    ORDER BY r.by_column, r.n DESC, r.subgroup)
                                   FROM healthml.subgroup_reports r
                                   WHERE r.model_id = m.id AND NOT r.overall AND r.n >= 100
                                     AND r.report_id = (SELECT max(x.report_id) FROM healthml.subgroup_reports x
                                                        WHERE x.model_id = m.id AND x.by_column = r.by_column)), '[]'),
            'drift', coalesce((SELECT jsonb_agg(jsonb_build_object('feature', d.feature, 'psi', d.psi, 'status', d.status) ORDER BY d.psi DESC)
                               FROM healthml.drift_reports d
                               WHERE d.report_id = (SELECT max(x.report_id) FROM healthml.drift_reports x WHERE x.model_id = m.id)), '[]'),
            'drift_by_day', by_day));
    END IF;

    card := format(E'# Model card: %s, version %s\n\n', m.name, m.version);
    card := card || format(E'**Purpose.** %s\n\n', coalesce(m.description, '(no description: pass "description" when training)'));
    card := card || format(E'- Predicts `%s`%s from `%s` (%s).\n', m.target,
                           CASE WHEN m.options ? 'positive' THEN format(' = %L', m.options ->> 'positive') ELSE '' END, m.source,
                           CASE WHEN m.metrics ? 'automl' THEN 'AutoML, chose ' || m.algorithm ELSE m.algorithm END);
    card := card || format(E'- Trained %s by %s; tags: %s.\n', to_char(m.created_at, 'YYYY-MM-DD HH24:MI TZ'), m.created_by,
                           coalesce(nullif(array_to_string(m.tags, ', '), ''), 'none'));
    card := card || format(E'- Deployed: %s.\n\n',
                           CASE WHEN m.id = (SELECT d.model_id FROM healthml.deployments d WHERE d.name = m.name ORDER BY d.id DESC LIMIT 1)
                                THEN 'yes' ELSE 'no' END);

    card := card || E'## Data\n\n';
    card := card || format(E'- Source `%s`, %s training rows, %s test rows, data fingerprint `%s`.\n',
                           m.source, m.train_rows, m.test_rows, left(m.data_fingerprint, 16));
    card := card || format(E'- Test rows: %s; groups kept on one side: %s.\n',
                           coalesce(format('`%s`', m.options ->> 'test_where'),
                                    format('%s%% of groups by seeded hash', round(100 * coalesce((m.options ->> 'test_fraction')::numeric, 0.2)))),
                           coalesce(format('`%s`', m.options ->> 'group_by'), 'none (rows)'));
    card := card || format(E'- Not features: %s.\n\n',
                           coalesce((SELECT string_agg(format('`%s`', e), ', ' ORDER BY n) FROM jsonb_array_elements_text(
                                        CASE jsonb_typeof(m.options -> 'exclude') WHEN 'array' THEN m.options -> 'exclude'
                                             WHEN 'string' THEN jsonb_build_array(m.options -> 'exclude') ELSE '[]' END)
                                        WITH ORDINALITY AS x(e, n)), 'none'));

    card := card || E'## Recipe\n\n';
    SELECT string_agg(format('%s %s', n, action), ', ' ORDER BY n DESC, action) INTO section
    FROM (SELECT s ->> 'action' AS action, count(*) AS n FROM jsonb_array_elements(m.recipe -> 'steps') s GROUP BY 1) a;
    card := card || format(E'%s source columns: %s; %s features.\n\n', jsonb_array_length(m.recipe -> 'steps'), section,
                           cardinality(m.features));

    card := card || E'## Test metrics\n\n| AUC | average precision | Brier | log loss | threshold | precision | recall |\n|---|---|---|---|---|---|---|\n';
    card := card || format(E'| %s | %s | %s | %s | %s | %s | %s |\n\n',
                           to_char((m.metrics #>> '{test,auc}')::numeric, fmt4), to_char((m.metrics #>> '{test,average_precision}')::numeric, fmt4),
                           to_char((m.metrics #>> '{test,brier}')::numeric, fmt4), to_char((m.metrics #>> '{test,log_loss}')::numeric, fmt4),
                           to_char((m.metrics #>> '{test,threshold}')::numeric, fmt4), to_char((m.metrics #>> '{test,precision}')::numeric, fmt4),
                           to_char((m.metrics #>> '{test,recall}')::numeric, fmt4));
    card := card || CASE WHEN m.metrics #> '{test,intervals}' IS NULL
        THEN E'No intervals: the version was imported, trained before healthml 0.2.0, or with "resamples": 0.\n\n'
        ELSE format('95 %% intervals (%s resamples of %s%s, seed %s): AUC %s to %s; average precision %s to %s; Brier %s to %s; '
                    'calibration intercept %s (%s to %s), slope %s (%s to %s).' || E'\n\n',
                    m.metrics #>> '{test,intervals,resamples_used}', m.metrics #>> '{test,intervals,groups}',
                    coalesce(format(' groups by `%s`', m.metrics #>> '{test,intervals,grouped_by}'), ' rows'),
                    m.metrics #>> '{test,intervals,seed}',
                    to_char((m.metrics #>> '{test,intervals,auc,low}')::numeric, fmt4), to_char((m.metrics #>> '{test,intervals,auc,high}')::numeric, fmt4),
                    to_char((m.metrics #>> '{test,intervals,average_precision,low}')::numeric, fmt4),
                    to_char((m.metrics #>> '{test,intervals,average_precision,high}')::numeric, fmt4),
                    to_char((m.metrics #>> '{test,intervals,brier,low}')::numeric, fmt4), to_char((m.metrics #>> '{test,intervals,brier,high}')::numeric, fmt4),
                    to_char((m.metrics #>> '{test,calibration_intercept}')::numeric, 'FMS0.000'),
                    to_char((m.metrics #>> '{test,intervals,calibration_intercept,low}')::numeric, 'FMS0.000'),
                    to_char((m.metrics #>> '{test,intervals,calibration_intercept,high}')::numeric, 'FMS0.000'),
                    to_char((m.metrics #>> '{test,calibration_slope}')::numeric, 'FM0.000'),
                    to_char((m.metrics #>> '{test,intervals,calibration_slope,low}')::numeric, 'FM0.000'),
                    to_char((m.metrics #>> '{test,intervals,calibration_slope,high}')::numeric, 'FM0.000')) END;
    card := card || format(E'Calibration: %s.\n',
                           CASE m.metrics #>> '{calibration,method}'
                               WHEN 'platt' THEN format('Platt scaling on %s validation rows (validation Brier %s before, %s after)',
                                                        m.metrics #>> '{calibration,fitted_on_rows}',
                                                        to_char((m.metrics #>> '{calibration,validation_brier_before}')::numeric, fmt4),
                                                        to_char((m.metrics #>> '{calibration,validation_brier_after}')::numeric, fmt4))
                               ELSE 'none (the model was fitted without class weights)' END);
    IF m.metrics ? 'automl' THEN
        card := card || format(E'AutoML: %s; %s of %s candidates cross-validated in %s s.\n',
                               m.metrics #>> '{automl,chosen}', m.metrics #>> '{automl,evaluated}', m.metrics #>> '{automl,candidates}',
                               round((m.metrics #>> '{automl,search_seconds}')::numeric));
    END IF;
    card := card || E'\n## Leakage and guardrails\n\n';
    SELECT string_agg(format('| %s | %s | %s | %s | %s | %s |', g ->> 'check', coalesce(g ->> 'column', '-'),
                             to_char((g ->> 'value')::numeric, 'FM0.000'), to_char((g ->> 'limit')::numeric, 'FM0.000'),
                             upper(g ->> 'status'), replace(g ->> 'message', '|', '/')),
                      E'\n' ORDER BY (g ->> 'status' = 'ok'), n)
    INTO section
    FROM jsonb_array_elements(CASE jsonb_typeof(m.metrics -> 'guardrails') WHEN 'array' THEN m.metrics -> 'guardrails' ELSE '[]' END)
         WITH ORDINALITY AS x(g, n);
    card := card || CASE
        WHEN section IS NULL THEN E'Not checked: the version was imported, or trained before healthml 0.2.0.\n'
        ELSE format(E'%s\n\n| check | column | value | limit | status | finding |\n|---|---|---|---|---|---|\n%s\n',
                    CASE WHEN healthml._leakage_findings(m.metrics) IS NULL
                         THEN 'No unresolved leakage finding: the version may be deployed.'
                         ELSE '**Probable leakage: healthml.deploy and retrain refuse this version.**' END,
                    section) END;
    card := card || E'\n## Threshold policy\n\n';
    SELECT * INTO line FROM healthml.threshold_policies p WHERE p.model_id = m.id ORDER BY p.id DESC LIMIT 1;
    IF FOUND THEN
        card := card || format(E'`%s` set %s by %s on `%s`: threshold %s flags %s%% of rows, precision %s, recall %s.\n\n',
                               line.policy, to_char(line.set_at, 'YYYY-MM-DD'), line.set_by, line.computed_on,
                               to_char(line.threshold, fmt4), round(100 * line.flagged_share::numeric, 1),
                               to_char(line.precision::numeric, fmt4), to_char(line.recall::numeric, fmt4));
    ELSE
        card := card || format(E'F1-optimal on the validation rows: %s.\n\n', to_char(healthml.decision_threshold_by_id(m.id)::numeric, fmt4));
    END IF;

    card := card || E'## Subgroup audit\n\n';
    section := NULL;
    SELECT string_agg(format('| %s | %s | %s | %s | %s | %s | %s |', r.by_column, coalesce(r.subgroup, 'NULL'), r.n,
                             coalesce(to_char(r.auc::numeric, 'FM0.000')
                                      || coalesce(format(' [%s, %s]', to_char(r.auc_low::numeric, 'FM0.000'), to_char(r.auc_high::numeric, 'FM0.000')), ''),
                                      '-'),
                             coalesce(to_char(r.auc_gap::numeric, 'FMS0.000'), '-'),
                             coalesce(to_char(r.calibration_ratio::numeric, 'FM0.00'), '-'), coalesce(to_char(r.tpr_gap::numeric, 'FMS0.000'), '-')),
                      E'\n' ORDER BY r.by_column, r.n DESC)
    INTO section
    FROM healthml.subgroup_reports r
    WHERE r.model_id = m.id AND NOT r.overall AND r.n >= 100
      AND r.report_id = (SELECT max(x.report_id) FROM healthml.subgroup_reports x WHERE x.model_id = m.id AND x.by_column = r.by_column);
    card := card || coalesce(E'| by | group | n | AUC [95 % interval] | AUC gap | calibration | TPR gap |\n|---|---|---|---|---|---|---|\n' || section || E'\n\n',
                             E'No subgroup audit yet: run healthml.subgroup_report.\n\n');

    card := card || E'## Drift\n\n';
    SELECT format('Latest report (%s, on `%s`): %s ok, %s warn, %s alert%s.', to_char(max(d.computed_at), 'YYYY-MM-DD HH24:MI'), max(d.relation),
                  count(*) FILTER (WHERE d.status = 'ok'), count(*) FILTER (WHERE d.status = 'warn'), count(*) FILTER (WHERE d.status = 'alert'),
                  coalesce('; worst: ' || string_agg(format('%s (PSI %s)', d.feature, to_char(d.psi::numeric, 'FM0.000')), ', '
                                                     ORDER BY d.psi DESC, d.feature)
                                          FILTER (WHERE d.status <> 'ok'), ''))
    INTO section
    FROM healthml.drift_reports d
    WHERE d.report_id = (SELECT max(x.report_id) FROM healthml.drift_reports x WHERE x.model_id = m.id);
    card := card || CASE WHEN section IS NULL OR section LIKE 'Latest report (,%' OR section LIKE 'Latest report (%: 0 ok, 0 warn, 0 alert.'
                         THEN E'No drift report yet: run healthml.drift.\n\n' ELSE section || E'\n\n' END;

    card := card || E'## Top global features\n\n| column | mean abs contribution |\n|---|---|\n';
    SELECT string_agg(format('| %s | %s |', i ->> 'column', to_char((i ->> 'mean_abs_contribution')::numeric, 'FM0.0000')), E'\n' ORDER BY n)
    INTO section
    FROM jsonb_array_elements(m.metrics -> 'importance') WITH ORDINALITY AS x(i, n) WHERE n <= 10;
    card := card || coalesce(section, '') || E'\n\n';

    card := card || E'## Version history\n\n| version | algorithm | trained | by | test AUC | deployments |\n|---|---|---|---|---|---|\n';
    FOR line IN
        SELECT v.version, v.algorithm, v.created_at, v.created_by, (v.metrics #>> '{test,auc}')::numeric AS auc,
               (SELECT string_agg(format('%s (%s)', to_char(d.deployed_at, 'YYYY-MM-DD HH24:MI'), d.reason), '; ' ORDER BY d.id)
                FROM healthml.deployments d WHERE d.model_id = v.id) AS deployments
        FROM healthml.models v WHERE v.name = m.name ORDER BY v.version
    LOOP
        card := card || format(E'| %s%s | %s | %s | %s | %s | %s |\n', line.version, CASE WHEN line.version = m.version THEN ' (this card)' ELSE '' END,
                               line.algorithm, to_char(line.created_at, 'YYYY-MM-DD HH24:MI'), line.created_by,
                               to_char(line.auc, fmt4), coalesce(line.deployments, '-'));
    END LOOP;
    RETURN card;
END $$;
REVOKE EXECUTE ON FUNCTION healthml.model_card(text, integer, text) FROM PUBLIC;
COMMENT ON FUNCTION healthml.model_card(text, integer, text) IS
    'A model version''s card (NULL version: the deployed one) in Markdown, or as one self-contained HTML page with SVG figures (format ''html''): purpose, data lineage, recipe, test metrics with 95 % intervals, leakage and guardrail findings, threshold policy, subgroup audit, drift, top features, version history.';
