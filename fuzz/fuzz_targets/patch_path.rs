//! PATCH paths (RFC 7644 §3.5.2) and `sortBy` attribute paths on arbitrary text: parsing and
//! resolving against the User and Group schemas never panic; what parses prints and parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::filter;
use scim::patch;
use scim_bridge_fuzz::{check_path_round_trip, filter_documents, group_rt, user_rt};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for rt in [user_rt(), group_rt()] {
        let _ = patch::resolve_target(rt, text);
        let _ = rt.resolve_text(text);
        let def = filter::sort_def(rt, text);
        let docs = filter_documents();
        let keys: Vec<_> = docs.iter().map(|(_, doc)| filter::sort_key(rt, text, doc)).collect();
        for a in &keys {
            for b in &keys {
                let _ = filter::compare_for_sort(def, *a, *b);
            }
        }
    }
    let _ = filter::parse_attr_path(text);
    if let Ok(parsed) = filter::parse_path(text) {
        check_path_round_trip(text, &parsed);
    }
});
