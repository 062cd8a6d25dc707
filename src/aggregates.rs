//! `healthml.skewness`, `healthml.kurtosis` and `healthml.moments`: parallel aggregates over
//! [`Moments`]. The C-level support functions are exported here; their SQL (with COMBINEFUNC,
//! SERIALFUNC, DESERIALFUNC and PARALLEL SAFE) is in `sql/extension/aggregates.sql`, because the
//! generator cannot mark functions over `internal` non-strict.

use healthml_core::stats::Moments;
use pgrx::prelude::*;
use pgrx::{Internal, PgMemoryContexts};

use crate::error::OrRaise;

/// The aggregate's own memory context: states must outlive the per-row context they are called in.
fn aggregate_memory_context(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::MemoryContext {
    let mut context = std::ptr::null_mut();
    // SAFETY: fcinfo is the live call info PostgreSQL passed to this function.
    let is_aggregate = unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut context) };
    if is_aggregate == 0 || context.is_null() {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "healthml moments support functions can only be called by an aggregate",
            "use healthml.skewness(), healthml.kurtosis() or healthml.moments()"
        );
    }
    context
}

fn new_state_in(context: pg_sys::MemoryContext, value: Moments) -> Internal {
    // SAFETY: palloc in a valid context; Moments is plain data, so no destructor must run.
    unsafe {
        let ptr = PgMemoryContexts::For(context).palloc_struct::<Moments>();
        ptr.write(value);
        Internal::from(Some(pg_sys::Datum::from(ptr)))
    }
}

fn moments_of(state: &Internal) -> Option<Moments> {
    // SAFETY: every non-NULL state of these aggregates was made by new_state_in.
    unsafe { state.get::<Moments>().copied() }
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn moments_accum(mut state: Internal, value: Option<f64>, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    // SAFETY: as in moments_of.
    match unsafe { state.get_mut::<Moments>() } {
        Some(moments) => moments.push(value),
        None => {
            let mut fresh = Moments::new();
            fresh.push(value);
            state = new_state_in(aggregate_memory_context(fcinfo), fresh);
        }
    }
    state
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn moments_combine(mut left: Internal, right: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    let Some(right_moments) = moments_of(&right) else { return left };
    // SAFETY: as in moments_of.
    match unsafe { left.get_mut::<Moments>() } {
        Some(left_moments) => {
            left_moments.merge(&right_moments);
            left
        }
        // The right state may live in a shorter-lived context: copy it into the aggregate's.
        None => new_state_in(aggregate_memory_context(fcinfo), right_moments),
    }
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn moments_serialize(state: Internal) -> Vec<u8> {
    moments_of(&state).unwrap_or_default().to_bytes().to_vec()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn moments_deserialize(bytes: &[u8], _unused: Internal) -> Internal {
    let moments = Moments::from_bytes(bytes).or_raise();
    // SAFETY: CurrentMemoryContext is valid; the combine function copies the state if it must live longer.
    new_state_in(unsafe { pg_sys::CurrentMemoryContext }, moments)
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn moments_skewness_final(state: Internal) -> Option<f64> {
    moments_of(&state)?.skewness()
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn moments_kurtosis_final(state: Internal) -> Option<f64> {
    moments_of(&state)?.kurtosis()
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn moments_summary_final(state: Internal) -> pgrx::composite_type!('static, "healthml.moments_summary") {
    let m = moments_of(&state).unwrap_or_default();
    let mut row = PgHeapTuple::new_composite_type("healthml.moments_summary")
        .unwrap_or_else(|e| crate::error::own_objects_failed("making a healthml.moments_summary", e));
    let set = |row: &mut PgHeapTuple<'static, AllocatedByRust>, name: &str, value: Option<f64>| {
        row.set_by_name(name, value)
            .unwrap_or_else(|e| crate::error::own_objects_failed(&format!("setting healthml.moments_summary.{name}"), e));
    };
    row.set_by_name("n", m.n as i64)
        .unwrap_or_else(|e| crate::error::own_objects_failed("setting healthml.moments_summary.n", e));
    row.set_by_name("nulls", m.nulls as i64)
        .unwrap_or_else(|e| crate::error::own_objects_failed("setting healthml.moments_summary.nulls", e));
    row.set_by_name("nonfinite", m.nonfinite as i64)
        .unwrap_or_else(|e| crate::error::own_objects_failed("setting healthml.moments_summary.nonfinite", e));
    set(&mut row, "mean", m.mean());
    set(&mut row, "stddev", m.stddev());
    set(&mut row, "min", m.min());
    set(&mut row, "max", m.max());
    set(&mut row, "skewness", m.skewness());
    set(&mut row, "kurtosis", m.kurtosis());
    row
}
