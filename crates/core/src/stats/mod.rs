//! Descriptive statistics used by profiling, standardization and monitoring.

pub mod moments;
pub mod profile;
pub mod quantile;

pub use moments::Moments;
