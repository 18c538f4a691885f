//! The simulator's own reading of a SCIM PATCH `path` (RFC 7644 §3.5.2), as far as Genesys's
//! SCIM API accepts one: `attr`, `attr.sub`, `urn:...:attr[.sub]`, and a value filter
//! `attr[filter][.sub]` whose filter compares sub-attributes (`eq ne co sw ew pr`, joined by
//! `and`/`or`, `not (...)`, parentheses). Ordering comparisons (`gt ge lt le`) are parsed and
//! never match: Genesys's multi-valued attributes have nothing to order.
//!
//! Written apart from the bridge's parser on purpose: the simulator is a second opinion about
//! what Genesys accepts, so a mistake in the bridge's grammar must not be copied here.

use serde_json::Value;

/// A parsed PATCH path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PatchPath {
    /// The schema URN before the attribute, when the path names one.
    pub uri: Option<String>,
    pub name: String,
    /// `[filter]` after the attribute.
    pub filter: Option<ValFilter>,
    /// `.sub` after the attribute or after the filter.
    pub sub: Option<String>,
}

/// A value filter over the sub-attributes of one element of a multi-valued attribute.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValFilter {
    Present(String),
    Compare(String, CompareOp, Value),
    Not(Box<ValFilter>),
    And(Vec<ValFilter>),
    Or(Vec<ValFilter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Parse a PATCH path; the error says what is wrong, for a 400 `invalidPath`.
pub(crate) fn parse(path: &str) -> Result<PatchPath, String> {
    let path = path.trim();
    let (head, filter, after) = match path.find('[') {
        Some(open) => {
            let close = path.rfind(']').ok_or_else(|| format!("'{path}' has '[' without ']'"))?;
            if close < open {
                return Err(format!("'{path}' has ']' before '['"));
            }
            let filter = Parser::new(&path[open + 1..close]).filter()?;
            let after = &path[close + 1..];
            let sub = match after {
                "" => None,
                s => Some(s.strip_prefix('.').ok_or_else(|| format!("'{path}': expected '.sub' after ']'"))?),
            };
            (&path[..open], Some(filter), sub)
        }
        None => (path, None, None),
    };
    let (uri, attr) = split_urn(head);
    let (name, dotted) = match (filter.is_some(), attr.split_once('.')) {
        (false, Some((n, s))) => (n, Some(s)),
        _ => (attr, None),
    };
    let sub = after.or(dotted);
    if !is_attr_name(name) {
        return Err(format!("'{name}' is not an attribute name"));
    }
    if let Some(s) = sub
        && !is_attr_name(s)
    {
        return Err(format!("'{s}' is not a sub-attribute name"));
    }
    Ok(PatchPath { uri: uri.map(str::to_string), name: name.to_string(), filter, sub: sub.map(str::to_string) })
}

/// `urn:a:b:Schema:attr.sub` → (`urn:a:b:Schema`, `attr.sub`); a path without a URN is all attribute.
fn split_urn(head: &str) -> (Option<&str>, &str) {
    if head.len() > 4
        && head[..4].eq_ignore_ascii_case("urn:")
        && let Some(i) = head.rfind(':')
    {
        return (Some(&head[..i]), &head[i + 1..]);
    }
    (None, head)
}

fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

/// A recursive-descent reader of a value filter.
struct Parser<'s> {
    rest: &'s str,
}

impl<'s> Parser<'s> {
    fn new(s: &'s str) -> Self {
        Parser { rest: s }
    }

    fn filter(mut self) -> Result<ValFilter, String> {
        let f = self.or()?;
        self.skip_ws();
        if !self.rest.is_empty() {
            return Err(format!("unexpected '{}' in the filter", self.rest));
        }
        Ok(f)
    }

    fn or(&mut self) -> Result<ValFilter, String> {
        let mut items = vec![self.and()?];
        while self.keyword("or") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { ValFilter::Or(items) })
    }

    fn and(&mut self) -> Result<ValFilter, String> {
        let mut items = vec![self.unary()?];
        while self.keyword("and") {
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { ValFilter::And(items) })
    }

    fn unary(&mut self) -> Result<ValFilter, String> {
        self.skip_ws();
        if self.keyword("not") {
            self.skip_ws();
            if !self.eat('(') {
                return Err("'not' must be followed by '('".into());
            }
            let inner = self.or()?;
            return self.close(ValFilter::Not(Box::new(inner)));
        }
        if self.eat('(') {
            let inner = self.or()?;
            return self.close(inner);
        }
        let attr = self.word();
        if !is_attr_name(attr) {
            return Err(format!("expected an attribute name, found '{attr}'"));
        }
        let attr = attr.to_string();
        let op = self.word().to_ascii_lowercase();
        let op = match op.as_str() {
            "pr" => return Ok(ValFilter::Present(attr)),
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            other => return Err(format!("'{other}' is not a comparison operator")),
        };
        Ok(ValFilter::Compare(attr, op, self.value()?))
    }

    fn close(&mut self, f: ValFilter) -> Result<ValFilter, String> {
        self.skip_ws();
        if self.eat(')') { Ok(f) } else { Err("a '(' is not closed".into()) }
    }

    /// A JSON string, number, `true`, `false` or `null`.
    fn value(&mut self) -> Result<Value, String> {
        self.skip_ws();
        if self.rest.starts_with('"') {
            let bytes = self.rest.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => break,
                    _ => i += 1,
                }
            }
            if i >= bytes.len() {
                return Err("a string value is not closed".into());
            }
            let text = &self.rest[..=i];
            self.rest = &self.rest[i + 1..];
            return serde_json::from_str(text).map_err(|e| format!("bad string value {text}: {e}"));
        }
        let word = self.word();
        match word.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            _ => serde_json::from_str::<serde_json::Number>(word)
                .map(Value::Number)
                .map_err(|_| format!("'{word}' is not a value (strings are in double quotes)")),
        }
    }

    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    /// The next run of characters up to a space or parenthesis.
    fn word(&mut self) -> &'s str {
        self.skip_ws();
        let end = self.rest.find(|c: char| c.is_whitespace() || c == '(' || c == ')').unwrap_or(self.rest.len());
        let (w, r) = self.rest.split_at(end);
        self.rest = r;
        w
    }

    /// Consume `kw` (any case) when it is the next whole word.
    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let n = kw.len();
        let at_word = self.rest.get(..n).is_some_and(|w| w.eq_ignore_ascii_case(kw))
            && self.rest[n..].starts_with(|c: char| c.is_whitespace() || c == '(');
        if at_word {
            self.rest = &self.rest[n..];
        }
        at_word
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cmp(a: &str, op: CompareOp, v: Value) -> ValFilter {
        ValFilter::Compare(a.into(), op, v)
    }

    #[test]
    fn reads_the_paths_identity_providers_send() {
        let p = parse("active").unwrap();
        assert_eq!((p.uri, p.name.as_str(), p.filter, p.sub), (None, "active", None, None));

        let p = parse("manager.value").unwrap();
        assert_eq!((p.name.as_str(), p.sub.as_deref()), ("manager", Some("value")));

        let p = parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").unwrap();
        assert_eq!(p.uri.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_eq!(p.name, "department");

        let p = parse(r#"phoneNumbers[type eq "eightbyeight"].value"#).unwrap();
        assert_eq!(p.name, "phoneNumbers");
        assert_eq!(p.filter, Some(cmp("type", CompareOp::Eq, json!("eightbyeight"))));
        assert_eq!(p.sub.as_deref(), Some("value"));

        let p = parse(r#"emails[type eq "work" and primary eq true]"#).unwrap();
        assert_eq!(
            p.filter,
            Some(ValFilter::And(vec![
                cmp("type", CompareOp::Eq, json!("work")),
                cmp("primary", CompareOp::Eq, json!(true))
            ]))
        );

        let p = parse(r#"members[value eq "a\"b" or not (display pr)]"#).unwrap();
        assert_eq!(
            p.filter,
            Some(ValFilter::Or(vec![
                cmp("value", CompareOp::Eq, json!("a\"b")),
                ValFilter::Not(Box::new(ValFilter::Present("display".into())))
            ]))
        );
    }

    #[test]
    fn refuses_what_is_not_a_path() {
        for bad in ["", "phoneNumbers[type eq ", r#"phoneNumbers[type eq "x"]value"#, "emails[type eq work]", "1abc"] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
