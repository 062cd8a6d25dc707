//! Copying a relation out of PostgreSQL into a core [`Frame`], as the calling user (so table
//! privileges and row-level security apply as for any query of theirs).

use healthml_core::frame::{CategoricalBuilder, Column, ColumnData, Frame};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgRelation;

/// The first column of the first row of a read-only query (None: no row, or NULL). Unlike pgrx's
/// `Spi::get_one_with_args`, it never opens a writing connection, which would assign a transaction
/// id: forbidden in parallel workers and needless for a STABLE function.
pub fn select_one<T: FromDatum + IntoDatum>(query: &str, args: &[pgrx::datum::DatumWithOid<'_>]) -> Option<T> {
    Spi::connect(|client| client.select(query, Some(1), args).and_then(|t| if t.is_empty() { Ok(None) } else { t.first().get_one::<T>() }))
        .unwrap_or_else(|e| error!("{query}: {e}"))
}

/// Rows fetched per round trip: bounded memory on big tables, few calls on small ones.
const BATCH_ROWS: i64 = 10_000;

struct ColumnSpec {
    name: String,
    sql_type: String,
    numeric: bool,
}

/// The relation's qualified name for messages, and all of its rows as a [`Frame`]. The relation's own
/// handle is released before the read, which goes through SPI like any query of the caller's.
pub fn read_named_relation(relation: PgRelation) -> (String, Frame) {
    let (name, frame, _) = read_named_relation_where(relation, None);
    (name, frame)
}

/// As [`read_named_relation`], plus the value of a boolean SQL condition per row (NULL counts as
/// false), evaluated in the same scan so it lines up with the rows. The condition is the caller's own
/// SQL, run with the caller's rights inside a read-only, single-statement cursor.
pub fn read_named_relation_where(relation: PgRelation, condition: Option<&str>) -> (String, Frame, Option<Vec<bool>>) {
    let name = format!("{}.{}", relation.namespace(), relation.name());
    let oid = relation.oid();
    drop(relation);
    let (frame, flags) = read_relation_where(oid, condition);
    (name, frame, flags)
}

/// Reads every column of `relation` (in attribute order), and the condition's value per row. Integer, floating and numeric columns
/// (and domains over them) become numeric; everything else is read as text and dictionary-encoded.
fn read_relation_where(relation: pg_sys::Oid, condition: Option<&str>) -> (Frame, Option<Vec<bool>>) {
    Spi::connect(|client| {
        let specs = column_specs(client, relation);
        if specs.is_empty() {
            return (Frame::default(), condition.map(|_| Vec::new()));
        }
        let (select_list, relation_name) = select_parts(client, relation);
        // The condition stands alone on its lines, inside parentheses, in a cursor that runs one
        // read-only statement: a ";" or an unbalanced ")" cannot smuggle in anything else.
        let extra = condition.map_or(String::new(), |c| format!(", coalesce((\n{c}\n)::boolean, false)"));
        let query = format!("SELECT {select_list}{extra} FROM {relation_name}");
        let mut flags: Option<Vec<bool>> = condition.map(|_| Vec::new());
        let mut numeric: Vec<Vec<Option<f64>>> = Vec::new();
        let mut text: Vec<CategoricalBuilder> = Vec::new();
        for spec in &specs {
            if spec.numeric {
                numeric.push(Vec::new());
            } else {
                text.push(CategoricalBuilder::default());
            }
        }
        let mut cursor = client.open_cursor(query.as_str(), &[]);
        let width = specs.len() + flags.is_some() as usize;
        let mut values = vec![pg_sys::Datum::from(0usize); width];
        let mut nulls = vec![false; width];
        loop {
            let batch = cursor.fetch(BATCH_ROWS).unwrap_or_else(|e| error!("reading the relation failed: {e}"));
            if batch.is_empty() {
                break;
            }
            // SAFETY: fetch() just filled SPI_tuptable with `batch.len()` tuples of the SELECT built
            // above, whose columns are float8 where spec.numeric and text elsewhere; `batch` keeps
            // the table alive while we read it. One heap_deform_tuple per row, not one walk per
            // attribute: rows with many text columns would otherwise cost O(columns²).
            unsafe {
                let table = pg_sys::SPI_tuptable;
                let tuples = std::slice::from_raw_parts((*table).vals, batch.len());
                for &tuple in tuples {
                    pg_sys::heap_deform_tuple(tuple, (*table).tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
                    let (mut n, mut t) = (0, 0);
                    for (i, spec) in specs.iter().enumerate() {
                        if spec.numeric {
                            numeric[n].push(f64::from_datum(values[i], nulls[i]));
                            n += 1;
                        } else {
                            text[t].push(<&str>::from_datum(values[i], nulls[i]));
                            t += 1;
                        }
                    }
                    if let Some(flags) = flags.as_mut() {
                        flags.push(bool::from_datum(values[specs.len()], nulls[specs.len()]).unwrap_or(false));
                    }
                }
            }
        }
        let mut numeric = numeric.into_iter();
        let mut text = text.into_iter();
        let columns = specs
            .into_iter()
            .map(|spec| {
                let data = if spec.numeric {
                    ColumnData::Numeric(numeric.next().unwrap_or_default())
                } else {
                    text.next().unwrap_or_default().finish()
                };
                Column { name: spec.name, sql_type: spec.sql_type, data }
            })
            .collect();
        (Frame { columns }, flags)
    })
}

const COLUMNS_OF: &str = "
    SELECT a.attname::text,
           format_type(a.atttypid, a.atttypmod),
           coalesce(nullif(t.typbasetype, 0), a.atttypid) IN
               ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'float4'::regtype,
                'float8'::regtype, 'numeric'::regtype)
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum";

fn column_specs(client: &SpiClient<'_>, relation: pg_sys::Oid) -> Vec<ColumnSpec> {
    client
        .select(COLUMNS_OF, None, &[relation.into()])
        .unwrap_or_else(|e| error!("reading the columns of the relation failed: {e}"))
        .map(|row| ColumnSpec {
            name: row.get::<String>(1).ok().flatten().unwrap_or_default(),
            sql_type: row.get::<String>(2).ok().flatten().unwrap_or_default(),
            numeric: row.get::<bool>(3).ok().flatten().unwrap_or(false),
        })
        .collect()
}

/// The select list and the relation's name that read it, built by PostgreSQL itself so every
/// identifier is quoted.
fn select_parts(client: &SpiClient<'_>, relation: pg_sys::Oid) -> (String, String) {
    const BUILD: &str = "
        SELECT string_agg(format(CASE WHEN numeric THEN '%I::float8' ELSE '%I::text' END, name),
                          ', ' ORDER BY position),
               $1::regclass::text
        FROM (SELECT a.attnum AS position, a.attname AS name,
                     coalesce(nullif(t.typbasetype, 0), a.atttypid) IN
                         ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'float4'::regtype,
                          'float8'::regtype, 'numeric'::regtype) AS numeric
              FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped) c";
    match client.select(BUILD, Some(1), &[relation.into()]).and_then(|table| table.first().get_two::<String, String>()) {
        Ok((Some(list), Some(name))) => (list, name),
        _ => error!("could not build the query reading relation {relation:?}"),
    }
}

/// Runs `read` as the owner of `healthml.models` (the role that installed healthml), then returns to
/// the caller's identity, also when `read` fails. The narrowest elevation there is: analysts may
/// score with a model without being able to read its payload or its training options; nothing the
/// caller passes is run with these rights, only healthml's own fixed queries. PostgreSQL restores the
/// caller's identity on (sub)transaction abort as well.
pub fn as_models_owner<T>(read: impl FnOnce() -> T) -> T {
    struct Restore(pg_sys::Oid, i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            unsafe { pg_sys::SetUserIdAndSecContext(self.0, self.1) };
        }
    }
    let owner = select_one::<pg_sys::Oid>("SELECT relowner FROM pg_catalog.pg_class WHERE oid = 'healthml.models'::regclass", &[])
        .unwrap_or_else(|| error!("healthml.models is missing"));
    let (mut user, mut context) = (pg_sys::Oid::INVALID, 0i32);
    unsafe { pg_sys::GetUserIdAndSecContext(&mut user, &mut context) };
    let _restore = Restore(user, context);
    unsafe { pg_sys::SetUserIdAndSecContext(owner, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32) };
    read()
}
