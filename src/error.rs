//! The boundary where core errors become PostgreSQL errors: the only place healthml raises.

use healthml_core::{Error, ErrorClass};
use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::prelude::PgTryBuilder;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// The PostgreSQL error code of a core error class. The table of SQLSTATEs is the core's
/// ([`ErrorClass::sqlstate`]); this only packs the five characters as PostgreSQL's MAKE_SQLSTATE does.
fn sqlstate(class: ErrorClass) -> PgSqlErrorCode {
    let code = class.sqlstate().bytes().enumerate().fold(0i32, |code, (i, ch)| code + ((((ch - b'0') & 0x3F) as i32) << (6 * i)));
    PgSqlErrorCode::from(code)
}

/// Raises `err` as an ERROR with its SQLSTATE, message and hint. Never returns.
pub fn raise(err: Error) -> ! {
    raise_with(sqlstate(err.class()), err.message().to_string(), err.hint())
}

/// Raises a condition only the shell can see (a privilege, an existing relation): `code` with its
/// message and hint. Never returns.
pub fn raise_with(code: PgSqlErrorCode, message: String, hint: Option<&str>) -> ! {
    let mut report = ErrorReport::new(code, message, "healthml");
    if let Some(hint) = hint {
        report = report.set_hint(hint.to_string());
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Reports a WARNING (SQLSTATE 01000) with `hint`: a finding the caller must see, that does not stop
/// the statement.
pub fn warn(message: String, hint: Option<String>) {
    let mut report = ErrorReport::new(PgSqlErrorCode::ERRCODE_WARNING, message, "healthml");
    if let Some(hint) = hint {
        report = report.set_hint(hint);
    }
    report.report(PgLogLevel::WARNING);
}

/// healthml's own statement on its own objects failed in a way pgrx reports instead of PostgreSQL
/// (a column of another type, a missing row, a missing object): the extension's SQL objects are not
/// what this library expects, as when a new build is installed but `ALTER EXTENSION healthml
/// UPDATE` has not run, or an object of the extension was altered by hand. Errors PostgreSQL raises
/// inside the statement propagate as they are and never reach this.
pub fn own_objects_failed(what: &str, cause: impl std::fmt::Display) -> ! {
    raise_with(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("{what} failed: {cause}"),
        Some(
            "healthml's SQL objects do not match the installed library: run ALTER EXTENSION healthml UPDATE (after restarting \
             the server if the library was updated), and check that no object of schema healthml was altered by hand",
        ),
    )
}

/// Unwraps a core result at the SQL boundary, raising the error if there is one.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for healthml_core::Result<T> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|err| raise(err))
    }
}

/// Runs `f`; a PostgreSQL error of class `code` inside it is raised again, same message, with `hint`.
pub fn hint_on<R>(code: PgSqlErrorCode, hint: &str, f: impl FnOnce() -> R) -> R {
    PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .catch_when(code, |cause| match cause {
            CaughtError::PostgresError(report) => raise_with(code, report.message().to_string(), Some(hint)),
            other => other.rethrow(),
        })
        .execute()
}
