//! Create metadata: `GET /issue/createmeta/{projectIdOrKey}/issuetypes`
//! and `…/issuetypes/{issueTypeId}`, as Cloud and Data Center (8.4+) serve
//! them: pages (`startAt`, `maxResults`, default 50) of the project's issue
//! types, and of the fields an issue type takes with their `allowedValues`
//! (select-list options, priorities). Cloud names the items `issueTypes`
//! and `fields`; Data Center `values`, with `isLast`.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::catalog::{self, Kind};
use super::config::Flavor;
use super::http::{ApiError, ApiResult, Req, json_response};
use super::render::{View, option_id};
use super::state::Sim;

/// Fields Jira sets by itself: not on a create screen.
const NOT_SETTABLE: &[&str] = &["status", "creator", "created", "updated", "resolutiondate", "issuelinks"];

pub fn issue_types(sim: &Sim, req: &Req, project: &str) -> ApiResult {
    project_key(sim, project)?;
    let view = View { sim, version: sim.api_version() };
    let types: Vec<Value> = catalog::ISSUE_TYPES.iter().map(|t| view.issue_type(t.id)).collect();
    Ok(json_response(StatusCode::OK, &page(sim, req, types, "issueTypes")))
}

pub fn fields(sim: &Sim, req: &Req, project: &str, type_id: &str) -> ApiResult {
    let key = project_key(sim, project)?;
    let t = catalog::ISSUE_TYPES
        .iter()
        .find(|t| t.id == type_id)
        .ok_or_else(|| ApiError::NotFound(format!("Issue type with id '{type_id}' does not exist.")))?;
    let view = View { sim, version: sim.api_version() };
    let fields: Vec<Value> = catalog::fields_json(sim.config.flavor)
        .into_iter()
        .filter(|f| f["id"].as_str().is_some_and(|id| !NOT_SETTABLE.contains(&id)))
        .map(|f| field(&view, &key, t.id, &f))
        .collect();
    Ok(json_response(StatusCode::OK, &page(sim, req, fields, "fields")))
}

fn project_key(sim: &Sim, id_or_key: &str) -> Result<String, ApiError> {
    sim.project_key(id_or_key)
        .ok_or_else(|| ApiError::NotFound(format!("No project could be found with key '{id_or_key}'.")))
}

/// One field of the create screen, from its `/field` entry.
fn field(view: &View<'_>, project: &str, type_id: &str, f: &Value) -> Value {
    let id = f["id"].as_str().unwrap_or_default();
    let required = matches!(id, "summary" | "issuetype" | "project");
    let operations = match id {
        "labels" => json!(["add", "set", "remove"]),
        _ => json!(["set"]),
    };
    let mut out = json!({
        "fieldId": id, "key": f["key"], "name": f["name"], "schema": f["schema"], "required": required,
        "operations": operations, "hasDefaultValue": id == "priority",
    });
    let allowed: Option<Vec<Value>> = match id {
        "priority" => Some(catalog::PRIORITIES.iter().map(|(pid, _)| view.priority(pid)).collect()),
        "issuetype" => Some(vec![view.issue_type(type_id)]),
        "project" => Some(vec![view.project(project)]),
        _ => match catalog::custom_field(id).map(|c| c.kind) {
            Some(Kind::Select(options)) => Some(
                options
                    .iter()
                    .map(|o| {
                        let oid = option_id(id, options, o);
                        json!({"self": format!("{}/customFieldOption/{oid}", view.api()), "value": o, "id": oid})
                    })
                    .collect(),
            ),
            _ => None,
        },
    };
    if let Some(allowed) = allowed {
        out["allowedValues"] = json!(allowed);
    }
    if id == "priority" {
        out["defaultValue"] = view.priority("3");
    }
    out
}

/// One page of `items`, in the flavour's shape.
fn page(sim: &Sim, req: &Req, items: Vec<Value>, cloud_key: &str) -> Value {
    let start = req.param("startAt").and_then(|s| s.parse().ok()).unwrap_or(0usize);
    let max = req.param("maxResults").and_then(|s| s.parse().ok()).unwrap_or(50usize).clamp(1, 200);
    let total = items.len();
    let shown: Vec<Value> = items.into_iter().skip(start).take(max).collect();
    let last = start + shown.len() >= total;
    match sim.config.flavor {
        Flavor::Cloud => json!({"startAt": start, "maxResults": max, "total": total, cloud_key: shown}),
        Flavor::Datacenter => {
            json!({"startAt": start, "maxResults": max, "total": total, "isLast": last, "values": shown})
        }
    }
}
