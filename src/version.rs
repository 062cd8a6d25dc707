//! `healthml.version()`: what is installed, for bug reports and for the registry.

use pgrx::prelude::*;
use pgrx::JsonB;

/// The extension version, the git commit it was built from, and the build profile.
#[pg_extern(immutable, parallel_safe)]
fn version() -> JsonB {
    JsonB(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("HEALTHML_GIT_COMMIT"),
        "profile": env!("HEALTHML_BUILD_PROFILE"),
        "built_for_postgres": pg_sys::PG_VERSION.to_str().unwrap_or("unknown"),
    }))
}
