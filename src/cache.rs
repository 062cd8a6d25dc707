//! Per-backend caches. Models are cached by their immutable id, so a cached model can never be a
//! different model than its row.
//!
//! Which id a name is deployed as is kept across statements without asking the database again:
//! every change to `healthml.deployments` sends a relcache invalidation of that table at commit
//! (the `_deployments_changed` trigger), which PostgreSQL delivers to every backend, and to every
//! hot standby through the commit record; a callback registered at load time then bumps
//! [`GENERATION`], and entries of an older generation are read again. A statement resolves a name
//! once, under its own snapshot, and keeps that id to its end, so one statement never mixes two
//! models nor uses one deployed after it began.
//!
//! Two cases read the table on every statement instead, as before: REPEATABLE READ and SERIALIZABLE
//! transactions (they must see deployments as of their snapshot, not the latest), and parallel
//! queries (leader and workers must resolve the name from the same snapshot, which only a query
//! under the statement's snapshot guarantees).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use healthml_core::model::TrainedModel;
use healthml_core::{Error, ErrorClass};
use pgrx::prelude::*;

use crate::error::{raise, OrRaise};
use crate::spi::{select_one, value};

/// Models kept per backend; beyond this the cache is cleared (models are a few MB at most).
const MAX_CACHED_MODELS: usize = 16;
/// Deployed names kept per backend; beyond this the cache is cleared.
const MAX_CACHED_NAMES: usize = 64;

/// (local transaction, statement start, command): read-only statements of one transaction share a
/// command id, so the start time of the top-level statement tells them apart.
pub(crate) type StatementKey = (u32, i64, u32);

struct Deployed {
    model_id: i64,
    /// The statement that resolved or last used it: it keeps this id to its end.
    statement: StatementKey,
    /// The invalidation generation it was read at; None when it was read under a statement's or
    /// transaction's snapshot and holds for that statement only.
    generation: Option<u64>,
}

thread_local! {
    static MODELS: RefCell<HashMap<i64, Rc<TrainedModel>>> = RefCell::new(HashMap::new());
    static DEPLOYED: RefCell<HashMap<String, Deployed>> = RefCell::new(HashMap::new());
    /// Bumped by [`relcache_changed`] when `healthml.deployments` (or every relation) is invalidated.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    /// The oid of `healthml.deployments` in this backend's database, once read.
    static DEPLOYMENTS_RELID: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
    /// Why models are being loaded, for the server log's line (see [`model_for`]).
    static LOAD_PURPOSE: Cell<&'static str> = const { Cell::new("to score") };
    /// The oid of another settings table whose changes bump [`GENERATION`] (healthml.inference_logging).
    static WATCHED_RELID: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
}

/// Called from `_PG_init`: from then on this process hears of changes to `healthml.deployments`.
pub fn init() {
    // SAFETY: registers a callback that only touches this process's thread-locals and never raises.
    unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(relcache_changed), pg_sys::Datum::from(0usize)) };
}

unsafe extern "C-unwind" fn relcache_changed(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // InvalidOid: every relation (a cache reset after an overflowed invalidation queue)
    if relid == pg_sys::InvalidOid || relid == DEPLOYMENTS_RELID.get() || relid == WATCHED_RELID.get() {
        GENERATION.set(GENERATION.get().wrapping_add(1));
    }
}

/// The trigger on `healthml.deployments`: whatever a statement changed there, every backend (and
/// standby) reads the deployments again once this transaction commits.
#[pg_trigger]
fn _deployments_changed<'a>(
    trigger: &'a pgrx::PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, pgrx::AllocatedByPostgres>>, pgrx::PgTriggerError> {
    let relid = trigger.relid()?;
    // SAFETY: registers an invalidation of an existing relation in the current transaction.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relid) };
    Ok(None)
}

/// Changes to `relid` (a table whose statement trigger is `_deployments_changed`) now bump the
/// generation too.
pub fn watch_relation(relid: pg_sys::Oid) {
    WATCHED_RELID.set(relid);
}

/// The invalidation generation, after reading the invalidations sent so far: a cached value read
/// at this generation is still current.
pub fn generation() -> u64 {
    // SAFETY: reads this backend's shared invalidation queue; may run the callback above.
    unsafe { pg_sys::AcceptInvalidationMessages() };
    GENERATION.get()
}

pub(crate) fn statement_key() -> StatementKey {
    // SAFETY: MyProc is set for every backend and parallel worker that runs SQL functions.
    let lxid = unsafe { pg_sys::MyProc.as_ref().map_or(0, |p| p.lxid) };
    // SAFETY: plain reads of the transaction state (parallel workers get the leader's start time).
    let (started, cid) = unsafe { (pg_sys::GetCurrentStatementStartTimestamp(), pg_sys::GetCurrentCommandId(false)) };
    (lxid, started, cid)
}

/// Whether the deployment read now may serve later statements: not when the transaction must see
/// its own snapshot (REPEATABLE READ, SERIALIZABLE), nor in a parallel query.
fn shareable_across_statements() -> bool {
    // SAFETY: plain reads of the transaction's isolation level and parallel state.
    unsafe { pg_sys::XactIsoLevel < pg_sys::XACT_REPEATABLE_READ as i32 && !pg_sys::IsInParallelMode() }
}

/// The id of the model deployed as `name`, as this statement sees it.
pub fn deployed_id(name: &str) -> i64 {
    let statement = statement_key();
    let shareable = shareable_across_statements();
    let cached = DEPLOYED.with(|d| {
        let mut d = d.borrow_mut();
        let entry = d.get_mut(name)?;
        if entry.statement == statement {
            return Some(entry.model_id);
        }
        if !shareable || entry.generation.is_none() {
            return None;
        }
        // Invalidations are otherwise only read when a lock is taken; a statement inside an open
        // transaction may take none, and must still see a deploy committed before it.
        // SAFETY: reads this backend's shared invalidation queue; may run the callback above.
        unsafe { pg_sys::AcceptInvalidationMessages() };
        (entry.generation == Some(GENERATION.get())).then(|| {
            entry.statement = statement;
            entry.model_id
        })
    });
    if let Some(id) = cached {
        return id;
    }
    // The statement uses what its own snapshot sees: a model deployed after the statement began
    // is not even in `healthml.models` as the statement sees it.
    let model_id = read_deployed(name).unwrap_or_else(|| raise(not_deployed(name)));
    let generation = if shareable {
        // SAFETY: as above.
        unsafe { pg_sys::AcceptInvalidationMessages() };
        // The answer serves later statements only if it is also the latest one. The generation is
        // taken before the latest snapshot: an invalidation processed after this point leaves the
        // entry stale and read again, never a newer generation attached to an older read. A deploy
        // whose invalidation this backend has processed is in the latest snapshot (PostgreSQL makes
        // a commit visible before it sends its invalidations), so an entry never keeps an old id
        // past a deploy it has heard of.
        let generation = GENERATION.get();
        // SAFETY: a fresh snapshot pushed for the read below and popped after it (an error
        // aborts the (sub)transaction, which pops it).
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetLatestSnapshot()) };
        let latest = read_deployed(name);
        // SAFETY: pops the snapshot pushed above.
        unsafe { pg_sys::PopActiveSnapshot() };
        (latest == Some(model_id)).then_some(generation)
    } else {
        None
    };
    DEPLOYED.with(|d| {
        insert_bounded(&mut d.borrow_mut(), MAX_CACHED_NAMES, name.to_string(), Deployed { model_id, statement, generation })
    });
    model_id
}

/// The deployed id of `name` under the active snapshot, if any.
fn read_deployed(name: &str) -> Option<i64> {
    let (id, relid) = crate::spi::first_row(
        "SELECT (SELECT d.model_id FROM healthml.deployments d WHERE d.name = $1 ORDER BY d.id DESC LIMIT 1), \
                'healthml.deployments'::regclass::oid",
        &[name.into()],
        |column| (value::<i64>(column, 1), value::<pg_sys::Oid>(column, 2)),
    )
    .unwrap_or((None, None));
    if let Some(relid) = relid {
        DEPLOYMENTS_RELID.set(relid);
    }
    id
}

fn not_deployed(name: &str) -> Error {
    let exists =
        select_one::<bool>("SELECT EXISTS (SELECT 1 FROM healthml.models WHERE name = $1)", &[name.into()]).unwrap_or(false);
    if exists {
        Error::new(ErrorClass::UndefinedObject, format!("model \"{name}\" is not deployed"))
            .with_hint(format!("deploy a version with SELECT * FROM healthml.deploy('{name}')"))
    } else {
        Error::new(ErrorClass::UndefinedObject, format!("model \"{name}\" does not exist"))
            .with_hint("list models with SELECT * FROM healthml.model_registry; train one with healthml.train()")
    }
}

/// The model with this id for another purpose than scoring, which the server log names when it is
/// loaded (the inference log's worker loads a model to name the inputs it stores).
pub fn model_for(id: i64, purpose: &'static str) -> Rc<TrainedModel> {
    struct Restore(&'static str);
    impl Drop for Restore {
        fn drop(&mut self) {
            LOAD_PURPOSE.set(self.0);
        }
    }
    let _restore = Restore(LOAD_PURPOSE.replace(purpose));
    model(id)
}

/// The model with this id, verified against its sha256 when first loaded.
pub fn model(id: i64) -> Rc<TrainedModel> {
    if let Some(m) = MODELS.with(|m| m.borrow().get(&id).cloned()) {
        return m;
    }
    let (payload, sha, loaded) = crate::spi::as_models_owner(|| {
        crate::spi::first_row(
            "SELECT payload, payload_sha256, format('model \"%s\" version %s (id %s)', name, version, id), session_user::text
             FROM healthml.models WHERE id = $1",
            &[id.into()],
            |column| {
                let loaded = (value::<String>(column, 3).unwrap_or_default(), value::<String>(column, 4).unwrap_or_default());
                (value::<Vec<u8>>(column, 1), value::<String>(column, 2), Some(loaded))
            },
        )
        .unwrap_or((None, None, None))
    });
    // pgaudit does not log this read (it runs as the owner of healthml.models, not as the session's
    // user): the server log says who loaded which model, and why, once per backend.
    if let Some((model, user)) = loaded {
        pgrx::log!("healthml: {model} loaded by {user} {}", LOAD_PURPOSE.get());
    }
    let (Some(payload), Some(sha)) = (payload, sha) else {
        raise(
            Error::new(ErrorClass::UndefinedObject, format!("model id {id} does not exist"))
                .with_hint("it was dropped; deploy another version"),
        )
    };
    let model = Rc::new(TrainedModel::from_payload(&payload, Some(&sha)).or_raise());
    MODELS.with(|m| insert_bounded(&mut m.borrow_mut(), MAX_CACHED_MODELS, id, model.clone()));
    model
}

/// Inserts into a per-backend cache, emptied first when it holds `max` entries: entries are cheap
/// to rebuild and a backend rarely needs many, so no eviction order is worth keeping.
pub fn insert_bounded<K: Eq + std::hash::Hash, V>(cache: &mut HashMap<K, V>, max: usize, key: K, value: V) {
    if cache.len() >= max {
        cache.clear();
    }
    cache.insert(key, value);
}

/// The deployed model of `name`, for this statement.
pub fn deployed_model(name: &str) -> (i64, Rc<TrainedModel>) {
    let id = deployed_id(name);
    (id, model(id))
}
