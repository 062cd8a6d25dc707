-- What \df+ shows for the functions src/ defines (those defined in sql/ carry their comment beside
-- their definition). tests/sql/94_api.sql fails when a public object has none.

-- models: training and the registry
COMMENT ON FUNCTION healthml.train(text, regclass, text, text, jsonb) IS
    'Trains a model version on a relation (algorithm logistic, gbdt or auto) with a patient-grouped test split; returns its test metrics.';
COMMENT ON FUNCTION healthml.compare_models_by_id(bigint, bigint) IS
    'Two model versions by id on the same held-out rows (the challenger''s test rows, read as the role that trained it): AUC, calibration and more, as jsonb.';
COMMENT ON FUNCTION healthml.version() IS 'The installed healthml version (the library''s).';

-- scoring
COMMENT ON FUNCTION healthml.predict(text, jsonb) IS
    'Probability from the deployed model for one row given as jsonb (source column to value).';
COMMENT ON FUNCTION healthml.predict_by_id(bigint, jsonb) IS
    'Probability from one model version by id (deployed or not) for one row given as jsonb.';
COMMENT ON FUNCTION healthml.predict_row(text, anyelement) IS
    'Probability from the deployed model for a whole typed row (a table or view alias), read without a jsonb round trip.';
COMMENT ON FUNCTION healthml.predict_row_by_id(bigint, anyelement) IS
    'Probability from one model version by id for a whole typed row: what batch scoring uses to pin a model.';
COMMENT ON FUNCTION healthml.predict_by_key(text, regclass, bigint) IS
    'Probability from the deployed model for the row of a table whose primary key (one integer column) is key, read through the key''s index without a query; NULL when no row has it.';
COMMENT ON FUNCTION healthml.set_decision_threshold(text, regclass, text) IS
    'Sets the deployed model''s decision threshold by a policy (f1, recall>=0.7, precision>=0.3, top_percent=10) measured on a labelled relation.';
COMMENT ON FUNCTION healthml.set_threshold(text, text, regclass) IS
    'Deprecated (removed in 0.3.0): use healthml.set_decision_threshold(model_name, relation, policy).';

-- explaining
COMMENT ON FUNCTION healthml.explain(text, jsonb, integer) IS
    'The top_k contributions of one row (jsonb) to the deployed model''s log-odds, largest magnitude first.';
COMMENT ON FUNCTION healthml.explain_by_id(bigint, jsonb, integer) IS
    'The top_k contributions of one row (jsonb) to one model version''s log-odds, by id.';
COMMENT ON FUNCTION healthml.explain_row(text, anyelement, integer) IS
    'The top_k contributions of a whole typed row to the deployed model''s log-odds.';
COMMENT ON FUNCTION healthml.explain_row_by_id(bigint, anyelement, integer) IS
    'The top_k contributions of a whole typed row to one model version''s log-odds, by id.';
COMMENT ON FUNCTION healthml.explain_jsonb(text, jsonb) IS
    'The whole explanation of one row as jsonb: probability, raw_score, base and every column''s contribution (base + contributions = raw_score).';
COMMENT ON FUNCTION healthml.features_row(text, anyelement) IS
    'The features the deployed model computes from a whole typed row (its recipe applied), in the model''s feature order: the input of an exported model.';
COMMENT ON FUNCTION healthml.features_row_by_id(bigint, anyelement) IS
    'The features one model version computes from a whole typed row, by id.';
COMMENT ON FUNCTION healthml.export_model(text, integer, text) IS
    'A gbdt version (or an AutoML blend of gbdts) of a model as a LightGBM text model (NULL version: the deployed one); it reads healthml.features_row and scores as healthml does.';
COMMENT ON FUNCTION healthml.import_model(text, text, text, jsonb) IS
    'A model trained elsewhere (format ''lightgbm'': a LightGBM text model; ''xgboost'': an XGBoost JSON model) stored as the next version of a model, scoring and explaining as its library does: its features read from columns as the options map them, measured on options.evaluate_on when given.';
COMMENT ON FUNCTION healthml.what_if(text, jsonb, jsonb, integer) IS
    'The deployed model''s score of a row before and after changing some of its values, and the top reasons after.';

-- evaluation
COMMENT ON FUNCTION healthml.evaluate(text, regclass, jsonb) IS
    'The deployed model''s metrics on a labelled relation: AUC, average precision, Brier, log loss, confusion at its threshold, calibration intercept and slope, with 95 % intervals from a patient-clustered bootstrap (options group_by, resamples, seed).';
COMMENT ON FUNCTION healthml.roc_curve(text, regclass) IS 'The deployed model''s ROC curve on a labelled relation.';
COMMENT ON FUNCTION healthml.pr_curve(text, regclass) IS 'The deployed model''s precision-recall curve on a labelled relation.';
COMMENT ON FUNCTION healthml.calibration_curve(text, regclass, integer) IS
    'The deployed model''s reliability diagram on a labelled relation: mean score against observed rate per probability bin.';

-- data: profiling, recipes, the lake
COMMENT ON FUNCTION healthml.profile(regclass, jsonb) IS
    'One row per column of a relation: type, missing share, distinct values, moments, quantiles, top levels and what to do about it.';
COMMENT ON FUNCTION healthml.standardize(regclass, jsonb) IS
    'Fits a named recipe (imputation, clipping, log, scaling, encodings) on a relation and stores it in healthml.recipes.';
COMMENT ON FUNCTION healthml.apply_recipe(text, jsonb) IS 'A stored recipe''s features of one row given as jsonb.';
COMMENT ON FUNCTION healthml.apply_recipe(text, regclass, text) IS
    'Writes a stored recipe''s features of every row of a relation into a new table.';
COMMENT ON FUNCTION healthml.icd9_group(text) IS 'The Strack et al. (2014) group of an ICD-9 diagnosis code (Circulatory, Respiratory, Diabetes, ...; Missing, Invalid).';
COMMENT ON FUNCTION healthml.export_parquet(text, text, jsonb) IS
    'Writes a query''s result to a Parquet file on the server (needs the rights server-side COPY needs).';
COMMENT ON FUNCTION healthml.import_parquet(text, text) IS
    'Loads a Parquet file on the server into a new table (needs the rights server-side COPY needs).';

-- monitoring
COMMENT ON FUNCTION healthml.drift(text, regclass, jsonb) IS
    'Drift of a relation (or, with option source inference_log and a NULL relation, of the logged scoring calls in a window) from the deployed model''s training rows, per input column and of the score (PSI, Kolmogorov-Smirnov, Jensen-Shannon); stored in healthml.drift_reports.';
COMMENT ON FUNCTION healthml.inference_drift(text, jsonb) IS
    'Drift of the logged scoring calls of a model version from its training rows, per UTC day and input column and of the score (options since, until, version, psi_warn, psi_alert); not stored.';
COMMENT ON FUNCTION healthml.flush_inference_log() IS
    'Stores the sampled scoring calls of this database still waiting in shared memory now; returns how many were stored.';
COMMENT ON FUNCTION healthml.subgroup_report(text, regclass, text, jsonb) IS
    'The deployed model on each subgroup of a labelled relation (by a column): AUC, calibration and error-rate gaps, average precision, Brier, calibration intercept and slope, with 95 % intervals from resampling each subgroup''s patients; stored in healthml.subgroup_reports.';
COMMENT ON FUNCTION healthml.reset_scoring_stats() IS
    'Zeroes the scoring statistics of this database''s models; returns whether statistics are kept.';
