//! Per-backend caches. Models are cached by their immutable id, so a cached model can never be a
//! different model than its row. Which id a name is deployed as is remembered only for the current
//! statement (same local transaction and command id), so a redeploy is seen by the next statement.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use healthml_core::model::TrainedModel;
use healthml_core::{Error, ErrorClass};
use pgrx::prelude::*;

use crate::error::{raise, OrRaise};
use crate::spi::select_one;

/// Models kept per backend; beyond this the cache is cleared (models are a few MB at most).
const MAX_CACHED_MODELS: usize = 16;

type StatementKey = (u32, u32);

thread_local! {
    static MODELS: RefCell<HashMap<i64, Rc<TrainedModel>>> = RefCell::new(HashMap::new());
    static DEPLOYED: RefCell<HashMap<String, (StatementKey, i64)>> = RefCell::new(HashMap::new());
}

fn statement_key() -> StatementKey {
    // SAFETY: MyProc is set for every backend and parallel worker that runs SQL functions.
    let lxid = unsafe { pg_sys::MyProc.as_ref().map_or(0, |p| p.lxid) };
    // SAFETY: plain read of the current command id.
    let cid = unsafe { pg_sys::GetCurrentCommandId(false) };
    (lxid, cid)
}

/// The id of the model deployed as `name`, as this statement sees it.
pub fn deployed_id(name: &str) -> i64 {
    let key = statement_key();
    if let Some(id) = DEPLOYED.with(|d| d.borrow().get(name).filter(|(k, _)| *k == key).map(|(_, id)| *id)) {
        return id;
    }
    let id =
        select_one::<i64>("SELECT model_id FROM healthml.deployments WHERE name = $1 ORDER BY id DESC LIMIT 1", &[name.into()])
            .unwrap_or_else(|| raise(not_deployed(name)));
    DEPLOYED.with(|d| d.borrow_mut().insert(name.to_string(), (key, id)));
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

/// The model with this id, verified against its sha256 when first loaded.
pub fn model(id: i64) -> Rc<TrainedModel> {
    if let Some(m) = MODELS.with(|m| m.borrow().get(&id).cloned()) {
        return m;
    }
    let (payload, sha) = crate::spi::as_models_owner(|| {
        crate::spi::connect(|client| {
            client
                .select("SELECT payload, payload_sha256 FROM healthml.models WHERE id = $1", Some(1), &[id.into()])
                .and_then(|t| if t.is_empty() { Ok((None, None)) } else { t.first().get_two::<Vec<u8>, String>() })
                .unwrap_or_else(|e| crate::error::own_objects_failed(&format!("reading model {id}"), e))
        })
    });
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
