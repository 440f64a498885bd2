//! Request bodies, read by hand: content type, size limit, and JSON split into raw fields.
//!
//! Handlers read bodies themselves rather than through `web::Json` so that every failure maps
//! to our own errors, and so that numbers keep their literal text (amounts are never read
//! through a float).

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use payments_domain::bank::RawField;
use payments_domain::FieldErrors;
use serde_json::error::Category;
use serde_json::value::RawValue;

use crate::error::ApiError;

/// `application/json`, with any parameters (`charset=utf-8`), in any case.
pub(crate) fn require_json_content_type(request: &HttpRequest) -> Result<(), ApiError> {
    let essence = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    match essence {
        Some(essence) if essence.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// Reads the whole body, refusing more than `limit` bytes.
pub(crate) async fn read_body(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    // A declared length over the limit is refused before a byte is read.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(error)) => {
            tracing::debug!(%error, "could not read a request body");
            Err(ApiError::invalid_body("Could not read the request body."))
        }
        Err(_) => Err(ApiError::PayloadTooLarge),
    }
}

/// A JSON object body, its values kept as raw JSON until a field is asked for.
pub(crate) struct JsonObject(HashMap<String, Box<RawValue>>);

impl JsonObject {
    /// An empty object: what an empty body means where a body is optional.
    pub(crate) fn empty() -> Self {
        Self(HashMap::new())
    }

    /// Parses a body that must be a JSON object; other keys than the ones asked for are
    /// ignored later.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let document: &RawValue = serde_json::from_slice(body).map_err(malformed)?;
        if !document.get().trim_start().starts_with('{') {
            return Err(ApiError::invalid_body("Expected a JSON object."));
        }
        serde_json::from_str(document.get())
            .map(Self)
            .map_err(malformed)
    }

    /// The field as the transport found it, for the domain to validate.
    pub(crate) fn raw(&mut self, name: &str) -> RawField {
        raw_field(self.0.remove(name).as_deref())
    }

    /// A text field. Numbers are taken as their literal text (as Django REST framework's
    /// `CharField` does); absent and null are `None`; anything else is a field error.
    pub(crate) fn text(&mut self, name: &str, errors: &mut FieldErrors) -> Option<String> {
        match self.raw(name) {
            RawField::Text(text) | RawField::Number(text) => Some(text),
            RawField::Missing | RawField::Null => None,
            RawField::Other => {
                errors.add(name, "Not a valid string.");
                None
            }
        }
    }

    /// A JSON boolean; absent and null are `None`.
    pub(crate) fn flag(&mut self, name: &str, errors: &mut FieldErrors) -> Option<bool> {
        let value = self.0.remove(name)?;
        match value.get().trim() {
            "true" => Some(true),
            "false" => Some(false),
            "null" => None,
            _ => {
                errors.add(name, "Must be a valid boolean.");
                None
            }
        }
    }

    /// A 32-bit integer, as a JSON number or a numeric string; absent and null are `None`.
    pub(crate) fn integer(&mut self, name: &str, errors: &mut FieldErrors) -> Option<i32> {
        let text = match self.raw(name) {
            RawField::Missing | RawField::Null => return None,
            RawField::Text(text) | RawField::Number(text) => text,
            RawField::Other => String::new(),
        };
        let parsed = text.trim().parse::<i32>().ok();
        if parsed.is_none() {
            errors.add(name, "A valid integer is required.");
        }
        parsed
    }

    /// Any JSON value; absent and null are `None`.
    pub(crate) fn value(&mut self, name: &str) -> Option<serde_json::Value> {
        let raw = self.0.remove(name)?;
        // It parsed once as part of the body, so it parses again.
        serde_json::from_str(raw.get())
            .ok()
            .filter(|value: &serde_json::Value| !value.is_null())
    }
}

/// Classifies one JSON value by its first byte; numbers keep their literal text.
fn raw_field(value: Option<&RawValue>) -> RawField {
    let Some(value) = value else {
        return RawField::Missing;
    };
    let text = value.get().trim();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text)
            .map(RawField::Text)
            .unwrap_or(RawField::Other),
        Some(b'-' | b'0'..=b'9') => RawField::Number(text.to_string()),
        Some(b'n') => RawField::Null,
        _ => RawField::Other,
    }
}

/// A short, generic reason: position only, never a piece of the input.
fn malformed(error: serde_json::Error) -> ApiError {
    let reason = match error.classify() {
        Category::Eof => "Malformed JSON: unexpected end of input.".to_string(),
        Category::Syntax => format!(
            "Malformed JSON: syntax error at line {}, column {}.",
            error.line(),
            error.column()
        ),
        Category::Io | Category::Data => "Malformed JSON: not valid JSON.".to_string(),
    };
    ApiError::invalid_body(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(body: &str) -> JsonObject {
        JsonObject::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn text_fields_take_strings_and_number_literals() {
        let mut errors = FieldErrors::new();
        let mut body = object(r#"{"a": "x", "b": 7701234567, "c": null, "d": true, "e": []}"#);
        assert_eq!(body.text("a", &mut errors), Some("x".into()));
        assert_eq!(body.text("b", &mut errors), Some("7701234567".into()));
        assert_eq!(body.text("c", &mut errors), None);
        assert_eq!(body.text("missing", &mut errors), None);
        assert!(errors.is_empty());
        assert_eq!(body.text("d", &mut errors), None);
        assert_eq!(body.text("e", &mut errors), None);
        assert_eq!(errors.get("d").unwrap(), ["Not a valid string."]);
        assert_eq!(errors.get("e").unwrap(), ["Not a valid string."]);
    }

    #[test]
    fn flags_integers_and_values() {
        let mut errors = FieldErrors::new();
        let mut body = object(
            r#"{"t": true, "f": false, "n": null, "s": "yes", "i": 9, "j": "-3", "k": 1.5,
                "big": 99999999999, "o": {"acc": "1"}, "z": null}"#,
        );
        assert_eq!(body.flag("t", &mut errors), Some(true));
        assert_eq!(body.flag("f", &mut errors), Some(false));
        assert_eq!(body.flag("n", &mut errors), None);
        assert_eq!(body.integer("i", &mut errors), Some(9));
        assert_eq!(body.integer("j", &mut errors), Some(-3));
        assert!(errors.is_empty());
        assert_eq!(body.flag("s", &mut errors), None);
        assert_eq!(body.integer("k", &mut errors), None);
        assert_eq!(body.integer("big", &mut errors), None);
        assert_eq!(errors.get("s").unwrap(), ["Must be a valid boolean."]);
        assert_eq!(errors.get("k").unwrap(), ["A valid integer is required."]);
        assert_eq!(errors.get("big").unwrap(), ["A valid integer is required."]);
        assert_eq!(body.value("o"), Some(serde_json::json!({"acc": "1"})));
        assert_eq!(body.value("z"), None);
        assert_eq!(body.value("missing"), None);
    }
}
