//! List queries: paging (RFC 7644 §3.4.2.4, and cursors as RFC 9865 adds them), sorting
//! parameters (§3.4.2.3), the `ListResponse` body (§3.4.2) and the POST `.search` request body
//! (§3.4.3).
//!
//! This module turns the raw values (query-string text, or JSON from a `.search` body) into
//! [`ListParams`]; it does not parse the filter (see `filter`) nor check that `sortBy` names an
//! attribute (the store knows which ones it can sort on). [`cursor`] encodes and reads cursors.
//!
//! Decisions:
//! * Index paging is the default (RFC 9865 §2.4: a provider that had index paging keeps it as
//!   the default). A `cursor` parameter, even empty, asks for cursor paging; sending it with
//!   `startIndex` is 400 `invalidValue`, since the two name different paging methods.
//! * `startIndex` below 1 is taken as 1 (RFC 7644 §3.4.2.4: "A value less than 1 SHALL be
//!   interpreted as 1").
//! * `count` absent takes `default_count`; negative is taken as 0 (§3.4.2.4: "A negative value
//!   SHALL be interpreted as 0"). With index paging a count above `max_results` is capped (the
//!   response's `itemsPerPage` shows the real page size). With cursor paging it is 400
//!   `invalidCount`, as is a count other than the one the cursor was issued for (RFC 9865
//!   §2.1). The parser therefore always returns `count: Some(_)`; `None` is left for callers
//!   that build `ListParams` themselves and mean "no limit".
//! * Empty parameters (`count=`) count as absent, except `cursor`; non-integers are 400
//!   `invalidValue`.
//! * `sortOrder` is `ascending` or `descending` in any case, default ascending; anything else is
//!   400 `invalidValue`.
//!
//! Must not import: actix, diesel, reqwest, tokio, or any module outside `scim`.

pub mod cursor;

use serde::Serialize;
use serde_json::Value;

use crate::error::ScimError;
use crate::error::quoted;
use crate::resource::json_kind;
use crate::schema::{LIST_RESPONSE_URN, SEARCH_REQUEST_URN, get_ci};
pub use cursor::Position;
use cursor::{Cursor, fingerprint};

/// Validated paging, sorting and filter parameters of a list or search request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// 1-based index of the first result; at least 1.
    pub start_index: u64,
    /// Maximum number of results on this page; `Some` from the parser (see module docs).
    pub count: Option<u64>,
    /// The `sortBy` attribute path as sent (trimmed); the store resolves it.
    pub sort_by: Option<String>,
    pub sort_order: SortOrder,
    /// The filter text as sent (trimmed); `filter` parses it.
    pub filter: Option<String>,
    /// `Some` for cursor paging (RFC 9865), which then ignores `start_index`.
    pub cursor: Option<CursorPage>,
}

/// Which page a cursor-paged request asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum CursorPage {
    /// An empty `cursor`: the first page.
    First,
    /// The rows after this position, in the query's order.
    After(Position),
}

/// The raw paging, sorting and filter values of a request, as they arrive: query-string text,
/// or a `.search` body normalised by [`parse_search_request`]. `cursor: Some("")` is an empty
/// cursor (the first page in cursor mode), not an absent one.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawListParams<'a> {
    pub start_index: Option<&'a str>,
    pub count: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub sort_by: Option<&'a str>,
    pub sort_order: Option<&'a str>,
    pub filter: Option<&'a str>,
}

/// Page sizes: `count` when absent, and the largest page (`maxPageSize`).
#[derive(Debug, Clone, Copy)]
pub struct PageSizes {
    pub default_count: u64,
    pub max_count: u64,
}

/// RFC 7644 §3.4.2.3 `sortOrder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

/// Build [`ListParams`] from the raw values. `scope` names the endpoint the request went to
/// (`/Users`, `/Groups`, or `/` for the root `.search`): a cursor is only good there.
///
/// A `startIndex` beyond [`MAX_START_INDEX`] is taken as that (a page past the end): the store
/// adds counts to it in 64-bit SQL arithmetic.
pub fn parse_list_params(raw: &RawListParams, scope: &str, sizes: PageSizes) -> Result<ListParams, ScimError> {
    let start_index = match parse_integer("startIndex", raw.start_index)? {
        Some(n) if n > 1 => u64::try_from(n).unwrap_or(MAX_START_INDEX).min(MAX_START_INDEX),
        _ => 1,
    };
    let count = match parse_integer("count", raw.count)? {
        None => sizes.default_count,
        Some(n) if n < 0 => 0,
        Some(n) => u64::try_from(n).unwrap_or(u64::MAX),
    };
    let sort_order = match non_empty(raw.sort_order) {
        None => SortOrder::Ascending,
        Some(s) if s.eq_ignore_ascii_case("ascending") => SortOrder::Ascending,
        Some(s) if s.eq_ignore_ascii_case("descending") => SortOrder::Descending,
        Some(s) => {
            return Err(ScimError::invalid_value(format!(
                "sortOrder must be \"ascending\" or \"descending\", got {}",
                quoted(s)
            )));
        }
    };
    let sort_by = non_empty(raw.sort_by).map(str::to_string);
    if let Some(s) = &sort_by {
        // Any attribute path sorts (one the schema lacks sorts as having no value), but text
        // that is not a path is a mistake to report, not a silent default order.
        crate::filter::parse_attr_path(s).map_err(|e| {
            ScimError::invalid_path(format!("sortBy must be an attribute path such as userName: {}", e.detail))
        })?;
    }
    let filter = non_empty(raw.filter).map(str::to_string);
    let Some(cursor_text) = raw.cursor.map(str::trim) else {
        return Ok(ListParams {
            start_index,
            count: Some(count.min(sizes.max_count)),
            sort_by,
            sort_order,
            filter,
            cursor: None,
        });
    };
    if non_empty(raw.start_index).is_some() {
        return Err(ScimError::invalid_value(
            "startIndex and cursor ask for different paging methods (RFC 9865 §2.4); send one of them: \
             startIndex for index paging, cursor for cursor paging",
        ));
    }
    if count > sizes.max_count {
        return Err(ScimError::invalid_count(format!(
            "count {count} is above the largest page, {} (ServiceProviderConfig pagination.maxPageSize)",
            sizes.max_count
        )));
    }
    let cursor = if cursor_text.is_empty() {
        CursorPage::First
    } else {
        let c = Cursor::decode(cursor_text)?;
        if c.query != fingerprint(scope, filter.as_deref(), sort_by.as_deref(), sort_order) {
            return Err(ScimError::invalid_cursor(format!(
                "the cursor belongs to another query: a cursor is only good at the endpoint it came from ({scope} \
                 here) with the same filter, sortBy and sortOrder (RFC 9865 §2); start again with an empty cursor"
            )));
        }
        if c.count != count {
            return Err(ScimError::invalid_count(format!(
                "count must stay {} on every page of this cursor (RFC 9865 §2.1), got {count}; start again with an \
                 empty cursor to change the page size",
                c.count
            )));
        }
        CursorPage::After(c.after)
    };
    Ok(ListParams { start_index: 1, count: Some(count), sort_by, sort_order, filter, cursor: Some(cursor) })
}

/// The `nextCursor` for a page of `params` that ended at `after`.
pub fn next_cursor(scope: &str, params: &ListParams, after: Position) -> String {
    let query = fingerprint(scope, params.filter.as_deref(), params.sort_by.as_deref(), params.sort_order);
    Cursor { query, count: params.count.unwrap_or(0), after }.encode()
}

/// The `ListResponse` body (RFC 7644 §3.4.2). `itemsPerPage` is the number of `Resources`;
/// `Resources` is always present, possibly empty (Entra's Test Connection expects an empty list,
/// docs/idp-notes.md §4.1 item 14). Generic over the resources' representation, so that
/// documents already written as JSON text (`serde_json::value::RawValue`) are not built again.
pub fn list_response<R: Serialize>(total_results: u64, start_index: u64, resources: Vec<R>) -> ListResponse<R> {
    ListResponse {
        schemas: [LIST_RESPONSE_URN],
        total_results,
        start_index: Some(start_index),
        items_per_page: resources.len(),
        next_cursor: None,
        resources,
    }
}

/// The `ListResponse` body of a cursor-paged list (RFC 9865 §2): no `startIndex`, and
/// `nextCursor` unless this is the last page. `previousCursor` is optional there and not offered.
pub fn cursor_list_response<R: Serialize>(
    total_results: u64,
    resources: Vec<R>,
    next_cursor: Option<String>,
) -> ListResponse<R> {
    ListResponse {
        schemas: [LIST_RESPONSE_URN],
        total_results,
        start_index: None,
        items_per_page: resources.len(),
        next_cursor,
        resources,
    }
}

/// A `ListResponse` (RFC 7644 §3.4.2; RFC 9865 §2 with a cursor), members in this order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<R> {
    pub schemas: [&'static str; 1],
    pub total_results: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_index: Option<u64>,
    pub items_per_page: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(rename = "Resources")]
    pub resources: Vec<R>,
}

/// The pieces of a POST `.search` body (RFC 7644 §3.4.3), normalised to the query-string form:
/// numbers become their text, an `attributes` array becomes comma-separated text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    /// RFC 9865 §3: `cursor` in the body, `""` for the first page.
    pub cursor: Option<String>,
}

impl SearchRequest {
    /// The raw paging, sorting and filter values this request carries.
    pub fn raw(&self) -> RawListParams<'_> {
        RawListParams {
            start_index: self.start_index.as_deref(),
            count: self.count.as_deref(),
            cursor: self.cursor.as_deref(),
            sort_by: self.sort_by.as_deref(),
            sort_order: self.sort_order.as_deref(),
            filter: self.filter.as_deref(),
        }
    }

    /// The paging, sorting and filter parameters this request carries (see [`parse_list_params`]).
    pub fn list_params(&self, scope: &str, sizes: PageSizes) -> Result<ListParams, ScimError> {
        parse_list_params(&self.raw(), scope, sizes)
    }
}

/// Read a `.search` body. Member names match in any case; nulls count as absent; unknown
/// members are ignored. `schemas` may be absent (lenient, as for resources) but a list naming
/// other standard SCIM URNs and not the SearchRequest one is refused. `attributes` and
/// `excludedAttributes` may be arrays of strings (RFC form) or comma-separated strings.
pub fn parse_search_request(body: &Value) -> Result<SearchRequest, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "the search request body must be a JSON object ({SEARCH_REQUEST_URN})"
        )));
    };
    check_search_schemas(get_ci(obj, "schemas").map(|(_, v)| v))?;
    let member = |name: &str| get_ci(obj, name).map(|(_, v)| v).filter(|v| !v.is_null());
    Ok(SearchRequest {
        attributes: member("attributes").map(|v| path_list("attributes", v)).transpose()?,
        excluded_attributes: member("excludedAttributes").map(|v| path_list("excludedAttributes", v)).transpose()?,
        filter: member("filter").map(|v| text("filter", v)).transpose()?,
        sort_by: member("sortBy").map(|v| text("sortBy", v)).transpose()?,
        sort_order: member("sortOrder").map(|v| text("sortOrder", v)).transpose()?,
        start_index: member("startIndex").map(|v| number_text("startIndex", v)).transpose()?,
        count: member("count").map(|v| number_text("count", v)).transpose()?,
        cursor: member("cursor").map(|v| text("cursor", v)).transpose()?,
    })
}

fn check_search_schemas(schemas: Option<&Value>) -> Result<(), ScimError> {
    let urns: Vec<&str> = match schemas {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(_) => {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must be an array holding \"{SEARCH_REQUEST_URN}\""
            )));
        }
    };
    let ours = urns.iter().any(|u| u.trim().eq_ignore_ascii_case(SEARCH_REQUEST_URN));
    let foreign: Vec<&str> = urns
        .into_iter()
        .filter(|u| u.get(..21).is_some_and(|p| p.eq_ignore_ascii_case("urn:ietf:params:scim:")))
        .collect();
    if ours || foreign.is_empty() {
        return Ok(());
    }
    Err(ScimError::invalid_value(format!(
        "schemas lists {} but not {SEARCH_REQUEST_URN}: POST .search takes a SearchRequest",
        foreign.join(", ")
    )))
}

fn path_list(name: &str, v: &Value) -> Result<String, ScimError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Array(items) => {
            let mut paths = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => paths.push(s.trim()),
                    Value::Null => {}
                    _ => {
                        return Err(ScimError::invalid_value(format!(
                            "{name} must be an array of attribute paths (strings), but it holds {}",
                            json_kind(item)
                        )));
                    }
                }
            }
            Ok(paths.join(","))
        }
        other => Err(ScimError::invalid_value(format!(
            "{name} must be an array of attribute paths, got {}",
            json_kind(other)
        ))),
    }
}

fn text(name: &str, v: &Value) -> Result<String, ScimError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(ScimError::invalid_value(format!("{name} must be a string, got {}", json_kind(other)))),
    }
}

/// A JSON number as its text (validated by `parse_list_params`); strings pass as they are.
fn number_text(name: &str, v: &Value) -> Result<String, ScimError> {
    match v {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        other => Err(ScimError::invalid_value(format!("{name} must be an integer, got {}", json_kind(other)))),
    }
}

/// An integer parameter: `None` when absent or empty; saturates instead of overflowing, since
/// the values are clamped anyway.
fn parse_integer(name: &str, raw: Option<&str>) -> Result<Option<i128>, ScimError> {
    let Some(s) = non_empty(raw) else {
        return Ok(None);
    };
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScimError::invalid_value(format!("{name} must be an integer, got {}", quoted(s))));
    }
    let magnitude = digits.parse::<i128>().unwrap_or(i128::MAX);
    Ok(Some(if negative { -magnitude } else { magnitude }))
}

/// The largest `startIndex` honoured (2^53: past any table, and exact as a JSON number).
pub const MAX_START_INDEX: u64 = 1 << 53;

fn non_empty(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScimType;
    use crate::schema::ResourceKind;
    use serde_json::json;

    const SIZES: PageSizes = PageSizes { default_count: 100, max_count: 200 };

    /// Query values `(startIndex, count, sortBy, sortOrder, filter)` with default count 100 and
    /// maximum 200.
    type Query =
        (Option<&'static str>, Option<&'static str>, Option<&'static str>, Option<&'static str>, Option<&'static str>);

    enum Input {
        Query(Query),
        Search(Value),
        Response(u64, u64, Vec<Value>),
    }

    enum Expected {
        /// `(start_index, count, sort_by, descending, filter)`.
        Params(u64, Option<u64>, Option<&'static str>, bool, Option<&'static str>),
        Search(SearchRequest),
        Json(Value),
        Error(ScimType, &'static str),
    }

    fn check(input: Input, expected: Expected) {
        let label = match &input {
            Input::Query(q) => format!("query {q:?}"),
            Input::Search(v) => format!("search {v}"),
            Input::Response(t, s, r) => format!("response {t} {s} {}", r.len()),
        };
        // Both sides rendered as text, so one comparison covers every kind of output.
        let got: Result<String, ScimError> = match input {
            Input::Query((s, c, b, o, f)) => {
                let raw =
                    RawListParams { start_index: s, count: c, cursor: None, sort_by: b, sort_order: o, filter: f };
                parse_list_params(&raw, "/Users", SIZES).map(|p| {
                    let descending = p.sort_order == SortOrder::Descending;
                    params_text(p.start_index, p.count, p.sort_by.as_deref(), descending, p.filter.as_deref())
                })
            }
            Input::Search(body) => parse_search_request(&body).map(|r| format!("{r:?}")),
            Input::Response(t, s, r) => Ok(serde_json::to_string(&list_response(t, s, r)).unwrap()),
        };
        let want = match expected {
            Expected::Params(s, c, b, d, f) => params_text(s, c, b, d, f),
            Expected::Search(r) => format!("{r:?}"),
            Expected::Json(v) => v.to_string(),
            Expected::Error(scim_type, detail) => {
                match got {
                    Ok(got) => panic!("{label}: expected an error, got {got}"),
                    Err(e) => {
                        assert_eq!((e.status, e.scim_type), (400, Some(scim_type)), "{label}: {e}");
                        assert!(e.detail.contains(detail), "{label}: {:?} lacks {detail:?}", e.detail);
                    }
                }
                return;
            }
        };
        match got {
            Ok(got) => assert_eq!(got, want, "{label}"),
            Err(e) => panic!("{label}: unexpected error {e}"),
        }
    }

    fn params_text(s: u64, c: Option<u64>, b: Option<&str>, d: bool, f: Option<&str>) -> String {
        format!("start={s} count={c:?} sortBy={b:?} descending={d} filter={f:?}")
    }

    #[test]
    fn list_parameters() {
        use Expected::{Error, Params};
        use Input::Query;
        let cases: Vec<(Input, Expected)> = vec![
            (Query((None, None, None, None, None)), Params(1, Some(100), None, false, None)),
            // Okta import pages (docs/idp-notes.md §4.2 item 7).
            (Query((Some("101"), Some("100"), None, None, None)), Params(101, Some(100), None, false, None)),
            (Query((Some("0"), Some("-5"), None, None, None)), Params(1, Some(0), None, false, None)),
            (Query((Some("-3"), Some("0"), None, None, None)), Params(1, Some(0), None, false, None)),
            (Query((Some(" 2 "), Some("+7"), None, None, None)), Params(2, Some(7), None, false, None)),
            (Query((Some(""), Some(""), Some(""), Some(""), Some("  "))), Params(1, Some(100), None, false, None)),
            (Query((None, Some("5000"), None, None, None)), Params(1, Some(200), None, false, None)),
            (
                Query((Some("99999999999999999999999999999999999999999"), None, None, None, None)),
                Params(MAX_START_INDEX, Some(100), None, false, None),
            ),
            (
                Query((None, None, Some("meta.lastModified"), Some("DESCENDING"), Some("userName eq \"a\""))),
                Params(1, Some(100), Some("meta.lastModified"), true, Some("userName eq \"a\"")),
            ),
            (
                Query((None, None, Some("userName"), Some("Ascending"), None)),
                Params(1, Some(100), Some("userName"), false, None),
            ),
            (
                Query((Some("one"), None, None, None, None)),
                Error(ScimType::InvalidValue, "startIndex must be an integer, got \"one\""),
            ),
            (Query((None, Some("10.5"), None, None, None)), Error(ScimType::InvalidValue, "count must be an integer")),
            (Query((None, Some("-"), None, None, None)), Error(ScimType::InvalidValue, "count must be an integer")),
            (
                Query((None, None, None, Some("up"), None)),
                Error(ScimType::InvalidValue, "sortOrder must be \"ascending\" or \"descending\""),
            ),
        ];
        for (input, expected) in cases {
            check(input, expected);
        }
    }

    #[test]
    fn search_bodies_and_responses() {
        use Expected::{Error, Json, Search};
        let search = |f: fn(&mut SearchRequest)| {
            let mut r = SearchRequest::default();
            f(&mut r);
            r
        };
        let cases: Vec<(Input, Expected)> = vec![
            // RFC 7644 §3.4.3, Figure 6.
            (
                Input::Search(serde_json::json!({
                    "schemas": [SEARCH_REQUEST_URN],
                    "attributes": ["displayName", "userName"],
                    "filter": "displayName sw \"smith\"",
                    "startIndex": 1,
                    "count": 10
                })),
                Search(search(|r| {
                    r.attributes = Some("displayName,userName".into());
                    r.filter = Some("displayName sw \"smith\"".into());
                    r.start_index = Some("1".into());
                    r.count = Some("10".into());
                })),
            ),
            (
                Input::Search(serde_json::json!({
                    "ExcludedAttributes": "members", "SORTBY": "displayName", "sortOrder": "descending",
                    "startIndex": "3", "count": null, "unknown": true
                })),
                Search(search(|r| {
                    r.excluded_attributes = Some("members".into());
                    r.sort_by = Some("displayName".into());
                    r.sort_order = Some("descending".into());
                    r.start_index = Some("3".into());
                })),
            ),
            (
                Input::Search(serde_json::json!({"count": true})),
                Error(ScimType::InvalidValue, "count must be an integer"),
            ),
            (
                Input::Search(serde_json::json!({"attributes": [1]})),
                Error(ScimType::InvalidValue, "attributes must be an array of attribute paths"),
            ),
            (
                Input::Search(serde_json::json!({"filter": {"eq": 1}})),
                Error(ScimType::InvalidValue, "filter must be a string"),
            ),
            (Input::Search(serde_json::json!([])), Error(ScimType::InvalidSyntax, "must be a JSON object")),
            (
                Input::Search(serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]})),
                Error(ScimType::InvalidValue, "POST .search takes a SearchRequest"),
            ),
            (
                Input::Response(0, 1, vec![]),
                Json(
                    serde_json::json!({"schemas": [LIST_RESPONSE_URN], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}),
                ),
            ),
            (
                Input::Response(250, 101, vec![serde_json::json!({"id": "a"}), serde_json::json!({"id": "b"})]),
                Json(
                    serde_json::json!({"schemas": [LIST_RESPONSE_URN], "totalResults": 250, "startIndex": 101, "itemsPerPage": 2, "Resources": [{"id": "a"}, {"id": "b"}]}),
                ),
            ),
        ];
        for (input, expected) in cases {
            check(input, expected);
        }
        // A `.search` body feeds the same parser: a JSON float count is refused there.
        let r = parse_search_request(&serde_json::json!({"count": 2.5})).and_then(|r| r.list_params("/Users", SIZES));
        assert_eq!(r.err().map(|e| e.scim_type), Some(Some(ScimType::InvalidValue)));
    }

    /// RFC 9865 §2 and §2.1: the `cursor` parameter, its errors, and the cursor-mode body.
    #[test]
    fn cursor_parameters() {
        let raw = |cursor: &'static str| RawListParams { cursor: Some(cursor), ..Default::default() };
        let parse = |raw: RawListParams, scope: &str| parse_list_params(&raw, scope, SIZES);
        let filtered = RawListParams { filter: Some("userName sw \"a\""), sort_by: Some("userName"), ..raw("") };
        let first = parse(filtered, "/Users").unwrap();
        assert_eq!((first.cursor.clone(), first.count), (Some(CursorPage::First), Some(100)));
        let pos = Position { kind: ResourceKind::User, key: json!("abe"), seq: 42 };
        let next = next_cursor("/Users", &first, pos.clone());
        let leaked: &'static str = Box::leak(next.clone().into_boxed_str());
        let second = parse(RawListParams { cursor: Some(leaked), ..filtered }, "/Users").unwrap();
        assert_eq!(second.cursor, Some(CursorPage::After(pos)));
        assert_eq!(parse(raw(" "), "/Groups").unwrap().cursor, Some(CursorPage::First), "blank is empty");
        assert_eq!(parse(RawListParams { count: Some("-4"), ..raw("") }, "/Users").unwrap().count, Some(0));

        let errors: Vec<(RawListParams, &str, ScimType, &str)> = vec![
            (
                RawListParams { start_index: Some("1"), ..raw("") },
                "/Users",
                ScimType::InvalidValue,
                "startIndex and cursor",
            ),
            (
                RawListParams { count: Some("201"), ..raw("") },
                "/Users",
                ScimType::InvalidCount,
                "above the largest page, 200",
            ),
            (raw("garbage!"), "/Users", ScimType::InvalidCursor, "not one this server issued"),
            (RawListParams { cursor: Some(leaked), ..filtered }, "/Groups", ScimType::InvalidCursor, "another query"),
            (
                RawListParams { cursor: Some(leaked), sort_order: Some("descending"), ..filtered },
                "/Users",
                ScimType::InvalidCursor,
                "another query",
            ),
            (
                RawListParams { cursor: Some(leaked), filter: None, ..filtered },
                "/Users",
                ScimType::InvalidCursor,
                "another query",
            ),
            (
                RawListParams { cursor: Some(leaked), count: Some("10"), ..filtered },
                "/Users",
                ScimType::InvalidCount,
                "must stay 100",
            ),
        ];
        for (raw, scope, scim_type, detail) in errors {
            let e = parse(raw, scope).unwrap_err();
            assert_eq!((e.status, e.scim_type), (400, Some(scim_type)), "{raw:?}: {e}");
            assert!(e.detail.contains(detail), "{raw:?}: {e}");
        }

        let body = parse_search_request(&json!({"cursor": "", "count": 2})).unwrap();
        assert_eq!(body.cursor.as_deref(), Some(""));
        assert_eq!(body.list_params("/", SIZES).unwrap().cursor, Some(CursorPage::First));
        assert_eq!(
            serde_json::to_value(cursor_list_response(5, vec![json!({"id": "a"})], Some("abc".into()))).unwrap(),
            json!({"schemas": [LIST_RESPONSE_URN], "totalResults": 5, "itemsPerPage": 1, "nextCursor": "abc", "Resources": [{"id": "a"}]})
        );
        let last = serde_json::to_value(cursor_list_response::<Value>(5, vec![], None)).unwrap();
        assert!(last.get("nextCursor").is_none() && last.get("startIndex").is_none(), "{last}");
    }
}
