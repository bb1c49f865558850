//! Changelog items, as Jira records them and as webhooks carry them:
//! `{field, fieldtype, fieldId, from, fromString, to, toString}` where
//! `from`/`to` hold ids (status id, option id, account id) and the
//! `*String` forms hold what a person sees. Text fields carry only strings.

use serde_json::{Value, json};

use super::catalog::{self, Kind};
use super::config::Flavor;
use super::render::{View, dc_user_name};
use super::store::{Issue, Store};

/// Items for the difference between `old` (None on create) and `new`.
pub fn diff(view: &View, store: &Store, old: Option<&Issue>, new: &Issue) -> Vec<Value> {
    let mut items = Vec::new();
    let blank = blank_like(new);
    let old = old.unwrap_or(&blank);
    let pairs: [(&str, Option<String>, Option<String>); 5] = [
        ("issuetype", Some(old.issuetype.clone()), Some(new.issuetype.clone())),
        ("priority", Some(old.priority.clone()), Some(new.priority.clone())),
        ("status", Some(old.status.clone()), Some(new.status.clone())),
        ("resolution", old.resolution.clone(), new.resolution.clone()),
        ("assignee", old.assignee.clone(), new.assignee.clone()),
    ];
    for (id, from, to) in pairs {
        if from != to || (std::ptr::eq(old, &blank) && to.is_some() && id != "issuetype") {
            items.push(reference_item(view, id, from.as_deref(), to.as_deref(), std::ptr::eq(old, &blank)));
        }
    }
    if old.reporter != new.reporter {
        items.push(reference_item(view, "reporter", old.reporter.as_deref(), new.reporter.as_deref(), false));
    }
    let mut keys: Vec<&String> = old.fields.keys().chain(new.fields.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (a, b) = (old.field(key), new.field(key));
        if a != b {
            items.push(value_item(store, key, a, b));
        }
    }
    items
}

/// An issue with nothing set, so that a create diffs as "everything new".
fn blank_like(issue: &Issue) -> Issue {
    Issue {
        status: String::new(),
        priority: String::new(),
        reporter: None,
        assignee: None,
        resolution: None,
        fields: Default::default(),
        ..issue.clone()
    }
}

fn item(field: String, fieldtype: &str, id: &str, from: Value, from_s: Value, to: Value, to_s: Value) -> Value {
    json!({
        "field": field, "fieldtype": fieldtype, "fieldId": id,
        "from": from, "fromString": from_s, "to": to, "toString": to_s,
    })
}

fn opt(s: Option<String>) -> Value {
    s.map_or(Value::Null, Value::String)
}

/// Fields whose changelog carries ids in `from`/`to`.
fn reference_item(view: &View, id: &str, from: Option<&str>, to: Option<&str>, creating: bool) -> Value {
    let name = |v: Option<&str>| -> Option<String> {
        let v = v.filter(|v| !v.is_empty())?;
        Some(match id {
            "status" => catalog::status(v).name.to_string(),
            "priority" => catalog::priority(v).map_or(v, |p| p.1).to_string(),
            "issuetype" => catalog::issue_type(v).map_or(v, |t| t.name).to_string(),
            "assignee" | "reporter" => view.sim.user(v).map_or(v.to_string(), |u| u.display_name.clone()),
            _ => v.to_string(),
        })
    };
    let from = from.filter(|v| !v.is_empty());
    // Jira names the status field "Status" in the create changelog only.
    let field = if id == "status" && creating { "Status".to_string() } else { catalog::field_display_name(id) };
    let ids = |v: Option<&str>| {
        if id == "resolution" {
            v.map(|r| if r == "Done" { "10000" } else { "10001" }.to_string())
        } else {
            v.map(str::to_string)
        }
    };
    let people = id == "assignee" || id == "reporter";
    if people && view.sim.config.flavor == Flavor::Datacenter {
        // Data Center names people by user key, and has no account ids.
        let key = |v: Option<&str>| opt(v.and_then(|a| view.sim.user(a)).map(|u| dc_user_name(u).to_string()));
        return item(field, "jira", id, key(from), opt(name(from)), key(to), opt(name(to)));
    }
    let mut v = item(field, "jira", id, opt(ids(from)), opt(name(from)), opt(ids(to)), opt(name(to)));
    if people {
        v["tmpFromAccountId"] = opt(from.map(str::to_string));
        v["tmpToAccountId"] = opt(to.map(str::to_string));
    }
    v
}

/// Fields stored as values: text carries only strings; selects, parents
/// and Epic Links carry ids too.
fn value_item(store: &Store, id: &str, a: Option<&Value>, b: Option<&Value>) -> Value {
    let custom = catalog::custom_field(id);
    let fieldtype = if custom.is_some() || id == catalog::EPIC_LINK { "custom" } else { "jira" };
    let field = catalog::field_display_name(id);
    let text = |v: Option<&Value>| v.map_or(Value::Null, |v| Value::String(as_text(v)));
    match custom.map(|c| c.kind) {
        Some(Kind::Select(options)) => {
            let oid = |v: Option<&Value>| {
                v.and_then(Value::as_str)
                    .map_or(Value::Null, |s| Value::String(super::render::option_id(id, options, s)))
            };
            item(field, fieldtype, id, oid(a), text(a), oid(b), text(b))
        }
        _ if id == "parent" || id == catalog::EPIC_LINK => {
            let iid = |v: Option<&Value>| {
                v.and_then(Value::as_str)
                    .and_then(|k| store.find(k))
                    .map(|i| i.id.to_string())
                    .map_or(Value::Null, Value::String)
            };
            item(field, fieldtype, id, iid(a), text(a), iid(b), text(b))
        }
        _ => item(field, fieldtype, id, Value::Null, text(a), Value::Null, text(b)),
    }
}

/// The string form Jira shows: wiki for rich text, space-joined labels.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
        Value::Object(_) => super::wiki::from_adf(v),
        other => other.to_string(),
    }
}
