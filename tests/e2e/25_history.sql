-- readmission.encounter_history on the full data: equal, on every encounter, to the window
-- functions readmission.features computed before it existed; the stored rows of readmission.features
-- equal their computation (readmission._feature_rows); an encounter's features are a primary-key
-- lookup; and the triggers keep both current through inserts, updates (an earlier encounter's
-- outcome, an encounter moved to another patient, a description in an id mapping) and deletes.
BEGIN;
SELECT plan(15);

\ir ../bin/helpers.sql

-- the history columns as readmission.features reads them, and a table of the same columns that
-- history_differences() fills with today's history by window functions, as the view computed it
-- before the table existed
CREATE TEMP VIEW stored AS
SELECT f.encounter_id, f.prior_encounters, f.prior_readmissions_30d, f.prior_readmissions_any, f.prior_days_in_hospital,
       f.previous_readmitted_30d, f.previous_readmitted_any, f.previous_number_inpatient, f.previous_time_in_hospital,
       f.previous_discharge_disposition_id
FROM readmission.features f;
CREATE TEMP TABLE windowed AS TABLE pg_temp.stored WITH NO DATA;
-- rows where the view and the window functions differ, either way, after computing the latter again
CREATE FUNCTION pg_temp.history_differences() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    different bigint;
BEGIN
    TRUNCATE pg_temp.windowed;
    INSERT INTO pg_temp.windowed
    SELECT e.encounter_id, count(*) OVER earlier, count(*) FILTER (WHERE e.readmitted = '<30') OVER earlier,
           count(*) FILTER (WHERE e.readmitted <> 'NO') OVER earlier, coalesce(sum(e.time_in_hospital) OVER earlier, 0),
           lag(e.readmitted = '<30') OVER earlier, lag(e.readmitted <> 'NO') OVER earlier, lag(e.number_inpatient) OVER earlier,
           lag(e.time_in_hospital) OVER earlier, lag(e.discharge_disposition_id) OVER earlier
    FROM readmission.encounters e
    WINDOW earlier AS (PARTITION BY e.patient_nbr ORDER BY e.encounter_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING);
    SELECT count(*) INTO different
    FROM ((TABLE pg_temp.windowed EXCEPT ALL TABLE pg_temp.stored)
          UNION ALL (TABLE pg_temp.stored EXCEPT ALL TABLE pg_temp.windowed)) d;
    RETURN different;
END $$;

-- stored rows that differ from their computation, or exist on one side only
CREATE FUNCTION pg_temp.feature_differences() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM readmission.features f FULL JOIN readmission._feature_rows r USING (encounter_id)
    WHERE f::text IS DISTINCT FROM r::text
$$;

SELECT is((SELECT count(*) FROM readmission.encounter_history), 101766::bigint, 'a history row per encounter');
SELECT is((SELECT count(*) FROM readmission.encounter_features), 101766::bigint, 'a stored feature row per encounter');
SELECT is(pg_temp.feature_differences(), 0::bigint, 'on every encounter, the stored features equal their computation');
SELECT is(pg_temp.history_differences(), 0::bigint,
          'on every encounter, the stored history equals the window functions over the patient''s earlier encounters');

-- a lookup by encounter_id alone reads indexes, with no window over the patient's rows
CREATE TEMP TABLE one_plan AS SELECT pg_temp.plan_of('SELECT * FROM readmission.features WHERE encounter_id = 149190') AS plan;
SELECT doesnt_match((SELECT plan FROM one_plan), '(WindowAgg|Join|Seq Scan)',
              'one encounter''s features need no window, no join and no scan');
SELECT matches((SELECT plan FROM one_plan), 'encounter_features_pkey', 'its stored row is read through the primary key');

-- the triggers: a new encounter of an existing patient, then an earlier outcome that changes
CREATE TEMP TABLE patient AS
SELECT e.patient_nbr, max(e.encounter_id) AS last_id, count(*) AS n
FROM readmission.encounters e GROUP BY e.patient_nbr HAVING count(*) >= 3 ORDER BY e.patient_nbr LIMIT 1;
INSERT INTO readmission.encounters
SELECT (jsonb_populate_record(e, jsonb_build_object('encounter_id', (SELECT max(x.encounter_id) + 1 FROM readmission.encounters x),
                                                    'readmitted', '<30'))).*
FROM readmission.encounters e WHERE e.encounter_id = (SELECT last_id FROM patient);
SELECT is((SELECT prior_encounters FROM readmission.features WHERE encounter_id = (SELECT max(encounter_id) FROM readmission.encounters)),
          (SELECT n FROM patient), 'a new encounter counts every earlier one of its patient');
UPDATE readmission.encounters SET readmitted = CASE readmitted WHEN '<30' THEN 'NO' ELSE '<30' END
WHERE encounter_id = (SELECT min(encounter_id) FROM readmission.encounters e WHERE e.patient_nbr = (SELECT patient_nbr FROM patient));
SELECT is(pg_temp.history_differences(), 0::bigint, 'after an insert and an update of an earlier outcome, still equal everywhere');

-- an encounter moved to another patient changes both patients' histories
UPDATE readmission.encounters SET patient_nbr = (SELECT min(patient_nbr) FROM readmission.encounters)
WHERE encounter_id = (SELECT max(encounter_id) FROM readmission.encounters);
SELECT is(pg_temp.history_differences(), 0::bigint, 'an encounter moved to another patient: both histories follow');

-- a delete
DELETE FROM readmission.encounters WHERE encounter_id = (SELECT max(encounter_id) FROM readmission.encounters);
SELECT is(pg_temp.history_differences(), 0::bigint, 'after a delete, still equal everywhere');
SELECT is((SELECT count(*) FROM readmission.encounter_history), (SELECT count(*) FROM readmission.encounters),
          'no history row outlives its encounter');

-- a description in an id mapping changes
UPDATE readmission.admission_types SET description = 'Emergency (renamed)' WHERE admission_type_id = 1;
SELECT is((SELECT count(*) FROM readmission.features WHERE admission_type = 'Emergency (renamed)'),
          (SELECT count(*) FROM readmission.encounters WHERE admission_type_id = 1), 'a renamed admission type reaches its stored rows');
SELECT is(pg_temp.feature_differences(), 0::bigint, 'after the inserts, updates, deletes and the rename, the stored features equal their computation');

-- the loader runs history.sql before every load: a database without history gets it back
TRUNCATE readmission.encounter_history;
SET client_min_messages = warning;
\ir ../../sql/readmission/history.sql
SELECT is(pg_temp.history_differences(), 0::bigint, 'history.sql fills in the history of a database that has none');

-- features.sql computes every row again when the computation it stored them with changed
UPDATE readmission._features_state SET computed_with = 'an older definition';
UPDATE readmission.encounter_features SET prior_encounters = -1 WHERE encounter_id = 149190;
\ir ../../sql/readmission/features.sql
SELECT is(pg_temp.feature_differences(), 0::bigint, 'features.sql recomputes the stored rows when their definition changed');

SELECT * FROM finish();
ROLLBACK;
