//! The SQL-facing functions, one file per area.

mod card;
mod explain;
mod export;
mod import;
mod internal;
mod lake;
mod monitor;
mod profile;
pub(crate) mod recipe;
pub(crate) mod score;
pub(crate) mod train;
