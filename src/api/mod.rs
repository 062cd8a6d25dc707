//! The SQL-facing functions, one file per area.

mod profile;
mod recipe;
