//! The two databases the store runs on, behind one connection type: SQLite (the embedded
//! default, a file) and PostgreSQL (several replicas on one server). Queries are written once
//! with diesel's query builder over [`DbConn`]; the few statements diesel cannot express for
//! both at once (upserts, `RETURNING`) go through [`each!`], and hand-written SQL is written
//! with `?` placeholders and numbered for PostgreSQL by [`DbConn::sql`].

use std::borrow::Cow;

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

/// A connection to either database.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// Run `$body` with `$c` bound to the connection's own type (for statements diesel builds for
/// one backend at a time: `ON CONFLICT`, `RETURNING`).
macro_rules! each {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::db::DbConn::Sqlite($c) => $body,
            $crate::store::db::DbConn::Pg($c) => $body,
        }
    };
}
pub(crate) use each;

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A file path (or `sqlite://path`, `sqlite:path`).
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`, as given (with its password: never print it; see
    /// [`redact_url`]).
    Postgres(String),
}

impl Backend {
    pub fn of(url: &str) -> Backend {
        let lower = url.trim_start().to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Backend::Postgres(url.trim().to_string())
        } else {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
            Backend::Sqlite(path.to_string())
        }
    }

    /// How logs and errors name the database: the path, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            Backend::Sqlite(path) => path.clone(),
            Backend::Postgres(url) => redact_url(url),
        }
    }
}

/// A database URL with its password replaced by `***` (`postgres://user:***@host/db`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    // The authority ends at the first '/', '?' or '#'; the credentials at its last '@'.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let mut out = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') { format!("{user}:***") } else { user.to_string() };
            format!("{scheme}://{masked}{host}{tail}")
        }
        None => url.to_string(),
    };
    // libpq also takes `password=` as a query parameter.
    if let Some(q) = out.find("password=") {
        let end = out[q..].find('&').map_or(out.len(), |e| q + e);
        out.replace_range(q + "password=".len()..end, "***");
    }
    out
}

/// The same server URL naming database `db` instead.
pub fn with_database(url: &str, db: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let query = tail.find('?').map_or("", |q| &tail[q..]);
    format!("{scheme}://{authority}/{db}{query}")
}

/// The URL libpq is given: GSSAPI transport encryption off unless the URL asks for it
/// (`gssencmode`). libpq tries it by default, which loads Kerberos; Kerberos's locks then abort
/// the process at exit while the pool's threads still hold connections. TLS (`sslmode`) is
/// unaffected, and so is Kerberos authentication.
pub fn libpq_url(url: &str) -> String {
    if url.contains("gssencmode=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}gssencmode=disable")
}

impl DbConn {
    pub fn is_postgres(&self) -> bool {
        matches!(self, DbConn::Pg(_))
    }

    /// Hand-written SQL with `?` placeholders, as this database wants it: PostgreSQL numbers
    /// them (`$1`, `$2`, …). Values are always bound, never spliced, so a `?` in the text is a
    /// placeholder.
    pub fn sql<'s>(&self, text: &'s str) -> Cow<'s, str> {
        match self {
            DbConn::Sqlite(_) => Cow::Borrowed(text),
            DbConn::Pg(_) => Cow::Owned(number_placeholders(text)),
        }
    }
}

/// A value bound to a [`PgStatement`].
#[derive(Debug, Clone)]
pub(crate) enum PgBind<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    OptBool(Option<bool>),
    TextArray(Vec<&'a str>),
}

/// Hand-written PostgreSQL that diesel keeps prepared on each connection (its statement cache
/// is keyed by the SQL text), where `sql_query` is parsed and planned again on every call: for
/// statements diesel's DSL cannot build (data-modifying `WITH` chains, window functions). The
/// text has one `?` per bind, in order; the placeholders are numbered as they are bound. Load
/// rows with `QueryableByName`.
#[derive(Debug, Clone)]
pub(crate) struct PgStatement<'a> {
    sql: &'static str,
    binds: Vec<PgBind<'a>>,
}

impl<'a> PgStatement<'a> {
    pub(crate) fn new(sql: &'static str, binds: Vec<PgBind<'a>>) -> PgStatement<'a> {
        debug_assert_eq!(sql.matches('?').count(), binds.len(), "binds of {sql}");
        PgStatement { sql, binds }
    }
}

impl diesel::query_builder::QueryId for PgStatement<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for PgStatement<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for PgStatement<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
        let mut parts = self.sql.split('?');
        if let Some(first) = parts.next() {
            out.push_sql(first);
        }
        let mut binds = self.binds.iter();
        for part in parts {
            let Some(bind) = binds.next() else {
                return Err(diesel::result::Error::QueryBuilderError("a placeholder without a bind".into()));
            };
            match bind {
                PgBind::Text(v) => out.push_bind_param::<Text, _>(v)?,
                PgBind::OptText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                PgBind::Int(v) => out.push_bind_param::<BigInt, _>(v)?,
                PgBind::OptInt(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
                PgBind::Bool(v) => out.push_bind_param::<Bool, _>(v)?,
                PgBind::OptBool(v) => out.push_bind_param::<Nullable<Bool>, _>(v)?,
                PgBind::TextArray(v) => out.push_bind_param::<Array<Text>, _>(v)?,
            }
            out.push_sql(part);
        }
        if binds.next().is_some() {
            return Err(diesel::result::Error::QueryBuilderError("a bind without a placeholder".into()));
        }
        Ok(())
    }
}

impl diesel::RunQueryDsl<PgConnection> for PgStatement<'_> {}

fn number_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut n = 0;
    for ch in text.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend_and_never_show_a_password() {
        assert_eq!(Backend::of("scim-bridge.db"), Backend::Sqlite("scim-bridge.db".into()));
        assert_eq!(Backend::of("sqlite:///var/lib/x.db"), Backend::Sqlite("/var/lib/x.db".into()));
        assert_eq!(Backend::of("sqlite:x.db"), Backend::Sqlite("x.db".into()));
        let pg = "postgres://scim:s3cr%40t@db.internal:5432/scim?sslmode=require";
        assert_eq!(Backend::of(pg), Backend::Postgres(pg.into()));
        assert!(matches!(Backend::of("PostgreSQL://h/db"), Backend::Postgres(_)));
        assert_eq!(redact_url(pg), "postgres://scim:***@db.internal:5432/scim?sslmode=require");
        assert_eq!(Backend::of(pg).display(), "postgres://scim:***@db.internal:5432/scim?sslmode=require");
        assert_eq!(redact_url("postgres://scim@h/db"), "postgres://scim@h/db");
        assert_eq!(redact_url("postgres://h/db?user=u&password=p&x=1"), "postgres://h/db?user=u&password=***&x=1");
        assert_eq!(redact_url("postgres://u:p@ss:w@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn a_server_url_names_another_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/scim?sslmode=disable", "t1"),
            "postgres://u:p@h:5432/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u:p@h:5432", "t1"), "postgres://u:p@h:5432/t1");
    }

    #[test]
    fn libpq_is_told_not_to_load_kerberos_unless_asked() {
        assert_eq!(libpq_url("postgres://h/db"), "postgres://h/db?gssencmode=disable");
        assert_eq!(libpq_url("postgres://h/db?sslmode=require"), "postgres://h/db?sslmode=require&gssencmode=disable");
        assert_eq!(libpq_url("postgres://h/db?gssencmode=require"), "postgres://h/db?gssencmode=require");
    }

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(number_placeholders("a = ? AND b IN (?, ?)"), "a = $1 AND b IN ($2, $3)");
        assert_eq!(number_placeholders("no binds"), "no binds");
    }
}
