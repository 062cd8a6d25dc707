//! Cleansing, standardization and clinical feature engineering.

pub mod icd9;
