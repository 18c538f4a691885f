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
//! Where things are:
//! * `parse.rs`: [`parse_filter`], [`parse_path`] and [`parse_attr_path`] (RFC 7644 §3.4.2.2,
//!   §3.5.2), with the fast path for `attr op "string"` and error positions.
//! * `quirks.rs`: the rewrites of what clients send into RFC form, on the token scan.
//! * `validate.rs`: [`validate_filter`]: well-formed filters that mean nothing for the schema.
//! * `eval.rs`: [`matches`] and [`matches_element`]: in-memory evaluation against the document,
//!   and the lenient readers of booleans and dateTimes.
//! * `sort.rs`: [`sort_key`] and [`compare_for_sort`] (RFC 7644 §3.4.2.3).
//! * `tests.rs`: the unit tests.
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

pub use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, PatchPath, PatchValuePath, ValFilter};

use crate::schema::{AttributeDef, ResourceType};

mod eval;
mod parse;
mod quirks;
mod sort;
mod validate;

pub use eval::{as_bool_lenient, matches, matches_element, parse_bool_lenient, parse_datetime};
pub use parse::{parse_attr_path, parse_filter, parse_path};
pub use sort::{compare_for_sort, is_primary, sort_def, sort_key};
pub use validate::{validate_filter, validate_val_filter};

#[cfg(test)]
mod tests;

// ---------------------------------------------------------------------------------------------
// Shared by validation, evaluation and sorting
// ---------------------------------------------------------------------------------------------

fn exp_path(exp: &AttrExp) -> &AttrPath {
    match exp {
        AttrExp::Present(p) | AttrExp::Comparison(p, _, _) => p,
    }
}

/// The definition a filter path ends at, if the resource type models it.
fn resolve_leaf(rt: &ResourceType, path: &AttrPath) -> Option<&'static AttributeDef> {
    rt.resolve(path.uri.as_deref(), &path.name, path.sub_attr.as_deref()).map(|r| r.leaf())
}
