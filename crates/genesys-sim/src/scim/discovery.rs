//! SCIM discovery: `GET /serviceproviderconfig`, `GET /resourcetypes[/{type}]` and
//! `GET /schemas[/{id}]` (genesys-api-notes §1.1, §1.2).
//!
//! Fidelity decisions (the section of docs/genesys-api-notes.md in brackets):
//! * The live ServiceProviderConfig values are unverified (§9); the simulator's describe it.
//! * The schemas list the attributes Genesys models (§1.3), with the phone types of §1.5.
//! * A `filter` on `/schemas` is 403 (§1.1 [quirk]).
//!
//! Must not import: actix, or anything of the bridge.

use serde_json::{Value, json};

use super::list::{LIST_URN, list_body};
use super::{BASE, CORE_GROUP, CORE_USER, ENTERPRISE, GENESYS};
use crate::Ctx;
use crate::store::SCIM_PHONE_TYPES;
use crate::wire::{Answer, ApiError, Reply};

/// `GET /serviceproviderconfig`. The live values are unverified (genesys-api-notes §9); these describe the
/// simulator.
pub(super) fn service_provider_config(ctx: &Ctx) -> Answer {
    Ok(Reply::scim(
        200,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://developer.genesys.cloud/useragentmanagement/scim/scim-documentation",
            "patch": {"supported": true},
            "filter": {"supported": true, "maxResults": 25},
            "etag": {"supported": true},
            "sort": {"supported": false},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "changePassword": {"supported": true},
            "authenticationSchemes": [{
                "name": "OAuth Bearer Token",
                "description": "Authentication scheme using the OAuth Bearer Token Standard",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "type": "oauthbearertoken",
                "primary": true
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}{BASE}/serviceproviderconfig", ctx.base),
                "version": "1"
            }
        }),
    ))
}

fn resource_type(name: &str, base: &str) -> Option<Value> {
    let (endpoint, schema, extensions): (&str, &str, Vec<Value>) = match name {
        "User" => (
            "/Users",
            CORE_USER,
            vec![json!({"schema": ENTERPRISE, "required": false}), json!({"schema": GENESYS, "required": false})],
        ),
        "Group" => ("/Groups", CORE_GROUP, vec![]),
        "ServiceProviderConfig" => {
            ("/ServiceProviderConfig", "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig", vec![])
        }
        "ResourceType" => ("/ResourceTypes", "urn:ietf:params:scim:schemas:core:2.0:ResourceType", vec![]),
        "Schema" => ("/Schemas", "urn:ietf:params:scim:schemas:core:2.0:Schema", vec![]),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name,
        "name": name,
        "description": name,
        "endpoint": endpoint,
        "schema": schema,
        "schemaExtensions": extensions,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}{BASE}/resourcetypes/{name}")}
    }))
}

const RESOURCE_TYPES: [&str; 5] = ["User", "Group", "ServiceProviderConfig", "ResourceType", "Schema"];

/// `GET /resourcetypes[/{type}]`.
pub(super) fn resource_types(ctx: &Ctx, which: Option<&str>) -> Answer {
    match which {
        Some(name) => resource_type(name, &ctx.base).map(|v| Reply::scim(200, v)).ok_or_else(ApiError::not_found),
        None => {
            let all: Vec<Value> = RESOURCE_TYPES.iter().filter_map(|n| resource_type(n, &ctx.base)).collect();
            Ok(Reply::scim(200, list_body(all.len(), 1, all)))
        }
    }
}

fn attr(name: &str, kind: &str, multi: bool, required: bool, mutability: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "required": required, "caseExact": false,
        "mutability": mutability, "returned": "default", "uniqueness": if name == "userName" { "server" } else { "none" }
    })
}

/// `value`, `type` (with these canonical values) and `primary`.
fn multi_subs(types: &[&str]) -> Value {
    let mut t = attr("type", "string", false, false, "readWrite");
    t["canonicalValues"] = json!(types);
    Value::Array(vec![
        attr("value", "string", false, false, "readWrite"),
        t,
        attr("primary", "boolean", false, false, "readWrite"),
    ])
}

fn schema(id: &str, base: &str) -> Option<Value> {
    let (name, attributes) = match id {
        CORE_USER => (
            "User",
            vec![
                attr("userName", "string", false, true, "readWrite"),
                attr("displayName", "string", false, true, "readWrite"),
                attr("active", "boolean", false, false, "readWrite"),
                attr("title", "string", false, false, "readWrite"),
                attr("password", "string", false, false, "writeOnly"),
                {
                    let mut p = attr("phoneNumbers", "complex", true, false, "readWrite");
                    p["subAttributes"] = multi_subs(&SCIM_PHONE_TYPES);
                    p
                },
                {
                    let mut e = attr("emails", "complex", true, false, "readWrite");
                    e["subAttributes"] = multi_subs(&["work", "other"]);
                    e
                },
                attr("externalId", "string", false, false, "readWrite"),
                attr("groups", "complex", true, false, "readOnly"),
                attr("roles", "complex", true, false, "readWrite"),
            ],
        ),
        CORE_GROUP => (
            "Group",
            vec![
                attr("displayName", "string", false, true, "readWrite"),
                attr("externalId", "string", false, false, "readWrite"),
                attr("members", "complex", true, false, "readWrite"),
            ],
        ),
        ENTERPRISE => (
            "EnterpriseUser",
            vec![
                attr("division", "string", false, false, "readWrite"),
                attr("department", "string", false, false, "readWrite"),
                attr("manager", "complex", false, false, "readWrite"),
                attr("employeeNumber", "string", false, false, "readWrite"),
                attr("dateHire", "string", false, false, "readWrite"),
            ],
        ),
        GENESYS => (
            "GenesysUser",
            vec![
                attr("routingSkills", "complex", true, false, "readWrite"),
                attr("routingLanguages", "complex", true, false, "readWrite"),
                attr("externalIds", "complex", true, false, "readWrite"),
            ],
        ),
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig" => ("ServiceProviderConfig", vec![]),
        "urn:ietf:params:scim:schemas:core:2.0:ResourceType" => ("ResourceType", vec![]),
        "urn:ietf:params:scim:schemas:core:2.0:Schema" => ("Schema", vec![]),
        _ => return None,
    };
    Some(json!({
        "id": id,
        "name": name,
        "description": name,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}{BASE}/schemas/{id}")}
    }))
}

const SCHEMA_IDS: [&str; 7] = [
    CORE_USER,
    CORE_GROUP,
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
    "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
    "urn:ietf:params:scim:schemas:core:2.0:Schema",
    ENTERPRISE,
    GENESYS,
];

/// `GET /schemas[/{id}]`; a `filter` on the list is 403 (genesys-api-notes §1.1 [quirk]).
pub(super) fn schemas(ctx: &Ctx, which: Option<&str>) -> Answer {
    match which {
        Some(id) => schema(id, &ctx.base).map(|v| Reply::scim(200, v)).ok_or_else(ApiError::not_found),
        None => {
            if ctx.query_one("filter").is_some() {
                return Err(ApiError::not_authorized("Filtered results are invalid"));
            }
            let all: Vec<Value> = SCHEMA_IDS.iter().filter_map(|id| schema(id, &ctx.base)).collect();
            let mut body = list_body(all.len(), 1, all);
            body["schemas"] = json!([LIST_URN]);
            Ok(Reply::scim(200, body))
        }
    }
}
