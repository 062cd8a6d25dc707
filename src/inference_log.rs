//! The inference log: opt-in, sampled records of scoring calls (the inputs as the model read them,
//! the score, model version, time and role), stored in `healthml.inference_log`.
//!
//! Scoring functions are STABLE and PARALLEL SAFE: they run in read-only transactions, in parallel
//! workers and on standbys, where nothing can be inserted. A sampled call is therefore copied into
//! a slot of a ring in shared memory (no lock, no I/O, no transaction of its own), and a background
//! worker per database, started by the first sampled call and leaving after a few idle seconds,
//! drains the ring into the table: many calls per insert, under the worker's own transaction. A call
//! that finds the ring full is counted, never waited for. `healthml.flush_inference_log()` drains it
//! at once (what drift over the log does first).

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use healthml_core::inference_log::{decode, encode, inputs_json, timestamp_text};
use healthml_core::model::TrainedModel;
use healthml_core::prep::recipe::Cell as RecipeCell;
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags};
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::spi::select_one;

/// Bytes of inputs one slot holds: a model with more (or longer) inputs is counted as too large.
const PAYLOAD: usize = 2000;
/// Databases whose calls can be flushed at the same time (one worker each).
const WORKERS: usize = 16;
/// Slots a scoring call tries before it counts the ring as full.
const PROBES: usize = 64;
/// A worker leaves after this long with nothing to store (DROP DATABASE waits 5 s for it).
const IDLE_EXIT: Duration = Duration::from_secs(2);
/// After a worker could not be started, this backend waits this long before trying again.
const START_RETRY: Duration = Duration::from_secs(10);
/// A backend starts a worker at most this often: one that starts but cannot stay (its database
/// refuses connections, say) is not started again for every call.
const START_INTERVAL: Duration = Duration::from_secs(1);

const FREE: u32 = 0;
const WRITING: u32 = 1;
const READY: u32 = 2;
const TAKEN: u32 = 3;

/// The scoring function a call came through.
#[derive(Clone, Copy)]
#[repr(u8)]
pub enum Call {
    Predict = 1,
    PredictRow = 2,
    PredictByKey = 3,
}

fn call_name(code: u8) -> &'static str {
    match code {
        1 => "predict",
        2 => "predict_row",
        3 => "predict_by_key",
        _ => "unknown",
    }
}

#[derive(Clone, Copy)]
struct Record {
    database: u32,
    role: u32,
    call: u8,
    model_id: i64,
    at: pg_sys::TimestampTz,
    score: f64,
    len: u32,
    payload: [u8; PAYLOAD],
}

#[repr(C)]
struct Slot {
    state: AtomicU32,
    /// Written only by the process that moved `state` from FREE to WRITING, read only by the one
    /// that moved it from READY to TAKEN.
    record: UnsafeCell<Record>,
}

#[repr(C)]
struct WorkerSlot {
    /// The database this worker flushes; 0: free.
    database: AtomicU32,
    /// Its process's latch (a pointer into shared memory, the same in every process), 0 until set.
    latch: AtomicUsize,
}

/// Counters since the server started, shown by `healthml.inference_log_status`.
#[repr(C)]
struct Ring {
    capacity: AtomicUsize,
    cursor: AtomicU64,
    pending: AtomicU64,
    sampled: AtomicU64,
    stored: AtomicU64,
    dropped_full: AtomicU64,
    dropped_too_large: AtomicU64,
    dropped_unstored: AtomicU64,
    workers: [WorkerSlot; WORKERS],
}

// The ring's header, followed by `capacity` slots; set by the startup hook in the postmaster and
// inherited by every process it forks.
static RING: AtomicPtr<Ring> = AtomicPtr::new(std::ptr::null_mut());
static mut PREV_SHMEM_REQUEST_HOOK: pg_sys::shmem_request_hook_type = None;
static mut PREV_SHMEM_STARTUP_HOOK: pg_sys::shmem_startup_hook_type = None;

fn shared_size(capacity: usize) -> usize {
    std::mem::size_of::<Ring>() + capacity * std::mem::size_of::<Slot>()
}

/// Called from `_PG_init`: the ring can only be requested while preloading.
pub fn init() {
    // SAFETY: read once while the library is loaded.
    if !unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        return;
    }
    // SAFETY: chains this library's hooks before PostgreSQL calls them (single-threaded postmaster).
    unsafe {
        PREV_SHMEM_REQUEST_HOOK = pg_sys::shmem_request_hook;
        pg_sys::shmem_request_hook = Some(request_shared_memory);
        PREV_SHMEM_STARTUP_HOOK = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(attach_shared_memory);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn request_shared_memory() {
    // SAFETY: the previous hook was set before this library's and is called as PostgreSQL would.
    unsafe {
        if let Some(previous) = PREV_SHMEM_REQUEST_HOOK {
            previous();
        }
        pg_sys::RequestAddinShmemSpace(shared_size(crate::settings::INFERENCE_LOG_BUFFER.get() as usize));
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn attach_shared_memory() {
    // SAFETY: the previous hook first; then the segment is found or made under AddinShmemInitLock,
    // and zeroed memory is a valid ring (atomics and plain bytes), every slot FREE.
    unsafe {
        if let Some(previous) = PREV_SHMEM_STARTUP_HOOK {
            previous();
        }
        let capacity = crate::settings::INFERENCE_LOG_BUFFER.get() as usize;
        let size = shared_size(capacity);
        // AddinShmemInitLock, the 22nd of the main LWLocks (lwlocknames.txt), as pgrx's PgAtomic finds it
        let init_lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock;
        pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let mut found = false;
        let memory = pg_sys::ShmemInitStruct(c"healthml_inference_log".as_ptr(), size, &mut found) as *mut Ring;
        if !found {
            std::ptr::write_bytes(memory as *mut u8, 0, size);
            (*memory).capacity.store(capacity, Ordering::Relaxed);
        }
        pg_sys::LWLockRelease(init_lock);
        RING.store(memory, Ordering::Release);
    }
}

fn ring() -> Option<&'static Ring> {
    // SAFETY: set once by the startup hook to a segment that lives as long as the server.
    unsafe { RING.load(Ordering::Acquire).as_ref() }
}

fn slots(ring: &'static Ring) -> &'static [Slot] {
    // SAFETY: `capacity` slots follow the header in the segment.
    unsafe {
        let first = (ring as *const Ring).add(1) as *const Slot;
        std::slice::from_raw_parts(first, ring.capacity.load(Ordering::Relaxed))
    }
}

// ---------------------------------------------------------------------------------------------
// Which calls are sampled

struct Rate {
    rate: f64,
    /// The invalidation generation it was read at; None: valid for `statement` only.
    generation: Option<u64>,
    statement: crate::cache::StatementKey,
}

thread_local! {
    static RATES: RefCell<HashMap<i64, Rate>> = RefCell::new(HashMap::new());
    static RANDOM: Cell<u64> = const { Cell::new(0) };
    static LAST_START_FAILURE: Cell<Option<Instant>> = const { Cell::new(None) };
    static LAST_START: Cell<Option<Instant>> = const { Cell::new(None) };
    static ENCODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The share of model `model_id`'s calls to log, read from `healthml.inference_logging` once and
/// again after it changes (its trigger invalidates it, as deployments do).
fn rate(model_id: i64) -> f64 {
    let statement = crate::cache::statement_key();
    // Within one statement the rate read first holds, without reading the invalidations on every
    // row of a batch; a later statement reads them once and keeps the rate if nothing changed.
    if let Some(rate) = RATES.with(|r| {
        let mut r = r.borrow_mut();
        let entry = r.get_mut(&model_id)?;
        if entry.statement != statement {
            if entry.generation.is_none() || entry.generation != Some(crate::cache::generation()) {
                return None;
            }
            entry.statement = statement;
        }
        Some(entry.rate)
    }) {
        return rate;
    }
    let generation = crate::cache::generation();
    let (rate, relid) = crate::spi::as_models_owner(|| {
        // a database still at 0.1.0 (ALTER EXTENSION UPDATE not run yet) has no settings table
        let relid = select_one::<pg_sys::Oid>("SELECT to_regclass('healthml.inference_logging')::oid", &[]);
        let rate = relid.and_then(|_| {
            select_one::<f64>(
                "SELECT l.sample_rate FROM healthml.inference_logging l JOIN healthml.models m ON m.name = l.model_name
                 WHERE m.id = $1",
                &[model_id.into()],
            )
        });
        (rate.unwrap_or(0.0), relid)
    });
    if let Some(relid) = relid {
        crate::cache::watch_relation(relid);
    }
    let entry = Rate { rate, generation: relid.map(|_| generation), statement };
    RATES.with(|r| crate::cache::insert_bounded(&mut r.borrow_mut(), 64, model_id, entry));
    rate
}

/// A uniform draw in [0, 1) from a per-process xorshift generator (seeded by pid and time).
fn draw() -> f64 {
    RANDOM.with(|state| {
        let mut x = state.get();
        if x == 0 {
            // SAFETY: plain reads of this process's id and the clock.
            x = (unsafe { pg_sys::MyProcPid } as u64) << 32 ^ unsafe { pg_sys::GetCurrentTimestamp() } as u64 | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// Logs one scoring call of model `model_id` if it is sampled: `cells` are its inputs as the model
/// read them (one per recipe step). Costs a cache look-up and a draw when the call is not sampled.
pub fn record(model_id: i64, call: Call, cells: &[RecipeCell<'_>], score: f64) {
    let Some(ring) = ring() else { return };
    let rate = rate(model_id);
    if rate <= 0.0 || (rate < 1.0 && draw() >= rate) {
        return;
    }
    // SAFETY: a plain read of shared state; a standby cannot store the log, so it does not keep one.
    if unsafe { pg_sys::RecoveryInProgress() } {
        return;
    }
    ring.sampled.fetch_add(1, Ordering::Relaxed);
    ENCODED.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        buffer.clear();
        if !encode(cells, PAYLOAD, &mut buffer) {
            ring.dropped_too_large.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // SAFETY: plain reads of this process's identity and the clock.
        let (database, role, at) =
            unsafe { (u32::from(pg_sys::MyDatabaseId), u32::from(pg_sys::GetSessionUserId()), pg_sys::GetCurrentTimestamp()) };
        let slots = slots(ring);
        let start = ring.cursor.fetch_add(1, Ordering::Relaxed) as usize;
        let claimed = (0..PROBES.min(slots.len()))
            .map(|p| &slots[(start + p) % slots.len()])
            .find(|slot| slot.state.compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed).is_ok());
        let Some(slot) = claimed else {
            ring.dropped_full.fetch_add(1, Ordering::Relaxed);
            wake_worker(ring, database);
            return;
        };
        // SAFETY: this process moved the slot to WRITING: no other process touches the record
        // until it is READY.
        unsafe {
            let record = &mut *slot.record.get();
            record.database = database;
            record.role = role;
            record.call = call as u8;
            record.model_id = model_id;
            record.at = at;
            record.score = score;
            record.len = buffer.len() as u32;
            record.payload[..buffer.len()].copy_from_slice(&buffer);
        }
        slot.state.store(READY, Ordering::Release);
        let pending = ring.pending.fetch_add(1, Ordering::Relaxed) + 1;
        // a quarter full: flush now rather than at the worker's next round
        if pending == (slots.len() / 4).max(1) as u64 {
            wake_worker(ring, database);
        }
        ensure_worker(ring, database);
    });
}

fn wake_worker(ring: &Ring, database: u32) {
    for worker in &ring.workers {
        if worker.database.load(Ordering::Acquire) == database {
            let latch = worker.latch.load(Ordering::Acquire);
            if latch != 0 {
                // SAFETY: a latch in shared memory, owned by a live worker (it clears the pointer
                // before it exits); setting a latch is allowed from any process.
                unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) };
            }
        }
    }
}

/// Starts the worker of `database` unless it runs: the slot is claimed first, so of many calls
/// that find none, one starts it.
fn ensure_worker(ring: &Ring, database: u32) {
    if ring.workers.iter().any(|w| w.database.load(Ordering::Acquire) == database) {
        return;
    }
    if LAST_START_FAILURE.with(|f| f.get().is_some_and(|at| at.elapsed() < START_RETRY))
        || LAST_START.with(|s| s.get().is_some_and(|at| at.elapsed() < START_INTERVAL))
    {
        return;
    }
    let Some((index, worker)) = ring
        .workers
        .iter()
        .enumerate()
        .find(|(_, w)| w.database.compare_exchange(0, database, Ordering::AcqRel, Ordering::Relaxed).is_ok())
    else {
        LAST_START_FAILURE.with(|f| f.set(Some(Instant::now())));
        return;
    };
    LAST_START.with(|s| s.set(Some(Instant::now())));
    let started = BackgroundWorkerBuilder::new("healthml inference log")
        .set_type("healthml inference log")
        .set_library("healthml")
        .set_function("healthml_inference_log_worker")
        .set_argument(Some(pg_sys::Datum::from(index)))
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .load_dynamic();
    if started.is_err() {
        // max_worker_processes reached: the calls stay in the ring until a later call starts one
        worker.database.store(0, Ordering::Release);
        LAST_START_FAILURE.with(|f| f.set(Some(Instant::now())));
    }
}

// ---------------------------------------------------------------------------------------------
// Storing the ring's records

/// Takes this database's records out of the ring and stores them; returns how many were stored.
/// Runs as the owner of healthml's tables, in the caller's transaction.
pub fn flush() -> i64 {
    let Some(ring) = ring() else { return 0 };
    // SAFETY: a plain read of this process's database.
    let database = u32::from(unsafe { pg_sys::MyDatabaseId });
    // One store at a time, until its transaction ends: a flush that finds the ring empty still
    // waits for the worker's rows to commit, so whoever reads the log next sees every call made
    // before the flush.
    crate::spi::first_row("SELECT pg_advisory_xact_lock(hashtext('healthml.inference_log'))", &[], |_| ());
    // the extension was dropped meanwhile (or is still at 0.1.0): what waits is taken and counted
    let storable = select_one::<pg_sys::Oid>("SELECT to_regclass('healthml.inference_log')::oid", &[]).is_some();
    let mut taken: Vec<Record> = Vec::new();
    let mut others: Vec<i64> = Vec::new();
    for slot in slots(ring) {
        if slot.state.load(Ordering::Acquire) != READY {
            continue;
        }
        // SAFETY: `database` is written before the slot becomes READY (Release above).
        let owner = unsafe { (*slot.record.get()).database };
        if owner != database {
            if !others.contains(&(owner as i64)) {
                others.push(owner as i64);
            }
            continue;
        }
        if slot.state.compare_exchange(READY, TAKEN, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            // SAFETY: this process moved the slot to TAKEN: the record is stable until it is FREE.
            let record = unsafe { *slot.record.get() };
            if record.database != database {
                // freed and written again for another database since it was looked at
                slot.state.store(READY, Ordering::Release);
                continue;
            }
            taken.push(record);
            slot.state.store(FREE, Ordering::Release);
            ring.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
    discard_dropped_databases(ring, others);
    if taken.is_empty() {
        return 0;
    }
    // counted as unstored until they are stored: an error on the way loses them
    ring.dropped_unstored.fetch_add(taken.len() as u64, Ordering::Relaxed);
    if !storable {
        return 0;
    }
    let stored = crate::spi::as_models_owner(|| store(&taken));
    ring.stored.fetch_add(stored as u64, Ordering::Relaxed);
    ring.dropped_unstored.fetch_sub(stored as u64, Ordering::Relaxed);
    stored
}

/// Frees the slots of records whose database was dropped before its worker stored them (nobody else
/// ever would): of `candidates`, the databases other than this one seen waiting in the ring.
fn discard_dropped_databases(ring: &'static Ring, candidates: Vec<i64>) {
    if candidates.is_empty() {
        return;
    }
    let gone: Vec<i64> = select_one::<Vec<i64>>(
        "SELECT coalesce(array_agg(d), '{}') FROM unnest($1::bigint[]) d WHERE NOT EXISTS (SELECT FROM pg_database WHERE oid = d::oid)",
        &[candidates.into()],
    )
    .unwrap_or_default();
    if gone.is_empty() {
        return;
    }
    for slot in slots(ring) {
        // SAFETY: as in flush: the database is read again once the slot is this process's.
        if slot.state.load(Ordering::Acquire) != READY || !gone.contains(&(unsafe { (*slot.record.get()).database } as i64)) {
            continue;
        }
        if slot.state.compare_exchange(READY, TAKEN, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            // SAFETY: this process moved the slot to TAKEN.
            if gone.contains(&(unsafe { (*slot.record.get()).database } as i64)) {
                slot.state.store(FREE, Ordering::Release);
                ring.pending.fetch_sub(1, Ordering::Relaxed);
                ring.dropped_unstored.fetch_add(1, Ordering::Relaxed);
            } else {
                slot.state.store(READY, Ordering::Release);
            }
        }
    }
}

/// Inserts the records whose model still exists (a model dropped meanwhile cannot say what its
/// inputs were called); returns how many.
fn store(records: &[Record]) -> i64 {
    let (mut at, mut model_ids, mut roles, mut calls, mut scores, mut inputs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut models: HashMap<i64, Option<std::rc::Rc<TrainedModel>>> = HashMap::new();
    for r in records {
        let model = models
            .entry(r.model_id)
            .or_insert_with(|| {
                let exists =
                    select_one::<bool>("SELECT EXISTS (SELECT 1 FROM healthml.models WHERE id = $1)", &[r.model_id.into()]);
                exists.unwrap_or(false).then(|| crate::cache::model_for(r.model_id, "to store its inference log"))
            })
            .clone();
        let Some(model) = model else { continue };
        let Ok(row) = decode(&r.payload[..r.len as usize]).and_then(|cells| inputs_json(&model.recipe, &cells)) else {
            continue;
        };
        at.push(timestamp_text(r.at));
        model_ids.push(r.model_id);
        roles.push(r.role as i64);
        calls.push(call_name(r.call).to_string());
        scores.push(r.score);
        inputs.push(JsonB(row));
    }
    if at.is_empty() {
        return 0;
    }
    let retention = crate::settings::INFERENCE_LOG_RETENTION_DAYS.get();
    select_one::<i64>(
        "SELECT healthml._store_inference_log($1::timestamptz[], $2, $3, $4, $5, $6, $7)",
        &[at.into(), model_ids.into(), roles.into(), calls.into(), scores.into(), inputs.into(), retention.into()],
    )
    .unwrap_or(0)
}

/// `healthml.flush_inference_log()`: stores the sampled calls of this database that are still in
/// shared memory now, rather than at the worker's next round (at most a second later).
#[pg_extern(volatile, name = "flush_inference_log")]
fn flush_inference_log() -> i64 {
    crate::spi::require_primary("healthml.flush_inference_log");
    flush()
}

/// The ring's counters since the server started (the rows of `healthml.inference_log_status`).
#[pg_extern(volatile, parallel_safe, name = "_inference_log_counters")]
fn inference_log_counters() -> TableIterator<
    'static,
    (
        name!(buffer_slots, i64),
        name!(pending, i64),
        name!(sampled, i64),
        name!(stored, i64),
        name!(dropped_buffer_full, i64),
        name!(dropped_too_large, i64),
        name!(dropped_unstored, i64),
        name!(workers, i32),
    ),
> {
    let Some(ring) = ring() else {
        notice!("healthml is not in shared_preload_libraries: no scoring call is logged (add it and restart the server)");
        return TableIterator::new(std::iter::empty());
    };
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed) as i64;
    TableIterator::once((
        ring.capacity.load(Ordering::Relaxed) as i64,
        load(&ring.pending),
        load(&ring.sampled),
        load(&ring.stored),
        load(&ring.dropped_full),
        load(&ring.dropped_too_large),
        load(&ring.dropped_unstored),
        ring.workers.iter().filter(|w| w.database.load(Ordering::Relaxed) != 0).count() as i32,
    ))
}

// ---------------------------------------------------------------------------------------------
// The worker

/// Frees the worker's slot however it exits (an error included), so a later call starts another.
unsafe extern "C-unwind" fn release_worker_slot(_code: i32, index: pg_sys::Datum) {
    if let Some(ring) = ring() {
        if let Some(worker) = ring.workers.get(index.value()) {
            worker.latch.store(0, Ordering::Release);
            worker.database.store(0, Ordering::Release);
        }
    }
}

/// A worker flushing one database's records: the argument is its slot, which names the database.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn healthml_inference_log_worker(argument: pg_sys::Datum) {
    let index = argument.value();
    let Some(worker) = ring().and_then(|r| r.workers.get(index)) else { return };
    // SAFETY: registered before anything can fail; runs at exit in this process.
    unsafe { pg_sys::before_shmem_exit(Some(release_worker_slot), argument) };
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = worker.database.load(Ordering::Acquire);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(pg_sys::Oid::from(database)), None);
    // SAFETY: MyProc's latch lives in shared memory for as long as this process does.
    worker.latch.store(unsafe { &raw mut (*pg_sys::MyProc).procLatch } as usize, Ordering::Release);
    let mut idle_since = Instant::now();
    loop {
        let stored = BackgroundWorker::transaction(flush);
        if stored > 0 {
            idle_since = Instant::now();
        } else if idle_since.elapsed() >= IDLE_EXIT {
            break;
        }
        let interval = Duration::from_millis(crate::settings::INFERENCE_LOG_FLUSH_MS.get() as u64);
        if !BackgroundWorker::wait_latch(Some(interval.min(IDLE_EXIT))) {
            break;
        }
        if BackgroundWorker::sighup_received() {
            // SAFETY: reloads the configuration file, as every backend does on SIGHUP.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
    }
    // Leave the slot first, then store what came meanwhile: a call after this finds no worker and
    // starts one, so nothing is left behind.
    // SAFETY: the same function runs again at exit, harmlessly.
    unsafe { release_worker_slot(0, argument) };
    BackgroundWorker::transaction(flush);
}
