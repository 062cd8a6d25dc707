//! Scoring statistics: per model and scoring function, the calls, rows scored and a histogram of
//! measured latencies, in shared memory so every backend and parallel worker adds to the same
//! counters. Lock-free: a slot is claimed once per (model, function) with a compare-and-swap, then
//! only atomically added to. Read by `healthml.scoring_stats`, zeroed by `healthml.reset_scoring_stats`.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use healthml_core::stats::latency::{bucket, percentile_us, BUCKETS};
use pgrx::prelude::*;
use pgrx::{PGRXSharedMemory, PgAtomic};

/// (database, model, function) triples tracked; more are counted in `overflow` only. Each retrained
/// version that scores takes new slots: dropping a version frees its slots (at commit), and
/// `healthml.reset_scoring_stats()` frees all of a database's.
const SLOTS: usize = 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Function {
    Predict = 1,
    PredictRow = 2,
    Explain = 3,
}

impl Function {
    fn name(code: u64) -> &'static str {
        match code {
            1 => "predict",
            2 => "predict_row",
            3 => "explain",
            _ => "unknown",
        }
    }
}

pub struct Slot {
    /// See [`key`]; 0: free.
    key: AtomicU64,
    calls: AtomicU64,
    rows: AtomicU64,
    total_ns: AtomicU64,
    max_ns: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
    /// When the slot was claimed, i.e. since when it counts (PostgreSQL timestamp: µs since 2000-01-01).
    since: AtomicI64,
}

pub struct Stats {
    slots: [Slot; SLOTS],
    /// Calls of pairs that found no free slot.
    overflow: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        let zero = || AtomicU64::new(0);
        Stats {
            slots: std::array::from_fn(|_| Slot {
                key: zero(),
                calls: zero(),
                rows: zero(),
                total_ns: zero(),
                max_ns: zero(),
                buckets: std::array::from_fn(|_| zero()),
                since: AtomicI64::new(0),
            }),
            overflow: zero(),
        }
    }
}

// SAFETY: only atomics, no pointers: valid in shared memory, the same in every process.
unsafe impl PGRXSharedMemory for Stats {}

pub static STATS: PgAtomic<Stats> = unsafe { PgAtomic::new(c"healthml_scoring_stats") };

/// Set in `_PG_init` when healthml is preloaded (inherited by every backend forked afterwards).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Called from `_PG_init`: shared memory can only be requested while preloading.
pub fn init() {
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        pgrx::pg_shmem_init!(STATS);
        ENABLED.store(true, Relaxed);
    }
}

pub fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// Model ids are per database: the database oid (32 bits), the model id (24 bits: 16 million models)
/// and the function (8 bits) make the key.
fn key(model_id: i64, function: u64) -> u64 {
    let database = u32::from(unsafe { pg_sys::MyDatabaseId }) as u64;
    database << 32 | (model_id as u64 & 0xFF_FFFF) << 8 | function
}

/// Adds one call that scored `rows` rows in `elapsed` with model `model_id`.
pub fn record(model_id: i64, function: Function, rows: u64, elapsed: Duration) {
    if !enabled() || !crate::settings::TRACK_SCORING.get() || model_id <= 0 {
        return;
    }
    let stats = STATS.get();
    let key = key(model_id, function as u64);
    let start = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize % SLOTS;
    for probe in 0..SLOTS {
        let slot = &stats.slots[(start + probe) % SLOTS];
        let current = slot.key.load(Relaxed);
        let mine = current == key
            || (current == 0
                && match slot.key.compare_exchange(0, key, Relaxed, Relaxed) {
                    Ok(_) => {
                        slot.since.store(unsafe { pg_sys::GetCurrentTimestamp() }, Relaxed);
                        true
                    }
                    Err(other) => other == key,
                });
        if mine {
            let ns = elapsed.as_nanos().min(u64::MAX as u128) as u64;
            slot.calls.fetch_add(1, Relaxed);
            slot.rows.fetch_add(rows, Relaxed);
            slot.total_ns.fetch_add(ns, Relaxed);
            slot.max_ns.fetch_max(ns, Relaxed);
            slot.buckets[bucket(ns)].fetch_add(1, Relaxed);
            return;
        }
    }
    stats.overflow.fetch_add(1, Relaxed);
}

/// Per (model id, function) of this database: calls, rows, mean, p95, p99 and max latency in µs,
/// and since when it counts.
#[allow(clippy::type_complexity)]
pub fn snapshot() -> Vec<(i64, &'static str, i64, i64, f64, f64, f64, f64, i64)> {
    if !enabled() {
        return Vec::new();
    }
    // A key can sit in two slots after a reset freed the slot its probe chain went through: merge.
    struct Sum {
        calls: u64,
        rows: u64,
        total_ns: u64,
        max_ns: u64,
        counts: Vec<u64>,
        since: i64,
    }
    let mut sums: std::collections::BTreeMap<u64, Sum> = Default::default();
    let database = key(0, 0) >> 32;
    for slot in &STATS.get().slots {
        let key = slot.key.load(Relaxed);
        let calls = slot.calls.load(Relaxed);
        if key == 0 || calls == 0 || key >> 32 != database {
            continue;
        }
        let sum = sums.entry(key).or_insert_with(|| Sum {
            calls: 0,
            rows: 0,
            total_ns: 0,
            max_ns: 0,
            counts: vec![0; BUCKETS],
            since: 0,
        });
        sum.calls += calls;
        sum.rows += slot.rows.load(Relaxed);
        sum.total_ns += slot.total_ns.load(Relaxed);
        sum.max_ns = sum.max_ns.max(slot.max_ns.load(Relaxed));
        for (total, b) in sum.counts.iter_mut().zip(&slot.buckets) {
            *total += b.load(Relaxed);
        }
        let since = slot.since.load(Relaxed);
        sum.since = if sum.since == 0 { since } else { sum.since.min(since) };
    }
    let mut out = Vec::new();
    for (key, sum) in sums {
        let percentile = |q: f64| percentile_us(&sum.counts, q);
        let max_us = sum.max_ns as f64 / 1000.0;
        out.push((
            ((key >> 8) & 0xFF_FFFF) as i64,
            Function::name(key & 0xff),
            sum.calls as i64,
            sum.rows as i64,
            sum.total_ns as f64 / sum.calls as f64 / 1000.0,
            percentile(0.95).min(max_us),
            percentile(0.99).min(max_us),
            max_us,
            sum.since,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)));
    out
}

pub fn overflow() -> i64 {
    if enabled() {
        STATS.get().overflow.load(Relaxed) as i64
    } else {
        0
    }
}

/// Zeroes the counters of this database's models and frees their slots.
pub fn reset() {
    if !enabled() {
        return;
    }
    let database = key(0, 0) >> 32;
    free_slots(|key| key >> 32 == database);
    STATS.get().overflow.store(0, Relaxed);
}

/// Zeroes and frees every claimed slot whose key `matches`.
fn free_slots(matches: impl Fn(u64) -> bool) {
    for slot in &STATS.get().slots {
        let key = slot.key.load(Relaxed);
        if key == 0 || !matches(key) {
            continue;
        }
        for counter in [&slot.calls, &slot.rows, &slot.total_ns, &slot.max_ns] {
            counter.store(0, Relaxed);
        }
        for b in &slot.buckets {
            b.store(0, Relaxed);
        }
        slot.key.store(0, Relaxed);
    }
}

/// Frees the slots of model `model_id` of this database once the current transaction commits (a
/// rolled-back drop keeps its statistics). Called by the trigger on healthml.models, so that
/// retraining and dropping old versions does not fill the fixed number of slots.
#[pg_extern(volatile, name = "_forget_scoring_stats")]
fn forget_scoring_stats(model_id: i64) {
    if !enabled() {
        return;
    }
    let database = key(0, 0) >> 32;
    let model = model_id as u64 & 0xFF_FFFF;
    // Only atomics run after the commit: nothing there can fail.
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || {
        free_slots(|key| key >> 32 == database && (key >> 8) & 0xFF_FFFF == model)
    });
}

/// The counters behind `healthml.scoring_stats`: per model id and scoring function, calls, rows
/// scored, and mean / 95th / 99th percentile / max latency of a call in microseconds (percentiles
/// from quarter-octave buckets of measured latencies: at most 19% above the measured value).
#[pg_extern(volatile, parallel_safe, name = "_scoring_stats_rows")]
fn scoring_stats_rows() -> TableIterator<
    'static,
    (
        name!(model_id, i64),
        name!(function, String),
        name!(calls, i64),
        name!(rows_scored, i64),
        name!(mean_us, f64),
        name!(p95_us, f64),
        name!(p99_us, f64),
        name!(max_us, f64),
        name!(counting_since_us, i64),
    ),
> {
    if !enabled() {
        notice!("healthml is not in shared_preload_libraries: scoring statistics are not kept (add it and restart the server)");
    }
    if overflow() > 0 {
        warning!("{} scoring calls were not counted: more than {SLOTS} (model, function) pairs are in use", overflow());
    }
    TableIterator::new(
        snapshot()
            .into_iter()
            .map(|(id, f, calls, rows, mean, p95, p99, max, since)| (id, f.to_string(), calls, rows, mean, p95, p99, max, since)),
    )
}

/// Zeroes the scoring statistics of this database's models; returns whether statistics are kept.
#[pg_extern(volatile)]
fn reset_scoring_stats() -> bool {
    reset();
    enabled()
}

/// The start of a timed call (None when statistics are off: no clock read at all).
pub fn clock() -> Option<std::time::Instant> {
    (enabled() && crate::settings::TRACK_SCORING.get()).then(std::time::Instant::now)
}

/// Records a call started at `started` (from [`clock`]).
pub fn done(started: Option<std::time::Instant>, model_id: i64, function: Function, rows: u64) {
    if let Some(started) = started {
        record(model_id, function, rows, started.elapsed());
    }
}
