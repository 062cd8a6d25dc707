//! How healthml runs SQL: its own statements under a pinned search_path, as the caller or (for
//! the payload, and for stored SQL) as a named role; and copying a relation into a core [`Frame`],
//! as the calling user (so table privileges and row-level security apply as for any query of theirs).

use std::ffi::CStr;

use healthml_core::frame::{CategoricalBuilder, Column, ColumnData, Frame, ValueKind};
use healthml_core::{Error, ErrorClass};
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgSqlErrorCode;

use crate::error::{hint_on, raise, raise_with};

/// The search_path of every statement healthml writes itself: nothing a caller creates in a schema
/// of theirs (an operator, a function, a type) can stand in for what healthml's SQL means.
pub const PINNED_SEARCH_PATH: &CStr = c"pg_catalog, pg_temp";

/// Runs `f` with `search_path` pinned to [`PINNED_SEARCH_PATH`] at a new GUC nest level, as
/// PostgreSQL does for a function's SET clause: restored when `f` returns, and by the (sub)transaction
/// abort when `f` raises an error (so an error caught by the caller's EXCEPTION block restores it too).
pub fn pinned<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: GUC_ACTION_SAVE is what fmgr_security_definer uses, allowed in parallel workers too;
    // the nest level is popped here on success and by AtEOXact_GUC during abort on error.
    let level = unsafe {
        let level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            PINNED_SEARCH_PATH.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        level
    };
    let out = f();
    // SAFETY: pops the level pushed above, restoring the caller's search_path.
    unsafe { pg_sys::AtEOXact_GUC(true, level) };
    out
}

/// [`Spi::connect`] for healthml's own SQL: under the pinned search_path.
pub fn connect<R>(f: impl FnOnce(&SpiClient<'_>) -> R) -> R {
    pinned(|| Spi::connect(f))
}

/// [`Spi::connect_mut`] for healthml's own SQL: under the pinned search_path.
pub fn connect_mut<R>(f: impl FnOnce(&mut SpiClient<'_>) -> R) -> R {
    pinned(|| Spi::connect_mut(f))
}

/// The first column of the first row of a read-only query of healthml's (None: no row, or NULL),
/// under the pinned search_path. Unlike pgrx's `Spi::get_one_with_args`, it never opens a writing
/// connection, which would assign a transaction id: forbidden in parallel workers and needless for
/// a STABLE function.
pub fn select_one<T: FromDatum + IntoDatum>(query: &str, args: &[pgrx::datum::DatumWithOid<'_>]) -> Option<T> {
    first_row(query, args, |column| value::<T>(column, 1)).flatten()
}

/// A column of the first row of a query: its Rust value (None: NULL), read before SPI frees it.
pub type RowColumn<'a> = &'a dyn Fn(i32) -> (Option<pg_sys::Datum>, pg_sys::Oid);

/// Runs a read-only query of healthml's own under the pinned search_path and hands the first row's
/// columns (1-based) to `read`; None when there is no row. SPI runs it with `read_only` set whatever
/// the transaction did before: pgrx's `select` does that only while the transaction has no id, and
/// otherwise makes SPI start a new command first, which PostgreSQL refuses inside a parallel
/// operation: `CREATE TABLE ... AS SELECT healthml.predict_row(...)` run in parallel (the leader
/// writes the new table) failed with "cannot start commands during a parallel operation".
pub fn first_row<R>(query: &str, args: &[pgrx::datum::DatumWithOid<'_>], read: impl FnOnce(RowColumn<'_>) -> R) -> Option<R> {
    pinned(|| {
        let query = std::ffi::CString::new(query).expect("healthml's own queries hold no NUL byte");
        let mut types: Vec<pg_sys::Oid> = args.iter().map(|a| a.oid()).collect();
        let mut values: Vec<pg_sys::Datum> =
            args.iter().map(|a| a.datum().map_or(pg_sys::Datum::from(0usize), |d| d.sans_lifetime())).collect();
        let nulls: Vec<std::ffi::c_char> =
            args.iter().map(|a| if a.datum().is_some() { b' ' } else { b'n' } as std::ffi::c_char).collect();
        // SAFETY: SPI is connected and finished here; the arrays outlive the call; on an error
        // PostgreSQL unwinds SPI at the (sub)transaction's abort. Datums are converted by `read`
        // before SPI_finish frees the tuple table.
        unsafe {
            let status = pg_sys::SPI_connect();
            if status != pg_sys::SPI_OK_CONNECT as i32 {
                crate::error::own_objects_failed(&query.to_string_lossy(), format!("SPI_connect returned {status}"));
            }
            let status = pg_sys::SPI_execute_with_args(
                query.as_ptr(),
                args.len() as i32,
                types.as_mut_ptr(),
                values.as_mut_ptr(),
                nulls.as_ptr(),
                true,
                1,
            );
            if status != pg_sys::SPI_OK_SELECT as i32 {
                crate::error::own_objects_failed(&query.to_string_lossy(), format!("SPI returned {status}"));
            }
            let table = pg_sys::SPI_tuptable;
            let out = if table.is_null() || pg_sys::SPI_processed == 0 {
                None
            } else {
                let tuple = *(*table).vals;
                let desc = (*table).tupdesc;
                let column = |i: i32| -> (Option<pg_sys::Datum>, pg_sys::Oid) {
                    let mut is_null = false;
                    let datum = pg_sys::SPI_getbinval(tuple, desc, i, &mut is_null);
                    ((!is_null).then_some(datum), pg_sys::SPI_gettypeid(desc, i))
                };
                Some(read(&column))
            };
            pg_sys::SPI_finish();
            out
        }
    })
}

/// The value of a column read by [`first_row`], as `T`; a column of another type (an object of
/// healthml's altered by hand) is raised as such, never read as `T`.
pub fn value<T: FromDatum + IntoDatum>(column: RowColumn<'_>, i: i32) -> Option<T> {
    let (datum, type_oid) = column(i);
    if !T::is_compatible_with(type_oid) {
        crate::error::own_objects_failed(
            &format!("reading column {i} of a query of healthml's"),
            format!("it is of type oid {}, healthml reads type oid {}", type_oid.to_u32(), T::type_oid().to_u32()),
        );
    }
    // SAFETY: the datum comes from SPI_getbinval of a column whose type T accepts, and is copied
    // out by from_datum before SPI frees it.
    datum.and_then(|d| unsafe { T::from_polymorphic_datum(d, false, type_oid) })
}

/// Refuses `what`, which writes to the database, on a read-only standby: 25006 with where to run
/// it instead, before any work (training would otherwise run to its end and fail at the INSERT).
pub fn require_primary(what: &str) {
    // SAFETY: reads shared recovery state.
    if unsafe { pg_sys::RecoveryInProgress() } {
        raise_with(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("{what} writes to the database, and this server is a read-only standby"),
            Some("run it on the primary: a standby scores, explains, runs what-if, evaluates and reads the registry, and uses the primary's deployments from its next statement on"),
        );
    }
}

/// A `regclass` argument, checked before anything opens it: a relation that exists and whose rows
/// can be read (table, view, materialized view, partitioned or foreign table). Anything else is
/// refused with a SQLSTATE and a hint instead of PostgreSQL's internal "could not open relation".
pub struct Relation {
    oid: pg_sys::Oid,
}

impl Relation {
    /// Checks `oid` and takes an AccessShareLock on it, held to the end of the transaction, so the
    /// relation cannot be dropped while it is read.
    pub fn open(oid: pg_sys::Oid) -> Relation {
        // SAFETY: try_relation_open returns NULL (lock released) for an OID that names no relation.
        let relkind = unsafe {
            let rel = pg_sys::try_relation_open(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            if rel.is_null() {
                raise_with(
                    PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                    format!("relation with OID {} does not exist", u32::from(oid)),
                    Some("pass an existing table or view by name, e.g. 'readmission.cohort' (it may have been dropped)"),
                );
            }
            let relkind = (*(*rel).rd_rel).relkind as u8;
            pg_sys::relation_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            relkind
        };
        let kind = match relkind {
            pg_sys::RELKIND_RELATION
            | pg_sys::RELKIND_VIEW
            | pg_sys::RELKIND_MATVIEW
            | pg_sys::RELKIND_PARTITIONED_TABLE
            | pg_sys::RELKIND_FOREIGN_TABLE => return Relation { oid },
            pg_sys::RELKIND_SEQUENCE => "a sequence",
            pg_sys::RELKIND_INDEX | pg_sys::RELKIND_PARTITIONED_INDEX => "an index",
            pg_sys::RELKIND_COMPOSITE_TYPE => "a composite type",
            pg_sys::RELKIND_TOASTVALUE => "a TOAST table",
            _ => "not a table",
        };
        raise_with(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("{} is {kind}, not a relation with rows", Relation { oid }.qualified_name()),
            Some("pass a table, view, materialized view, partitioned table or foreign table"),
        )
    }

    pub fn oid(&self) -> pg_sys::Oid {
        self.oid
    }

    /// The relation's name, schema-qualified and quoted where needed (`readmission.cohort`,
    /// `lake."Encounters 2026"`): what healthml stores and prints, and what reads it back.
    pub fn qualified_name(&self) -> String {
        select_one::<String>("SELECT $1::pg_catalog.regclass::pg_catalog.text", &[self.oid.into()]).unwrap_or_else(|| {
            raise_with(
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                format!("relation with OID {} was dropped while healthml read it", self.oid.to_u32()),
                Some("run the statement again"),
            )
        })
    }

    /// The relation's own name, unqualified.
    pub fn name(&self) -> String {
        // SAFETY: the relation is locked, so its pg_class row exists; the result is palloc'd.
        unsafe { CStr::from_ptr(pg_sys::get_rel_name(self.oid)).to_string_lossy().into_owned() }
    }
}

impl FromDatum for Relation {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _typoid: pg_sys::Oid) -> Option<Relation> {
        // SAFETY: a regclass datum is an Oid.
        unsafe { pg_sys::Oid::from_datum(datum, is_null) }.map(Relation::open)
    }
}

// SAFETY: the datum of a regclass argument is an Oid, unboxed as pgrx unboxes PgRelation's.
unsafe impl<'fcx> ArgAbi<'fcx> for Relation {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: forwarded from the caller's contract.
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

// SAFETY: the SQL type of the argument is regclass, as for pgrx's PgRelation.
unsafe impl SqlTranslatable for Relation {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(Relation);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("regclass"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal("regclass")));
}

/// The name a table the caller asked for is created under: `table_name` parsed as SQL parses a
/// name (quoted parts kept), each part quoted, and an unqualified name put in the schema the
/// caller's own CREATE TABLE would use (the first existing schema of their search_path). That one
/// look-up runs under the caller's search_path, with every function in it schema-qualified.
pub fn creation_name(table_name: &str) -> String {
    let creation_schema = Spi::connect(|client| {
        client.select("SELECT pg_catalog.current_schema()::pg_catalog.text", Some(1), &[]).and_then(|t| {
            if t.is_empty() {
                Ok(None)
            } else {
                t.first().get_one::<String>()
            }
        })
    })
    .unwrap_or_else(|e| crate::error::own_objects_failed("reading current_schema()", e));
    let hint = "pass a table name such as 'lake.encounters'; quote a name with spaces, capitals or symbols inside the string, e.g. 'lake.\"Encounters 2026\"'";
    // the name's parts and the creation schema, each quoted, in one statement (pinned)
    let (parts, schema) = hint_on(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, hint, || {
        connect(|client| {
            client
                .select(
                    "SELECT array_agg(quote_ident(part) ORDER BY n), quote_ident($2)
                     FROM unnest(parse_ident($1)) WITH ORDINALITY AS p(part, n)",
                    Some(1),
                    &[table_name.into(), creation_schema.into()],
                )
                .and_then(|t| t.first().get_two::<Vec<String>, String>())
                .unwrap_or_else(|e| crate::error::own_objects_failed("quoting the table name", e))
        })
    });
    let parts = parts.unwrap_or_default();
    match (parts.as_slice(), schema) {
        ([], _) => raise_with(PgSqlErrorCode::ERRCODE_INVALID_NAME, format!("\"{table_name}\" is not a table name"), Some(hint)),
        ([table], Some(schema)) => format!("{schema}.{table}"),
        ([_], None) => raise_with(
            PgSqlErrorCode::ERRCODE_INVALID_SCHEMA_NAME,
            format!("no schema has been selected to create {table_name} in"),
            Some("qualify the name (e.g. 'analytics.scores'), or put an existing schema first in search_path"),
        ),
        _ => parts.join("."),
    }
}

/// Rows fetched per round trip: bounded memory on big tables, few calls on small ones.
const BATCH_ROWS: i64 = 10_000;

struct ColumnSpec {
    name: String,
    sql_type: String,
    kind: ValueKind,
    numeric: bool,
}

/// The relation's qualified name for messages, and all of its rows as a [`Frame`]. The read goes
/// through SPI like any query of the caller's.
pub fn read_named_relation(relation: Relation) -> (String, Frame) {
    let (name, frame, _) = read_named_relation_where(relation, None, None);
    (name, frame)
}

/// `name` as an SQL identifier, quoted where PostgreSQL's rules require it (its own quote_identifier).
pub fn quote_identifier(name: &CStr) -> String {
    // SAFETY: quote_identifier returns its argument or a palloc'd copy, both valid C strings here.
    unsafe { CStr::from_ptr(pg_sys::quote_identifier(name.as_ptr())).to_string_lossy().into_owned() }
}

/// The rows a read keeps when training on a sample (option "sample"): every row of a share of the
/// groups, chosen by `healthml._in_sample` in the query's WHERE clause, so the other rows are never
/// read, and on a `postgres_fdw` partition never sent (healthml's functions are shippable).
pub struct GroupSample<'a> {
    pub column: &'a str,
    pub seed: u64,
    pub share: f64,
}

/// As [`read_named_relation`], plus the value of a boolean SQL condition per row (NULL counts as
/// false), evaluated in the same scan so it lines up with the rows. The condition is the caller's own
/// SQL, run with the current user's rights inside a read-only, single-statement cursor, under the
/// pinned search_path like the rest of the query (so it means the same whoever replays it).
pub fn read_named_relation_where(
    relation: Relation,
    condition: Option<&str>,
    sample: Option<GroupSample<'_>>,
) -> (String, Frame, Option<Vec<bool>>) {
    let name = relation.qualified_name();
    let (frame, flags) = read_relation_where(relation.oid(), &name, condition, sample);
    (name, frame, flags)
}

/// Reads every column of `relation` (in attribute order), and the condition's value per row. Integer, floating and numeric columns
/// (and domains over them) become numeric; everything else is read as text and dictionary-encoded.
fn read_relation_where(
    relation: pg_sys::Oid,
    source: &str,
    condition: Option<&str>,
    sample: Option<GroupSample<'_>>,
) -> (Frame, Option<Vec<bool>>) {
    connect(|client| {
        let specs = column_specs(client, relation);
        if specs.is_empty() {
            return (Frame::default(), condition.map(|_| Vec::new()));
        }
        let (select_list, relation_name) = select_parts(client, relation);
        // The condition stands alone on its lines, inside parentheses, in a cursor that runs one
        // read-only statement: a ";" or an unbalanced ")" cannot smuggle in anything else.
        let extra = condition.map_or(String::new(), |c| format!(", coalesce((\n{c}\n)::boolean, false)"));
        let mut query = format!("SELECT {select_list}{extra} FROM {relation_name}");
        let mut arguments: Vec<pgrx::datum::DatumWithOid> = Vec::new();
        if let Some(sample) = sample {
            let Some(group) = specs.iter().find(|spec| spec.name == sample.column) else {
                raise(
                    Error::new(ErrorClass::UndefinedColumn, format!("column \"{}\" does not exist in {source}", sample.column))
                        .with_hint(format!(
                            "option \"group_by\" names the column whose groups are sampled; columns of {source}: {}",
                            specs.iter().map(|spec| spec.name.as_str()).collect::<Vec<_>>().join(", ")
                        )),
                );
            };
            // Integers go in as bigint, not through a cast to text: postgres_fdw ships the call to
            // the shards only when every part of it is shippable, and a cast through text is not.
            let as_type = if group.kind == ValueKind::Integer { "bigint" } else { "text" };
            // a column of the relation (found above): its name holds no NUL byte
            let column = quote_identifier(&std::ffi::CString::new(sample.column).unwrap_or_default());
            query.push_str(&format!(" WHERE healthml._in_sample({column}::{as_type}, $1, $2)"));
            arguments.push((sample.seed as i64).into());
            arguments.push(sample.share.into());
        }
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
        let mut cursor = client.open_cursor(query.as_str(), &arguments);
        let width = specs.len() + flags.is_some() as usize;
        let mut values = vec![pg_sys::Datum::from(0usize); width];
        let mut nulls = vec![false; width];
        loop {
            let batch = cursor.fetch(BATCH_ROWS).unwrap_or_else(|e| crate::error::own_objects_failed("reading the relation", e));
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
                Column { name: spec.name, sql_type: spec.sql_type, kind: spec.kind, data }
            })
            .collect();
        (Frame { columns }, flags)
    })
}

// Numbers (and domains over them) are read as numbers. The kind is the column's own type's: a
// domain over integer is a number, but not one whose values healthml one-hot encodes as codes.
const COLUMNS_OF: &str = "
    SELECT a.attname::text,
           format_type(a.atttypid, a.atttypmod),
           coalesce(nullif(t.typbasetype, 0), a.atttypid) IN
               ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'float4'::regtype,
                'float8'::regtype, 'numeric'::regtype),
           CASE WHEN a.atttypid = 'bool'::regtype THEN 'boolean'
                WHEN a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN 'integer' END
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum";

fn column_specs(client: &SpiClient<'_>, relation: pg_sys::Oid) -> Vec<ColumnSpec> {
    client
        .select(COLUMNS_OF, None, &[relation.into()])
        .unwrap_or_else(|e| crate::error::own_objects_failed("reading the columns of the relation", e))
        .map(|row| {
            let numeric = row.get::<bool>(3).ok().flatten().unwrap_or(false);
            let kind = match row.get::<String>(4).ok().flatten().as_deref() {
                Some("boolean") => ValueKind::Boolean,
                Some("integer") => ValueKind::Integer,
                _ if numeric => ValueKind::Real,
                _ => ValueKind::Text,
            };
            ColumnSpec {
                name: row.get::<String>(1).ok().flatten().unwrap_or_default(),
                sql_type: row.get::<String>(2).ok().flatten().unwrap_or_default(),
                kind,
                numeric,
            }
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
        _ => crate::error::own_objects_failed(
            "building the query that reads the relation",
            format!("relation with OID {}", relation.to_u32()),
        ),
    }
}

/// Runs `read` as the owner of `healthml.models` (the role that installed healthml), then returns to
/// the caller's identity, also when `read` fails. The narrowest elevation there is: analysts may
/// score with a model without being able to read its payload or its training options; nothing the
/// caller passes is run with these rights, only healthml's own fixed queries, and the search_path is
/// pinned for the whole section so that no object of the caller's can stand in for one they name.
pub fn as_models_owner<T>(read: impl FnOnce() -> T) -> T {
    let owner = select_one::<pg_sys::Oid>("SELECT relowner FROM pg_class WHERE oid = 'healthml.models'::regclass", &[])
        .unwrap_or_else(|| crate::error::own_objects_failed("finding the owner of healthml.models", "the table is missing"));
    as_role(owner, 0, read)
}

/// Runs stored SQL (a model's source relation and `test_where`) as the role that stored it,
/// `stored_by`, never with the rights of whoever replays it: the current user must be that role or
/// a member of it (superusers are members of every role); anything else is refused. The section is
/// a security-restricted operation, as PostgreSQL runs index expressions and materialized views as
/// their owner: the stored SQL cannot SET ROLE back to the caller's identity, nor leave anything
/// behind for the session (temporary objects, prepared statements).
pub fn as_stored_by<T>(stored_by: &str, what: &str, run: impl FnOnce() -> T) -> T {
    let role =
        select_one::<pg_sys::Oid>("SELECT oid FROM pg_roles WHERE rolname = $1", &[stored_by.into()]).unwrap_or_else(|| {
            raise_with(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("role \"{stored_by}\", who stored the SQL of {what}, no longer exists"),
            Some("its stored SQL runs only with the rights of the role that stored it: train a new version as an existing role"),
        )
        });
    // SAFETY: plain catalog look-ups of the current user.
    let allowed = unsafe { pg_sys::is_member_of_role(pg_sys::GetUserId(), role) };
    if !allowed {
        let current = select_one::<String>("SELECT current_user::text", &[]).unwrap_or_default();
        raise_with(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("role \"{current}\" may not replay the stored SQL of {what}, which role \"{stored_by}\" stored"),
            Some(&format!(
                "stored SQL (the source relation, test_where) runs with the rights of the role that stored it: \
                 run this as \"{stored_by}\" or a member of it, or train a new version as yourself"
            )),
        );
    }
    as_role(role, pg_sys::SECURITY_RESTRICTED_OPERATION as i32, run)
}

/// Runs `run` as `role` (plus the security context flags `extra`) under the pinned search_path,
/// then returns to the caller's identity and search_path, also when `run` fails (PostgreSQL restores
/// both on (sub)transaction abort as well). SECURITY_LOCAL_USERID_CHANGE forbids SET ROLE and SET
/// SESSION AUTHORIZATION inside, as in a SECURITY DEFINER function.
fn as_role<T>(role: pg_sys::Oid, extra: i32, run: impl FnOnce() -> T) -> T {
    struct Restore(pg_sys::Oid, i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores the identity saved below.
            unsafe { pg_sys::SetUserIdAndSecContext(self.0, self.1) };
        }
    }
    let (mut user, mut context) = (pg_sys::Oid::INVALID, 0i32);
    // SAFETY: reads the current identity into the two locals.
    unsafe { pg_sys::GetUserIdAndSecContext(&mut user, &mut context) };
    let _restore = Restore(user, context);
    // SAFETY: switches identity; the guard above switches back.
    unsafe { pg_sys::SetUserIdAndSecContext(role, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32 | extra) };
    pinned(run)
}
