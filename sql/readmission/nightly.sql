-- The nightly batch of the readmission pack: the day's discharges (readmission.recent_discharges)
-- scored by the deployed model, with the top 3 reasons of each score, into readmission.nightly_scores
-- (one row per encounter, replaced on each run). What the dashboards read. Scheduled with pg_cron
-- (docs/operations.md); run once by scripts/demo.
CALL healthml.score_batch('readmission', 'readmission.recent_discharges', 'encounter_id', 'readmission.nightly_scores', 'replace', 3);
COMMENT ON TABLE readmission.nightly_scores IS
    'The nightly batch: scores of readmission.recent_discharges by the deployed model "readmission", with the top 3 reasons (healthml.score_batch).';
