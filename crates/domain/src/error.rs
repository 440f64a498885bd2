//! Errors shared by several modules.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Validation failures keyed by field name, each with one or more human-readable reasons.
///
/// The HTTP layer returns it verbatim as `details` / `errors`, so messages are written for the
/// API client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// An empty set of errors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `reason` against `field`.
    pub fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(reason.into());
    }

    /// True when no error was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The reasons recorded for one field.
    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0.get(field).map(Vec::as_slice)
    }

    /// All fields and their reasons, ordered by field name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Takes the value of a field check: the value when it passed, `None` (and the reason
    /// recorded) when it failed.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(reason) => {
                self.add(field, reason.to_string());
                None
            }
        }
    }

    /// `Ok(())` when empty, otherwise `Err(self)`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, reasons) in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{field}: {}", reasons.join(" "))?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// A storage failure the caller cannot fix: connection lost, pool exhausted, unexpected SQL
/// error. The message is for logs only and is never shown to API clients.
///
/// The adapter's own error (diesel, r2d2, ...) is kept as [`std::error::Error::source`], so
/// a caller can log the chain or downcast it. The message already includes the cause's text,
/// because the service logs storage failures with `Display` only. Cloning shares the source.
#[derive(Debug, Clone)]
pub struct StorageError {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    /// A stored row that does not decode (see [`StorageError::corrupt`]).
    corrupt: bool,
}

impl StorageError {
    /// A failure described by `cause`, without an underlying error.
    pub fn new(cause: impl fmt::Display) -> Self {
        Self {
            message: cause.to_string(),
            source: None,
            corrupt: false,
        }
    }

    /// A stored row that does not decode: a defect on our side, not a passing fault, so
    /// retrying cannot help (HTTP 500, not 503). `detail` names the table and the row's id.
    pub fn corrupt(detail: impl fmt::Display) -> Self {
        Self {
            message: format!("corrupt row: {detail}"),
            source: None,
            corrupt: true,
        }
    }

    /// True for [`StorageError::corrupt`].
    pub fn is_corrupt(&self) -> bool {
        self.corrupt
    }

    /// A failure caused by `source`; the message is `"{context}: {source}"`.
    pub fn with_source(
        context: impl fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: format!("{context}: {source}"),
            source: Some(Arc::new(source)),
            corrupt: false,
        }
    }

    /// The message (without the `storage failure:` prefix of `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage failure: {}", self.message)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

/// Two storage errors are equal when their messages are (sources cannot be compared); this
/// keeps the result types that carry one comparable in tests.
impl PartialEq for StorageError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for StorageError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[derive(Debug, thiserror::Error)]
    #[error("connection reset")]
    struct Reset;

    #[test]
    fn storage_error_keeps_its_source_through_clones() {
        let error = StorageError::with_source("database error", Reset);
        assert_eq!(
            error.to_string(),
            "storage failure: database error: connection reset"
        );
        let copy = error.clone();
        let source = copy.source().expect("the source is kept");
        assert!(source.downcast_ref::<Reset>().is_some());
        assert_eq!(copy, error);
        assert!(StorageError::new("down").source().is_none());
    }

    #[test]
    fn a_corrupt_row_is_told_apart_from_a_passing_failure() {
        let corrupt = StorageError::corrupt("payments row 42: document_number: blank");
        assert!(corrupt.is_corrupt());
        assert!(corrupt.to_string().contains("payments row 42"));
        assert!(!StorageError::new("pool timed out").is_corrupt());
    }
}
