//! Descriptive statistics used by profiling, standardization and monitoring.

pub mod moments;

pub use moments::Moments;
