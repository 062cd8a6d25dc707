-- Batch scoring into a table (row-at-a-time scoring is the C functions predict, predict_row, ...).

-- Scores every row of `source` with the model deployed as `model_name` (pinned for the whole run) into
-- `target_table` (created if missing): (key, model_id, model_version, score, scored_at), plus
-- `reasons` (jsonb: the top_k reasons of each score, from the same model) when top_k is given.
-- mode 'replace' keeps one row per key (rerunning updates it); 'append' keeps every run. One
-- set-based statement.
CREATE PROCEDURE healthml.score_batch(model_name text, source regclass, key_column text, target_table text,
                                      mode text DEFAULT 'replace', top_k integer DEFAULT NULL)
    LANGUAGE plpgsql AS $$
BEGIN
    -- Only the target's name is resolved in the caller's search_path, where their own CREATE TABLE
    -- would put it; everything else runs in _score_batch under a pinned search_path. Every call
    -- here is schema-qualified, so no object of the caller's can stand in for one of these.
    CALL healthml._score_batch(model_name, healthml._checked_relation(source), key_column,
                               healthml._creation_name(target_table), mode, top_k);
END $$;

-- score_batch's work, with the target table's name already qualified.
CREATE PROCEDURE healthml._score_batch(model_name text, source regclass, key_column text, target_table text,
                                       mode text, top_k integer)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target_ident text;
    pinned_id    bigint;
    pinned_ver   integer;
    written      bigint;
    reasons_col  text := '';
    reasons_expr text := '';
    reasons_set  text := '';
BEGIN
    PERFORM healthml._require_primary('healthml.score_batch');
    IF mode IS NULL OR mode NOT IN ('replace', 'append') THEN
        RAISE EXCEPTION 'mode must be ''replace'' or ''append'', got %', coalesce(quote_literal(mode), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '''replace'' keeps the latest score per key, ''append'' keeps every run';
    END IF;
    IF top_k IS NOT NULL AND top_k < 1 THEN
        RAISE EXCEPTION 'top_k must be at least 1, got %', top_k
            USING ERRCODE = 'invalid_parameter_value', HINT = 'NULL writes no reasons; 3 or 5 is usual';
    END IF;
    target_ident := target_table;
    PERFORM FROM pg_attribute a WHERE a.attrelid = source AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column % does not exist in %', quote_ident(key_column), source
            USING ERRCODE = 'undefined_column', HINT = 'key_column names the column that identifies a row, e.g. encounter_id';
    END IF;
    SELECT d.model_id, d.version INTO pinned_id, pinned_ver
    FROM healthml.deployments d WHERE d.name = model_name ORDER BY d.id DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" is not deployed', model_name
            USING ERRCODE = 'undefined_object', HINT = 'deploy a version with healthml.deploy() first';
    END IF;
    IF top_k IS NOT NULL THEN
        reasons_col  := ', reasons';
        reasons_expr := ', (SELECT jsonb_agg(jsonb_build_object(''feature'', r.feature, ''value'', r.value, '
                        '''contribution'', r.contribution) ORDER BY r.n) '
                        'FROM healthml.explain_row_by_id($1, s, $3) WITH ORDINALITY AS r(feature, value, contribution, n))';
        reasons_set  := ', reasons = EXCLUDED.reasons';
    END IF;
    IF to_regclass(target_ident) IS NULL THEN
        -- A new table is created from the scoring query itself, which PostgreSQL may run in
        -- parallel workers (an INSERT never is), and keyed once it is filled.
        EXECUTE format('CREATE TABLE %1$s AS SELECT s.%2$I, $1 AS model_id, $2 AS model_version, '
                       'healthml.predict_row_by_id($1, s) AS score, now() AS scored_at%4$s FROM %3$s s',
                       target_ident, key_column, source, reasons_expr || CASE WHEN top_k IS NULL THEN '' ELSE ' AS reasons' END)
            USING pinned_id, pinned_ver, top_k;
        GET DIAGNOSTICS written = ROW_COUNT;
        EXECUTE format('COMMENT ON TABLE %s IS %L', target_ident,
                       format('Scores of %s by model "%s" version %s (healthml.score_batch, mode %s%s); key %s.',
                              source, model_name, pinned_ver, mode,
                              CASE WHEN top_k IS NULL THEN '' ELSE format(', top %s reasons', top_k) END, key_column));
        BEGIN
            EXECUTE format('ALTER TABLE %s %s, ALTER COLUMN model_id SET NOT NULL, ALTER COLUMN model_version SET NOT NULL, '
                           'ALTER COLUMN scored_at SET NOT NULL', target_ident,
                           CASE mode WHEN 'replace' THEN format('ADD PRIMARY KEY (%I)', key_column)
                                     ELSE format('ALTER COLUMN %I SET NOT NULL', key_column) END);
        EXCEPTION WHEN unique_violation OR not_null_violation THEN
            RAISE EXCEPTION '% of % does not identify one row each: %', quote_ident(key_column), source, SQLERRM
                USING ERRCODE = SQLSTATE,
                      HINT = 'mode ''replace'' keeps one score per key: pass a unique, non-NULL key_column, or mode ''append''';
        END;
        RAISE NOTICE 'scored % rows of % with model "%" version % into %', written, source, model_name, pinned_ver, target_ident;
        RETURN;
    ELSIF top_k IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass(target_ident)
                                               AND a.attname = 'reasons' AND NOT a.attisdropped) THEN
        RAISE EXCEPTION '% has no column "reasons" for the top_k reasons', target_ident
            USING ERRCODE = 'undefined_column',
                  HINT = format('ALTER TABLE %s ADD COLUMN reasons jsonb, or write to a new table', target_ident);
    END IF;
    EXECUTE format('INSERT INTO %1$s AS t (%2$I, model_id, model_version, score, scored_at%4$s) '
                   'SELECT s.%2$I, $1, $2, healthml.predict_row_by_id($1, s), now()%5$s FROM %3$s s',
                   target_ident, key_column, source, reasons_col, reasons_expr)
           || CASE mode WHEN 'replace' THEN format(' ON CONFLICT (%I) DO UPDATE SET model_id = EXCLUDED.model_id, '
                   'model_version = EXCLUDED.model_version, score = EXCLUDED.score, scored_at = EXCLUDED.scored_at%s',
                   key_column, reasons_set) ELSE '' END
        USING pinned_id, pinned_ver, top_k;
    GET DIAGNOSTICS written = ROW_COUNT;
    RAISE NOTICE 'scored % rows of % with model "%" version % into %', written, source, model_name, pinned_ver, target_ident;
END $$;
COMMENT ON PROCEDURE healthml.score_batch(text, regclass, text, text, text, integer) IS
    'Nightly batch scoring: CALL healthml.score_batch(''readmission'', ''readmission.cohort'', ''encounter_id'', ''readmission.scores'', top_k => 3);';
