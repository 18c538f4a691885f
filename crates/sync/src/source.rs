//! Reading a directory export into rows: CSV with a header row (the csv crate does the quoting,
//! embedded newlines and a UTF-8 BOM) or JSON lines of SCIM users. Pure: bytes in, rows out, each
//! with the line number it starts on, so that a report can point at it. A bad row is returned as
//! a [`RowError`] and never as a half-row; a bad header or `--map` is a [`SyncError`].
//!
//! Must not import: reqwest, tokio, or the plan and client modules.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::SyncError;
use scim::schema::{AttrType, ENTERPRISE_USER_URN, ResourceKind};

/// The format of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    /// By the file's extension: `.jsonl` and `.ndjson` are JSON lines, anything else CSV.
    pub fn from_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("jsonl" | "ndjson") => Format::Jsonl,
            _ => Format::Csv,
        }
    }
}

/// What a column (or a JSON attribute) feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    UserName,
    ExternalId,
    Active,
    /// The enterprise `manager`: the cell names the manager by externalId or userName.
    Manager,
    /// Group displayNames, separated by `;`.
    Groups,
    /// Any other SCIM path, set with PATCH semantics.
    Path(String),
}

/// The columns of the default layout (docs/sync.md) and their targets.
pub fn default_columns() -> Vec<(&'static str, Target)> {
    vec![
        ("userName", Target::UserName),
        ("externalId", Target::ExternalId),
        ("givenName", Target::Path("name.givenName".into())),
        ("familyName", Target::Path("name.familyName".into())),
        ("displayName", Target::Path("displayName".into())),
        ("email", Target::Path(WORK_EMAIL.into())),
        ("eightbyeight", Target::Path(EIGHT_BY_EIGHT.into())),
        ("active", Target::Active),
        ("title", Target::Path("title".into())),
        ("department", Target::Path(format!("{ENTERPRISE_USER_URN}:department"))),
        ("manager", Target::Manager),
        ("groups", Target::Groups),
    ]
}

/// The work email, the primary one.
pub const WORK_EMAIL: &str = "emails[type eq \"work\"].value";
/// The product's key field: the 8x8 phone number.
pub const EIGHT_BY_EIGHT: &str = "phoneNumbers[type eq \"eightbyeight\"].value";

/// A target for a SCIM path given to `--map`: the special ones by name, any other path checked
/// against the User schema (an unknown extension URN is accepted: it is schemaless).
pub fn target_for_path(path: &str) -> Result<Target, SyncError> {
    let p = path.trim();
    let manager_paths = [format!("{ENTERPRISE_USER_URN}:manager"), format!("{ENTERPRISE_USER_URN}:manager.value")];
    Ok(match p {
        _ if p.eq_ignore_ascii_case("userName") => Target::UserName,
        _ if p.eq_ignore_ascii_case("externalId") => Target::ExternalId,
        _ if p.eq_ignore_ascii_case("active") => Target::Active,
        _ if p.eq_ignore_ascii_case("groups") => Target::Groups,
        _ if p.eq_ignore_ascii_case("manager") || manager_paths.iter().any(|m| m.eq_ignore_ascii_case(p)) => {
            Target::Manager
        }
        _ => {
            let target = scim::patch::resolve_target(ResourceKind::User.resource_type(), p)
                .map_err(|e| SyncError::BadMap(format!("`{p}`: {}", e.detail)))?;
            if target.attr.is_none() {
                return Err(SyncError::BadMap(format!("`{p}` names a whole extension, not an attribute")));
            }
            if target.attr.as_ref().and_then(|a| a.def).is_some_and(|d| !d.is_writable()) {
                return Err(SyncError::BadMap(format!("`{p}` is read-only on a SCIM server")));
            }
            Target::Path(p.to_string())
        }
    })
}

/// Parse `--map column=path` arguments.
pub fn parse_maps(maps: &[String]) -> Result<Vec<(String, Target)>, SyncError> {
    maps.iter()
        .map(|m| {
            let (col, path) =
                m.split_once('=').ok_or_else(|| SyncError::BadMap(format!("`{m}`: expected COLUMN=SCIMPATH")))?;
            let col = col.trim();
            if col.is_empty() {
                return Err(SyncError::BadMap(format!("`{m}`: the column name is empty")));
            }
            Ok((col.to_string(), target_for_path(path)?))
        })
        .collect()
}

/// One user of the export, as the file says it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The line the row starts on (1-based; the CSV header is line 1).
    pub line: u64,
    pub user_name: String,
    pub external_id: Option<String>,
    /// `None`: the export does not say (JSON attribute absent), leave the server's value alone.
    pub active: Option<bool>,
    /// SCIM paths and their values; `None` = the cell was empty: remove the value.
    pub fields: Vec<(String, Option<Value>)>,
    /// `None`: no manager column. `Some(None)`: empty cell, no manager. Else externalId or userName.
    pub manager: Option<Option<String>>,
    /// `None`: no groups column, membership left alone.
    pub groups: Option<Vec<String>>,
}

impl Row {
    /// A row with its keys, saying nothing yet about any other attribute.
    fn new(line: u64, user_name: String, external_id: Option<String>) -> Row {
        Row { line, user_name, external_id, active: None, fields: Vec::new(), manager: None, groups: None }
    }
}

/// A row that is skipped, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub line: u64,
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    pub reason: String,
}

/// Everything read from an export.
#[derive(Debug, Default)]
pub struct Export {
    pub rows: Vec<Row>,
    pub errors: Vec<RowError>,
    /// Not errors: unknown columns ignored, and the like.
    pub warnings: Vec<String>,
}

/// Parse a boolean cell: true/false/yes/no/1/0 in any case; empty is true.
pub fn parse_active(cell: &str) -> Option<bool> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// Read an export from bytes. `maps` adds or overrides columns (`--map`). Errors only for what
/// makes the whole file unusable (bad header, no userName column); rows that are wrong are in
/// [`Export::errors`].
pub fn read_export(bytes: &[u8], format: Format, maps: &[(String, Target)]) -> Result<Export, SyncError> {
    let mut export = match format {
        Format::Csv => read_csv(bytes, maps)?,
        Format::Jsonl => read_jsonl(bytes),
    };
    drop_duplicates(&mut export);
    Ok(export)
}

fn read_csv(bytes: &[u8], maps: &[(String, Target)]) -> Result<Export, SyncError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(bytes);
    let header = reader.headers().map_err(|e| SyncError::BadSource(format!("the header row: {e}")))?.clone();
    let defaults = default_columns();
    let mut columns: Vec<Option<Target>> = Vec::with_capacity(header.len());
    let mut unknown = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim();
        if name.is_empty() {
            return Err(SyncError::BadSource(format!("the header row: column {} has no name", i + 1)));
        }
        if let Some(first) = seen.insert(name.to_ascii_lowercase(), i) {
            return Err(SyncError::BadSource(format!(
                "the header row names `{name}` twice (columns {} and {})",
                first + 1,
                i + 1
            )));
        }
        let target = maps
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(name))
            .map(|(_, t)| t.clone())
            .or_else(|| defaults.iter().find(|(c, _)| c.eq_ignore_ascii_case(name)).map(|(_, t)| t.clone()));
        if target.is_none() {
            unknown.push(name.to_string());
        }
        columns.push(target);
    }
    for (col, _) in maps {
        if !seen.contains_key(&col.to_ascii_lowercase()) {
            return Err(SyncError::BadMap(format!("--map names column `{col}`, which the header row does not have")));
        }
    }
    let count = |t: &Target| columns.iter().filter(|c| c.as_ref() == Some(t)).count();
    if count(&Target::UserName) != 1 {
        return Err(SyncError::BadSource(
            "the header row needs exactly one userName column (or --map COLUMN=userName)".into(),
        ));
    }
    for t in [Target::ExternalId, Target::Active, Target::Manager, Target::Groups] {
        if count(&t) > 1 {
            return Err(SyncError::BadSource(format!("two columns map to {t:?}")));
        }
    }
    let mut export = Export::default();
    if !unknown.is_empty() {
        export.warnings.push(format!("columns ignored (not known, no --map): {}", unknown.join(", ")));
    }
    let kinds: Vec<Option<AttrType>> = columns
        .iter()
        .map(|c| match c {
            Some(Target::Path(p)) => kind_of(p),
            _ => None,
        })
        .collect();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // Invalid UTF-8 and the like: the reader has moved on to the next record.
                let line = e.position().map_or(line, csv::Position::line);
                export.errors.push(RowError {
                    line,
                    user_name: None,
                    external_id: None,
                    reason: format!("unreadable: {e}"),
                });
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map_or(line, csv::Position::line);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        match csv_row(line, &record, &columns, &kinds) {
            Ok(row) => export.rows.push(row),
            Err(e) => export.errors.push(e),
        }
    }
    Ok(export)
}

fn csv_row(
    line: u64,
    record: &csv::StringRecord,
    columns: &[Option<Target>],
    kinds: &[Option<AttrType>],
) -> Result<Row, RowError> {
    let find = |t: &Target| columns.iter().position(|c| c.as_ref() == Some(t)).and_then(|i| record.get(i));
    let user_name = find(&Target::UserName).map(str::trim).unwrap_or_default().to_string();
    let external_id = find(&Target::ExternalId).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let fail = |reason: String| RowError {
        line,
        user_name: (!user_name.is_empty()).then(|| user_name.clone()),
        external_id: external_id.clone(),
        reason,
    };
    if record.len() != columns.len() {
        return Err(fail(format!("{} cells where the header has {}", record.len(), columns.len())));
    }
    if user_name.is_empty() {
        return Err(fail("no userName".into()));
    }
    let mut row = Row::new(line, user_name.clone(), external_id.clone());
    for ((target, cell), kind) in columns.iter().zip(record.iter()).zip(kinds) {
        let cell = cell.trim();
        match target {
            None | Some(Target::UserName | Target::ExternalId) => {}
            Some(Target::Active) => {
                row.active = Some(
                    parse_active(cell)
                        .ok_or_else(|| fail(format!("active `{cell}` is not true/false/yes/no/1/0 (or empty)")))?,
                );
            }
            Some(Target::Manager) => row.manager = Some((!cell.is_empty()).then(|| cell.to_string())),
            Some(Target::Groups) => row.groups = Some(split_groups(cell)),
            Some(Target::Path(p)) => {
                let value = if cell.is_empty() { None } else { Some(typed_cell(p, *kind, cell).map_err(fail)?) };
                row.fields.push((p.clone(), value));
            }
        }
    }
    Ok(row)
}

/// `a; b;;c` -> `[a, b, c]`, without repeats (case-insensitively).
fn split_groups(cell: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in cell.split(';').map(str::trim).filter(|g| !g.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(g)) {
            out.push(g.to_string());
        }
    }
    out
}

/// The schema type at a path, when the schema knows it.
fn kind_of(path: &str) -> Option<AttrType> {
    scim::patch::resolve_target(ResourceKind::User.resource_type(), path)
        .ok()
        .and_then(|t| t.sub.and_then(|s| s.def).or(t.attr.and_then(|a| a.def)).map(|d| d.kind))
}

/// A cell as the JSON type of its attribute: booleans and numbers where the schema says so.
fn typed_cell(path: &str, kind: Option<AttrType>, cell: &str) -> Result<Value, String> {
    match kind {
        Some(AttrType::Boolean) => {
            parse_active(cell).map(Value::Bool).ok_or_else(|| format!("{path}: `{cell}` is not a boolean"))
        }
        Some(AttrType::Integer) => {
            cell.parse::<i64>().map(Value::from).map_err(|_| format!("{path}: `{cell}` is not an integer"))
        }
        Some(AttrType::Decimal) => cell
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .ok_or_else(|| format!("{path}: `{cell}` is not a number")),
        _ => Ok(Value::String(cell.to_string())),
    }
}

fn read_jsonl(bytes: &[u8]) -> Export {
    let mut export = Export::default();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i as u64 + 1;
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.trim(),
            Err(_) => {
                export.errors.push(RowError { line, user_name: None, external_id: None, reason: "not UTF-8".into() });
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(user)) => match jsonl_row(line, &user) {
                Ok(row) => export.rows.push(row),
                Err(e) => export.errors.push(e),
            },
            Ok(_) => export.errors.push(RowError {
                line,
                user_name: None,
                external_id: None,
                reason: "not a JSON object (a SCIM User)".into(),
            }),
            Err(e) => export.errors.push(RowError {
                line,
                user_name: None,
                external_id: None,
                reason: format!("not JSON: {e}"),
            }),
        }
    }
    export
}

/// Attributes of a JSON user that are the server's, not the export's.
const SERVER_OWNED: [&str; 5] = ["id", "meta", "schemas", "password", "groups"];

/// A SCIM user from a JSON line, flattened into the same paths a CSV row has: simple attributes
/// by name, sub-attributes of complex ones as `name.sub`, multi-valued elements by their `type`
/// (`emails[type eq "work"].value`), extension attributes under their URN, and the enterprise
/// manager by its `value` (an externalId or userName, as in the CSV). Absent attributes are left
/// alone on the server; `null` removes.
fn jsonl_row(line: u64, user: &Map<String, Value>) -> Result<Row, RowError> {
    let str_of = |k: &str| scim::schema::get_ci(user, k).and_then(|(_, v)| v.as_str()).map(str::trim);
    let user_name = str_of("userName").unwrap_or_default().to_string();
    let external_id = str_of("externalId").filter(|s| !s.is_empty()).map(str::to_string);
    let fail = |reason: String| RowError {
        line,
        user_name: (!user_name.is_empty()).then(|| user_name.clone()),
        external_id: external_id.clone(),
        reason,
    };
    if user_name.is_empty() {
        return Err(fail("no userName (a string)".into()));
    }
    let mut row = Row::new(line, user_name.clone(), external_id.clone());
    let rt = ResourceKind::User.resource_type();
    for (key, value) in user {
        let lower = key.to_ascii_lowercase();
        match lower.as_str() {
            "username" => {}
            "externalid" if value.is_string() || value.is_null() => {}
            "externalid" => return Err(fail("externalId is not a string".into())),
            "active" => {
                row.active = match value {
                    Value::Bool(b) => Some(*b),
                    Value::String(s) => {
                        Some(parse_active(s).ok_or_else(|| fail(format!("active `{s}` is not a boolean")))?)
                    }
                    Value::Null => Some(true),
                    _ => return Err(fail("active is not a boolean".into())),
                }
            }
            "groups" => {
                row.groups = Some(
                    jsonl_groups(value).ok_or_else(|| fail("groups: expected names or objects with display".into()))?,
                )
            }
            _ if SERVER_OWNED.contains(&lower.as_str()) => {}
            _ if key.starts_with("urn:") => match value {
                Value::Object(ext) => {
                    for (name, v) in ext {
                        if key.eq_ignore_ascii_case(ENTERPRISE_USER_URN) && name.eq_ignore_ascii_case("manager") {
                            row.manager = Some(match v {
                                Value::Null => None,
                                Value::String(s) => Some(s.clone()),
                                Value::Object(m) => m.get("value").and_then(Value::as_str).map(str::to_string),
                                _ => return Err(fail("manager: expected an object with value".into())),
                            });
                            continue;
                        }
                        flatten(&format!("{key}:{name}"), v, &mut row.fields).map_err(&fail)?;
                    }
                }
                Value::Null => {}
                _ => return Err(fail(format!("{key}: an extension must be an object"))),
            },
            _ => flatten(key, value, &mut row.fields).map_err(&fail)?,
        }
    }
    for (path, _) in &row.fields {
        scim::patch::resolve_target(rt, path).map_err(|e| fail(format!("{path}: {}", e.detail)))?;
    }
    Ok(row)
}

fn jsonl_groups(v: &Value) -> Option<Vec<String>> {
    let Value::Array(items) = v else {
        return if v.is_null() { Some(Vec::new()) } else { None };
    };
    let names: Option<Vec<String>> = items
        .iter()
        .map(|i| match i {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => {
                o.get("display").or_else(|| o.get("displayName")).and_then(Value::as_str).map(str::to_string)
            }
            _ => None,
        })
        .collect();
    names.map(|n| split_groups(&n.join(";")))
}

fn flatten(path: &str, value: &Value, out: &mut Vec<(String, Option<Value>)>) -> Result<(), String> {
    match value {
        Value::Null => out.push((path.to_string(), None)),
        Value::Object(o) => {
            for (k, v) in o {
                match v {
                    Value::Object(_) | Value::Array(_) => return Err(format!("{path}.{k}: too deeply nested")),
                    Value::Null => out.push((format!("{path}.{k}"), None)),
                    _ => out.push((format!("{path}.{k}"), Some(v.clone()))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let Value::Object(o) = item else {
                    return Err(format!("{path}: elements must be objects with a type"));
                };
                let Some(kind) = o.get("type").and_then(Value::as_str) else {
                    return Err(format!("{path}: every element needs a `type` (it is how the element is matched)"));
                };
                let kind = kind.replace('"', "");
                for (k, v) in o {
                    if k == "type" {
                        continue;
                    }
                    let sub = format!("{path}[type eq \"{kind}\"].{k}");
                    out.push((sub, (!v.is_null()).then(|| v.clone())));
                }
            }
        }
        _ => out.push((path.to_string(), Some(value.clone()))),
    }
    Ok(())
}

/// A second row with the userName (case-insensitively) or externalId of an earlier one is
/// skipped: which of the two is right is the export's to say.
fn drop_duplicates(export: &mut Export) {
    let mut names: HashMap<String, u64> = HashMap::new();
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut kept = Vec::with_capacity(export.rows.len());
    for row in std::mem::take(&mut export.rows) {
        let name_first = names.get(&row.user_name.to_lowercase()).copied();
        let id_first = row.external_id.as_ref().and_then(|e| ids.get(e).copied());
        let reason = match (name_first, id_first) {
            (Some(l), _) => Some(format!("duplicate userName (first on line {l})")),
            (None, Some(l)) => Some(format!("duplicate externalId (first on line {l})")),
            (None, None) => None,
        };
        if let Some(reason) = reason {
            export.errors.push(RowError {
                line: row.line,
                user_name: Some(row.user_name),
                external_id: row.external_id,
                reason,
            });
            continue;
        }
        names.insert(row.user_name.to_lowercase(), row.line);
        if let Some(e) = &row.external_id {
            ids.insert(e.clone(), row.line);
        }
        kept.push(row);
    }
    export.rows = kept;
    export.errors.sort_by_key(|e| e.line);
}

#[cfg(test)]
mod tests;
