//! Running a `Query`: which issues match, in which order, and whether a
//! dynamic webhook may use it.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Clause, Op, Query};
use crate::jira_sim::catalog;
use crate::jira_sim::store::Issue;

impl Query {
    /// Unbounded queries are refused by `/search/jql`, as on Jira Cloud.
    pub fn is_bounded(&self) -> bool {
        !self.clauses.is_empty()
    }

    /// Why a dynamic webhook may not use this filter, if it may not: Jira
    /// accepts only `=`, `!=`, `IN`, `NOT IN` over issue key, project,
    /// issue type and status there (plus people, issue properties and the
    /// epic label, which the simulator does not model), and no ORDER BY.
    pub fn webhook_filter_error(&self) -> Option<String> {
        if let Some(c) = self.clauses.iter().find(|c| !["project", "key", "issuetype", "status"].contains(&&*c.field)) {
            return Some(format!("The clause {} is unsupported", c.field));
        }
        if let Some(c) = self.clauses.iter().find(|c| !matches!(c.op, Op::Eq | Op::Ne | Op::In | Op::NotIn)) {
            return Some(format!("The operator in the clause {} is unsupported; use =, !=, IN or NOT IN", c.field));
        }
        (!self.order.is_empty()).then(|| "ORDER BY is unsupported in a webhook filter".to_string())
    }

    pub fn project_keys(&self) -> Vec<&str> {
        self.clauses.iter().filter(|c| c.field == "project").flat_map(|c| c.values.iter().map(String::as_str)).collect()
    }

    pub fn matches(&self, issue: &Issue) -> bool {
        self.clauses.iter().all(|c| clause_matches(c, issue))
    }

    /// Sorts by the ORDER BY fields (default: created DESC, then key).
    pub fn sort(&self, issues: &mut [&Issue]) {
        let order = if self.order.is_empty() { vec![("created".to_string(), true)] } else { self.order.clone() };
        issues.sort_by(|a, b| {
            for (field, desc) in &order {
                let ord = sort_key(a, field).cmp(&sort_key(b, field));
                let ord = if *desc { ord.reverse() } else { ord };
                if ord.is_ne() {
                    return ord;
                }
            }
            a.id.cmp(&b.id)
        });
    }
}

fn sort_key(issue: &Issue, field: &str) -> (i64, String) {
    match field {
        "updated" => (issue.updated.timestamp_millis(), String::new()),
        "created" => (issue.created.timestamp_millis(), String::new()),
        "key" => (issue.id as i64, String::new()),
        other => (0, field_strings(issue, other).join(",")),
    }
}

/// Values of a field as strings, for equality and `~`.
fn field_strings(issue: &Issue, field: &str) -> Vec<String> {
    match field {
        "project" => vec![issue.project.clone()],
        "key" => vec![issue.key.clone(), issue.id.to_string()],
        "issuetype" => catalog::issue_type(&issue.issuetype)
            .map(|t| vec![t.name.to_string(), t.id.to_string()])
            .unwrap_or_default(),
        "status" => vec![catalog::status(&issue.status).name.to_string(), issue.status.clone()],
        "priority" => {
            catalog::priority(&issue.priority).map(|p| vec![p.1.to_string(), p.0.to_string()]).unwrap_or_default()
        }
        _ => match issue.field(field) {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Object(_)) => vec![crate::jira_sim::wiki::from_adf(issue.field(field).unwrap_or(&Value::Null))],
            Some(other) => vec![other.to_string()],
            None => Vec::new(),
        },
    }
}

fn clause_matches(c: &Clause, issue: &Issue) -> bool {
    if c.field == "updated" || c.field == "created" {
        return date_matches(c, if c.field == "updated" { issue.updated } else { issue.created });
    }
    let have = field_strings(issue, &c.field);
    let eq = |v: &String| have.iter().any(|h| h.eq_ignore_ascii_case(v));
    let like = |v: &String| {
        let needle = v.trim_matches('*').to_lowercase();
        have.iter().any(|h| h.to_lowercase().contains(&needle))
    };
    match c.op {
        Op::Eq => eq(&c.values[0]),
        Op::Ne => !eq(&c.values[0]),
        Op::In => c.values.iter().any(eq),
        Op::NotIn => !c.values.iter().any(eq),
        Op::Like => like(&c.values[0]),
        Op::NotLike => !like(&c.values[0]),
        _ => false,
    }
}

/// Compares at minute precision, as Jira does: `updated >= "16:38"` includes
/// an issue updated at 16:38:59.
fn date_matches(c: &Clause, t: DateTime<Utc>) -> bool {
    let Some(v) = c.values.first().and_then(|v| DateTime::parse_from_rfc3339(v).ok()) else {
        return false;
    };
    let minute = |d: DateTime<Utc>| d.timestamp() / 60;
    let (a, b) = (minute(t), minute(v.with_timezone(&Utc)));
    match c.op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        _ => false,
    }
}
