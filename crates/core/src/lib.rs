//! healthml-core: everything healthml computes, without PostgreSQL.
//!
//! The extension shell (`src/` at the top of the repository) converts SQL values into the types here,
//! calls in, and maps [`Error`] to a SQLSTATE. Nothing in this crate touches the database, so all of
//! it is tested with plain `cargo test`.

pub mod automl;
pub mod card;
pub mod error;
pub mod frame;
pub mod guardrails;
pub mod inference_log;
pub mod intervals;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod options;
pub mod prep;
pub mod split;
pub mod stats;
pub mod threshold;
pub mod train;

pub use error::{Error, ErrorClass, Result};
