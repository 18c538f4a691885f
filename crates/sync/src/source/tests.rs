use serde_json::json;

use super::*;

fn csv(text: &str) -> Export {
    read_export(text.as_bytes(), Format::Csv, &[]).unwrap()
}

fn field<'r>(row: &'r Row, path: &str) -> Option<&'r Option<Value>> {
    row.fields.iter().find(|(p, _)| p == path).map(|(_, v)| v)
}

#[test]
fn quotes_embedded_newlines_and_bom_keep_line_numbers() {
    let text = "\u{feff}userName,displayName,eightbyeight\n\
                a@x,\"Smith, Ann\",+1 415 555 0001\n\
                b@x,\"Two\nLines \"\"quoted\"\"\",\n\
                c@x,C,+1 415 555 0003\n";
    let e = csv(text);
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert!(e.warnings.is_empty());
    let lines: Vec<u64> = e.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 3, 5]);
    assert_eq!(e.rows[0].user_name, "a@x");
    assert_eq!(field(&e.rows[0], "displayName"), Some(&Some(json!("Smith, Ann"))));
    assert_eq!(field(&e.rows[1], "displayName"), Some(&Some(json!("Two\nLines \"quoted\""))));
    // An empty cell in a present column: no value.
    assert_eq!(field(&e.rows[1], EIGHT_BY_EIGHT), Some(&None));
    assert_eq!(field(&e.rows[2], EIGHT_BY_EIGHT), Some(&Some(json!("+1 415 555 0003"))));
}

#[test]
fn default_columns_map_to_their_paths() {
    let e = csv("userName,externalId,givenName,familyName,email,department,active,manager,groups\n\
                 a@x,E1,Ann,Smith,a@x.com,Sales,No,E0,Admins; Sales ;admins\n");
    let r = &e.rows[0];
    assert_eq!(r.external_id.as_deref(), Some("E1"));
    assert_eq!(r.active, Some(false));
    assert_eq!(r.manager, Some(Some("E0".into())));
    assert_eq!(r.groups, Some(vec!["Admins".into(), "Sales".into()]));
    assert_eq!(field(r, "name.givenName"), Some(&Some(json!("Ann"))));
    assert_eq!(field(r, "name.familyName"), Some(&Some(json!("Smith"))));
    assert_eq!(field(r, WORK_EMAIL), Some(&Some(json!("a@x.com"))));
    assert_eq!(
        field(r, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        Some(&Some(json!("Sales")))
    );
}

#[test]
fn active_accepts_the_usual_spellings() {
    for (cell, want) in [("", Some(true)), ("TRUE", Some(true)), ("yes", Some(true)), ("1", Some(true))] {
        assert_eq!(parse_active(cell), want, "{cell}");
    }
    for cell in ["false", "No", "0"] {
        assert_eq!(parse_active(cell), Some(false), "{cell}");
    }
    assert_eq!(parse_active("maybe"), None);
}

#[test]
fn unknown_columns_are_ignored_with_one_warning_and_map_adds_them() {
    let text = "userName,mobile,cost,shoe,hat\na@x,+1 415 555 0100,C42,9,\n";
    let e = csv(text);
    assert_eq!(e.warnings, ["columns ignored (not known, no --map): mobile, cost, shoe, hat"]);
    assert!(e.rows[0].fields.is_empty());
    let maps = parse_maps(&[
        "mobile=phoneNumbers[type eq \"mobile\"].value".into(),
        "cost=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter".into(),
    ])
    .unwrap();
    let e = read_export(text.as_bytes(), Format::Csv, &maps).unwrap();
    assert_eq!(e.warnings, ["columns ignored (not known, no --map): shoe, hat"]);
    let r = &e.rows[0];
    assert_eq!(field(r, "phoneNumbers[type eq \"mobile\"].value"), Some(&Some(json!("+1 415 555 0100"))));
    assert_eq!(
        field(r, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"),
        Some(&Some(json!("C42")))
    );
}

#[test]
fn bad_maps_and_headers_are_errors() {
    for bad in ["nocolumn", "=title", "x=noSuchAttribute", "x=id", "x=emails[type eq \"work\"", "x=meta.created"] {
        assert!(parse_maps(&[bad.into()]).is_err(), "{bad}");
    }
    assert!(matches!(parse_maps(&["login=userName".into()]).unwrap()[0].1, Target::UserName));
    assert!(read_export(b"displayName\nA\n", Format::Csv, &[]).is_err());
    assert!(read_export(b"userName,userName\na,b\n", Format::Csv, &[]).is_err());
    assert!(read_export(b"", Format::Csv, &[]).is_err());
    let maps = parse_maps(&["absent=title".into()]).unwrap();
    assert!(read_export(b"userName\na\n", Format::Csv, &maps).is_err());
}

#[test]
fn bad_rows_are_reported_with_their_line_and_skipped_whole() {
    let e = csv("userName,externalId,active,title\n\
                 a@x,E1,true,T\n\
                 ,E2,true,T\n\
                 b@x,E3,perhaps,T\n\
                 A@X,E4,,T\n\
                 c@x,E1,,T\n\
                 d@x,E5\n\
                 e@x,E6,,T\n");
    let got: Vec<(u64, &str)> = e.errors.iter().map(|e| (e.line, e.reason.as_str())).collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0].0, 3);
    assert_eq!(got[0].1, "no userName");
    assert_eq!(got[1].0, 4);
    assert!(got[1].1.contains("perhaps"));
    assert_eq!(got[2], (5, "duplicate userName (first on line 2)"));
    assert_eq!(got[3], (6, "duplicate externalId (first on line 2)"));
    assert_eq!(got[4].0, 7);
    let names: Vec<&str> = e.rows.iter().map(|r| r.user_name.as_str()).collect();
    assert_eq!(names, ["a@x", "e@x"]);
}

#[test]
fn json_lines_become_the_same_paths() {
    let text = r#"{"userName":"a@x","externalId":"E1","name":{"givenName":"Ann"},"active":false,"emails":[{"type":"work","value":"a@x.com"}],"phoneNumbers":[{"type":"eightbyeight","value":"+1 415 555 0001"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","manager":{"value":"E0"}},"groups":[{"display":"Admins"}],"id":"ignored","meta":{}}

not json
[1]
{"externalId":"E9"}
{"userName":"b@x","title":null,"active":"yes"}
{"userName":"c@x","active":3}
"#;
    let e = read_export(text.as_bytes(), Format::Jsonl, &[]).unwrap();
    let errs: Vec<u64> = e.errors.iter().map(|e| e.line).collect();
    assert_eq!(errs, [3, 4, 5, 7]);
    let a = &e.rows[0];
    assert_eq!((a.line, a.active, a.external_id.as_deref()), (1, Some(false), Some("E1")));
    assert_eq!(field(a, "name.givenName"), Some(&Some(json!("Ann"))));
    assert_eq!(field(a, "emails[type eq \"work\"].value"), Some(&Some(json!("a@x.com"))));
    assert_eq!(field(a, EIGHT_BY_EIGHT), Some(&Some(json!("+1 415 555 0001"))));
    assert_eq!(a.manager, Some(Some("E0".into())));
    assert_eq!(a.groups, Some(vec!["Admins".into()]));
    assert!(field(a, "id").is_none());
    let b = &e.rows[1];
    assert_eq!((b.line, b.active), (6, Some(true)));
    assert_eq!(field(b, "title"), Some(&None));
    assert_eq!(b.groups, None);
}

#[test]
fn format_by_extension() {
    assert_eq!(Format::from_path(std::path::Path::new("x/users.JSONL")), Format::Jsonl);
    assert_eq!(Format::from_path(std::path::Path::new("users.csv")), Format::Csv);
    assert_eq!(Format::from_path(std::path::Path::new("users")), Format::Csv);
}
