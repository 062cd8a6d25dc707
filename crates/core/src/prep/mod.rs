//! Cleansing, standardization and clinical feature engineering.

pub mod icd9;
pub mod recipe;
