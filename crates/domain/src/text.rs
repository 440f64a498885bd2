//! Rules shared by every free-text field a client sends.
//!
//! PostgreSQL cannot store U+0000 in `text` or `jsonb` (it answers "invalid byte sequence"),
//! while SQLite can: a NUL is refused here, before storage, so both backends answer the same 400.

/// The reason given for a text with a NUL character.
pub const NUL_REFUSED: &str = "Null characters are not allowed.";
/// The reason given for a one-line text with control characters.
pub const CONTROL_REFUSED: &str = "Control characters are not allowed.";

/// Free text (notes, instructions): anything but NUL.
pub fn check_free_text(text: &str) -> Result<(), &'static str> {
    if text.contains('\0') {
        Err(NUL_REFUSED)
    } else {
        Ok(())
    }
}

/// Text meant to be read by people (names, notes): no control character but newline and tab.
pub fn check_readable_text(text: &str) -> Result<(), &'static str> {
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        Err(CONTROL_REFUSED)
    } else {
        Ok(())
    }
}

/// A JSON document stored as is: no NUL in any string or object key, at any depth.
pub fn check_json(value: &serde_json::Value) -> Result<(), &'static str> {
    use serde_json::Value;
    match value {
        Value::String(text) => check_free_text(text),
        Value::Array(items) => items.iter().try_for_each(check_json),
        Value::Object(map) => map.iter().try_for_each(|(key, value)| {
            check_free_text(key)?;
            check_json(value)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_refused_everywhere() {
        assert_eq!(check_free_text("a\0b"), Err(NUL_REFUSED));
        assert_eq!(check_free_text("line\nline"), Ok(()));
        assert_eq!(check_readable_text("a\0b"), Err(CONTROL_REFUSED));
        assert_eq!(check_readable_text("a\u{7}b"), Err(CONTROL_REFUSED));
        assert_eq!(check_readable_text("tab\tand\nnewline"), Ok(()));
        assert_eq!(
            check_json(&json!({"a": [1, {"b": "x\u{0}"}]})),
            Err(NUL_REFUSED)
        );
        assert_eq!(check_json(&json!({"k\u{0}": 1})), Err(NUL_REFUSED));
        assert_eq!(
            check_json(&json!({"a": [1, {"b": "x"}], "c": null})),
            Ok(())
        );
    }
}
