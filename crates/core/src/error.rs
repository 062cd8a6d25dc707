//! The one error type of healthml.
//!
//! Every failure a SQL user can cause is a variant here. The core never talks to PostgreSQL, so it
//! cannot raise anything itself: it says *which kind* of failure happened ([`ErrorClass`], mapped to a
//! SQLSTATE by the extension shell), names the offending input in the message, and carries a hint
//! that tells the user how to fix it.

/// The kind of failure, independent of PostgreSQL. The shell maps each class to one SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// An argument has a value the function cannot work with (22023).
    InvalidParameterValue,
    /// Text that should be a number, a code or a document does not parse (22P02).
    InvalidTextRepresentation,
    /// A column exists but has the wrong type for the operation (42804).
    DatatypeMismatch,
    /// A column named by the user does not exist (42703).
    UndefinedColumn,
    /// A named object (model, recipe, ...) does not exist (42704).
    UndefinedObject,
    /// Not enough usable data for the computation (22000).
    InsufficientData,
    /// Stored bytes are damaged or of an unknown format (XX001).
    DataCorrupted,
    /// A file named by the user does not exist (58P01).
    UndefinedFile,
    /// Reading or writing a file failed in the operating system (58030).
    IoError,
    /// A file is not in the format the function reads, or is damaged (22P04, as COPY's bad files).
    BadFileFormat,
    /// The input is valid but of a kind healthml does not handle, such as a column type (0A000).
    FeatureNotSupported,
}

impl ErrorClass {
    /// The SQLSTATE the class maps to, for documentation and for callers outside PostgreSQL.
    pub fn sqlstate(self) -> &'static str {
        match self {
            ErrorClass::InvalidParameterValue => "22023",
            ErrorClass::InvalidTextRepresentation => "22P02",
            ErrorClass::DatatypeMismatch => "42804",
            ErrorClass::UndefinedColumn => "42703",
            ErrorClass::UndefinedObject => "42704",
            ErrorClass::InsufficientData => "22000",
            ErrorClass::DataCorrupted => "XX001",
            ErrorClass::UndefinedFile => "58P01",
            ErrorClass::IoError => "58030",
            ErrorClass::BadFileFormat => "22P04",
            ErrorClass::FeatureNotSupported => "0A000",
        }
    }
}

/// A failure with a message that names the bad input and a hint on how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    class: ErrorClass,
    message: String,
    hint: Option<String>,
}

impl Error {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Error { class, message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Error::new(ErrorClass::InvalidParameterValue, message)
    }

    pub fn invalid_text(message: impl Into<String>) -> Self {
        Error::new(ErrorClass::InvalidTextRepresentation, message)
    }

    pub fn corrupted(message: impl Into<String>) -> Self {
        Error::new(ErrorClass::DataCorrupted, message)
    }

    /// The same error, its message prefixed with where it happened.
    pub fn context(mut self, prefix: impl std::fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    pub fn class(&self) -> ErrorClass {
        self.class
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_and_hint_are_kept_apart() {
        let e = Error::invalid_parameter("top_k must be positive, got 0").with_hint("pass top_k >= 1");
        assert_eq!(e.to_string(), "top_k must be positive, got 0");
        assert_eq!(e.hint(), Some("pass top_k >= 1"));
        assert_eq!(e.class().sqlstate(), "22023");
    }

    #[test]
    fn every_class_has_a_five_character_sqlstate() {
        for class in [
            ErrorClass::InvalidParameterValue,
            ErrorClass::InvalidTextRepresentation,
            ErrorClass::DatatypeMismatch,
            ErrorClass::UndefinedColumn,
            ErrorClass::UndefinedObject,
            ErrorClass::InsufficientData,
            ErrorClass::DataCorrupted,
            ErrorClass::UndefinedFile,
            ErrorClass::IoError,
            ErrorClass::BadFileFormat,
            ErrorClass::FeatureNotSupported,
        ] {
            let code = class.sqlstate();
            assert_eq!(code.len(), 5, "{class:?}");
            assert!(code.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()), "{class:?}");
        }
    }
}
