//! A POST /Users or /Groups body (RFC 7643 §4, RFC 7644 §3.3) through the function the server
//! validates it with, `scim::resource::prepare_create`. Never panics; the canonical document it
//! accepts is accepted again unchanged, as a POST and as a PUT of the stored resource.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use scim::resource;
use scim_bridge_fuzz::{group_rt, user_rt, with_id_and_meta};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    for rt in [user_rt(), group_rt()] {
        let Ok(prepared) = resource::prepare_create(rt, body.clone()) else { continue };
        let doc = prepared.doc;
        let again = match resource::prepare_create(rt, Value::Object(doc.clone())) {
            Ok(p) => p,
            Err(e) => panic!("the canonical {} {doc:?} is refused: {}", rt.id(), e.detail),
        };
        assert_eq!(again.doc, doc, "the canonical document is not a fixed point");
        let stored = with_id_and_meta(rt, doc, "fuzz-id");
        let replaced = match resource::prepare_replace(rt, Value::Object(stored.clone()), &stored) {
            Ok(p) => p,
            Err(e) => panic!("a PUT of the stored {} {stored:?} is refused: {}", rt.id(), e.detail),
        };
        assert_eq!(replaced.doc, stored, "a PUT of the stored document changes it");
    }
});
