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
use crate::error::{raise, raise_with};

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
/// The call is logged if it is sampled (src/inference_log.rs).
pub fn predict_row(model_id: i64, model: &TrainedModel, row: &AnyElement, model_label: &dyn Fn() -> String) -> f64 {
    with_row_cells(model_id, model, row, model_label, |cells| {
        let p = model.predict_cells(cells);
        crate::inference_log::record(model_id, crate::inference_log::Call::PredictRow, cells, p);
        p
    })
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
        consume_cells(&plan, &values, &nulls, consume)
    }
}

/// Reads the row of table `relation` whose primary key is `key` straight from its index into one
/// cell per step of `model`'s recipe and hands them to `consume`: no query, no executor, no row
/// value built and taken apart again. None when no row visible to the statement has that key.
///
/// The caller's rights are checked as a query would check them: SELECT on the table, and a table
/// under row-level security is refused (its policies are applied only by queries).
pub fn with_keyed_row_cells<R>(
    model_id: i64,
    model: &TrainedModel,
    relation: &crate::spi::Relation,
    key: i64,
    model_label: &dyn Fn() -> String,
    consume: impl FnOnce(&[Cell<'_>]) -> R,
) -> Option<R> {
    // SAFETY: the relation exists (checked by the regclass argument); it and its primary key index
    // stay locked (AccessShareLock, released at the end of the transaction) while they are read;
    // the scan, its slot and the deformed values live until this function returns.
    unsafe {
        let rel = pg_sys::table_open(relation.oid(), pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let name = || relation.qualified_name();
        if (*(*rel).rd_rel).relkind as u8 != pg_sys::RELKIND_RELATION {
            raise_with(
                PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
                format!("{} is not a table: predict_by_key reads a table's row through its primary key", name()),
                Some("score a view's rows with healthml.predict_row('model', v) FROM my_view v WHERE ..."),
            );
        }
        if pg_sys::pg_class_aclcheck(relation.oid(), pg_sys::GetUserId(), pg_sys::ACL_SELECT as pg_sys::AclMode)
            != pg_sys::AclResult::ACLCHECK_OK
        {
            raise_with(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("permission denied for table {}", name()),
                Some("predict_by_key reads whole rows: it needs SELECT on the table (ask its owner to GRANT SELECT)"),
            );
        }
        if pg_sys::check_enable_rls(relation.oid(), pg_sys::InvalidOid, false) == pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32
        {
            raise_with(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("{} has row-level security, which only a query applies", name()),
                Some("score its rows with a query: SELECT healthml.predict_row('model', t) FROM my_table t WHERE ..."),
            );
        }
        let index_oid = pg_sys::RelationGetPrimaryKeyIndex(rel);
        if index_oid == pg_sys::InvalidOid {
            raise_with(
                PgSqlErrorCode::ERRCODE_INVALID_OBJECT_DEFINITION,
                format!("{} has no primary key", name()),
                Some("predict_by_key finds a row by a primary key of one integer column; add one, or score with predict_row"),
            );
        }
        let index = pg_sys::index_open(index_oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let key_attribute = *(*(*index).rd_index).indkey.values.as_ptr();
        let key_type = PgTupleDesc::from_pg_unchecked((*rel).rd_att)
            .get(key_attribute as usize - 1)
            .expect("a key attribute of the table")
            .atttypid;
        // the equality procedure and the key as the column's type; None: a key out of its range
        let equal = match key_type {
            pg_sys::INT8OID => Some(Some((pg_sys::F_INT8EQ, pg_sys::Datum::from(key)))),
            pg_sys::INT4OID => Some(i32::try_from(key).ok().map(|k| (pg_sys::F_INT4EQ, pg_sys::Datum::from(k)))),
            pg_sys::INT2OID => Some(i16::try_from(key).ok().map(|k| (pg_sys::F_INT2EQ, pg_sys::Datum::from(k)))),
            _ => None,
        };
        let (Some(equal), 1) = (equal, (*(*index).rd_index).indnkeyatts) else {
            raise_with(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("the primary key of {} is not one integer column", name()),
                Some("predict_by_key finds a row by a bigint, integer or smallint primary key; score with predict_row otherwise"),
            );
        };
        // a key out of the column's range names no row
        let Some((procedure, argument)) = equal else {
            pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
            pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            return None;
        };
        let mut scan_key = pg_sys::ScanKeyData::default();
        pg_sys::ScanKeyInit(&mut scan_key, 1, pg_sys::BTEqualStrategyNumber as u16, procedure.into(), argument);
        let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
        let scan = pg_sys::index_beginscan(rel, index, pg_sys::GetActiveSnapshot(), 1, 0);
        pg_sys::index_rescan(scan, &mut scan_key, 1, std::ptr::null_mut(), 0);
        let result = if pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
            let tupdesc = PgTupleDesc::from_pg_unchecked((*rel).rd_att);
            let natts = tupdesc.len();
            pg_sys::slot_getsomeattrs_int(slot, natts as i32);
            let values = std::slice::from_raw_parts((*slot).tts_values, natts);
            let nulls = std::slice::from_raw_parts((*slot).tts_isnull, natts);
            let plan = plan_for(model_id, model, &tupdesc, (*(*rel).rd_rel).reltype, -1, model_label);
            Some(consume_cells(&plan, values, nulls, consume))
        } else {
            None
        };
        pg_sys::index_endscan(scan);
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        result
    }
}

/// The cells the plan reads from one deformed row, handed to `consume`.
///
/// # Safety
/// `values` and `nulls` come from deforming a row of the type the plan was made for.
unsafe fn consume_cells<R>(
    plan: &RowPlan,
    values: &[pg_sys::Datum],
    nulls: &[bool],
    consume: impl FnOnce(&[Cell<'_>]) -> R,
) -> R {
    let read: Vec<Value<'_>> = plan.reads.iter().map(|r| unsafe { read_value(*r, values, nulls) }).collect();
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
