//! `healthml.skewness`, `healthml.kurtosis`, `healthml.moments` and the pair
//! `healthml.moments_partial` / `healthml.moments_merge`: parallel aggregates over [`Moments`]. Their
//! SQL is in `sql/extension/aggregates.sql`, because the generator cannot declare aggregates or mark
//! a transition function non-strict.
//!
//! The state is a `double precision[]` of [`STATE_WORDS`], changed in place inside an aggregate as
//! PostgreSQL's own `float8_accum` does. A plain SQL type, unlike `internal`, can be shipped between
//! servers: Citus and `postgres_fdw` can compute partial states per shard and combine them. The
//! `internal`-state functions at the end serve only the SQL of 0.1.0 until `ALTER EXTENSION UPDATE`.

use healthml_core::stats::moments::STATE_WORDS;
use healthml_core::stats::Moments;
use healthml_core::Error;
use pgrx::array::RawArray;
use pgrx::prelude::*;
use pgrx::{Internal, IntoDatum, PgMemoryContexts};

use crate::error::OrRaise;

/// A state argument as an array whose words may be written: the aggregate's own state in place
/// (as `float8_accum` does), a copy anywhere else, so a direct call never changes its input.
///
/// # Safety
/// `fcinfo` is the live call info; argument `argno` is a non-NULL `double precision[]`.
unsafe fn state_argument(fcinfo: pg_sys::FunctionCallInfo, argno: usize, writable_in_place: bool) -> RawArray {
    // SAFETY: the caller's contract, stated above.
    unsafe {
        let datum = pgrx::fcinfo::pg_getarg_datum_raw(fcinfo, argno);
        let varlena = datum.cast_mut_ptr::<pg_sys::varlena>();
        let detoasted =
            if writable_in_place { pg_sys::pg_detoast_datum(varlena) } else { pg_sys::pg_detoast_datum_copy(varlena) };
        let array = RawArray::from_ptr(std::ptr::NonNull::new_unchecked(detoasted.cast()));
        if array.dims().len() != 1 || array.len() != STATE_WORDS || array.any_nulls() {
            crate::error::raise(
                Error::invalid_parameter(format!(
                    "moments state of {} dimension(s), {} value(s){} is not a state of healthml.moments_partial",
                    array.dims().len(),
                    array.len(),
                    if array.any_nulls() { " and NULLs" } else { "" }
                ))
                .with_hint(format!("a state is a one-dimensional double precision[] of {STATE_WORDS} values made by healthml.moments_partial(value)")),
            );
        }
        array
    }
}

/// Reads, changes and writes back one state argument; returns it as the function's result.
///
/// # Safety
/// As [`state_argument`].
unsafe fn update_state(fcinfo: pg_sys::FunctionCallInfo, argno: usize, change: impl FnOnce(&mut Moments)) -> pg_sys::Datum {
    // SAFETY: the caller's contract, stated above.
    unsafe {
        let in_aggregate = pg_sys::AggCheckCallContext(fcinfo, std::ptr::null_mut()) != 0;
        let mut array = state_argument(fcinfo, argno, in_aggregate);
        let words = array.data::<f64>().as_mut();
        let mut moments = Moments::from_state_words(words).or_raise();
        change(&mut moments);
        words.copy_from_slice(&moments.to_state_words());
        pg_sys::Datum::from(array.into_ptr().as_ptr())
    }
}

/// The moments of state argument `argno`, read without changing it.
///
/// # Safety
/// As [`state_argument`].
unsafe fn state_of(fcinfo: pg_sys::FunctionCallInfo, argno: usize) -> Moments {
    // SAFETY: the caller's contract, stated above.
    unsafe {
        let mut array = state_argument(fcinfo, argno, true);
        Moments::from_state_words(array.data::<f64>().as_ref()).or_raise()
    }
}

fn state_datum(moments: &Moments) -> pg_sys::Datum {
    moments
        .to_state_words()
        .to_vec()
        .into_datum()
        .unwrap_or_else(|| crate::error::own_objects_failed("making a moments state", "no array"))
}

/// `_moments_state_accum(state double precision[], value double precision)`: not STRICT, because a
/// NULL value is counted; a NULL state (a direct call) is the state of no values.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn moments_state_accum(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: PostgreSQL calls this with the arguments its SQL declares.
    unsafe {
        let value = if pgrx::fcinfo::pg_arg_is_null(fcinfo, 1) {
            None
        } else {
            f64::from_datum(pgrx::fcinfo::pg_getarg_datum_raw(fcinfo, 1), false)
        };
        if pgrx::fcinfo::pg_arg_is_null(fcinfo, 0) {
            let mut fresh = Moments::new();
            fresh.push(value);
            return state_datum(&fresh);
        }
        update_state(fcinfo, 0, |moments| moments.push(value))
    }
}

/// `_moments_state_combine(state double precision[], other double precision[])`, STRICT: the
/// combine function of every aggregate here and the transition function of `moments_merge`.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn moments_state_combine(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: PostgreSQL calls this with the arguments its SQL declares.
    unsafe {
        let other = state_of(fcinfo, 1);
        update_state(fcinfo, 0, |moments| moments.merge(&other))
    }
}

#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo_moments_state_accum() -> &'static pg_sys::Pg_finfo_record {
    &FUNCTION_INFO_V1
}

#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo_moments_state_combine() -> &'static pg_sys::Pg_finfo_record {
    &FUNCTION_INFO_V1
}

const FUNCTION_INFO_V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };

/// Final functions, STRICT: the state is never NULL (the aggregates start from `INITCOND`).
#[pg_extern(immutable, parallel_safe, sql = false)]
fn moments_state_skewness(fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    // SAFETY: called by PostgreSQL with its one double precision[] argument, never NULL.
    unsafe { state_of(fcinfo, 0) }.skewness()
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn moments_state_kurtosis(fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    // SAFETY: as in moments_state_skewness.
    unsafe { state_of(fcinfo, 0) }.kurtosis()
}

#[pg_extern(immutable, parallel_safe, sql = false)]
fn moments_state_summary(fcinfo: pg_sys::FunctionCallInfo) -> pgrx::composite_type!('static, "healthml.moments_summary") {
    // SAFETY: as in moments_state_skewness.
    summary_row(&unsafe { state_of(fcinfo, 0) })
}

// ---- 0.1.0's internal-state support functions, named by its SQL until ALTER EXTENSION UPDATE ----

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
    summary_row(&moments_of(&state).unwrap_or_default())
}

fn summary_row(m: &Moments) -> pgrx::composite_type!('static, "healthml.moments_summary") {
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
