//! `GET|POST /issue/{key}/transitions`: status changes go through the
//! workflow (`catalog::TRANSITIONS`), never through `PUT`. A transition
//! unavailable from the current status, or one whose screen needs a field
//! the request lacks, is rejected the way Jira rejects it.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::catalog::{self, Transition};
use super::config::SimUser;
use super::fields::{Input, Mode};
use super::http::{ApiError, ApiResult, Req, empty, json_response};
use super::issues;
use super::render::View;
use super::state::{Sim, lock};
use super::webhooks;

fn available(t: &Transition, status: &str) -> bool {
    t.from.is_empty() || t.from.contains(&status)
}

/// The screen fields a transition requires, from configuration.
fn required_fields<'a>(sim: &'a Sim, t: &Transition) -> Vec<&'a str> {
    sim.config
        .screen_requirements
        .iter()
        .filter(|r| r.transition_name.eq_ignore_ascii_case(t.name))
        .map(|r| r.field_id.as_str())
        .collect()
}

pub fn list(sim: &Sim, req: &Req, id_or_key: &str) -> ApiResult {
    let store = lock(&sim.store);
    let issue = store.find(id_or_key).ok_or_else(ApiError::issue_not_found)?;
    let include_unavailable = req.param("includeUnavailableTransitions") == Some("true");
    let with_fields = req.param("expand").is_some_and(|e| e.contains("transitions.fields"));
    let view = View { sim, version: sim.api_version() };
    let transitions: Vec<Value> = catalog::TRANSITIONS
        .iter()
        .filter(|t| req.param("transitionId").is_none_or(|id| id == t.id))
        .filter(|t| include_unavailable || available(t, &issue.status))
        .map(|t| transition_json(sim, &view, t, available(t, &issue.status), with_fields))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "expand": "transitions", "transitions": transitions })))
}

fn transition_json(sim: &Sim, view: &View, t: &Transition, is_available: bool, with_fields: bool) -> Value {
    let required = required_fields(sim, t);
    let mut v = json!({
        "id": t.id, "name": t.name, "to": view.status(t.to),
        "hasScreen": !required.is_empty(), "isGlobal": t.from.is_empty(), "isInitial": false,
        "isAvailable": is_available, "isConditional": false, "looped": false,
    });
    if with_fields {
        let fields: serde_json::Map<String, Value> = required
            .iter()
            .map(|f| {
                let meta = json!({
                    "required": true, "name": catalog::field_display_name(f), "key": f,
                    "operations": ["set"], "schema": { "type": "string", "system": f },
                });
                (f.to_string(), meta)
            })
            .collect();
        v["fields"] = Value::Object(fields);
    }
    v
}

pub fn perform(sim: &Sim, actor: &SimUser, req: &Req, id_or_key: &str) -> ApiResult {
    let body = req.json()?;
    let wanted = body
        .pointer("/transition/id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| body.pointer("/transition/id").and_then(Value::as_u64).map(|n| n.to_string()));
    let wanted = wanted.ok_or_else(|| ApiError::bad_request("Missing 'transition' identifier"))?;
    let mut store = lock(&sim.store);
    let old = store.find(id_or_key).ok_or_else(ApiError::issue_not_found)?.clone();
    let t = catalog::TRANSITIONS
        .iter()
        .find(|t| t.id == wanted && available(t, &old.status))
        .ok_or_else(|| ApiError::bad_request(format!("Transition id '{wanted}' is not valid for this issue.")))?;
    let screen = required_fields(sim, t);
    check_screen(&screen, &body)?;
    for field in screen {
        if body.pointer(&format!("/fields/{field}")).is_none_or(Value::is_null) {
            let name = catalog::field_display_name(field);
            return Err(ApiError::field(field, format!("{} is required.", capitalise(&name))));
        }
    }
    let mut new = old.clone();
    Input { sim, store: &store, mode: Mode::Transition }.apply(&mut new, &body)?;
    let now = store.write_time(sim.clock.now());
    move_to(&mut new, t.to, now);
    let event = issues::record(sim, &mut store, actor, Some(&old), new, now);
    sim.persist(&store);
    drop(store);
    webhooks::emit(sim, event);
    Ok(empty(StatusCode::NO_CONTENT))
}

/// A transition sets only the fields on its screen: Jira refuses any other
/// field in `fields` (a transition without a screen takes none, not even
/// `resolution`), each error keyed by the field as on an edit.
fn check_screen(screen: &[&str], body: &Value) -> Result<(), ApiError> {
    let Some(fields) = body.get("fields").and_then(Value::as_object) else { return Ok(()) };
    let errors: serde_json::Map<String, Value> = fields
        .keys()
        .filter(|id| !screen.contains(&id.as_str()))
        .map(|id| {
            (id.clone(), json!(format!("Field '{id}' cannot be set. It is not on the appropriate screen, or unknown.")))
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(ApiError::BadRequest { messages: Vec::new(), errors }) }
}

/// Moves to `status`, keeping resolution consistent with the category as
/// Jira's default post-functions do.
fn move_to(issue: &mut super::store::Issue, status: &str, now: chrono::DateTime<chrono::Utc>) {
    let from_cat = catalog::status(&issue.status).category;
    let to = catalog::status(status);
    issue.status = to.id.to_string();
    if from_cat != to.category {
        issue.status_changed = now;
    }
    if to.category == 3 {
        if issue.resolution.is_none() {
            issue.resolution = Some(if to.name == "Done" { "Done" } else { "Won't Do" }.to_string());
        }
        issue.resolved = Some(now);
    } else {
        issue.resolution = None;
        issue.resolved = None;
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}
