//! healthml's settings (GUCs), all under the `healthml.` prefix. Set them like any PostgreSQL
//! setting: `SET healthml.track_scoring = off`, `ALTER SYSTEM`, or postgresql.conf.

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// `healthml.track_scoring` (default on): count scoring calls, rows and latencies per model in the
/// shared-memory counters behind `healthml.scoring_stats`. Costs two clock reads and a few atomic
/// additions per call; needs healthml in `shared_preload_libraries` (otherwise there are no counters).
pub static TRACK_SCORING: GucSetting<bool> = GucSetting::<bool>::new(true);

pub fn register() {
    GucRegistry::define_bool_guc(
        c"healthml.track_scoring",
        c"Count scoring calls, rows and latencies per model (healthml.scoring_stats).",
        c"Needs healthml in shared_preload_libraries.",
        &TRACK_SCORING,
        GucContext::Userset,
        GucFlags::default(),
    );
}
