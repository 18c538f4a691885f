//! Validating a parsed filter against a resource type (RFC 7644 §3.4.2.2, Table 3): filters that
//! are well-formed but meaningless for the schema (ordering on a boolean, a non-date compared to
//! a dateTime, a value path on a simple attribute) are 400 `invalidFilter`. Attributes the
//! schemas do not define are not an error: they are evaluated against the raw document.

use super::eval::{parse_bool_lenient, parse_datetime};
use super::{AttrExp, CompValue, CompareOp, Filter, ValFilter, exp_path, resolve_leaf};
use crate::error::ScimError;
use crate::schema::{AttrType, AttributeDef, ResourceType};

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
