//! `GET` and `PUT /api/jira/projects/:key/settings`: a Jira project's value
//! maps (laid over the spec's defaults) and whether issues made in Jira
//! without an ARKHITEKTON ID are imported as new items.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use super::body::{self, invalid};
use super::request::read_json;
use super::{ApiError, AppState, json_response};
use crate::db::projects::{self as sql, ProjectSettings};
use crate::db::work_items::timestamp;
use crate::domain::input::is_project_key;
use crate::domain::{EntityKind, PRIORITIES, STATUSES};
use crate::sync::maps::MapOverrides;

type HttpResult = Result<Response<Full<Bytes>>, ApiError>;

fn checked_key(key: &str) -> Result<&str, ApiError> {
    if is_project_key(key) {
        Ok(key)
    } else {
        Err(ApiError::NotFound(format!("`{key}` is not a Jira project key (e.g. `PROJ`)")))
    }
}

fn settings_json(s: &ProjectSettings) -> Value {
    json!({
        "projectKey": s.project_key,
        "importUnmapped": s.import_unmapped,
        "maps": s.maps,
        "updatedAt": s.updated_at.map(timestamp),
    })
}

/// The project's settings (the defaults when none were stored).
pub async fn get(state: &AppState, key: &str) -> HttpResult {
    let key = checked_key(key)?;
    let client = state.pool.get().await?;
    Ok(json_response(StatusCode::OK, &settings_json(&sql::get(&client, key).await?)))
}

/// Sets `importUnmapped` and/or `maps`; a key left out keeps its value.
pub async fn put(state: &AppState, key: &str, req: Request<Incoming>) -> HttpResult {
    let key = checked_key(key)?;
    let body = read_json(req, state.max_body_bytes).await?;
    let map = body::object(&body, &["importUnmapped", "maps"])?;
    let import_unmapped = body::opt_bool(map, "importUnmapped")?;
    let maps = match map.get("maps") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(check_maps(m)?),
        Some(_) => return Err(body::wrong_type("maps", "an object")),
    };
    if import_unmapped.is_none() && maps.is_none() {
        return Err(body::missing("importUnmapped", "give `importUnmapped`, `maps` or both"));
    }
    let client = state.pool.get().await?;
    let stored = sql::upsert(&client, key, maps.as_ref(), import_unmapped).await?;
    Ok(json_response(StatusCode::OK, &settings_json(&stored)))
}

/// The overrides, checked: known keys, and ARKHITEKTON's side of each pair
/// one of its values (Jira's side is the site's own naming).
fn check_maps(m: &Map<String, Value>) -> Result<Value, ApiError> {
    let value = Value::Object(m.clone());
    let parsed: MapOverrides = serde_json::from_value(value.clone()).map_err(|e| {
        invalid(
            "maps",
            format!(
                "`maps` takes statusToJira, statusFromJira, priorityToJira, priorityFromJira and issueTypes, each an \
                 object of strings: {e}"
            ),
        )
    })?;
    let kinds: Vec<&str> = EntityKind::ALL.iter().map(|k| k.type_name()).collect();
    let checks: [(&str, Vec<&String>, &[&str]); 5] = [
        ("statusToJira", parsed.status_to_jira.keys().collect(), STATUSES),
        ("statusFromJira", parsed.status_from_jira.values().collect(), STATUSES),
        ("priorityToJira", parsed.priority_to_jira.keys().collect(), PRIORITIES),
        ("priorityFromJira", parsed.priority_from_jira.values().collect(), PRIORITIES),
        ("issueTypes", parsed.issue_types.keys().collect(), &kinds),
    ];
    for (name, ours, allowed) in checks {
        if let Some(bad) = ours.iter().find(|v| !allowed.contains(&v.as_str())) {
            return Err(invalid(
                &format!("maps.{name}"),
                format!("`{bad}` in `maps.{name}` is not one of: {}", allowed.join(", ")),
            ));
        }
    }
    let all_jira_names = parsed
        .status_to_jira
        .values()
        .chain(parsed.status_from_jira.keys())
        .chain(parsed.priority_to_jira.values())
        .chain(parsed.priority_from_jira.keys())
        .chain(parsed.issue_types.values());
    if all_jira_names.into_iter().any(|n| n.trim().is_empty()) {
        return Err(invalid("maps", "Jira names in `maps` cannot be empty"));
    }
    Ok(value)
}
