//! PATCH (RFC 7644 §3.5.2): parse a PatchOp body for a resource type and apply it to a stored
//! document, atomically.
//!
//! Owns: the PatchOp message, path resolution against the schemas (mutability, required,
//! unknown attributes), the add/remove/replace rules of RFC 7644 §3.5.2.1–3 on every path form,
//! and the IdP quirks of PATCH (one named `quirk_*` function each, with its evidence). A Group's
//! `members` are not in the document (`docs/architecture.md`): operations on them come back as
//! [`MemberChange`]s for the store to apply to the member rows.
//!
//! Where things are:
//! * `parse.rs`: the PatchOp body and its operations ([`parse_patch`], RFC 7644 §3.5.2).
//! * `path.rs`: a path resolved against the schemas ([`resolve_target`], RFC 7644 §3.5.2 and
//!   §3.10), path-less and whole-extension values split into one target each, and the checks a
//!   target needs no document for.
//! * `apply.rs`: the add/remove/replace rules on the document ([`apply_patch`], RFC 7644
//!   §3.5.2.1–3).
//! * `members.rs`: operations on a Group's `members`, as [`MemberChange`]s.
//! * `quirks.rs`: the IdP quirks, one `quirk_*` function each, naming the IdP and the evidence.
//! * `tests.rs`: the unit tests.
//!
//! Not here: type coercion (`"False"` -> `false`) and the final validation of the patched
//! document, which `scim::resource` does afterwards. Values are written as the client sent
//! them; only attribute *names* are normalised to the schema's spelling.
//!
//! Decisions (`docs/idp-notes.md` §5 and below):
//! * add/replace on a value-filtered path that matches no element creates the element from the
//!   filter's `eq` terms (RFC 7644 §3.5.2.3 says `noTarget` for replace; Entra relies on
//!   creation). A filter that cannot describe an element (`or`, `co`, ...) is still `noTarget`.
//! * remove on a value-filtered path that matches nothing succeeds and changes nothing (RFC 7644
//!   §3.5.2.2 asks the same for a member that is not in the group).
//! * replace on `attr[filter]` (no sub-attribute) replaces each matching element whole, as RFC
//!   7644 §3.5.2.3 says; add on it merges the value into each matching element.
//! * `null` as a value unassigns on replace and is ignored on add (RFC 7643 §2.5).
//! * The body's `schemas` may be absent (lenient); if present it must list the PatchOp URN.
//! * writeOnly attributes (`password`) are accepted and discarded: the bridge stores no secret.
//! * After a PATCH that adds or removes extension attributes, the document's `schemas` must be
//!   recomputed; `scim::resource` does that when it normalises the result.
//!
//! Must not import: actix, diesel, reqwest, tokio, or any module of this crate outside `scim`.

mod apply;
mod members;
mod parse;
mod path;
mod quirks;

pub use apply::{PatchOutcome, apply_patch};
pub use members::MemberChange;
pub use parse::{OpKind, Operation, PatchRequest, parse_patch};
pub use path::{AttrName, PatchNamespace, PatchTarget, resolve_target, touched_paths};

#[cfg(test)]
mod tests;
