-- Leakage is caught on every model: a column that alone predicts the target, and a test AUC above
-- the ceiling, are stored as guardrail findings; deploy and retrain refuse such a model unless the
-- training accepted it (accept_leakage, leakage_model_auc). The WARNING itself:
-- tests/e2e/52_leakage.sh, on the real data.
BEGIN;
\ir ../bin/helpers.sql
SELECT plan(24);

-- discharges, plus a disposition code written after the outcome was known
CREATE TABLE public.discharges AS
SELECT d.*, CASE WHEN d.readmitted THEN 'R' || (d.discharge_id % 3) ELSE 'N' || (d.discharge_id % 4) END AS disposition_code
FROM pg_temp.discharges(4000) d;

CREATE TEMP TABLE plain AS SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic',
    '{"group_by": "patient_id", "exclude": ["discharge_id", "disposition_code"]}');
SELECT is((SELECT count(*) FROM plain, jsonb_array_elements(metrics -> 'guardrails') g WHERE g ->> 'status' = 'alert'), 0::bigint,
          'a model without the code: no alert');
SELECT is((SELECT g ->> 'status' FROM plain, jsonb_array_elements(metrics -> 'guardrails') g WHERE g ->> 'check' = 'leakage_model'), 'ok',
          'its test AUC is within the ceiling');
SELECT is((SELECT g ->> 'column' FROM plain, jsonb_array_elements(metrics -> 'guardrails') g
           WHERE g ->> 'check' = 'leakage_single_column'), 'severity', 'the strongest single column is reported');
SELECT is((SELECT (g ->> 'limit')::float8 FROM plain, jsonb_array_elements(metrics -> 'guardrails') g WHERE g ->> 'check' = 'leakage_model'),
          0.95::float8, 'the default ceiling of one algorithm is 0.95');
SELECT is((SELECT deployed_version FROM healthml.deploy('risk')), 1, 'and it deploys');

CREATE TEMP TABLE leaky AS SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'gbdt',
    '{"group_by": "patient_id", "exclude": ["discharge_id"], "hyperparams": {"iterations": 50}}');
SELECT ok((SELECT test_auc > 0.99 FROM leaky), 'with the code the model looks perfect');
SELECT is((SELECT array_agg(g ->> 'column' ORDER BY g ->> 'column') FROM leaky, jsonb_array_elements(metrics -> 'guardrails') g
           WHERE g ->> 'check' = 'leakage_single_column' AND g ->> 'status' = 'alert'), ARRAY['disposition_code'],
          'the single-column check names the code, and only the code');
SELECT is((SELECT g ->> 'status' FROM leaky, jsonb_array_elements(metrics -> 'guardrails') g WHERE g ->> 'check' = 'leakage_model'), 'alert',
          'the model-AUC check fires too');
SELECT ok((SELECT healthml._leakage_findings(metrics) LIKE 'disposition_code alone predicts the target with AUC 1.000%' FROM leaky),
          'the findings read as a sentence naming the column');
SELECT throws_ok($$SELECT * FROM healthml.deploy('risk', 2)$$, '55000',
                 'model "risk" version 2 has leakage findings: ' || (SELECT healthml._leakage_findings(metrics) FROM leaky),
                 'deploy refuses the version by number');
SELECT throws_ok($$SELECT * FROM healthml.deploy('risk')$$, '55000', NULL, 'and as the best test AUC');
SELECT is((SELECT deployed_version FROM healthml.model_registry WHERE name = 'risk'), 1, 'version 1 stays deployed');
SELECT ok((SELECT healthml.model_card('risk', 2) LIKE '%**Probable leakage: healthml.deploy and retrain refuse this version.**%'
                 AND healthml.model_card('risk', 2) LIKE '%| leakage_single_column | disposition_code | 1.000 | 0.900 | ALERT |%'
            FROM leaky),
          'the model card shows the findings');
SELECT ok(healthml.model_card('risk', 1) LIKE '%No unresolved leakage finding: the version may be deployed.%', 'and their absence');
SELECT ok((SELECT h LIKE '<!DOCTYPE html>%' AND h LIKE '%Probable leakage: healthml.deploy and retrain refuse this version.%'
                  AND h LIKE '%<td>disposition_code</td>%' AND h LIKE '%data-plot="roc"%' AND h LIKE '%data-plot="calibration"%'
                  AND h NOT LIKE '%<script%'
           FROM healthml.model_card('risk', 2, 'html') h), 'the HTML card shows the findings and draws the curves stored at training');
SELECT throws_ok($$SELECT healthml.model_card('risk', 2, 'pdf')$$, '22023', NULL, 'an unknown format');

-- a reviewer accepts the column (and a ceiling for this task): reported as accepted, deployable
CREATE TEMP TABLE accepted AS SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'gbdt',
    '{"group_by": "patient_id", "exclude": ["discharge_id"], "hyperparams": {"iterations": 50},
      "accept_leakage": ["disposition_code"], "leakage_model_auc": 1.0}');
SELECT is((SELECT array_agg(g ->> 'status' ORDER BY g ->> 'check') FROM accepted, jsonb_array_elements(metrics -> 'guardrails') g
           WHERE g ->> 'check' LIKE 'leakage%'), ARRAY['ok', 'accepted'], 'accepted, and within the raised ceiling');
SELECT is((SELECT deployed_version FROM healthml.deploy('risk', 3)), 3, 'an accepted version deploys');
-- accepting one column accepts nothing else
CREATE TEMP TABLE other AS SELECT * FROM healthml.train('risk', 'public.discharges', 'readmitted', 'logistic',
    '{"group_by": "patient_id", "exclude": ["discharge_id"], "accept_leakage": ["severity"]}');
SELECT is(healthml._leakage_findings((SELECT metrics FROM other)) IS NOT NULL, true, 'accepting another column accepts nothing');

-- retrain: the champion was trained before the feed gained a code written after the outcome
CREATE TABLE public.later AS SELECT * FROM pg_temp.discharges(4000);
CREATE TEMP TABLE champion AS SELECT * FROM healthml.train('later_risk', 'public.later', 'readmitted', 'logistic',
    '{"group_by": "patient_id", "exclude": ["discharge_id"]}');
SELECT is((SELECT deployed_version FROM healthml.deploy('later_risk')), 1, 'a champion without findings is deployed');
ALTER TABLE public.later ADD COLUMN follow_up text;
UPDATE public.later SET follow_up = CASE WHEN readmitted THEN 'seen again' ELSE 'closed' END;
CALL healthml.retrain('later_risk');
CREATE TEMP TABLE run AS SELECT * FROM healthml.training_runs WHERE model_name = 'later_risk' ORDER BY id DESC LIMIT 1;
SELECT is((SELECT outcome FROM run), 'kept champion', 'retrain keeps the champion when the challenger leaks');
SELECT ok((SELECT reason LIKE 'challenger has leakage findings: follow_up alone predicts the target%' FROM run), 'and says why');
SELECT is((SELECT deployed_version FROM healthml.model_registry WHERE name = 'later_risk'), 1, 'version 1 stays deployed');

-- models without findings stored (0.1.0's, imported ones) are not refused for that
SELECT is(healthml._leakage_findings('{"test": {"auc": 0.7}}'), NULL, 'no guardrails stored: no findings');

SELECT * FROM finish();
ROLLBACK;
