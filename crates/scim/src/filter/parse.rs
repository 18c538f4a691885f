//! Parsing `filter` expressions (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2) into
//! `scim_v2`'s tree. The forms IdPs send on nearly every request (`userName eq "x"`,
//! `name.familyName`, `phoneNumbers[type eq "work"].value`) take a fast path that skips the
//! general parser; everything else is rewritten by `quirks.rs` and handed to `scim_v2`. Error
//! details give positions in the text the client sent.

use super::quirks::{
    normalise, original_offset, restore_ref, restore_ref_in_attr_path, restore_ref_in_filter, restore_ref_in_val_filter,
};
use super::{AttrExp, AttrPath, CompValue, CompareOp, Filter, PatchPath, PatchValuePath, ValFilter};
use crate::error::ScimError;

/// Parse a `filter` query parameter / `.search` body filter, with the tolerated quirks.
/// Errors are 400 `invalidFilter` with a detail naming the problem and its position.
pub fn parse_filter(text: &str) -> Result<Filter, ScimError> {
    if text.trim().is_empty() {
        return Err(ScimError::invalid_filter("the filter is empty"));
    }
    if text.contains('\0') {
        return Err(ScimError::invalid_filter("the filter holds a NUL character (U+0000), which no value can contain"));
    }
    let (normalised, map, placeholder) = normalise(text, true);
    if !placeholder && let Some(f) = simple_comparison(&normalised) {
        return Ok(f);
    }
    let mut filter = normalised
        .parse::<Filter>()
        .map_err(|e| ScimError::invalid_filter(describe_parse_error("filter", text, &map, &e)))?;
    if placeholder {
        restore_ref_in_filter(&mut filter);
    }
    if holds_nul(&filter) {
        // `"\u0000"` in a filter string decodes to the character the raw text check lets by.
        return Err(ScimError::invalid_filter(
            "a filter value holds a NUL character (U+0000), which no value can contain",
        ));
    }
    Ok(filter)
}

/// Whether a comparison value of `f` holds U+0000 (escaped in the filter text).
fn holds_nul(f: &Filter) -> bool {
    fn exp(e: &AttrExp) -> bool {
        matches!(e, AttrExp::Comparison(_, _, CompValue::Str(s)) if s.contains('\0'))
    }
    fn val(f: &ValFilter) -> bool {
        match f {
            ValFilter::Attr(e) => exp(e),
            ValFilter::Not(inner) => val(inner),
            ValFilter::And(items) | ValFilter::Or(items) => items.iter().any(val),
        }
    }
    match f {
        Filter::Attr(e) => exp(e),
        Filter::ValuePath(vp) => val(&vp.filter),
        Filter::Not(inner) => holds_nul(inner),
        Filter::And(items) | Filter::Or(items) => items.iter().any(holds_nul),
    }
}

/// The form IdPs send on nearly every request (`userName eq "jane@example.com"`: a plain or
/// dotted attribute, a comparison operator, a string without escapes), recognised without the
/// general parser, whose lexer builds a fresh lazy-DFA cache for every input (a measurable share
/// of a filtered GET). Anything else returns `None` and goes to the parser; a test checks that
/// both give the same tree for every input this accepts.
pub(super) fn simple_comparison(text: &str) -> Option<Filter> {
    let (path, op, value) = simple_compare(text)?;
    Some(Filter::Attr(AttrExp::Comparison(path, op, CompValue::Str(value))))
}

/// `attr op "string"` (plain or dotted attribute, no escapes in the string), split.
fn simple_compare(text: &str) -> Option<(AttrPath, CompareOp, String)> {
    let (attr, rest) = text.trim().split_once(|c: char| c.is_ascii_whitespace())?;
    let (op, value) = rest.trim_start().split_once(|c: char| c.is_ascii_whitespace())?;
    let path = simple_attr_path(attr)?;
    let op = match op.to_ascii_lowercase().as_str() {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "co" => CompareOp::Co,
        "sw" => CompareOp::Sw,
        "ew" => CompareOp::Ew,
        "gt" => CompareOp::Gt,
        "ge" => CompareOp::Ge,
        "lt" => CompareOp::Lt,
        "le" => CompareOp::Le,
        _ => return None,
    };
    let inner = value.trim().strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains(['"', '\\']) {
        return None;
    }
    Some((path, op, inner.to_string()))
}

/// A name the general parser reads as a plain attribute name (not a keyword).
fn simple_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !matches!(
            n.to_ascii_lowercase().as_str(),
            "and"
                | "or"
                | "not"
                | "pr"
                | "eq"
                | "ne"
                | "co"
                | "sw"
                | "ew"
                | "gt"
                | "ge"
                | "lt"
                | "le"
                | "true"
                | "false"
                | "null"
        )
}

/// `name` or `name.sub`, without a schema URN.
fn simple_attr_path(attr: &str) -> Option<AttrPath> {
    match attr.split_once('.') {
        None if simple_name(attr) => Some(AttrPath { uri: None, name: attr.to_string(), sub_attr: None }),
        Some((name, sub)) if simple_name(name) && simple_name(sub) => {
            Some(AttrPath { uri: None, name: name.to_string(), sub_attr: Some(sub.to_string()) })
        }
        _ => None,
    }
}

/// The PATCH paths IdPs send on nearly every request (`active`, `name.familyName`,
/// `phoneNumbers[type eq "eightbyeight"].value`, `members[value eq "..."]`), recognised without
/// the general parser, as [`simple_comparison`] is for filters.
pub(super) fn simple_path(text: &str) -> Option<PatchPath> {
    let t = text.trim();
    let Some((attr, rest)) = t.split_once('[') else {
        return simple_attr_path(t).map(PatchPath::Attr);
    };
    let attr = simple_attr_path(attr)?;
    let (inside, after) = rest.rsplit_once(']')?;
    let sub_attr = match after {
        "" => None,
        a => Some(a.strip_prefix('.').filter(|s| simple_name(s))?.to_string()),
    };
    let (path, op, value) = simple_compare(inside)?;
    let filter = ValFilter::Attr(AttrExp::Comparison(path, op, CompValue::Str(value)));
    Some(PatchPath::Value(PatchValuePath { attr, filter, sub_attr }))
}

/// Parse a PATCH `path` (RFC 7644 §3.5.2) with the same tolerated quirks as filters (except the
/// Entra comparison rewrite, which only makes sense in a filter). Errors are 400 `invalidPath`.
///
/// A path that is exactly an extension URN mis-parses (as attribute `User` of URI
/// `urn:...:2.0`); callers check `ResourceType::extension` first.
pub fn parse_path(text: &str) -> Result<PatchPath, ScimError> {
    if text.trim().is_empty() {
        return Err(ScimError::invalid_path("the path is empty"));
    }
    let (normalised, map, placeholder) = normalise(text, false);
    if !placeholder && let Some(p) = simple_path(&normalised) {
        return Ok(p);
    }
    let mut path = normalised
        .parse::<PatchPath>()
        .map_err(|e| ScimError::invalid_path(describe_parse_error("path", text, &map, &e)))?;
    if placeholder {
        match &mut path {
            PatchPath::Attr(a) => restore_ref_in_attr_path(a),
            PatchPath::Value(vp) => {
                restore_ref_in_attr_path(&mut vp.attr);
                restore_ref_in_val_filter(&mut vp.filter);
                if let Some(s) = vp.sub_attr.as_mut() {
                    restore_ref(s);
                }
            }
        }
    }
    Ok(path)
}

/// Parse a plain attribute path such as a `sortBy` value (`name.familyName`,
/// `urn:...:enterprise:2.0:User:employeeNumber`, `members.$ref`).
pub fn parse_attr_path(text: &str) -> Result<AttrPath, ScimError> {
    match parse_path(text)? {
        PatchPath::Attr(a) => Ok(a),
        PatchPath::Value(_) => {
            Err(ScimError::invalid_path(format!("`{text}` must be an attribute path without a filter")))
        }
    }
}

/// A human-readable parse error, positions in the client's text.
fn describe_parse_error(
    what: &str,
    original: &str,
    map: &[(usize, usize)],
    err: &scim_v2::filter::ParseError,
) -> String {
    use scim_v2::filter::ParseError as P;
    let at = |pos: usize| original_offset(map, pos);
    let unexpected = |start: usize, end: usize, tok: &str, expected: &[String]| {
        let (start, end) = (at(start), at(end));
        let tok = tok.trim();
        if original.get(end..).is_some_and(|rest| rest.trim().is_empty()) {
            format!("invalid {what}: nothing follows `{tok}` at position {start}")
        } else {
            format!("invalid {what}: unexpected `{tok}` at position {start}{}", expected_list(expected))
        }
    };
    match err {
        P::InvalidToken { location } => {
            let pos = at(*location);
            let found: String = original.get(pos..).unwrap_or("").chars().take(12).collect();
            let hint = if found.starts_with('"') {
                " (is a closing quote missing?)"
            } else if found.starts_with('\'') {
                " (strings take double quotes)"
            } else {
                ""
            };
            format!("invalid {what}: unexpected `{found}` at position {pos}{hint}")
        }
        P::UnrecognizedEof { location, expected } => {
            format!("invalid {what}: it ends too early at position {}{}", at(*location), expected_list(expected))
        }
        P::UnrecognizedToken { token: (start, tok, end), expected } => unexpected(*start, *end, tok, expected),
        P::ExtraToken { token: (start, tok, end) } => unexpected(*start, *end, tok, &[]),
        P::User { error } => format!("invalid {what}: {error}"),
    }
}

fn expected_list(expected: &[String]) -> String {
    let mut names: Vec<&str> = expected
        .iter()
        .map(|e| match e.as_str() {
            "StringLit" => "a quoted string",
            "NumberLit" => "a number",
            "AttrNameTok" | "AttrPathTok" => "an attribute name",
            other => other.trim_matches('"'),
        })
        .collect();
    names.dedup();
    if names.is_empty() { String::new() } else { format!("; expected {}", names.join(", ")) }
}
