-- The inference log (src/inference_log.rs): sampled scoring calls, opt-in per model, stored by a
-- background worker into a table partitioned by day (UTC), kept for healthml.inference_log_retention_days.

CREATE TABLE healthml.inference_logging (
    model_name  text PRIMARY KEY,
    sample_rate double precision NOT NULL CHECK (sample_rate > 0 AND sample_rate <= 1),
    set_by      text NOT NULL DEFAULT session_user,
    set_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('healthml.inference_logging', '');
COMMENT ON TABLE healthml.inference_logging IS
    'Which models'' scoring calls are logged into healthml.inference_log, and what share of them (set with healthml.set_inference_logging).';
-- every backend caches the rates: a change reaches them the way a deploy does (src/cache.rs), on
-- shards that replicate the registry too (deploy.sql)
CREATE TRIGGER inference_logging_changed AFTER INSERT OR UPDATE OR DELETE ON healthml.inference_logging
    FOR EACH ROW EXECUTE FUNCTION healthml._deployments_changed();
CREATE TRIGGER inference_logging_truncated AFTER TRUNCATE ON healthml.inference_logging
    FOR EACH STATEMENT EXECUTE FUNCTION healthml._deployments_changed();
ALTER TABLE healthml.inference_logging ENABLE ALWAYS TRIGGER inference_logging_changed,
    ENABLE ALWAYS TRIGGER inference_logging_truncated;

-- No foreign key to healthml.models: a dropped model's calls stay until retention removes their day.
-- The day partitions are made by healthml._store_inference_log, not by the extension: pg_dump
-- dumps them (and their rows) as tables of their own, attached again on restore. Each gets its own
-- index; an index on the parent would be the extension's, not dumped, and its copy made when a
-- restored day is attached would collide with the day's dumped index.
CREATE TABLE healthml.inference_log (
    logged_at timestamptz NOT NULL,
    model_id  bigint NOT NULL,
    role      text NOT NULL,
    function  text NOT NULL,
    score     double precision NOT NULL,
    inputs    jsonb NOT NULL
) PARTITION BY RANGE (logged_at);
COMMENT ON TABLE healthml.inference_log IS
    'Sampled scoring calls: when, which model version, the session''s role, the scoring function, the score and the inputs as the model read them. Partitioned by day (UTC); patient-level data, readable by admins (and audited through healthml_auditor).';

-- Stores a batch of records drained from shared memory (called by healthml's code as the owner of
-- healthml's tables): makes the day partitions it needs, inserts, and drops the days past retention.
CREATE FUNCTION healthml._store_inference_log(
    logged_at timestamptz[], model_id bigint[], role_oid bigint[], function text[], score double precision[],
    inputs jsonb[], retention_days integer
) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    day date;
    partition text;
    stored bigint;
    expired regclass;
BEGIN
    -- one store at a time (src/inference_log.rs takes it before draining): one makes a missing partition
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('healthml.inference_log'));
    FOR day IN SELECT DISTINCT (t AT TIME ZONE 'UTC')::date FROM pg_catalog.unnest(logged_at) AS t LOOP
        partition := 'inference_log_' || pg_catalog.to_char(day, 'YYYYMMDD');
        IF pg_catalog.to_regclass('healthml.' || partition) IS NULL THEN
            EXECUTE pg_catalog.format(
                'CREATE TABLE healthml.%I PARTITION OF healthml.inference_log FOR VALUES FROM (%L) TO (%L)',
                partition,
                pg_catalog.to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00',
                pg_catalog.to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
            EXECUTE pg_catalog.format('CREATE INDEX %I ON healthml.%I (model_id, logged_at)', partition || '_model_time', partition);
        END IF;
    END LOOP;
    INSERT INTO healthml.inference_log (logged_at, model_id, role, function, score, inputs)
    SELECT r.logged_at, r.model_id, pg_catalog.pg_get_userbyid(r.role_oid::oid), r.function, r.score, r.inputs
    FROM ROWS FROM (pg_catalog.unnest(logged_at), pg_catalog.unnest(model_id), pg_catalog.unnest(role_oid),
                    pg_catalog.unnest(function), pg_catalog.unnest(score), pg_catalog.unnest(inputs))
         AS r(logged_at, model_id, role_oid, function, score, inputs);
    GET DIAGNOSTICS stored = ROW_COUNT;
    FOR expired IN
        SELECT c.oid::regclass
        FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'healthml.inference_log'::regclass
          AND c.relname ~ '^inference_log_[0-9]{8}$'
          AND pg_catalog.to_date(pg_catalog.substr(c.relname, 15), 'YYYYMMDD')
              < (pg_catalog.now() AT TIME ZONE 'UTC')::date - retention_days
    LOOP
        EXECUTE pg_catalog.format('DROP TABLE %s', expired);
    END LOOP;
    RETURN stored;
END
$$;

CREATE FUNCTION healthml.set_inference_logging(model_name text, sample_rate double precision)
RETURNS SETOF healthml.inference_logging
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    wanted_name ALIAS FOR $1;
    wanted_rate ALIAS FOR $2;
BEGIN
    PERFORM healthml._require_primary('healthml.set_inference_logging');
    IF wanted_name IS NULL THEN
        RAISE EXCEPTION 'model_name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'name a model: SELECT name FROM healthml.model_registry';
    END IF;
    IF wanted_rate IS NULL OR wanted_rate = 'NaN'::double precision OR wanted_rate < 0 OR wanted_rate > 1 THEN
        RAISE EXCEPTION 'sample_rate must be between 0 and 1, got %', coalesce(wanted_rate::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '0.01 logs one call in a hundred, 1 every call, 0 none (logging off)';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM healthml.models m WHERE m.name = wanted_name) THEN
        RAISE EXCEPTION 'model "%" does not exist', wanted_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'list models with SELECT * FROM healthml.model_registry';
    END IF;
    IF wanted_rate = 0 THEN
        DELETE FROM healthml.inference_logging l WHERE l.model_name = wanted_name;
        RETURN;
    END IF;
    RETURN QUERY
    INSERT INTO healthml.inference_logging AS l (model_name, sample_rate) VALUES (wanted_name, wanted_rate)
    ON CONFLICT (model_name) DO UPDATE SET sample_rate = EXCLUDED.sample_rate, set_by = session_user, set_at = pg_catalog.now()
    RETURNING l.*;
END
$$;
COMMENT ON FUNCTION healthml.set_inference_logging(text, double precision) IS
    'Logs this share (0 to 1; 0: off) of the scoring calls of every version of a model into healthml.inference_log.';

CREATE VIEW healthml.inference_log_status AS
SELECT c.buffer_slots, c.pending, c.sampled, c.stored, c.dropped_buffer_full, c.dropped_too_large, c.dropped_unstored,
       c.workers,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_inherits i
        WHERE i.inhparent = 'healthml.inference_log'::regclass) AS days_kept
FROM healthml._inference_log_counters() c;
COMMENT ON VIEW healthml.inference_log_status IS
    'The inference log''s shared-memory buffer since the server started (slots, calls waiting, sampled, stored, dropped because the buffer was full, too large or unstorable, running workers) and the days kept.';
