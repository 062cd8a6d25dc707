//! The SQL-facing functions, one file per area.

mod explain;
mod export;
mod internal;
mod lake;
mod monitor;
mod profile;
pub(crate) mod recipe;
pub(crate) mod score;
mod train;
