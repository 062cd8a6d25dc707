-- The readmission pack's tables: the UCI "Diabetes 130-US hospitals" data in typed, keyed form.
-- Idempotent: the loader runs it before every load. Column names follow the CSV except where the
-- original is not a plain identifier (see data/diabetes-130/README.md).

CREATE SCHEMA IF NOT EXISTS readmission;
COMMENT ON SCHEMA readmission IS
    'healthml readmission pack: UCI Diabetes 130-US hospitals 1999-2008 (CC BY 4.0, Strack et al. 2014)';

CREATE TABLE IF NOT EXISTS readmission.admission_types (
    admission_type_id        integer PRIMARY KEY,
    description              text    NOT NULL
);

CREATE TABLE IF NOT EXISTS readmission.discharge_dispositions (
    discharge_disposition_id integer PRIMARY KEY,
    description              text    NOT NULL
);

CREATE TABLE IF NOT EXISTS readmission.admission_sources (
    admission_source_id      integer PRIMARY KEY,
    description              text    NOT NULL
);

CREATE TABLE IF NOT EXISTS readmission.encounters (
    encounter_id               bigint   PRIMARY KEY,
    patient_nbr                bigint   NOT NULL,
    race                       text,
    gender                     text,
    age                        text,
    weight                     text,
    admission_type_id          integer  REFERENCES readmission.admission_types,
    discharge_disposition_id   integer  REFERENCES readmission.discharge_dispositions,
    admission_source_id        integer  REFERENCES readmission.admission_sources,
    time_in_hospital           integer  CHECK (time_in_hospital >= 0),
    payer_code                 text,
    medical_specialty          text,
    num_lab_procedures         integer  CHECK (num_lab_procedures >= 0),
    num_procedures             integer  CHECK (num_procedures >= 0),
    num_medications            integer  CHECK (num_medications >= 0),
    number_outpatient          integer  CHECK (number_outpatient >= 0),
    number_emergency           integer  CHECK (number_emergency >= 0),
    number_inpatient           integer  CHECK (number_inpatient >= 0),
    diag_1                     text,
    diag_2                     text,
    diag_3                     text,
    number_diagnoses           integer  CHECK (number_diagnoses >= 0),
    max_glu_serum              text,
    a1c_result                 text,
    metformin                  text,
    repaglinide                text,
    nateglinide                text,
    chlorpropamide             text,
    glimepiride                text,
    acetohexamide              text,
    glipizide                  text,
    glyburide                  text,
    tolbutamide                text,
    pioglitazone               text,
    rosiglitazone              text,
    acarbose                   text,
    miglitol                   text,
    troglitazone               text,
    tolazamide                 text,
    examide                    text,
    citoglipton                text,
    insulin                    text,
    glyburide_metformin        text,
    glipizide_metformin        text,
    glimepiride_pioglitazone   text,
    metformin_rosiglitazone    text,
    metformin_pioglitazone     text,
    change                     text,
    diabetes_med               text,
    readmitted                 text     NOT NULL CHECK (readmitted IN ('<30', '>30', 'NO'))
);

CREATE INDEX IF NOT EXISTS encounters_patient_nbr_idx ON readmission.encounters (patient_nbr);

COMMENT ON TABLE readmission.admission_types IS 'admission_type_id and its description, from IDs_mapping.csv.';
COMMENT ON TABLE readmission.discharge_dispositions IS 'discharge_disposition_id and its description, from IDs_mapping.csv.';
COMMENT ON TABLE readmission.admission_sources IS 'admission_source_id and its description, from IDs_mapping.csv.';
COMMENT ON TABLE readmission.encounters IS
    'One row per inpatient encounter of a diabetic patient; NULL where the source has "?". '
    '"None" in max_glu_serum / a1c_result means the test was not done, which is informative.';
COMMENT ON COLUMN readmission.encounters.readmitted IS
    'Readmission after discharge: <30 days, >30 days, or NO. The flagship target is readmitted = ''<30''.';
