//! healthml's settings (GUCs), all under the `healthml.` prefix. Set them like any PostgreSQL
//! setting: `SET healthml.track_scoring = off`, `ALTER SYSTEM`, or postgresql.conf.

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// `healthml.track_scoring` (default on): count scoring calls, rows and latencies per model in the
/// shared-memory counters behind `healthml.scoring_stats`. Costs two clock reads and a few atomic
/// additions per call; needs healthml in `shared_preload_libraries` (otherwise there are no counters).
pub static TRACK_SCORING: GucSetting<bool> = GucSetting::<bool>::new(true);

/// `healthml.explain_threads` (default 2, 1 to 4): threads one explanation of a large tree model
/// may use. The extra threads only compute (they never call PostgreSQL, and start with every signal
/// blocked); a model's values are the same for every setting, because the trees are always summed
/// in the same four runs.
pub static EXPLAIN_THREADS: GucSetting<i32> = GucSetting::<i32>::new(2);

/// `healthml.inference_log_buffer` (default 4096): slots of the shared-memory buffer of sampled
/// scoring calls waiting to be stored (about 2 kB each); set at server start.
pub static INFERENCE_LOG_BUFFER: GucSetting<i32> = GucSetting::<i32>::new(4096);

/// `healthml.inference_log_flush_ms` (default 1000): how often the worker stores sampled calls.
pub static INFERENCE_LOG_FLUSH_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);

/// `healthml.inference_log_retention_days` (default 30): days of healthml.inference_log kept.
pub static INFERENCE_LOG_RETENTION_DAYS: GucSetting<i32> = GucSetting::<i32>::new(30);

pub fn register() {
    GucRegistry::define_int_guc(
        c"healthml.inference_log_buffer",
        c"Slots of the shared-memory buffer of sampled scoring calls waiting to be stored (about 2 kB each).",
        c"Calls that find it full are counted in healthml.inference_log_status, not waited for. Needs a restart.",
        &INFERENCE_LOG_BUFFER,
        16,
        1_048_576,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"healthml.inference_log_flush_ms",
        c"How often the inference log's worker stores the sampled calls, in milliseconds.",
        c"It also stores them when the buffer is a quarter full.",
        &INFERENCE_LOG_FLUSH_MS,
        10,
        60_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"healthml.inference_log_retention_days",
        c"Days of healthml.inference_log kept: older day partitions are dropped when calls are stored.",
        c"A day is a UTC day.",
        &INFERENCE_LOG_RETENTION_DAYS,
        1,
        36_500,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"healthml.track_scoring",
        c"Count scoring calls, rows and latencies per model (healthml.scoring_stats).",
        c"Needs healthml in shared_preload_libraries.",
        &TRACK_SCORING,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: the assign hook only stores an integer and cannot fail.
    unsafe {
        GucRegistry::define_int_guc_with_hooks(
            c"healthml.explain_threads",
            c"Threads one explanation (TreeSHAP) of a large tree model may use.",
            c"1 explains on the calling backend alone. The values do not depend on it.",
            &EXPLAIN_THREADS,
            1,
            4,
            GucContext::Userset,
            GucFlags::default(),
            None,
            Some(explain_threads_assigned),
            None,
        );
    }
}

/// The core reads the thread count on every explanation; PostgreSQL calls this on every change,
/// the boot value included.
unsafe extern "C-unwind" fn explain_threads_assigned(threads: std::ffi::c_int, _extra: *mut std::ffi::c_void) {
    healthml_core::model::set_explain_threads(usize::try_from(threads).unwrap_or(1));
}
