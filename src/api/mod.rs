//! The SQL-facing functions, one file per area.

mod profile;
pub(crate) mod recipe;
mod score;
mod train;
