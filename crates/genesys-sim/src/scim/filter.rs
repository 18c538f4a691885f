//! The SCIM list `filter` subset Genesys answers (genesys-api-notes §1.7), and the attributes users
//! and groups are filtered on.
//!
//! Fidelity decisions (the section of docs/genesys-api-notes.md in brackets):
//! * Filters (§1.7, §1.8): `attr eq value` terms joined by `and`, values quoted or bare
//!   (Genesys's own examples are bare, `userName eq search@sample.org`), on `id`, `userName`,
//!   `externalId`, `active`, `email`, `division`, `manager`, `employeeNumber`, `displayName`,
//!   `title`, `department`, and `urn:...:genesys:purecloud:2.0:User:externalIds[authority eq
//!   "a" and value eq "v"]`; anything else is 400 (other operators are unverified).
//! * Groups (§1.7): `id`, `displayName` and `externalId`; anything else, and `externalIds[...]`,
//!   is 400.
//!
//! Must not import: actix, or anything of the bridge.

use serde_json::{Value, json};

use super::{SCIM_AUTHORITY, lenient_bool};
use crate::store::{SimGroup, SimUser, Store, UserState};
use crate::wire::ApiError;

/// One term of a list filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Term {
    /// `attr eq value`; `attr` lower-cased, without a schema URN.
    Eq(String, String),
    /// `...:externalIds[authority eq "a" and value eq "v"]`.
    ExternalIds { authority: Option<String>, value: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn lex(text: &str) -> Result<Vec<Tok>, ApiError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '[' => out.push(Tok::Open),
            ']' => out.push(Tok::Close),
            '(' | ')' => return Err(invalid_filter(text, "parentheses are not supported")),
            '"' => {
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                s.push(n);
                            }
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err(invalid_filter(text, "an unterminated string"));
                }
                out.push(Tok::Str(s));
            }
            c => {
                let mut s = String::from(c);
                while let Some(n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '[' | ']' | '(' | ')' | '"') {
                        break;
                    }
                    s.push(*n);
                    chars.next();
                }
                out.push(Tok::Word(s));
            }
        }
    }
    Ok(out)
}

fn invalid_filter(text: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid filter [{text}]: {why}"))
}

/// The attribute name of a filter term: lower case, without a schema URN prefix.
fn attr_name(word: &str) -> String {
    let name =
        if word.to_ascii_lowercase().starts_with("urn:") { word.rsplit(':').next().unwrap_or(word) } else { word };
    // `emails.value` filters on `emails`.
    name.split('.').next().unwrap_or(name).to_ascii_lowercase()
}

/// Parse `term (and term)*`; see the module doc for what a term may be.
pub(super) fn parse_filter(text: &str) -> Result<Vec<Term>, ApiError> {
    let toks = lex(text)?;
    let mut terms = Vec::new();
    let mut i = 0;
    let word = |t: Option<&Tok>| match t {
        Some(Tok::Word(w)) => Some(w.clone()),
        _ => None,
    };
    let value = |t: Option<&Tok>| match t {
        Some(Tok::Word(w)) | Some(Tok::Str(w)) => Some(w.clone()),
        _ => None,
    };
    loop {
        let Some(attr) = word(toks.get(i)) else {
            return Err(invalid_filter(text, "expected an attribute name"));
        };
        if toks.get(i + 1) == Some(&Tok::Open) {
            if attr_name(&attr) != "externalids" {
                return Err(invalid_filter(text, "only externalIds[...] takes a value filter"));
            }
            let close = toks[i + 2..].iter().position(|t| *t == Tok::Close).map(|p| p + i + 2);
            let Some(close) = close else {
                return Err(invalid_filter(text, "a value filter is not closed with ]"));
            };
            let inner_text: Vec<String> = toks[i + 2..close]
                .iter()
                .map(|t| match t {
                    Tok::Word(w) => w.clone(),
                    Tok::Str(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
                    Tok::Open => "[".into(),
                    Tok::Close => "]".into(),
                })
                .collect();
            let mut authority = None;
            let mut val = None;
            for t in parse_filter(&inner_text.join(" "))? {
                match t {
                    Term::Eq(a, v) if a == "authority" => authority = Some(v),
                    Term::Eq(a, v) if a == "value" => val = Some(v),
                    _ => return Err(invalid_filter(text, "externalIds[...] takes authority and value")),
                }
            }
            terms.push(Term::ExternalIds { authority, value: val });
            i = close + 1;
        } else {
            let op = word(toks.get(i + 1)).unwrap_or_default();
            if !op.eq_ignore_ascii_case("eq") {
                return Err(invalid_filter(text, "only the eq operator is supported"));
            }
            let Some(v) = value(toks.get(i + 2)) else {
                return Err(invalid_filter(text, "expected a value after eq"));
            };
            terms.push(Term::Eq(attr_name(&attr), v));
            i += 3;
        }
        match toks.get(i) {
            None => break,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("and") => i += 1,
            Some(_) => return Err(invalid_filter(text, "terms can only be joined with and")),
        }
    }
    Ok(terms)
}

const USER_FILTER_ATTRS: [&str; 12] = [
    "id",
    "username",
    "externalid",
    "active",
    "email",
    "emails",
    "division",
    "manager",
    "employeenumber",
    "displayname",
    "title",
    "department",
];

/// A user filter term on something users are not filtered on, or an `active` that is not a
/// boolean, is 400.
pub(super) fn check_user_term(t: &Term) -> Result<(), ApiError> {
    match t {
        Term::Eq(a, v) if a == "active" && lenient_bool(&Value::String(v.clone())).is_none() => {
            Err(ApiError::invalid_value(v, "active", "true, false"))
        }
        Term::Eq(a, _) if !USER_FILTER_ATTRS.contains(&a.as_str()) => {
            Err(ApiError::bad_request(format!("Filtering on [{a}] is not supported")))
        }
        _ => Ok(()),
    }
}

/// Whether a user matches a term that passed [`check_user_term`].
pub(super) fn user_matches(store: &Store, u: &SimUser, t: &Term) -> bool {
    let ci = |a: Option<&String>, b: &str| a.is_some_and(|a| a.eq_ignore_ascii_case(b));
    match t {
        Term::Eq(a, v) => match a.as_str() {
            "id" => u.id.eq_ignore_ascii_case(v),
            "username" => u.user_name.eq_ignore_ascii_case(v),
            "externalid" => u.external_id.as_deref() == Some(v.as_str()),
            "active" => lenient_bool(&Value::String(v.clone())) == Some(u.state == UserState::Active),
            "email" | "emails" => u.user_name.eq_ignore_ascii_case(v) || ci(u.work_email.as_ref(), v),
            "division" => store.division_name(&u.division_id).eq_ignore_ascii_case(v),
            "manager" => ci(u.manager.as_ref(), v),
            "employeenumber" => u.employee_number.as_deref() == Some(v.as_str()),
            "displayname" => u.display_name.eq_ignore_ascii_case(v),
            "title" => ci(u.title.as_ref(), v),
            "department" => ci(u.department.as_ref(), v),
            _ => false,
        },
        Term::ExternalIds { authority, value } => {
            let scim = u.external_id.as_ref().map(|x| json!({"authority": SCIM_AUTHORITY, "value": x}));
            u.external_ids.iter().chain(scim.as_ref()).any(|e| {
                let a_ok =
                    authority.as_ref().is_none_or(|a| e.get("authority").and_then(Value::as_str) == Some(a.as_str()));
                let v_ok = value.as_ref().is_none_or(|v| e.get("value").and_then(Value::as_str) == Some(v.as_str()));
                a_ok && v_ok
            })
        }
    }
}

/// A group filter term on something groups are not filtered on is 400.
pub(super) fn check_group_term(t: &Term) -> Result<(), ApiError> {
    match t {
        Term::Eq(a, _) if ["id", "displayname", "externalid"].contains(&a.as_str()) => Ok(()),
        Term::Eq(a, _) => Err(ApiError::bad_request(format!("Filtering groups on [{a}] is not supported"))),
        Term::ExternalIds { .. } => Err(ApiError::bad_request("Groups have no externalIds")),
    }
}

/// Whether a group matches a term that passed [`check_group_term`].
pub(super) fn group_matches(g: &SimGroup, t: &Term) -> bool {
    match t {
        Term::Eq(a, v) if a == "id" => g.id.eq_ignore_ascii_case(v),
        Term::Eq(a, v) if a == "displayname" => g.display_name.eq_ignore_ascii_case(v),
        Term::Eq(_, v) => g.external_id.as_deref() == Some(v.as_str()),
        Term::ExternalIds { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::GENESYS;
    use super::*;

    #[test]
    fn filters_parse_quoted_and_bare_values() {
        assert_eq!(parse_filter("userName eq \"a@x.org\""), Ok(vec![Term::Eq("username".into(), "a@x.org".into())]));
        assert_eq!(
            parse_filter("userName eq search@sample.org"),
            Ok(vec![Term::Eq("username".into(), "search@sample.org".into())])
        );
        assert_eq!(
            parse_filter(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq 9876 and active EQ false"
            ),
            Ok(vec![Term::Eq("employeenumber".into(), "9876".into()), Term::Eq("active".into(), "false".into())])
        );
        assert_eq!(
            parse_filter(&format!("{GENESYS}:externalIds[authority eq \"matchAuthName\" and value eq \"k 1\"]")),
            Ok(vec![Term::ExternalIds { authority: Some("matchAuthName".into()), value: Some("k 1".into()) }])
        );
        for bad in
            ["userName co \"a\"", "userName eq", "a eq b or c eq d", "(a eq b)", "title[x eq y]", "userName eq \"x"]
        {
            assert_eq!(parse_filter(bad).map_err(|e| e.status), Err(400), "{bad}");
        }
    }
}
