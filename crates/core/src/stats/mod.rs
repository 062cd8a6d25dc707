//! Descriptive statistics used by profiling, standardization and monitoring, and the latency
//! histograms of scoring statistics.

pub mod latency;
pub mod moments;
pub mod profile;
pub mod quantile;

pub use moments::Moments;
