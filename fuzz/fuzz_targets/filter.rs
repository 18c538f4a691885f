//! The filter parser (RFC 7644 §3.4.2.2) on arbitrary text, as a `?filter=` or `.search` body
//! reaches it: parsing never panics; what parses prints, parses again and means the same;
//! validating and evaluating it against stored documents never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::filter;
use scim_bridge_fuzz::{check_filter_round_trip, filter_documents};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(parsed) = filter::parse_filter(text) else { return };
    for (rt, doc) in filter_documents() {
        let _ = filter::validate_filter(rt, &parsed);
        let _ = filter::matches(rt, &parsed, doc);
    }
    check_filter_round_trip(text, &parsed);
});
