//! Errors shared by several modules.

use std::collections::BTreeMap;
use std::fmt;

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage failure: {0}")]
pub struct StorageError(pub String);

impl StorageError {
    /// Wraps any displayable cause.
    pub fn new(cause: impl fmt::Display) -> Self {
        Self(cause.to_string())
    }
}
