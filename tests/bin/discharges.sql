-- Synthetic discharges as a committed table public.discharges (3,000 rows, two per patient, risk
-- rising with severity), for the shell tests that need it in a database of their own (pgTAP files
-- use the temporary pg_temp.discharges(n) of helpers.sql, whose risk also rises with rehab).
CREATE TABLE public.discharges AS
SELECT i AS discharge_id, i / 2 AS patient_id, (abs(hashint4(i * 3)) % 10000) / 100.0 AS severity,
       CASE WHEN i % 4 = 0 THEN 'rehab' ELSE 'home' END AS destination,
       (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0)))) AS readmitted
FROM generate_series(1, 3000) i;
