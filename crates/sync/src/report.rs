//! The summary of a run: counts, failures and skipped rows with their line numbers, as text for
//! people or as exactly one JSON object (`--json`); and the plan as text for `--dry-run` and `-v`.
//!
//! Must not import: reqwest, tokio, or the client module.

use serde_json::{Value, json};

use crate::plan::{Plan, UserRef};
use crate::source::RowError;

/// A write that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub line: Option<u64>,
    pub user_name: Option<String>,
    /// 0: no HTTP status (not reached, or not sent because something it needed failed).
    pub status: u16,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub deactivated: usize,
    pub unchanged: usize,
    pub groups_created: usize,
    pub groups_updated: usize,
    pub failures: Vec<Failure>,
    pub skipped: Vec<RowError>,
    pub warnings: Vec<String>,
    pub dry_run: bool,
    pub seconds: f64,
    pub requests: u64,
    pub retries: u64,
}

impl Summary {
    /// The counts a plan would give if everything were applied.
    pub fn planned(plan: &Plan) -> Summary {
        Summary {
            created: plan.creates.len(),
            updated: plan.updated_users(),
            deactivated: plan.deactivations.len(),
            unchanged: plan.unchanged,
            groups_created: plan.group_creates.len(),
            groups_updated: plan.group_updates.len(),
            ..Summary::default()
        }
    }

    /// 0 all applied, 1 some writes failed or rows were skipped.
    pub fn exit_code(&self) -> u8 {
        if self.failures.is_empty() && self.skipped.is_empty() { 0 } else { 1 }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "created": self.created,
            "updated": self.updated,
            "deactivated": self.deactivated,
            "unchanged": self.unchanged,
            "failed": self.failures.len(),
            "skipped": self.skipped.len(),
            "groups_created": self.groups_created,
            "groups_updated": self.groups_updated,
            "dry_run": self.dry_run,
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
            "requests": self.requests,
            "retries": self.retries,
            "failures": self.failures.iter().map(|f| json!({
                "line": f.line, "userName": f.user_name, "status": f.status, "detail": f.detail,
            })).collect::<Vec<_>>(),
            "skipped_rows": self.skipped.iter().map(|s| json!({
                "line": s.line, "userName": s.user_name, "reason": s.reason,
            })).collect::<Vec<_>>(),
            "warnings": self.warnings,
        })
    }

    /// The summary line and the lists, for people.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{}created {}, updated {}, deactivated {}, unchanged {}, failed {}, skipped {}; groups created {}, \
             updated {} ({:.1} s, {} requests, {} retries)\n",
            if self.dry_run { "dry run, would have: " } else { "" },
            self.created,
            self.updated,
            self.deactivated,
            self.unchanged,
            self.failures.len(),
            self.skipped.len(),
            self.groups_created,
            self.groups_updated,
            self.seconds,
            self.requests,
            self.retries
        );
        for s in &self.skipped {
            out.push_str(&format!(
                "skipped line {}{}: {}\n",
                s.line,
                s.user_name.as_deref().map(|u| format!(" ({u})")).unwrap_or_default(),
                s.reason
            ));
        }
        for f in &self.failures {
            out.push_str(&format!(
                "failed{}{}: {} {}\n",
                f.line.map(|l| format!(" line {l}")).unwrap_or_default(),
                f.user_name.as_deref().map(|u| format!(" ({u})")).unwrap_or_default(),
                f.status,
                f.detail
            ));
        }
        out
    }
}

fn show(v: &Option<Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => other.to_string(),
    }
}

/// The plan, one line a change; with `verbose`, each path old -> new and each member.
pub fn plan_text(plan: &Plan, verbose: bool) -> String {
    let mut out = format!(
        "plan: create {}, update {}, deactivate {}, unchanged {}; groups create {}, update {}\n",
        plan.creates.len(),
        plan.updated_users(),
        plan.deactivations.len(),
        plan.unchanged,
        plan.group_creates.len(),
        plan.group_updates.len()
    );
    if !verbose {
        return out;
    }
    let name_of = |r: &UserRef, fallback: &str| match r {
        UserRef::New(c) => plan.creates.get(*c).map_or(fallback.to_string(), |c| c.user_name.clone()),
        UserRef::Existing(_) => fallback.to_string(),
    };
    for c in &plan.creates {
        out.push_str(&format!("create {} (line {})\n", c.user_name, c.line));
    }
    for u in &plan.updates {
        out.push_str(&format!("update {} (line {})\n", u.user_name, u.line));
        for ch in &u.changes {
            out.push_str(&format!("  {}: {} -> {}\n", ch.path, show(&ch.old), show(&ch.new)));
        }
    }
    for m in &plan.later_managers {
        out.push_str(&format!(
            "set manager of {} (line {}) to {} once created\n",
            m.user_name,
            m.line,
            name_of(&UserRef::New(m.manager), "?")
        ));
    }
    for d in &plan.deactivations {
        out.push_str(&format!("deactivate {}\n", d.user_name));
    }
    for g in &plan.group_creates {
        let names: Vec<&str> = g.members.iter().map(|(_, n)| n.as_str()).collect();
        out.push_str(&format!("create group {} with {}\n", g.display_name, names.join(", ")));
    }
    for g in &plan.group_updates {
        for (_, n) in &g.add {
            out.push_str(&format!("group {}: add {n}\n", g.display_name));
        }
        for (_, n) in &g.remove {
            out.push_str(&format!("group {}: remove {n}\n", g.display_name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_count_and_the_lists() {
        let s = Summary {
            created: 2,
            unchanged: 1,
            failures: vec![Failure { line: Some(4), user_name: Some("b@x".into()), status: 400, detail: "bad".into() }],
            skipped: vec![RowError { line: 3, user_name: None, external_id: None, reason: "no userName".into() }],
            ..Summary::default()
        };
        let v = s.to_json();
        for k in
            ["created", "updated", "deactivated", "unchanged", "failed", "skipped", "groups_created", "groups_updated"]
        {
            assert!(v[k].is_u64(), "{k}");
        }
        assert_eq!(
            (v["failed"].as_u64(), v["skipped"].as_u64(), v["dry_run"].as_bool()),
            (Some(1), Some(1), Some(false))
        );
        assert_eq!(v["failures"][0], json!({"line": 4, "userName": "b@x", "status": 400, "detail": "bad"}));
        assert_eq!(v["skipped_rows"][0]["line"], 3);
        assert_eq!(s.exit_code(), 1);
        assert_eq!(Summary::default().exit_code(), 0);
        assert!(s.text().contains("skipped line 3: no userName"));
        assert!(s.text().contains("failed line 4 (b@x): 400 bad"));
    }
}
