//! healthml: the PostgreSQL shell over `healthml-core`.
//!
//! Each module here converts SQL values, calls the core, and maps core errors to SQLSTATEs through
//! [`error`]. No statistics or model logic lives in this crate.

// A set-returning function's Rust type is pgrx's `TableIterator<(name!(column, type), ...)>`: the
// SQL result's column list, which a type alias would only hide.
#![allow(clippy::type_complexity)]

::pgrx::pg_module_magic!(name, version);

use pgrx::prelude::*;

mod aggregates;
mod api;
mod cache;
mod clinical;
mod error;
mod row;
mod settings;
mod spi;
mod stats;
mod version;

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    stats::init();
}

// Before anything else: healthml needs a UTF-8 database.
pgrx::extension_sql_file!("../sql/extension/bootstrap.sql", name = "bootstrap", bootstrap);

// Grants need every object: they come last.
pgrx::extension_sql_file!("../sql/extension/roles.sql", name = "roles", finalize);
