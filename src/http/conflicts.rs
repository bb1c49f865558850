//! `/api/jira/conflicts`: concurrent edits the inbound sync settled, for a
//! person to review and, if needed, settle the other way.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use super::body::{self, invalid};
use super::request::{query_pairs, read_json};
use super::sync::{page, uuid_cursor};
use super::work_items::{DEFAULT_LIMIT, one_of, parse_limit, write_error};
use super::{ApiError, AppState, json_response};
use crate::db::conflicts::{self as sql, ConflictFilter};
use crate::db::{sync as sync_sql, sync_admin, work_items};
use crate::domain::EntityKind;
use crate::domain::input::{self, InputError, Mode};

type HttpResult = Result<Response<Full<Bytes>>, ApiError>;

const CHOICES: &[&str] = &["arkhitekton", "jira", "applied"];

pub async fn list(state: &AppState, req: &Request<Incoming>) -> HttpResult {
    let mut filter = ConflictFilter::default();
    let mut limit = DEFAULT_LIMIT;
    for (name, value) in query_pairs(req) {
        match name.as_str() {
            "limit" => limit = parse_limit(&value)?,
            "cursor" => filter.after = Some(uuid_cursor(&value)?),
            "status" => filter.status = Some(one_of("status", &value, &["open", "resolved"])?),
            "arkhitektonId" => filter.arkhitekton_id = Some(value),
            other => {
                return Err(InputError::new(
                    "unknown_field",
                    other.to_owned(),
                    format!("unknown query parameter `{other}`; known: status, arkhitektonId, limit, cursor"),
                )
                .into());
            }
        }
    }
    let client = state.pool.get().await?;
    let rows = sql::list(&client, &filter, limit + 1).await?;
    let mut rows: Vec<_> = rows.into_iter().map(|(c, id)| (c.json, c.created_at, id)).collect();
    Ok(json_response(StatusCode::OK, &page(&mut rows, limit)))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no conflict with id `{id}`"))
}

pub async fn get(state: &AppState, id: &str) -> HttpResult {
    let uuid: Uuid = id.parse().map_err(|_| not_found(id))?;
    let client = state.pool.get().await?;
    let conflict = sql::get(&client, uuid).await?.ok_or_else(|| not_found(id))?;
    Ok(json_response(StatusCode::OK, &conflict.json))
}

/// Settles a conflict: `jira` writes Jira's version to the item as a change
/// from Jira (no push); `arkhitekton` writes ARKHITEKTON's version as an
/// ordinary edit and pushes it; `applied` keeps what the sync applied.
/// Either write is validated exactly like a PATCH.
pub async fn resolve(state: &AppState, id: &str, req: Request<Incoming>) -> HttpResult {
    let uuid: Uuid = id.parse().map_err(|_| not_found(id))?;
    let body = read_json(req, state.max_body_bytes).await?;
    let map = body::object(&body, &["choose"])?;
    let choice = body::req_str(map, "choose")?;
    if !CHOICES.contains(&choice) {
        return Err(invalid("choose", format!("`choose` must be one of: {}", CHOICES.join(", "))));
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let conflict = sql::lock(&tx, uuid).await?.ok_or_else(|| not_found(id))?;
    if conflict.status == "resolved" {
        return Err(ApiError::Conflict { code: "already_resolved", message: format!("conflict `{id}` is resolved") });
    }
    let kind = EntityKind::from_type_name(&conflict.arkhitekton_type)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("conflict {id} has an unknown type")))?;
    let version: Option<&Value> = match choice {
        "jira" => Some(&conflict.jira_version),
        "arkhitekton" => Some(&conflict.arkhitekton_version),
        _ => None,
    };
    if let Some(version) = version {
        if choice == "jira" {
            sync_sql::set_change_source(&tx, "jira").await?;
        }
        let patch = input::parse(kind, version, Mode::Patch)?;
        let item = &conflict.arkhitekton_id;
        let found = work_items::update(&tx, kind, item, &patch.assignments, &patch.sync)
            .await
            .map_err(|e| write_error(kind, e))?;
        if !found {
            return Err(ApiError::Conflict {
                code: "item_deleted",
                message: format!("`{item}` no longer exists; resolve with `applied`"),
            });
        }
    }
    sql::mark_resolved(&tx, uuid, choice).await?;
    tx.commit().await?;
    if choice == "arkhitekton" {
        // Even when the item already held these values (no edit, so no
        // trigger push), Jira must get them.
        sync_admin::enqueue_pushes(&client, &[(kind, conflict.arkhitekton_id.clone())]).await?;
    }
    let resolved = sql::get(&client, uuid).await?.ok_or_else(|| not_found(id))?;
    Ok(json_response(StatusCode::OK, &resolved.json))
}
