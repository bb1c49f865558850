//! `/issue` handlers: create, get, edit, delete, and issue links (the bulk
//! create, in `bulk`, creates each element through [`create_one`]). Every
//! change records a changelog entry and emits a webhook event, whoever
//! makes it (Jira does not spare the integration's own edits).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use hyper::StatusCode;
use serde_json::{Value, json};

use super::changelog;
use super::config::SimUser;
use super::fields::{Input, Mode};
use super::http::{ApiError, ApiResult, Req, empty, json_response};
use super::render::{self, View};
use super::state::{Sim, lock};
use super::store::{Issue, Store};
use super::webhooks::{self, Event};

/// Which fields a `fields=` parameter selects: `*all`, `*navigable`, a list
/// of ids, and `-id` exclusions.
pub struct FieldFilter {
    all: bool,
    only: HashSet<String>,
    except: HashSet<String>,
}

impl FieldFilter {
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>, default_all: bool) -> Self {
        let mut f = FieldFilter { all: false, only: HashSet::new(), except: HashSet::new() };
        let mut any = false;
        for item in items.into_iter().map(str::trim).filter(|s| !s.is_empty()) {
            any = true;
            match item {
                "*all" | "*navigable" => f.all = true,
                s if s.starts_with('-') => {
                    f.except.insert(s[1..].to_string());
                }
                s => {
                    f.only.insert(s.to_string());
                }
            }
        }
        if !any || f.only.is_empty() && !f.except.is_empty() {
            f.all = f.all || default_all || !f.except.is_empty();
        }
        f
    }

    pub fn includes(&self, id: &str) -> bool {
        !self.except.contains(id) && (self.all || self.only.contains(id))
    }

    /// True when only `id` was asked for (the `/search/jql` default).
    pub fn id_only(&self) -> bool {
        !self.all && self.only.iter().all(|f| f == "id")
    }
}

pub fn create(sim: &Sim, actor: &SimUser, req: &Req) -> ApiResult {
    let created = create_one(sim, actor, &req.json()?)?;
    Ok(json_response(StatusCode::CREATED, &created))
}

/// Validates one create body (`{"fields": …, "update": …}`), stores the
/// issue, emits `jira:issue_created` and returns `{id, key, self}`. The
/// single create and each element of the bulk create go through here, so
/// both validate, number and announce issues the same way.
pub fn create_one(sim: &Sim, actor: &SimUser, body: &Value) -> Result<Value, ApiError> {
    let fields =
        body.get("fields").and_then(Value::as_object).ok_or_else(|| ApiError::bad_request("fields are required"))?;
    let project = fields
        .get("project")
        .and_then(|p| p.get("key").or_else(|| p.get("id")))
        .and_then(Value::as_str)
        .and_then(|p| sim.project_key(p))
        .ok_or_else(|| ApiError::field("project", "Specify a valid project ID or key"))?;
    let issuetype = fields
        .get("issuetype")
        .and_then(|t| t.get("id").or_else(|| t.get("name")))
        .and_then(Value::as_str)
        .and_then(super::catalog::issue_type)
        .ok_or_else(|| ApiError::field("issuetype", "Specify an issue type"))?;
    if !fields.contains_key("summary") {
        return Err(ApiError::field("summary", "You must specify a summary of the issue."));
    }
    let mut store = lock(&sim.store);
    let now = store.write_time(sim.clock.now());
    let mut issue = new_issue(&project, issuetype.id, actor, now);
    Input { sim, store: &store, mode: Mode::Create }.apply(&mut issue, body)?;
    let (id, key) = store.allocate(&project);
    issue.id = id;
    issue.key = key.clone();
    let event = record(sim, &mut store, actor, None, issue, now);
    sim.persist(&store);
    drop(store);
    webhooks::emit(sim, event);
    let view = View { sim, version: sim.api_version() };
    Ok(json!({ "id": id.to_string(), "key": key, "self": view.issue_self(id) }))
}

fn new_issue(project: &str, issuetype: &str, actor: &SimUser, now: DateTime<Utc>) -> Issue {
    Issue {
        id: 0,
        key: String::new(),
        project: project.to_string(),
        issuetype: issuetype.to_string(),
        status: "10000".into(),
        priority: "3".into(),
        creator: actor.account_id.clone(),
        reporter: Some(actor.account_id.clone()),
        assignee: None,
        resolution: None,
        created: now,
        updated: now,
        status_changed: now,
        resolved: None,
        fields: Default::default(),
    }
}

/// Stores `new` (bumping `updated` to `now`), records its changelog and
/// returns the webhook event. `old` is None for a create.
pub fn record(
    sim: &Sim,
    store: &mut Store,
    actor: &SimUser,
    old: Option<&Issue>,
    mut new: Issue,
    now: DateTime<Utc>,
) -> Event {
    let view = View { sim, version: 2 };
    new.updated = now;
    let items = changelog::diff(&view, store, old, &new);
    if old.is_some() {
        store.replace(new.clone());
    } else {
        store.insert(new.clone());
    }
    let history = store.record_history(new.id, &actor.account_id, now, items.clone());
    let (name, type_name) = event_names(old.is_none(), &items);
    let payload_issue = view.issue(store, &new, &|_| true);
    Event {
        name,
        type_name,
        issue: new,
        issue_json: payload_issue,
        user: actor.account_id.clone(),
        timestamp: now,
        changelog: Some((history, items)),
    }
}

/// `issue_generic` marks a status change, `issue_assigned` an assignee-only
/// change, as Jira's event types do.
fn event_names(created: bool, items: &[Value]) -> (&'static str, &'static str) {
    let ids: Vec<&str> = items.iter().filter_map(|i| i["fieldId"].as_str()).collect();
    if created {
        ("jira:issue_created", "issue_created")
    } else if ids.contains(&"status") {
        ("jira:issue_updated", "issue_generic")
    } else if ids == ["assignee"] {
        ("jira:issue_updated", "issue_assigned")
    } else {
        ("jira:issue_updated", "issue_updated")
    }
}

pub fn get(sim: &Sim, req: &Req, id_or_key: &str) -> ApiResult {
    let store = lock(&sim.store);
    let issue = store.find(id_or_key).ok_or_else(ApiError::issue_not_found)?;
    let filter = FieldFilter::parse(req.param("fields").unwrap_or("").split(','), true);
    let view = View { sim, version: sim.api_version() };
    let mut body = view.issue(&store, issue, &|f| filter.includes(f));
    add_expansions(&view, &store, issue, req.param("expand").unwrap_or(""), &mut body);
    Ok(json_response(StatusCode::OK, &body))
}

/// `expand=changelog` and `expand=names`, the expansions a sync uses.
pub fn add_expansions(view: &View, store: &Store, issue: &Issue, expand: &str, body: &mut Value) {
    let wanted: Vec<&str> = expand.split(',').map(str::trim).collect();
    if wanted.contains(&"names") {
        let names: serde_json::Map<String, Value> = body["fields"]
            .as_object()
            .map(|f| f.keys().map(|k| (k.clone(), json!(super::catalog::field_display_name(k)))).collect())
            .unwrap_or_default();
        body["names"] = Value::Object(names);
    }
    if wanted.contains(&"changelog") {
        let histories: Vec<Value> = store
            .histories
            .get(&issue.id)
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        let items: Vec<Value> = h.items.iter().map(rest_item).collect();
                        json!({ "id": h.id.to_string(), "author": view.user_by_id(Some(&h.author)), "created": super::clock::jira_time(h.created), "items": items })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let n = histories.len();
        body["changelog"] = json!({ "startAt": 0, "maxResults": n, "total": n, "histories": histories });
    }
}

/// REST changelog items omit empty values and the webhook-only
/// `tmpFromAccountId`/`tmpToAccountId` (`ChangeDetails` allows neither).
fn rest_item(item: &Value) -> Value {
    let kept = item
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, v)| !v.is_null() && !k.starts_with("tmp"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Value::Object(kept)
}

pub fn edit(sim: &Sim, actor: &SimUser, req: &Req, id_or_key: &str) -> ApiResult {
    let body = req.json()?;
    let mut store = lock(&sim.store);
    let old = store.find(id_or_key).ok_or_else(ApiError::issue_not_found)?.clone();
    let mut new = old.clone();
    Input { sim, store: &store, mode: Mode::Edit }.apply(&mut new, &body)?;
    let event = if new == old {
        None
    } else {
        let now = store.write_time(sim.clock.now());
        Some(record(sim, &mut store, actor, Some(&old), new, now))
    };
    sim.persist(&store);
    let returned = (req.param("returnIssue") == Some("true")).then(|| {
        let view = View { sim, version: sim.api_version() };
        view.issue(&store, store.find(id_or_key).unwrap_or(&old), &|_| true)
    });
    drop(store);
    if let Some(event) = event {
        webhooks::emit(sim, event);
    }
    Ok(match returned {
        Some(issue) => json_response(StatusCode::OK, &issue),
        None => empty(StatusCode::NO_CONTENT),
    })
}

pub fn delete(sim: &Sim, actor: &SimUser, req: &Req, id_or_key: &str) -> ApiResult {
    let mut store = lock(&sim.store);
    let issue = store.find(id_or_key).ok_or_else(ApiError::issue_not_found)?.clone();
    let view = View { sim, version: 2 };
    let subtasks =
        store.issues.values().filter(|i| i.field("parent").and_then(Value::as_str) == Some(&issue.key)).count();
    if subtasks > 0 && req.param("deleteSubtasks") != Some("true") {
        return Err(ApiError::bad_request(format!(
            "The issue '{}' has subtasks. Use deleteSubtasks=true to delete them.",
            issue.key
        )));
    }
    let payload_issue = view.issue(&store, &issue, &|_| true);
    store.remove(issue.id);
    let now = store.write_time(sim.clock.now());
    sim.persist(&store);
    drop(store);
    let event = Event {
        name: "jira:issue_deleted",
        type_name: "issue_deleted",
        issue,
        issue_json: payload_issue,
        user: actor.account_id.clone(),
        timestamp: now,
        changelog: None,
    };
    webhooks::emit(sim, event);
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST /issueLink`: links two issues; both get a `Link` changelog entry.
pub fn link(sim: &Sim, actor: &SimUser, req: &Req) -> ApiResult {
    let body = req.json()?;
    let type_name = body.pointer("/type/name").and_then(Value::as_str).unwrap_or("");
    let (_, inward_text, outward_text) = render::link_type_parts(type_name)
        .ok_or_else(|| ApiError::NotFound(format!("No issue link type with name '{type_name}' found.")))?;
    let mut store = lock(&sim.store);
    let find = |side: &str| -> Result<Issue, ApiError> {
        let k = body.get(side).and_then(|i| i.get("key").or_else(|| i.get("id"))).and_then(Value::as_str).unwrap_or("");
        store.find(k).cloned().ok_or_else(|| ApiError::NotFound(format!("Issue Does Not Exist: {k}")))
    };
    let (inward, outward) = (find("inwardIssue")?, find("outwardIssue")?);
    if inward.id == outward.id {
        return Err(ApiError::bad_request("You cannot link an issue to itself."));
    }
    store.add_link(type_name, inward.id, outward.id);
    let now = store.write_time(sim.clock.now());
    let (inward_key, outward_key) = (inward.key.clone(), outward.key.clone());
    let events = [
        (inward, format!("This issue {outward_text} {outward_key}"), outward_key.clone()),
        (outward, format!("This issue {inward_text} {inward_key}"), inward_key),
    ]
    .map(|(issue, text, to)| link_event(sim, &mut store, actor, issue, &text, &to, now));
    sim.persist(&store);
    drop(store);
    events.into_iter().for_each(|e| webhooks::emit(sim, e));
    Ok(empty(StatusCode::CREATED))
}

fn link_event(
    sim: &Sim,
    store: &mut Store,
    actor: &SimUser,
    mut issue: Issue,
    text: &str,
    to: &str,
    now: DateTime<Utc>,
) -> Event {
    let view = View { sim, version: 2 };
    issue.updated = now;
    store.replace(issue.clone());
    let item = json!({ "field": "Link", "fieldtype": "jira", "fieldId": "issuelinks", "from": null, "fromString": null, "to": to, "toString": text });
    let history = store.record_history(issue.id, &actor.account_id, now, vec![item.clone()]);
    let issue_json = view.issue(store, &issue, &|_| true);
    Event {
        name: "jira:issue_updated",
        type_name: "issue_updated",
        issue,
        issue_json,
        user: actor.account_id.clone(),
        timestamp: now,
        changelog: Some((history, vec![item])),
    }
}
