//! Reading a request body as JSON, stricter than `serde_json::from_slice` in two ways that
//! matter for stored data:
//!
//! * **Duplicate names** in one object (`{"userName": "a", "userName": "b"}`) are refused
//!   (`invalidSyntax`): RFC 8259 §4 leaves their meaning to the parser, and two parsers on the
//!   path of one request (a proxy, a logger, this server) may each keep a different one.
//!   Names differing only in case are a SCIM matter (attribute names are case-insensitive) and
//!   are refused by the resource checks.
//! * **NUL characters** (U+0000) in a name or a string are refused (`invalidValue`, naming where):
//!   PostgreSQL cannot store them in text, and no identity provider sends them.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{ScimError, quoted};

/// Parse a request body: a JSON document without duplicate names or NUL characters.
pub fn parse_body(bytes: &[u8]) -> Result<Value, ScimError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut de).and_then(|v| de.end().map(|()| v)).map_err(|e| {
        ScimError::invalid_syntax(format!(
            "the request body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if let Some(at) = nul_at(&value, &mut String::new()) {
        return Err(ScimError::invalid_value(format!(
            "the request body holds a NUL character (U+0000) at {}; no SCIM value may contain one",
            if at.is_empty() { "its top level".to_string() } else { quoted(&at) }
        )));
    }
    Ok(value)
}

/// The JSON pointer of the first name or string holding U+0000, if any.
fn nul_at(v: &Value, at: &mut String) -> Option<String> {
    match v {
        Value::String(s) if s.contains('\0') => Some(at.clone()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = at.len();
            at.push_str(&format!("/{i}"));
            let found = nul_at(item, at);
            at.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            let len = at.len();
            at.push('/');
            at.push_str(&k.replace('~', "~0").replace('/', "~1"));
            let found = if k.contains('\0') { Some(at.clone()) } else { nul_at(item, at) };
            at.truncate(len);
            found
        }),
        _ => None,
    }
}

/// Builds a [`Value`] as serde_json's own would, refusing a name given twice in one object.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(A::Error::custom(format!(
                    "the name {} appears twice in one object; send each once",
                    quoted(&key)
                )));
            }
            let value = map.next_value_seed(Strict)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ScimType;

    #[test]
    fn parses_what_serde_json_parses() {
        let text = r#"{"schemas": ["urn:x"], "n": [1, -2, 3.5, 1e400, 18446744073709551615], "b": true, "z": null, "o": {"a": {"b": "é\n"}}}"#;
        match serde_json::from_str::<Value>(text) {
            Ok(expected) => assert_eq!(parse_body(text.as_bytes()).unwrap(), expected),
            // serde_json refuses 1e400 (out of range): so must we, as a syntax error.
            Err(_) => assert_eq!(parse_body(text.as_bytes()).unwrap_err().scim_type, Some(ScimType::InvalidSyntax)),
        }
        let text = r#"{"n": [1, -2, 3.5, 18446744073709551615], "o": {"a": {"b": "é\n"}}, "order": {"z": 1, "a": 2}}"#;
        let parsed = parse_body(text.as_bytes()).unwrap();
        assert_eq!(parsed, serde_json::from_str::<Value>(text).unwrap());
        let keys: Vec<&String> = parsed["order"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a"], "the order of names is kept");
    }

    #[test]
    fn refuses_duplicate_names_at_any_depth() {
        for text in [
            r#"{"userName": "a", "userName": "b"}"#,
            r#"{"Operations": [{"op": "add", "value": 1, "value": 2}]}"#,
            r#"{"a": {"b": {"c": 1, "c": 1}}}"#,
        ] {
            let e = parse_body(text.as_bytes()).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{text}");
            assert!(e.detail.contains("appears twice") && e.detail.contains("line 1"), "{}", e.detail);
        }
        // Same name in sibling objects, and names differing in case, are fine here.
        assert!(parse_body(br#"{"a": {"x": 1}, "b": {"x": 1}, "userName": 1, "USERNAME": 2}"#).is_ok());
    }

    #[test]
    fn refuses_nul_in_strings_and_names_naming_where() {
        for (body, at) in [
            (json!({"userName": "a\u{0}b"}), "/userName"),
            (json!({"emails": [{"value": "x"}, {"value": "\u{0}"}]}), "/emails/1/value"),
            (json!({"ti\u{0}tle": "boss"}), "/ti\\0tle"),
            (json!({"a/b": {"~": "\u{0}"}}), "/a~1b/~0"),
        ] {
            let e = parse_body(body.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{body}");
            assert!(e.detail.contains(at), "{at}: {}", e.detail);
        }
        assert!(parse_body(br#"{"userName": "a\\u0001b"}"#).is_ok(), "other control characters are data");
    }

    #[test]
    fn reports_syntax_errors_with_their_position() {
        for text in ["{", "{\"a\": }", "[1,]", "{} x", "", "{\"a\": \"\\ud800\"}"] {
            let e = parse_body(text.as_bytes()).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{text}");
            assert!(e.detail.contains("line"), "{}", e.detail);
        }
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(parse_body(deep.as_bytes()).unwrap_err().scim_type, Some(ScimType::InvalidSyntax));
    }
}
