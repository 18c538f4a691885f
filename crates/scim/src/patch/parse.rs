//! The PatchOp body (RFC 7644 §3.5.2): its `schemas`, its `Operations`, and each operation's
//! `op`, `path` and `value`, parsed and checked against a resource type before anything is
//! applied. Paths are resolved in `path.rs`; `op` in any case is an Entra quirk (`quirks.rs`).

use std::fmt;

use serde_json::{Map, Value};

use super::path::{PatchTarget, Step, check_step, resolve_target, steps};
use super::quirks::quirk_entra_capitalised_op;
use crate::error::ScimError;
use crate::schema::{PATCH_OP_URN, ResourceType, get_ci};

/// The `op` of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        })
    }
}

/// One operation of a PatchOp body.
#[derive(Debug, Clone)]
pub struct Operation {
    pub op: OpKind,
    pub path: Option<PatchTarget>,
    /// As sent; `Some(Value::Null)` when the client sent `"value": null`.
    pub value: Option<Value>,
}

/// A parsed and validated PatchOp body (RFC 7644 §3.5.2).
#[derive(Debug, Clone)]
pub struct PatchRequest {
    pub operations: Vec<Operation>,
}

/// Parse and validate a PatchOp body (RFC 7644 §3.5.2) for a resource type, tolerating the IdP
/// quirks documented on the `quirk_*` functions. Errors: `invalidSyntax` (not an object, no
/// `Operations`, bad `op`, missing `value`), `invalidPath` (unparseable path, or an attribute this
/// resource type does not define outside an unmodelled extension), `invalidFilter` (meaningless
/// value filter), `mutability` (readOnly target, required attribute removed), `noTarget` (remove
/// without path).
pub fn parse_patch(rt: &ResourceType, body: &Value) -> Result<PatchRequest, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax("a PATCH body must be a PatchOp object"));
    };
    check_schemas(body)?;
    let ops = match get_ci(body, "Operations") {
        Some((_, Value::Array(ops))) if !ops.is_empty() => ops,
        Some((_, Value::Array(_))) => {
            return Err(ScimError::invalid_syntax("`Operations` is empty"));
        }
        Some(_) => return Err(ScimError::invalid_syntax("`Operations` must be an array")),
        None => {
            return Err(ScimError::invalid_syntax("a PatchOp body needs `Operations` (RFC 7644 §3.5.2)"));
        }
    };
    let mut operations = Vec::with_capacity(ops.len());
    for (i, raw) in ops.iter().enumerate() {
        let operation = parse_operation(rt, raw)
            .and_then(|operation| {
                for step in steps(rt, &operation)? {
                    if let Step::Do(target, value) = step {
                        check_step(rt, operation.op, &target, value)?;
                    }
                }
                Ok(operation)
            })
            .map_err(|mut e| {
                e.detail = format!("Operations[{i}]: {}", e.detail);
                e
            })?;
        operations.push(operation);
    }
    Ok(PatchRequest { operations })
}

/// RFC 7644 §3.5.2: "The body of each request MUST contain the "schemas" attribute with the URI
/// value of urn:ietf:params:scim:api:messages:2.0:PatchOp". Lenient: an absent `schemas` is
/// accepted (the operations say what the body is); a `schemas` naming something else is not.
fn check_schemas(body: &Map<String, Value>) -> Result<(), ScimError> {
    match get_ci(body, "schemas") {
        None | Some((_, Value::Null)) => Ok(()),
        Some((_, Value::Array(urns)))
            if urns.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))) =>
        {
            Ok(())
        }
        Some(_) => Err(ScimError::invalid_syntax(format!("`schemas` must list {PATCH_OP_URN}"))),
    }
}

fn parse_operation(rt: &ResourceType, raw: &Value) -> Result<Operation, ScimError> {
    let Value::Object(raw) = raw else {
        return Err(ScimError::invalid_syntax("each operation must be an object with `op`"));
    };
    let op = match get_ci(raw, "op") {
        Some((_, Value::String(s))) => quirk_entra_capitalised_op(s)?,
        _ => {
            return Err(ScimError::invalid_syntax("each operation needs an `op`: add, remove or replace"));
        }
    };
    let path = match get_ci(raw, "path") {
        None | Some((_, Value::Null)) => None,
        Some((_, Value::String(s))) if s.trim().is_empty() => None,
        Some((_, Value::String(s))) => Some(resolve_target(rt, s)?),
        Some(_) => return Err(ScimError::invalid_path("`path` must be a string")),
    };
    let value = get_ci(raw, "value").map(|(_, v)| v.clone());
    if op == OpKind::Remove && path.is_none() {
        return Err(ScimError::no_target("remove needs a `path` (RFC 7644 §3.5.2.2)"));
    }
    if op != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_syntax(format!("{op} needs a `value`")));
    }
    Ok(Operation { op, path, value })
}
