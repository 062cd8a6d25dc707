//! healthml: the PostgreSQL shell over `healthml-core`.
//!
//! Each module here converts SQL values, calls the core, and maps core errors to SQLSTATEs through
//! [`error`]. No statistics or model logic lives in this crate.

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
