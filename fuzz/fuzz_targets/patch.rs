//! The PATCH engine (RFC 7644 §3.5.2) on an arbitrary request body, the way the server runs it
//! (`store::resources::patch_plan`): `parse_patch`, `apply_patch` to the stored document, then
//! `prepare_patched`. Against a stored User (e-mails, an 8x8 number, the enterprise manager) and
//! a stored Group. Never panics; a failed PATCH leaves the document as it was; a PATCH that
//! succeeds gives a valid resource, which a PUT of it accepts unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

use scim::patch;
use scim::resource;
use scim::schema::{ResourceKind, ResourceType};
use scim_bridge_fuzz::{group_rt, stored_group, stored_user, user_rt};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    run(user_rt(), stored_user(), &body);
    run(group_rt(), stored_group(), &body);
});

fn run(rt: &ResourceType, full: &Map<String, Value>, body: &Value) {
    let Ok(req) = patch::parse_patch(rt, body) else { return };
    let mut doc = full.clone();
    let outcome = match patch::apply_patch(rt, &mut doc, &req) {
        Ok(o) => o,
        Err(_) => {
            assert_eq!(&doc, full, "a failed PATCH changed the document");
            return;
        }
    };
    assert_eq!(outcome.changed, &doc != full, "`changed` does not say whether the document changed");
    if rt.kind == ResourceKind::User {
        assert!(outcome.member_changes.is_empty(), "member changes for a User");
    }
    let Ok(prepared) = resource::prepare_patched(rt, doc, full) else { return };
    // The stored result is a valid resource: a PUT of it is accepted and changes nothing.
    let again = match resource::prepare_replace(rt, Value::Object(prepared.doc.clone()), &prepared.doc) {
        Ok(p) => p,
        Err(e) => panic!("the patched document {:?} is not a valid {}: {}", prepared.doc, rt.id(), e.detail),
    };
    assert_eq!(again.doc, prepared.doc, "the patched document is not in canonical form");
}
