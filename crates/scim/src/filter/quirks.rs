//! The filter and path quirks we tolerate, where clients depart from RFC 7644 §3.4.2.2: inputs
//! that `scim_v2`'s parser rejects, rewritten into RFC form before parsing, one named `quirk_*`
//! function each with its evidence (`docs/idp-notes.md` §4.1 for Entra ID). They work on a small
//! token scan that respects quoted strings and keeps each token's offset in the text the client
//! sent, so that parse errors point at what the client wrote.

use super::{AttrExp, AttrPath, Filter, ValFilter};

/// Apply the quirk rewrites: the text for the parser, its offset map back to `text`, and
/// whether `$ref` was replaced by a placeholder that must be put back into the AST.
pub(super) fn normalise(text: &str, in_filter: bool) -> (String, Vec<(usize, usize)>, bool) {
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
pub(super) fn original_offset(map: &[(usize, usize)], pos: usize) -> usize {
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

pub(super) fn restore_ref(name: &mut String) {
    if name.eq_ignore_ascii_case(REF_PLACEHOLDER) {
        *name = "$ref".to_string();
    }
}

pub(super) fn restore_ref_in_attr_path(p: &mut AttrPath) {
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

pub(super) fn restore_ref_in_val_filter(f: &mut ValFilter) {
    match f {
        ValFilter::Attr(e) => restore_ref_in_exp(e),
        ValFilter::Not(inner) => restore_ref_in_val_filter(inner),
        ValFilter::And(items) | ValFilter::Or(items) => items.iter_mut().for_each(restore_ref_in_val_filter),
    }
}

pub(super) fn restore_ref_in_filter(f: &mut Filter) {
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
