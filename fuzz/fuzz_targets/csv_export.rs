//! The sync client's export reader on arbitrary bytes, as CSV (with and without `--map`
//! columns) and as JSON lines, and the plan built from what it reads. Never panics; every row
//! has a userName, rows do not repeat a userName, and every path a row sets resolves.
#![no_main]

use libfuzzer_sys::fuzz_target;

use std::sync::LazyLock;

use scim::schema::{ENTERPRISE_USER_URN, ResourceKind};
use scim_bridge_fuzz::stored_user;
use scim_sync::plan::{PlanOptions, plan};
use scim_sync::source::{Export, Format, Target, parse_maps, read_export};

/// `--map nick=nickName --map cc=<enterprise>:costCenter`: a CSV whose header has both columns
/// reads them.
static MAPS: LazyLock<Vec<(String, Target)>> = LazyLock::new(|| {
    let maps = ["nick=nickName".to_string(), format!("cc={ENTERPRISE_USER_URN}:costCenter")];
    parse_maps(&maps).expect("the --map arguments are valid")
});

fuzz_target!(|data: &[u8]| {
    for (format, maps) in [(Format::Csv, &[][..]), (Format::Csv, &MAPS[..]), (Format::Jsonl, &[][..])] {
        if let Ok(export) = read_export(data, format, maps) {
            check(&export);
        }
    }
});

fn check(export: &Export) {
    let rt = ResourceKind::User.resource_type();
    let mut names = std::collections::HashSet::new();
    for row in &export.rows {
        assert!(!row.user_name.is_empty(), "a row without userName: {row:?}");
        assert!(names.insert(row.user_name.to_lowercase()), "userName repeated: {row:?}");
        for (path, _) in &row.fields {
            assert!(scim::patch::resolve_target(rt, path).is_ok(), "row sets `{path}`, which does not resolve");
        }
    }
    let server = [stored_user().clone()];
    let _ = plan(&export.rows, &[], &[], PlanOptions::default());
    let _ = plan(&export.rows, &server, &[], PlanOptions { deactivate_missing: true });
}
