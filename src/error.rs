//! The boundary where core errors become PostgreSQL errors: the only place healthml raises.

use healthml_core::{Error, ErrorClass};
use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::prelude::PgTryBuilder;
use pgrx::{PgLogLevel, PgSqlErrorCode};

fn sqlstate(class: ErrorClass) -> PgSqlErrorCode {
    match class {
        ErrorClass::InvalidParameterValue => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        ErrorClass::InvalidTextRepresentation => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        ErrorClass::DatatypeMismatch => PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
        ErrorClass::UndefinedColumn => PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
        ErrorClass::UndefinedObject => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        ErrorClass::InsufficientData => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        ErrorClass::DataCorrupted => PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
        ErrorClass::UndefinedFile => PgSqlErrorCode::ERRCODE_UNDEFINED_FILE,
        ErrorClass::IoError => PgSqlErrorCode::ERRCODE_IO_ERROR,
        ErrorClass::BadFileFormat => PgSqlErrorCode::ERRCODE_BAD_COPY_FILE_FORMAT,
        ErrorClass::FeatureNotSupported => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
    }
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
