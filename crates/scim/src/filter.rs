//! Filters (RFC 7644 §3.4.2.2) and sort keys (RFC 7644 §3.4.2.3) over stored resource documents.
//!
//! Owns: parsing `filter` expressions and PATCH paths with the IdP quirks we tolerate,
//! validating a filter against a resource type, evaluating it in memory against the canonical
//! document (`docs/architecture.md`), and the sort order of `sortBy`.
//!
//! The grammar is `scim_v2`'s. Inputs that real clients send but its parser rejects are rewritten
//! into RFC form first, one named `quirk_*` function each, working on a small token scan that
//! respects quoted strings. Error positions always refer to the text the client sent.
//!
//! Semantics decided here (the `store` SQL lowering must agree, see `docs/architecture.md`):
//! * `attr ne v` is `not (attr eq v)`: true when the attribute is absent, and for a
//!   multi-valued attribute true only when *no* value equals `v`.
//! * `attr eq null` is `not (attr pr)`; `attr ne null` is `attr pr`.
//! * A known boolean attribute compares with `true`/`false` or, leniently, the strings
//!   `"true"`/`"false"` in any case (Entra sends booleans as strings); any other value is
//!   `invalidFilter`.
//! * Only the document is seen: a Group's `members` and a User's `groups` are not in it, so
//!   filters on them must be answered in SQL (or the caller adds them to a copy of the document).
//!
//! Must not import: actix, diesel, reqwest, tokio, or any module of this crate outside `scim`.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, PatchPath, PatchValuePath, ValFilter};

use crate::error::ScimError;
use crate::schema::{AttrType, AttributeDef, Namespace, ResourceType, get_ci};

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parse a `filter` query parameter / `.search` body filter, with the tolerated quirks.
/// Errors are 400 `invalidFilter` with a detail naming the problem and its position.
pub fn parse_filter(text: &str) -> Result<Filter, ScimError> {
    if text.trim().is_empty() {
        return Err(ScimError::invalid_filter("the filter is empty"));
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
    Ok(filter)
}

/// The form IdPs send on nearly every request (`userName eq "jane@example.com"`: a plain or
/// dotted attribute, a comparison operator, a string without escapes), recognised without the
/// general parser, whose lexer builds a fresh lazy-DFA cache for every input (a measurable share
/// of a filtered GET). Anything else returns `None` and goes to the parser; a test checks that
/// both give the same tree for every input this accepts.
fn simple_comparison(text: &str) -> Option<Filter> {
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
fn simple_path(text: &str) -> Option<PatchPath> {
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

/// Apply the quirk rewrites: the text for the parser, its offset map back to `text`, and
/// whether `$ref` was replaced by a placeholder that must be put back into the AST.
fn normalise(text: &str, in_filter: bool) -> (String, Vec<(usize, usize)>, bool) {
    let mut toks = lex(text);
    let placeholder = quirk_dollar_ref(&mut toks);
    toks = quirk_space_after_operator(toks);
    toks = quirk_space_after_not(toks);
    quirk_literal_case(&mut toks);
    if in_filter {
        toks = quirk_entra_value_path_comparison(toks);
    }
    let (normalised, map) = render(&toks);
    (normalised, map, placeholder)
}

/// One lexeme of the quirk scanner. The scanner knows only what the rewrites need: quoted
/// strings (so brackets and quotes inside them are left alone), brackets, parentheses,
/// whitespace, and runs of anything else ("words": names, operators, literals, numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    Str,
    Open,
    Close,
    LBracket,
    RBracket,
    Space,
    Word,
}

#[derive(Debug, Clone)]
struct Tok {
    kind: TokKind,
    text: String,
    /// Byte offset of the token in the text the client sent (synthetic tokens borrow a neighbour's).
    orig: usize,
}

impl Tok {
    fn synthetic(kind: TokKind, text: &str, orig: usize) -> Tok {
        Tok { kind, text: text.to_string(), orig }
    }

    fn is_word(&self, w: &str) -> bool {
        self.kind == TokKind::Word && self.text.eq_ignore_ascii_case(w)
    }

    fn is_compare_op(&self) -> bool {
        self.kind == TokKind::Word && COMPARE_OPS.iter().any(|op| self.text.eq_ignore_ascii_case(op))
    }
}

const COMPARE_OPS: [&str; 9] = ["eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"];

fn lex(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let kind = match c {
            '"' => {
                // A JSON string: runs to the next unescaped quote (or the end, left for the parser to reject).
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {}
                    }
                }
                TokKind::Str
            }
            '(' => TokKind::Open,
            ')' => TokKind::Close,
            '[' => TokKind::LBracket,
            ']' => TokKind::RBracket,
            c if c.is_whitespace() => {
                while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
                TokKind::Space
            }
            _ => {
                while chars.next_if(|(_, c)| !c.is_whitespace() && !"\"()[]".contains(*c)).is_some() {}
                TokKind::Word
            }
        };
        let end = chars.peek().map_or(text.len(), |(i, _)| *i);
        toks.push(Tok { kind, text: text[start..end].to_string(), orig: start });
    }
    toks
}

/// The text handed to the parser, and for each token `(offset in that text, offset in the original)`.
fn render(toks: &[Tok]) -> (String, Vec<(usize, usize)>) {
    let mut out = String::new();
    let mut map = Vec::with_capacity(toks.len());
    for t in toks {
        map.push((out.len(), t.orig));
        out.push_str(&t.text);
    }
    (out, map)
}

/// Map a byte offset in the normalised text back to the text the client sent.
fn original_offset(map: &[(usize, usize)], pos: usize) -> usize {
    match map.iter().rev().find(|(norm, _)| *norm <= pos) {
        Some((norm, orig)) => orig + (pos - norm),
        None => pos,
    }
}

/// Quirk: attribute paths that contain `$ref` (`members.$ref`, `manager.$ref`).
///
/// RFC 7643 names sub-attributes `$ref` (Group `members`, User `groups`, enterprise `manager`),
/// but the `ATTRNAME` rule of RFC 7644 §3.4.2.2 (`ALPHA *(nameChar)`) cannot spell them, and
/// `scim_v2` rejects the `$`. We substitute a placeholder name before parsing and put `$ref`
/// back into the AST afterwards. Returns whether a substitution was made. If the filter already
/// contains the placeholder word, nothing is substituted (and `$ref` fails as before).
fn quirk_dollar_ref(toks: &mut [Tok]) -> bool {
    let lower_placeholder = REF_PLACEHOLDER.to_ascii_lowercase();
    if toks.iter().any(|t| t.kind == TokKind::Word && t.text.to_ascii_lowercase().contains(&lower_placeholder)) {
        return false;
    }
    let mut any = false;
    for t in toks.iter_mut().filter(|t| t.kind == TokKind::Word) {
        let segments: Vec<&str> = t.text.split('.').collect();
        if !segments.iter().any(|s| s.eq_ignore_ascii_case("$ref") || s.to_ascii_lowercase().ends_with(":$ref")) {
            continue;
        }
        let rewritten: Vec<String> = segments
            .iter()
            .map(|s| {
                if s.eq_ignore_ascii_case("$ref") {
                    REF_PLACEHOLDER.to_string()
                } else if s.to_ascii_lowercase().ends_with(":$ref") {
                    format!("{}{REF_PLACEHOLDER}", &s[..s.len() - 4])
                } else {
                    (*s).to_string()
                }
            })
            .collect();
        t.text = rewritten.join(".");
        any = true;
    }
    any
}

/// A valid `ATTRNAME` standing in for `$ref` while the parser runs.
const REF_PLACEHOLDER: &str = "scimBridgeDollarRef";

fn restore_ref(name: &mut String) {
    if name.eq_ignore_ascii_case(REF_PLACEHOLDER) {
        *name = "$ref".to_string();
    }
}

fn restore_ref_in_attr_path(p: &mut AttrPath) {
    restore_ref(&mut p.name);
    if let Some(s) = p.sub_attr.as_mut() {
        restore_ref(s);
    }
}

fn restore_ref_in_exp(e: &mut AttrExp) {
    match e {
        AttrExp::Present(p) | AttrExp::Comparison(p, _, _) => restore_ref_in_attr_path(p),
    }
}

fn restore_ref_in_val_filter(f: &mut ValFilter) {
    match f {
        ValFilter::Attr(e) => restore_ref_in_exp(e),
        ValFilter::Not(inner) => restore_ref_in_val_filter(inner),
        ValFilter::And(items) | ValFilter::Or(items) => items.iter_mut().for_each(restore_ref_in_val_filter),
    }
}

fn restore_ref_in_filter(f: &mut Filter) {
    match f {
        Filter::Attr(e) => restore_ref_in_exp(e),
        Filter::ValuePath(vp) => {
            restore_ref_in_attr_path(&mut vp.attr);
            restore_ref_in_val_filter(&mut vp.filter);
        }
        Filter::Not(inner) => restore_ref_in_filter(inner),
        Filter::And(items) | Filter::Or(items) => items.iter_mut().for_each(restore_ref_in_filter),
    }
}

/// Quirk: no space between a comparison operator and a quoted value, `value eq"2819c223..."`.
///
/// Evidence: RFC 7644 §3.5.2.2 itself, in the "remove and add a member" example
/// (`"members[value eq\"2819c223...919d-413861904646\"]"`); clients copy RFC examples. The
/// ABNF requires `SP` there and `scim_v2` enforces it, so we insert the space.
fn quirk_space_after_operator(toks: Vec<Tok>) -> Vec<Tok> {
    insert_space_after(toks, |prev, t, next| {
        t.is_compare_op() && prev.is_some_and(|p| p.kind == TokKind::Space) && next.kind == TokKind::Str
    })
}

/// Quirk: `not(title pr)` without a space.
///
/// This one is RFC-valid: RFC 7644 §3.4.2.2 writes `*1"not" "(" FILTER ")"` with no `SP`
/// between `not` and `(`, but `scim_v2`'s lexer requires whitespace after `not`.
fn quirk_space_after_not(toks: Vec<Tok>) -> Vec<Tok> {
    insert_space_after(toks, |prev, t, next| {
        let at_start = prev.is_none_or(|p| matches!(p.kind, TokKind::Space | TokKind::Open | TokKind::LBracket));
        at_start && t.is_word("not") && next.kind == TokKind::Open
    })
}

/// Copy `toks`, inserting a space after each token for which `wanted(previous, token, next)`.
fn insert_space_after(toks: Vec<Tok>, wanted: impl Fn(Option<&Tok>, &Tok, &Tok) -> bool) -> Vec<Tok> {
    let mut out = Vec::with_capacity(toks.len());
    for i in 0..toks.len() {
        out.push(toks[i].clone());
        if let Some(next) = toks.get(i + 1)
            && wanted(i.checked_sub(1).and_then(|p| toks.get(p)), &toks[i], next)
        {
            out.push(Tok::synthetic(TokKind::Space, " ", next.orig));
        }
    }
    out
}

/// Quirk: comparison literals in any case, `active eq True`, `manager eq NULL`.
///
/// .NET clients render booleans as `True`/`False` (Entra sends its booleans as such strings in
/// PATCH values, `docs/idp-notes.md` §4.1 item 2). RFC 7644 §3.4.2.2 spells
/// `compValue = false / null / true` in ABNF, whose quoted literals are case-insensitive
/// (RFC 5234 §2.3), while `scim_v2` accepts only lower case. Only a word right after a
/// comparison operator is lowered, so attribute names are never touched.
fn quirk_literal_case(toks: &mut [Tok]) {
    for i in 2..toks.len() {
        let literal = ["true", "false", "null"].iter().any(|l| toks[i].is_word(l));
        if literal && toks[i - 1].kind == TokKind::Space && toks[i - 2].is_compare_op() {
            toks[i].text.make_ascii_lowercase();
        }
    }
}

/// Quirk: Entra ID's `emails[type eq "work"].value eq "x"`.
///
/// Microsoft Entra ID checks uniqueness of a work email with this filter (Microsoft Learn,
/// "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID";
/// `docs/idp-notes.md` §4.1 item 15). RFC 7644 §3.4.2.2 has no sub-attribute after
/// a value path in a filter; the RFC form of the same question is
/// `emails[(type eq "work") and value eq "x"]`, which is what we hand to the parser. The
/// comparison may also be `pr`.
fn quirk_entra_value_path_comparison(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len() + 6);
    // The `(` of each rewrite goes after these indices of `out`; inserted in one pass at the end
    // so that a long filter costs linear time.
    let mut open_after: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i].kind == TokKind::RBracket
            && let Some((sub, op, value, consumed)) = entra_suffix(&toks[i + 1..])
            && let Some(open) = matching_open(&out)
        {
            let at = toks[i].orig;
            open_after.push(open);
            out.push(Tok::synthetic(TokKind::Close, ")", at));
            out.push(Tok::synthetic(TokKind::Space, " ", at));
            out.push(Tok::synthetic(TokKind::Word, "and", at));
            out.push(Tok::synthetic(TokKind::Space, " ", at));
            out.push(sub);
            out.push(Tok::synthetic(TokKind::Space, " ", at));
            out.push(op);
            if let Some(v) = value {
                out.push(Tok::synthetic(TokKind::Space, " ", v.orig));
                out.push(v);
            }
            out.push(Tok::synthetic(TokKind::RBracket, "]", at));
            i += 1 + consumed;
            continue;
        }
        out.push(toks[i].clone());
        i += 1;
    }
    if open_after.is_empty() {
        return out;
    }
    open_after.sort_unstable();
    let mut pending = open_after.into_iter().peekable();
    let mut with_opens = Vec::with_capacity(out.len() + pending.len());
    for (j, t) in out.into_iter().enumerate() {
        let after = t.orig + t.text.len();
        with_opens.push(t);
        while pending.next_if_eq(&j).is_some() {
            with_opens.push(Tok::synthetic(TokKind::Open, "(", after));
        }
    }
    with_opens
}

/// After a `]`: `.sub SP op [SP value]`. Returns the sub-attribute token (without its dot), the
/// operator, the value and how many tokens that took.
fn entra_suffix(rest: &[Tok]) -> Option<(Tok, Tok, Option<Tok>, usize)> {
    let dotted = rest.first().filter(|t| t.kind == TokKind::Word)?;
    let name = dotted.text.strip_prefix('.')?;
    if !is_attr_name(name) || rest.get(1)?.kind != TokKind::Space {
        return None;
    }
    let sub = Tok { kind: TokKind::Word, text: name.to_string(), orig: dotted.orig + 1 };
    let op = rest.get(2)?;
    if op.is_word("pr") {
        return Some((sub, op.clone(), None, 3));
    }
    if !op.is_compare_op() || rest.get(3)?.kind != TokKind::Space {
        return None;
    }
    let value = rest.get(4).filter(|t| matches!(t.kind, TokKind::Str | TokKind::Word))?;
    Some((sub, op.clone(), Some(value.clone()), 5))
}

/// The index in `out` of the `[` that the next `]` closes. A value filter contains no brackets
/// (RFC 7644 §3.4.2.2 `valFilter`), so the scan stops at an earlier `]`: each token is scanned
/// at most once over the whole filter.
fn matching_open(out: &[Tok]) -> Option<usize> {
    for (i, t) in out.iter().enumerate().rev() {
        match t.kind {
            TokKind::LBracket => return Some(i),
            TokKind::RBracket => return None,
            _ => {}
        }
    }
    None
}

/// RFC 7644 §3.4.2.2 `ATTRNAME = ALPHA *(nameChar)`.
fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
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

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Reject filters that are well-formed but meaningless for this resource type (400
/// `invalidFilter`): `gt`/`ge`/`lt`/`le` on boolean or binary attributes (RFC 7644 §3.4.2.2,
/// Table 3); `co`/`sw`/`ew` with a value that is not a string; an ordering comparison with
/// `null`; a comparison value of the wrong JSON type for a known attribute (`active eq "x"`,
/// `meta.lastModified gt "not a date"`; `active eq "True"` is accepted, see the module docs);
/// comparing a complex attribute that has no `value` sub-attribute; value paths on anything but
/// a multi-valued complex attribute.
///
/// Unknown attributes are not an error: they are evaluated against the raw document, which
/// keeps attributes the schemas do not define.
pub fn validate_filter(rt: &ResourceType, filter: &Filter) -> Result<(), ScimError> {
    match filter {
        Filter::Attr(exp) => {
            let path = exp_path(exp);
            check_exp(resolve_leaf(rt, path), exp, &path.to_string())
        }
        Filter::ValuePath(vp) => {
            let parent = rt.resolve(vp.attr.uri.as_deref(), &vp.attr.name, None).map(|r| r.attr);
            if let Some(p) = parent
                && (vp.attr.sub_attr.is_some() || !(p.multi_valued && p.is_complex()))
            {
                return Err(ScimError::invalid_filter(format!(
                    "`{}[...]`: a value filter applies only to a multi-valued complex attribute",
                    vp.attr
                )));
            }
            validate_val_filter(parent, &vp.filter)
        }
        Filter::Not(inner) => validate_filter(rt, inner),
        Filter::And(items) | Filter::Or(items) => items.iter().try_for_each(|f| validate_filter(rt, f)),
    }
}

/// [`validate_filter`] for the part inside `attr[...]`, whose names are sub-attributes of
/// `parent` (None when the attribute is not modelled).
pub fn validate_val_filter(parent: Option<&AttributeDef>, filter: &ValFilter) -> Result<(), ScimError> {
    match filter {
        ValFilter::Attr(exp) => {
            let path = exp_path(exp);
            let def = parent.and_then(|p| p.sub(&path.name));
            if def.is_some() && path.sub_attr.is_some() {
                return Err(ScimError::invalid_filter(format!("`{path}`: sub-attributes have no sub-attributes")));
            }
            check_exp(def, exp, &path.to_string())
        }
        ValFilter::Not(inner) => validate_val_filter(parent, inner),
        ValFilter::And(items) | ValFilter::Or(items) => items.iter().try_for_each(|f| validate_val_filter(parent, f)),
    }
}

fn exp_path(exp: &AttrExp) -> &AttrPath {
    match exp {
        AttrExp::Present(p) | AttrExp::Comparison(p, _, _) => p,
    }
}

/// The definition a filter path ends at, if the resource type models it.
fn resolve_leaf(rt: &ResourceType, path: &AttrPath) -> Option<&'static AttributeDef> {
    rt.resolve(path.uri.as_deref(), &path.name, path.sub_attr.as_deref()).map(|r| r.leaf())
}

fn check_exp(def: Option<&AttributeDef>, exp: &AttrExp, name: &str) -> Result<(), ScimError> {
    let AttrExp::Comparison(_, op, value) = exp else {
        return Ok(());
    };
    let def = match def {
        Some(d) if d.is_complex() => match d.sub("value") {
            Some(v) => Some(v),
            None if *value == CompValue::Null => return Ok(()),
            None => {
                let example = d.sub_attributes.first().map_or("value", |s| s.name.as_str());
                return Err(ScimError::invalid_filter(format!(
                    "`{name}` is a complex attribute: compare one of its sub-attributes, e.g. `{name}.{example}`"
                )));
            }
        },
        d => d,
    };
    let ordering = matches!(op, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le);
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let bad = |why: String| Err(ScimError::invalid_filter(format!("`{name} {op} {value}`: {why}")));
    if *value == CompValue::Null {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(())
        } else {
            bad(format!("`{op}` cannot compare with null; use `{name} pr` or `not ({name} pr)`"))
        };
    }
    if substring && !matches!(value, CompValue::Str(_)) {
        return bad(format!("`{op}` compares strings; quote the value"));
    }
    let Some(def) = def else {
        return Ok(());
    };
    match def.kind {
        AttrType::Boolean => {
            if ordering || substring {
                return bad(format!("`{op}` is not defined for the boolean attribute `{name}` (RFC 7644 §3.4.2.2)"));
            }
            match value {
                CompValue::True | CompValue::False => Ok(()),
                CompValue::Str(s) if parse_bool_lenient(s).is_some() => Ok(()),
                _ => bad("the attribute is boolean; compare with true or false".into()),
            }
        }
        AttrType::Binary if ordering => {
            bad(format!("`{op}` is not defined for the binary attribute `{name}` (RFC 7644 §3.4.2.2)"))
        }
        AttrType::DateTime => match value {
            CompValue::Str(s) if substring || parse_datetime(s).is_some() => Ok(()),
            CompValue::Str(_) => bad("not a dateTime; use RFC 3339, e.g. \"2011-05-13T04:42:34Z\"".into()),
            _ => bad("the attribute is a dateTime; compare with a quoted RFC 3339 timestamp".into()),
        },
        AttrType::Integer | AttrType::Decimal => match value {
            CompValue::Number(_) => Ok(()),
            _ => bad("the attribute is a number; compare with an unquoted number".into()),
        },
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            CompValue::Str(_) => Ok(()),
            _ => bad("the attribute is a string; quote the value".into()),
        },
        AttrType::Complex => bad("the attribute is complex; compare one of its sub-attributes".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// Evaluate a filter in memory against a stored resource document (canonical form, see
/// `docs/architecture.md`; keys are still matched case-insensitively for attributes we do not
/// model). Semantics: RFC 7644 §3.4.2.2 and the decisions in the module docs.
pub fn matches(rt: &ResourceType, filter: &Filter, doc: &Map<String, Value>) -> bool {
    match filter {
        Filter::Attr(exp) => eval_exp(exp, &lookup_resource(rt, exp_path(exp), doc)),
        Filter::ValuePath(vp) => {
            let found = lookup_resource(rt, &vp.attr, doc);
            found.values.iter().any(|element| matches_element(found.def, &vp.filter, element))
        }
        Filter::Not(inner) => !matches(rt, inner, doc),
        Filter::And(items) => items.iter().all(|f| matches(rt, f, doc)),
        Filter::Or(items) => items.iter().any(|f| matches(rt, f, doc)),
    }
}

/// Evaluate a value filter (the part inside `attr[...]`) against one element of a multi-valued
/// complex attribute whose definition is `parent` (None when the attribute is not modelled).
/// Used by PATCH value paths and group-member filters. An element that is not an object (a
/// multi-valued simple attribute) is its own `value` sub-attribute.
pub fn matches_element(parent: Option<&AttributeDef>, filter: &ValFilter, element: &Value) -> bool {
    match filter {
        ValFilter::Attr(exp) => eval_exp(exp, &lookup_element(parent, exp_path(exp), element)),
        ValFilter::Not(inner) => !matches_element(parent, inner, element),
        ValFilter::And(items) => items.iter().all(|f| matches_element(parent, f, element)),
        ValFilter::Or(items) => items.iter().any(|f| matches_element(parent, f, element)),
    }
}

/// The values a path reaches (arrays flattened) and the definition they have.
struct Found<'a, 'd> {
    def: Option<&'a AttributeDef>,
    values: Vec<&'d Value>,
}

/// Where `path` lives in `doc`: the attribute's definition (if modelled) and its value.
fn locate<'d>(
    rt: &ResourceType,
    path: &AttrPath,
    doc: &'d Map<String, Value>,
) -> (Option<&'static AttributeDef>, Option<&'d Value>) {
    let uri = path.uri.as_deref();
    let resolved = rt.resolve(uri, &path.name, None);
    let container = match (resolved.map(|r| r.namespace), uri) {
        (Some(Namespace::Core), _) | (None, None) => Some(doc),
        (Some(Namespace::Extension(urn)), _) => get_ci(doc, urn).and_then(|(_, v)| v.as_object()),
        (None, Some(u)) if rt.core.id.eq_ignore_ascii_case(u) => Some(doc),
        (None, Some(u)) => get_ci(doc, u).and_then(|(_, v)| v.as_object()),
    };
    let name = resolved.map_or(path.name.as_str(), |r| r.attr.name.as_str());
    let value = container.and_then(|c| get_ci(c, name)).map(|(_, v)| v);
    (resolved.map(|r| r.attr), value)
}

fn lookup_resource<'d>(rt: &ResourceType, path: &AttrPath, doc: &'d Map<String, Value>) -> Found<'static, 'd> {
    let (def, value) = locate(rt, path, doc);
    descend(def, value, path.sub_attr.as_deref())
}

fn lookup_element<'a, 'd>(parent: Option<&'a AttributeDef>, path: &AttrPath, element: &'d Value) -> Found<'a, 'd> {
    let def = parent.and_then(|p| p.sub(&path.name));
    match element {
        Value::Object(obj) => descend(def, get_ci(obj, &path.name).map(|(_, v)| v), path.sub_attr.as_deref()),
        scalar if path.name.eq_ignore_ascii_case("value") && path.sub_attr.is_none() => {
            let def = match parent {
                Some(p) if p.is_complex() => def,
                p => p,
            };
            Found { def, values: vec![scalar] }
        }
        _ => Found { def, values: Vec::new() },
    }
}

/// From an attribute's value, the values of `sub` (or the attribute's own), arrays flattened.
fn descend<'a, 'd>(def: Option<&'a AttributeDef>, value: Option<&'d Value>, sub: Option<&str>) -> Found<'a, 'd> {
    let mut values = Vec::new();
    flatten(value, &mut values);
    let Some(sub) = sub else {
        return Found { def, values };
    };
    let mut subs = Vec::new();
    for v in values {
        if let Value::Object(o) = v {
            flatten(get_ci(o, sub).map(|(_, v)| v), &mut subs);
        }
    }
    Found { def: def.and_then(|d| d.sub(sub)), values: subs }
}

fn flatten<'d>(value: Option<&'d Value>, out: &mut Vec<&'d Value>) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => items.iter().for_each(|v| flatten(Some(v), out)),
        Some(v) => out.push(v),
    }
}

/// RFC 7644 §3.4.2.2 `pr`: not null, not "", not [], not {} (nor an object of only such values).
fn is_nonempty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_nonempty),
        Value::Object(o) => o.values().any(is_nonempty),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn eval_exp(exp: &AttrExp, found: &Found<'_, '_>) -> bool {
    let present = || found.values.iter().any(|v| is_nonempty(v));
    match exp {
        AttrExp::Present(_) => present(),
        AttrExp::Comparison(_, CompareOp::Eq, CompValue::Null) => !present(),
        AttrExp::Comparison(_, CompareOp::Ne, CompValue::Null) => present(),
        AttrExp::Comparison(_, _, CompValue::Null) => false,
        AttrExp::Comparison(_, CompareOp::Ne, expected) => !any_compares(found, &CompareOp::Eq, expected),
        AttrExp::Comparison(_, op, expected) => any_compares(found, op, expected),
    }
}

/// Whether any value satisfies `op expected`. A complex value (an element of `emails`, or
/// `manager`) compares its `value` sub-attribute (RFC 7644 §3.4.2.2, `emails co "example.com"`).
fn any_compares(found: &Found<'_, '_>, op: &CompareOp, expected: &CompValue) -> bool {
    let value_def = found.def.map(|d| if d.is_complex() { d.sub("value") } else { Some(d) });
    found.values.iter().any(|v| match v {
        Value::Object(o) => {
            let def = value_def.flatten();
            let mut inner = Vec::new();
            flatten(get_ci(o, "value").map(|(_, v)| v), &mut inner);
            inner.iter().any(|v| compare_one(def, op, v, expected))
        }
        v => compare_one(found.def, op, v, expected),
    })
}

/// One attribute value against one comparison value. `ne` and `null` are handled by the caller.
fn compare_one(def: Option<&AttributeDef>, op: &CompareOp, actual: &Value, expected: &CompValue) -> bool {
    let kind = def.map(|d| d.kind);
    match expected {
        CompValue::Null => false,
        CompValue::True | CompValue::False => {
            let want = *expected == CompValue::True;
            *op == CompareOp::Eq && as_bool_lenient(actual) == Some(want)
        }
        CompValue::Number(n) => match actual {
            Value::Number(a) => order_matches(op, compare_numbers(a, n)),
            _ => false,
        },
        CompValue::Str(s) => match actual {
            _ if kind == Some(AttrType::Boolean) => {
                *op == CompareOp::Eq && parse_bool_lenient(s).is_some_and(|b| as_bool_lenient(actual) == Some(b))
            }
            Value::String(a) => {
                let chronological =
                    kind == Some(AttrType::DateTime) && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
                if chronological && let (Some(x), Some(y)) = (parse_datetime(a), parse_datetime(s)) {
                    return order_matches(op, x.cmp(&y));
                }
                compare_strings(op, a, s, def.is_some_and(|d| d.case_exact))
            }
            Value::Bool(b) => *op == CompareOp::Eq && parse_bool_lenient(s) == Some(*b),
            Value::Number(a) => match serde_json::from_str::<Number>(s.trim()) {
                Ok(n) => order_matches(op, compare_numbers(a, &n)),
                Err(_) => false,
            },
            _ => false,
        },
    }
}

fn compare_strings(op: &CompareOp, actual: &str, expected: &str, case_exact: bool) -> bool {
    let (a, e) = if case_exact {
        (actual.to_string(), expected.to_string())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&e),
        CompareOp::Sw => a.starts_with(&e),
        CompareOp::Ew => a.ends_with(&e),
        op => order_matches(op, a.cmp(&e)),
    }
}

fn order_matches(op: &CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Ordering {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x.cmp(&y);
    }
    let (x, y) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
    x.partial_cmp(&y).unwrap_or(Ordering::Equal)
}

/// `"true"`/`"false"` in any case, as Entra sends booleans (`docs/idp-notes.md` §4.1 item 2).
pub fn parse_bool_lenient(s: &str) -> Option<bool> {
    match s.trim() {
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A JSON boolean, or a string that [`parse_bool_lenient`] reads as one.
pub fn as_bool_lenient(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => parse_bool_lenient(s),
        _ => None,
    }
}

/// An RFC 3339 timestamp, or an xsd:dateTime without offset (RFC 7643 §2.3.5), read as UTC.
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let local = time::macros::format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    time::PrimitiveDateTime::parse(s, &local).ok().map(|t| t.assume_utc())
}

// ---------------------------------------------------------------------------------------------
// Sorting
// ---------------------------------------------------------------------------------------------

/// The definition that orders values of `sortBy` path (for [`compare_for_sort`]); None when the
/// path is not modelled (values are then ordered by their JSON type, strings case-insensitively).
pub fn sort_def(rt: &ResourceType, path: &str) -> Option<&'static AttributeDef> {
    let p = parse_attr_path(path).ok()?;
    resolve_leaf(rt, &p)
}

/// Ordering of two attribute values for sortBy (RFC 7644 §3.4.2.3): respects caseExact
/// (case-insensitive ties are `Equal`, left to the caller's tie-break), dateTime chronological,
/// numbers numeric; None (or null) sorts last in ascending order. A complex definition orders
/// by its `value` sub-attribute.
pub fn compare_for_sort(def: Option<&AttributeDef>, a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let def = match def {
        Some(d) if d.is_complex() => d.sub("value"),
        d => d,
    };
    match (a.filter(|v| !v.is_null()), b.filter(|v| !v.is_null())) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => compare_values(def, a, b),
    }
}

fn compare_values(def: Option<&AttributeDef>, a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if def.is_some_and(|d| d.kind == AttrType::DateTime)
                && let (Some(x), Some(y)) = (parse_datetime(x), parse_datetime(y))
            {
                return x.cmp(&y);
            }
            if def.is_some_and(|d| d.case_exact) { x.cmp(y) } else { x.to_lowercase().cmp(&y.to_lowercase()) }
        }
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// The value a resource sorts by for `sortBy` path (RFC 7644 §3.4.2.3): for a multi-valued
/// attribute, the primary element's value, else the first element's; for a complex value
/// without sub-attribute in the path, its `value` sub-attribute. None when there is no data
/// (or the path does not parse; the caller validates `sortBy` first).
pub fn sort_key<'d>(rt: &ResourceType, path: &str, doc: &'d Map<String, Value>) -> Option<&'d Value> {
    let p = parse_attr_path(path).ok()?;
    let (_, top) = locate(rt, &p, doc);
    let chosen = match top? {
        Value::Array(items) => items.iter().find(|e| is_primary(e)).or_else(|| items.first())?,
        v => v,
    };
    let leaf = match &p.sub_attr {
        Some(sub) => chosen.as_object().and_then(|o| get_ci(o, sub)).map(|(_, v)| v)?,
        None => chosen,
    };
    let leaf = match leaf {
        Value::Object(o) => get_ci(o, "value").map(|(_, v)| v)?,
        Value::Array(items) => items.first()?,
        v => v,
    };
    (!leaf.is_null()).then_some(leaf)
}

/// Whether an element of a multi-valued attribute is marked `primary` (leniently: `"True"`).
pub fn is_primary(element: &Value) -> bool {
    element.as_object().and_then(|o| get_ci(o, "primary")).is_some_and(|(_, v)| as_bool_lenient(v) == Some(true))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_simple_comparison_shortcut_agrees_with_the_parser() {
        let taken = [
            r#"userName eq "jane@example.com""#,
            r#"userName EQ "Jane@Example.com""#,
            r#"  userName   eq   "x"  "#,
            r#"name.familyName co "O'Malley""#,
            r#"emails.value sw "j""#,
            r#"displayName eq "Jane Doe""#,
            r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"userName ne """#,
            r#"title le "Zoë""#,
            r#"x_y-z ge "1""#,
            "userName\teq\t\"tab\"",
        ];
        for text in taken {
            let fast = super::simple_comparison(text).unwrap_or_else(|| panic!("not taken: {text}"));
            let parsed: super::Filter = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(fast, parsed, "{text}");
        }
        let left_to_the_parser = [
            r#"userName eq "a\"b""#,
            r#"userName eq "a\\b""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#,
            r#"userName eq "x" and active eq true"#,
            r#"active eq true"#,
            r#"userName pr"#,
            r#"emails[type eq "work"]"#,
            r#"and eq "x""#,
            r#"a.b.c eq "x""#,
            r#"1abc eq "x""#,
            r#"userName eq x"#,
            r#"userName xx "x""#,
        ];
        for text in left_to_the_parser {
            assert!(super::simple_comparison(text).is_none(), "taken: {text}");
        }
    }

    #[test]
    fn the_simple_path_shortcut_agrees_with_the_parser() {
        let taken = [
            "active",
            "name.familyName",
            r#"phoneNumbers[type eq "eightbyeight"].value"#,
            r#"phoneNumbers[type EQ "work"]"#,
            r#"emails[ type eq "work" ].value"#,
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            r#"addresses[type eq "work"].streetAddress"#,
            r#"members[value eq "a]b"]"#,
        ];
        for text in taken {
            let fast = super::simple_path(text).unwrap_or_else(|| panic!("not taken: {text}"));
            let parsed: super::PatchPath = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(fast, parsed, "{text}");
        }
        let left_to_the_parser = [
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            r#"emails[type eq "work" and primary eq true].value"#,
            r#"emails[primary eq true]"#,
            r#"emails[type eq "work"].value.x"#,
            r#"emails[type eq "work"]x"#,
            "a.b.c",
            "not",
            "",
        ];
        for text in left_to_the_parser {
            assert!(super::simple_path(text).is_none(), "taken: {text}");
        }
    }

    use serde_json::json;

    use super::*;
    use crate::ScimType;
    use crate::schema::{ENTERPRISE_USER_URN, registry};

    fn user() -> &'static ResourceType {
        &registry().user
    }

    fn bjensen() -> Map<String, Value> {
        let v = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_URN],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "BJensen-Ext",
            "userName": "bjensen@example.com",
            "name": {"familyName": "O'Malley", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
            "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "version": "W/\"3\""
            },
            ENTERPRISE_USER_URN: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
            },
            "Nickname2": "Babsie",
            "tags": ["Blue", "green"],
            "score": 42,
            "flag": true,
            "urn:example:custom:1.0:User": {"favouriteColour": "Teal"}
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// Parse, validate and evaluate `filter` against `doc`; `expected` is the match, or the
    /// parse/validation error's `scimType`.
    fn check(filter: &str, doc: &Map<String, Value>, expected: Result<bool, ScimType>) {
        let got = parse_filter(filter)
            .and_then(|f| validate_filter(user(), &f).map(|()| f))
            .map(|f| matches(user(), &f, doc))
            .map_err(|e| {
                assert_eq!(e.status, 400, "{filter}: {e}");
                e.scim_type
            });
        assert_eq!(got, expected.map_err(Some), "filter: {filter}");
    }

    #[test]
    fn rfc7644_example_filters() {
        let doc = bjensen();
        let cases: &[(&str, bool)] = &[
            (r#"userName eq "bjensen""#, false),
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"name.familyName co "O'Malley""#, true),
            (r#"userName sw "J""#, false),
            (r#"userName sw "B""#, true),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, false),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bJ""#, true),
            ("title pr", true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr or userType eq "Intern""#, true),
            (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, true),
            (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, true),
            (r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, false),
            (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
            (r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, true),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
        ];
        for (f, want) in cases {
            check(f, &doc, Ok(*want));
        }
    }

    #[test]
    fn semantics() {
        let doc = bjensen();
        let cases: &[(&str, bool)] = &[
            // Operators and names are case-insensitive.
            (r#"USERNAME EQ "bjensen@example.com""#, true),
            (r#"username Eq "BJENSEN@EXAMPLE.COM""#, true),
            // caseExact: id and externalId; userName and emails.value are not.
            (r#"externalId eq "bjensen-ext""#, false),
            (r#"externalId eq "BJensen-Ext""#, true),
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
            (r#"emails.value eq "BJENSEN@example.com""#, true),
            (r#"emails eq "babs@JENSEN.org""#, true),
            // A value path needs one element to satisfy the whole inner filter.
            (r#"emails[type eq "home" and value co "@example.com"]"#, false),
            (r#"emails[type eq "home" or value co "@nowhere"]"#, true),
            (r#"emails[not (type eq "work")]"#, true),
            (r#"emails[primary eq true and type eq "work"]"#, true),
            // Entra's form, rewritten to the RFC form.
            (r#"emails[type eq "work"].value eq "bjensen@example.com""#, true),
            (r#"emails[type eq "home"].value eq "bjensen@example.com""#, false),
            (r#"emails[type eq "work" or type eq "home"].value eq "babs@jensen.org""#, true),
            (r#"emails[type eq "work"].value pr"#, true),
            (
                r#"emails[type eq "work"].value eq "bjensen@example.com" and phoneNumbers[type eq "work"].value sw "555""#,
                true,
            ),
            (r#"(emails[type eq "home"].value eq "x") or not(phoneNumbers[type eq "work"].value ew "0")"#, true),
            (r#"userName pr and (emails[type eq "work"].value sw "bjensen")"#, true),
            (r#"emails[type eq "a]b\"c"].value eq "x""#, false),
            // Capitalised literals.
            ("active eq True", true),
            ("active eq FALSE", false),
            ("title eq Null", false),
            ("nickName eq NULL", true),
            (r#"active eq "True""#, true),
            // ne is not(eq); eq null is not(pr).
            (r#"nickName ne "x""#, true),
            (r#"emails.value ne "babs@jensen.org""#, false),
            ("nickName eq null", true),
            ("title ne null", true),
            ("emails pr", true),
            ("phoneNumbers.display pr", false),
            ("name pr", true),
            ("addresses pr", false),
            // dateTime compares instants.
            (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
            (r#"meta.lastModified gt "2011-05-13T06:42:33+02:00""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34.001Z""#, true),
            (r#"meta.lastModified eq "2011-05-13T04:42:34""#, true),
            (r#"meta.created sw "2010-01""#, true),
            (r#"meta.resourceType eq "User""#, true),
            (r#"meta.version eq "W/\"3\"""#, true),
            // Strings order lexicographically, case-folded when not caseExact.
            (r#"userName gt "BJENSEN""#, true),
            (r#"userName lt "a""#, false),
            // Extension attributes: qualified, unqualified, complex with value.
            (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#, true),
            (r#"employeeNumber eq "701984""#, true),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
                true,
            ),
            (r#"manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#, true),
            (r#"department co "tour""#, true),
            // Unknown attributes: raw document, keys and strings case-insensitive, any element.
            (r#"nickname2 eq "BABSIE""#, true),
            (r#"tags eq "blue""#, true),
            (r#"tags[value eq "GREEN"]"#, true),
            ("score gt 41", true),
            ("score le 41", false),
            ("flag eq true", true),
            (r#"urn:example:custom:1.0:User:favouriteColour eq "teal""#, true),
            (r#"nosuch eq "x""#, false),
            ("nosuch pr", false),
            // $ref in a path parses.
            (r#"members.$ref eq "x""#, false),
            // RFC-valid `not(` and the RFC's own `eq"..."`.
            ("not(title pr)", false),
            (r#"userName eq"bjensen@example.com""#, true),
        ];
        for (f, want) in cases {
            check(f, &doc, Ok(*want));
        }
    }

    #[test]
    fn invalid_filters() {
        let doc = bjensen();
        let cases: &[&str] = &[
            "",
            "userName",
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"userName eq "a" )"#,
            r#"(userName eq "a""#,
            r#"userName eq "unterminated"#,
            "active gt true",
            "active le false",
            r#"active co "t""#,
            r#"active eq "x""#,
            r#"active eq 1"#,
            r#"meta.lastModified gt "not a date""#,
            "meta.lastModified gt 5",
            "userName eq 5",
            "userName gt null",
            "title co 5",
            r#"x509Certificates.value gt "abc""#,
            r#"name eq "Babs""#,
            r#"addresses co "x""#,
            r#"userName[value eq "x"]"#,
            r#"name[givenName eq "x"]"#,
            r#"emails[value.foo eq "x"]"#,
            r#"emails[primary gt true]"#,
        ];
        for f in cases {
            check(f, &doc, Err(ScimType::InvalidFilter));
        }
    }

    #[test]
    fn parse_errors_name_the_position_in_the_original_text() {
        let e = parse_filter(r#"userName xx "a""#).err().map(|e| e.detail).unwrap_or_default();
        assert!(e.contains("`xx` at position 9"), "{e}");
        // Positions survive the rewrites.
        let e = parse_filter(r#"members.$ref eq"x" and ) "#).err().map(|e| e.detail).unwrap_or_default();
        assert!(e.contains("`)` at position 23"), "{e}");
        let e = parse_filter("userName eq ").err().map(|e| e.detail).unwrap_or_default();
        assert!(e.contains("nothing follows `eq` at position 9"), "{e}");
    }

    #[test]
    fn element_filters_for_patch_and_members() {
        let members = registry().group.core_attribute("members");
        let filter = |t: &str| match parse_path(&format!("members[{t}]")) {
            Ok(PatchPath::Value(vp)) => vp.filter,
            other => panic!("{other:?}"),
        };
        let m = json!({"value": "abc", "$ref": "https://x/Users/abc", "type": "User"});
        assert!(matches_element(members, &filter(r#"value eq "abc""#), &m));
        // members.value holds an id: our schema declares it caseExact (ids are, RFC 7643 §3.1),
        // while members.type keeps RFC 7643 §8.7.1's caseExact false.
        assert!(!matches_element(members, &filter(r#"value eq "ABC""#), &m));
        assert!(matches_element(members, &filter(r#"$ref ew "/abc""#), &m));
        assert!(matches_element(members, &filter(r#"type eq "user" and not (display pr)"#), &m));
        assert!(!matches_element(members, &filter(r#"value eq "abd""#), &m));
        assert!(matches_element(None, &filter(r#"value eq "x""#), &json!("X")));
    }

    #[test]
    fn paths() {
        let p = parse_path(r#"emails[type eq "other"].Value"#);
        assert!(matches!(&p, Ok(PatchPath::Value(vp)) if vp.sub_attr.as_deref() == Some("Value")));
        let p = parse_path("members.$ref");
        assert!(matches!(&p, Ok(PatchPath::Attr(a)) if a.sub_attr.as_deref() == Some("$ref")));
        let p = parse_path(r#"members[value eq"2819c223...919d-413861904646"]"#);
        assert!(p.is_ok(), "{p:?}");
        let e = parse_path("emails[type eq").err().map(|e| e.scim_type);
        assert_eq!(e, Some(Some(ScimType::InvalidPath)));
    }

    #[test]
    fn sorting() {
        let doc = bjensen();
        let rt = user();
        assert_eq!(sort_key(rt, "userName", &doc), Some(&json!("bjensen@example.com")));
        assert_eq!(sort_key(rt, "emails", &doc), Some(&json!("bjensen@example.com")));
        assert_eq!(sort_key(rt, "emails.type", &doc), Some(&json!("work")));
        assert_eq!(sort_key(rt, "phoneNumbers.value", &doc), Some(&json!("555-555-8377")));
        assert_eq!(sort_key(rt, "name.familyName", &doc), Some(&json!("O'Malley")));
        let manager = sort_key(rt, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", &doc);
        assert_eq!(manager, Some(&json!("26118915-6090-4610-87e4-49d8ca9f808d")));
        assert_eq!(sort_key(rt, "nickName", &doc), None);
        assert_eq!(sort_key(rt, "tags", &doc), Some(&json!("Blue")));

        let name = sort_def(rt, "userName");
        let s = |v: &str| Some(json!(v));
        assert_eq!(compare_for_sort(name, s("alice").as_ref(), s("Bob").as_ref()), Ordering::Less);
        assert_eq!(compare_for_sort(name, s("ALICE").as_ref(), s("alice").as_ref()), Ordering::Equal);
        let id = sort_def(rt, "id");
        assert_eq!(compare_for_sort(id, s("B").as_ref(), s("a").as_ref()), Ordering::Less);
        let lm = sort_def(rt, "meta.lastModified");
        let later = s("2011-05-13T05:00:00+02:00");
        let earlier = s("2011-05-13T04:42:34Z");
        assert_eq!(compare_for_sort(lm, later.as_ref(), earlier.as_ref()), Ordering::Less);
        assert_eq!(compare_for_sort(None, Some(&json!(10)), Some(&json!(9))), Ordering::Greater);
        assert_eq!(compare_for_sort(name, None, s("a").as_ref()), Ordering::Greater);
        assert_eq!(compare_for_sort(name, s("a").as_ref(), Some(&Value::Null)), Ordering::Less);
        assert_eq!(compare_for_sort(sort_def(rt, "emails"), s("B@x").as_ref(), s("a@x").as_ref()), Ordering::Greater);
    }
}
