//! Helpers the extension's own SQL calls (leading underscore: not part of the API).

use pgrx::prelude::*;

use crate::spi::Relation;

/// `regclass` checked as every healthml function checks one (it exists, and it has rows to read),
/// for the SQL-language procedures that take one.
#[pg_extern(stable, parallel_safe, name = "_checked_relation")]
fn checked_relation(relation: Relation) -> pg_sys::Oid {
    relation.oid()
}

/// The schema-qualified, quoted name a table named `table_name` by the caller is created under.
/// Runs in the caller's search_path: it is what resolves an unqualified name there.
#[pg_extern(stable, parallel_safe, name = "_creation_name")]
fn creation_name(table_name: &str) -> String {
    crate::spi::creation_name(table_name)
}

/// Refuses the calling function on a read-only standby (25006, with a hint): what the extension's
/// SQL functions that write call first.
#[pg_extern(volatile, parallel_safe, name = "_require_primary")]
fn require_primary(what: &str) {
    crate::spi::require_primary(what);
}
