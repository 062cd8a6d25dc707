//! Scoring a typed SQL row (a table or view row, `ROW(...)`) without a jsonb round trip: the row's
//! attributes are read straight into one recipe cell per step.
//!
//! How each step finds its attribute is planned once per (model, row type) and kept until the row
//! type changes: PostgreSQL gives every version of a row type its own identifier, so an ALTER TABLE
//! between two statements can never reuse a stale plan.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::rc::Rc;

use healthml_core::model::TrainedModel;
use healthml_core::prep::recipe::Cell;
use healthml_core::{Error, ErrorClass};
use pgrx::prelude::*;
use pgrx::{AnyElement, PgTupleDesc};

use crate::cache::insert_bounded;
use crate::error::raise;

/// Plans kept per backend; beyond this they are cleared (a plan is a few bytes per column).
const MAX_PLANS: usize = 64;

/// How one recipe step reads its value from the row.
#[derive(Clone, Copy)]
enum Read {
    /// Not an input of the model (excluded or dropped): nothing to read.
    Nothing,
    Int2(usize),
    Int4(usize),
    Int8(usize),
    Float4(usize),
    Float8(usize),
    Numeric(usize),
    /// text and varchar: the bytes as they are.
    Text(usize),
    /// As the `::text` cast prints it: `true` / `false`.
    Bool(usize),
    /// Any other type, through its output function; `char(n)` padding is trimmed as `::text` does.
    Output {
        att: usize,
        function: pg_sys::Oid,
        trim_padding: bool,
    },
}

struct RowPlan {
    row_type_identifier: u64,
    reads: Vec<Read>,
}

thread_local! {
    static PLANS: RefCell<HashMap<(i64, pg_sys::Oid, i32), Rc<RowPlan>>> = RefCell::new(HashMap::new());
}

/// A value read from the row, owning what the output function printed.
enum Value<'a> {
    Null,
    Number(f64),
    Borrowed(&'a str),
    Owned(String),
}

/// Probability of the positive class for `row` from `model` (whose id keys the plan cache).
/// `model_label` names the model in errors; it is only called when there is one to raise.
pub fn predict_row(model_id: i64, model: &TrainedModel, row: &AnyElement, model_label: &dyn Fn() -> String) -> f64 {
    with_row_cells(model_id, model, row, model_label, |cells| model.predict_cells(cells))
}

/// Reads `row` into one cell per step of `model`'s recipe and hands them to `consume`.
pub fn with_row_cells<R>(
    model_id: i64,
    model: &TrainedModel,
    row: &AnyElement,
    model_label: &dyn Fn() -> String,
    consume: impl FnOnce(&[Cell<'_>]) -> R,
) -> R {
    // SAFETY: type_is_rowtype only reads the catalog cache.
    if !unsafe { pg_sys::type_is_rowtype(row.oid()) } {
        raise(
            Error::new(
                ErrorClass::DatatypeMismatch,
                format!("{} scores a row, got a value of type {}", model_label(), type_name(row.oid())),
            )
            .with_hint("pass a whole row: SELECT healthml.predict_row('model', t) FROM my_table t"),
        );
    }
    // SAFETY: a composite datum is a (possibly toasted) HeapTupleHeader; detoasting gives a plain
    // one that lives in the current memory context for the rest of this call.
    unsafe {
        let header = pg_sys::pg_detoast_datum(row.datum().cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let type_id = pgrx::htup::heap_tuple_header_get_type_id(header);
        let typmod = pgrx::htup::heap_tuple_header_get_typmod(header);
        let tupdesc = PgTupleDesc::from_pg(pg_sys::lookup_rowtype_tupdesc(type_id, typmod));
        let plan = plan_for(model_id, model, &tupdesc, type_id, typmod, model_label);
        let natts = tupdesc.len();
        let mut values = vec![pg_sys::Datum::from(0usize); natts];
        let mut nulls = vec![true; natts];
        let mut tuple = pg_sys::HeapTupleData {
            t_len: pgrx::htup::heap_tuple_header_get_datum_length(header) as u32,
            t_data: header,
            ..Default::default()
        };
        pg_sys::heap_deform_tuple(&mut tuple, tupdesc.as_ptr(), values.as_mut_ptr(), nulls.as_mut_ptr());
        let read: Vec<Value<'_>> = plan.reads.iter().map(|r| read_value(*r, &values, &nulls)).collect();
        let cells: Vec<Cell<'_>> = read
            .iter()
            .map(|v| match v {
                Value::Null => Cell::Null,
                Value::Number(x) => Cell::Number(*x),
                Value::Borrowed(s) => Cell::Text(s),
                Value::Owned(s) => Cell::Text(s.as_str()),
            })
            .collect();
        consume(&cells)
    }
}

/// # Safety
/// `values` and `nulls` come from deforming the row whose type the plan was made for.
unsafe fn read_value<'a>(read: Read, values: &'a [pg_sys::Datum], nulls: &[bool]) -> Value<'a> {
    let att = match read {
        Read::Nothing => return Value::Null,
        Read::Int2(a) | Read::Int4(a) | Read::Int8(a) | Read::Float4(a) | Read::Float8(a) | Read::Numeric(a) => a,
        Read::Text(a) | Read::Bool(a) | Read::Output { att: a, .. } => a,
    };
    if nulls[att] {
        return Value::Null;
    }
    let d = values[att];
    unsafe {
        match read {
            Read::Nothing => Value::Null,
            Read::Int2(_) => Value::Number(i16::from_datum(d, false).unwrap_or_default() as f64),
            Read::Int4(_) => Value::Number(i32::from_datum(d, false).unwrap_or_default() as f64),
            Read::Int8(_) => Value::Number(i64::from_datum(d, false).unwrap_or_default() as f64),
            Read::Float4(_) => Value::Number(f32::from_datum(d, false).unwrap_or(f32::NAN) as f64),
            Read::Float8(_) => Value::Number(f64::from_datum(d, false).unwrap_or(f64::NAN)),
            Read::Numeric(_) => {
                Value::Number(pgrx::direct_function_call::<f64>(pg_sys::numeric_float8, &[Some(d)]).unwrap_or(f64::NAN))
            }
            Read::Text(_) => <&str>::from_datum(d, false).map_or(Value::Null, Value::Borrowed),
            Read::Bool(_) => Value::Borrowed(if bool::from_datum(d, false).unwrap_or(false) { "true" } else { "false" }),
            Read::Output { function, trim_padding, .. } => {
                let printed = CStr::from_ptr(pg_sys::OidOutputFunctionCall(function, d)).to_string_lossy();
                Value::Owned(if trim_padding { printed.trim_end_matches(' ').to_string() } else { printed.into_owned() })
            }
        }
    }
}

fn plan_for(
    model_id: i64,
    model: &TrainedModel,
    tupdesc: &PgTupleDesc<'_>,
    type_id: pg_sys::Oid,
    typmod: i32,
    model_label: &dyn Fn() -> String,
) -> Rc<RowPlan> {
    // SAFETY: reads (and for a named composite type, loads) the type cache entry of a row type
    // that the caller's datum proves exists.
    let identifier = unsafe { pg_sys::assign_record_type_identifier(type_id, typmod) };
    let key = (model_id, type_id, typmod);
    if let Some(plan) = PLANS.with(|p| p.borrow().get(&key).filter(|p| p.row_type_identifier == identifier).cloned()) {
        return plan;
    }
    let plan = Rc::new(RowPlan { row_type_identifier: identifier, reads: build_reads(model, tupdesc, type_id, model_label) });
    PLANS.with(|p| insert_bounded(&mut p.borrow_mut(), MAX_PLANS, key, plan.clone()));
    plan
}

/// Every input column of the model must be an attribute of the row: a row of another shape would
/// otherwise be scored with silently imputed values. Other attributes are ignored.
fn build_reads(
    model: &TrainedModel,
    tupdesc: &PgTupleDesc<'_>,
    type_id: pg_sys::Oid,
    model_label: &dyn Fn() -> String,
) -> Vec<Read> {
    let attributes: Vec<(usize, &str, pg_sys::Oid)> = tupdesc
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.attisdropped)
        // SAFETY: getBaseType reads the catalog cache; a domain is read as its base type.
        .map(|(i, a)| (i, a.name(), unsafe { pg_sys::getBaseType(a.type_oid().value()) }))
        .collect();
    model
        .recipe
        .steps
        .iter()
        .map(|step| {
            if !step.is_input() {
                return Read::Nothing;
            }
            let Some(&(att, _, base)) = attributes.iter().find(|(_, name, _)| *name == step.column()) else {
                raise(
                    Error::new(
                        ErrorClass::UndefinedColumn,
                        format!(
                            "row type {} has no column \"{}\", an input of {}",
                            type_name(type_id),
                            step.column(),
                            model_label()
                        ),
                    )
                    .with_hint(format!(
                        "pass a row of {} (the training relation) or of a relation with the same column names",
                        model.recipe.source
                    )),
                )
            };
            let read = match base {
                pg_sys::INT2OID => Read::Int2(att),
                pg_sys::INT4OID => Read::Int4(att),
                pg_sys::INT8OID => Read::Int8(att),
                pg_sys::FLOAT4OID => Read::Float4(att),
                pg_sys::FLOAT8OID => Read::Float8(att),
                pg_sys::NUMERICOID => Read::Numeric(att),
                pg_sys::TEXTOID | pg_sys::VARCHAROID => Read::Text(att),
                pg_sys::BOOLOID => Read::Bool(att),
                other => {
                    let mut function = pg_sys::InvalidOid;
                    let mut varlena = false;
                    // SAFETY: looks up the output function of an existing type.
                    unsafe { pg_sys::getTypeOutputInfo(other, &mut function, &mut varlena) };
                    Read::Output { att, function, trim_padding: other == pg_sys::BPCHAROID }
                }
            };
            let numeric_attribute = matches!(
                read,
                Read::Int2(_) | Read::Int4(_) | Read::Int8(_) | Read::Float4(_) | Read::Float8(_) | Read::Numeric(_)
            );
            if step.is_numeric() && !numeric_attribute {
                raise(
                    Error::new(
                        ErrorClass::DatatypeMismatch,
                        format!(
                            "column \"{}\" of row type {} is {}, but {} reads it as a number",
                            step.column(),
                            type_name(type_id),
                            type_name(base),
                            model_label()
                        ),
                    )
                    .with_hint("cast the column to a numeric type, or pass a row of the training relation"),
                );
            }
            read
        })
        .collect()
}

fn type_name(oid: pg_sys::Oid) -> String {
    // SAFETY: format_type_be prints any type oid (unknown ones as "???").
    unsafe { CStr::from_ptr(pg_sys::format_type_be(oid)).to_string_lossy().into_owned() }
}
