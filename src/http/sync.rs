//! Sync management of single items and of the whole sync:
//! `POST /api/{collection}/:id/sync-to-jira`,
//! `GET /api/{collection}/:id/sync-history`, `GET /api/jira/sync/stats` and
//! `POST /api/jira/sync/retry-failed`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::body::{self, invalid, missing};
use super::request::query_pairs;
use super::work_items::{DEFAULT_LIMIT, decode_cursor, encode_cursor, not_found, parse_limit};
use super::{ApiError, AppState, json_response};
use crate::db::{sync_admin, work_items};
use crate::domain::input::{InputError, is_project_key};
use crate::domain::{EntityKind, ids};

type HttpResult = Result<Response<Full<Bytes>>, ApiError>;

/// Retries per call when the client names no limit, and the most it may.
const DEFAULT_RETRY_LIMIT: i64 = 100;
const MAX_RETRY_LIMIT: i64 = 1000;

/// Marks the item for sync and enqueues a push even when nothing changed.
/// A manual trigger always pushes the item's whole state, not only what
/// changed since the last sync (`forceUpdate` is accepted and is what
/// always happens): it repairs an issue edited while its webhooks were lost.
pub async fn sync_to_jira(state: &AppState, kind: EntityKind, id: &str, req: Request<Incoming>) -> HttpResult {
    if !ids::is_valid(kind, id) {
        return Err(not_found(kind, id));
    }
    let body = body::read_json_or_empty(req, state.max_body_bytes).await?;
    let map = body::object(&body, &["jiraProjectKey", "forceUpdate"])?;
    let project = body::opt_str(map, "jiraProjectKey")?;
    body::opt_bool(map, "forceUpdate")?;
    if let Some(p) = project.filter(|p| !is_project_key(p)) {
        return Err(invalid("jiraProjectKey", format!("`{p}` is not a Jira project key (e.g. `PROJ`)")));
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let (stored, linked) = work_items::lock_sync_target(&tx, kind, id).await?.ok_or_else(|| not_found(kind, id))?;
    if project.is_none() && stored.is_none() && linked.is_none() {
        return Err(missing(
            "jiraProjectKey",
            "`jiraProjectKey` is required to sync an item that has none and is not linked to a Jira issue",
        ));
    }
    sync_admin::set_sync_intent(&tx, kind, id, project).await?;
    crate::db::sync::forget_synced_fields(&tx, id).await?;
    tx.commit().await?;
    // After the commit, so a push already waiting (reused) reads this state.
    let jobs = sync_admin::enqueue_pushes(&client, &[(kind, id.to_owned())]).await?;
    let item = work_items::get(&client, kind, id, state.jira_base_url.as_deref()).await?;
    Ok(json_response(StatusCode::ACCEPTED, &json!({ "jobId": jobs.first().map(|(_, job)| job), "item": item })))
}

pub async fn stats(state: &AppState) -> HttpResult {
    let client = state.pool.get().await?;
    Ok(json_response(StatusCode::OK, &sync_admin::stats(&client).await?))
}

/// Re-enqueues the pushes of items whose sync is in error, oldest first.
pub async fn retry_failed(state: &AppState, req: Request<Incoming>) -> HttpResult {
    let body = body::read_json_or_empty(req, state.max_body_bytes).await?;
    let map = body::object(&body, &["limit"])?;
    let limit = body::opt_int(map, "limit", 1..=MAX_RETRY_LIMIT)?.unwrap_or(DEFAULT_RETRY_LIMIT);
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let items = sync_admin::failed_items(&tx, limit).await?;
    for kind in EntityKind::ALL {
        let ids: Vec<&str> = items.iter().filter(|(k, _)| *k == kind).map(|(_, id)| id.as_str()).collect();
        if !ids.is_empty() {
            sync_admin::mark_pending(&tx, kind, &ids).await?;
        }
    }
    tx.commit().await?;
    let jobs = sync_admin::enqueue_pushes(&client, &items).await?;
    let ids: Vec<&str> = items.iter().map(|(_, id)| id.as_str()).collect();
    Ok(json_response(StatusCode::OK, &json!({ "retried": jobs.len(), "ids": ids })))
}

/// The item's sync log, newest first, paged like the lists.
pub async fn history(state: &AppState, kind: EntityKind, id: &str, req: &Request<Incoming>) -> HttpResult {
    if !ids::is_valid(kind, id) {
        return Err(not_found(kind, id));
    }
    let mut limit = DEFAULT_LIMIT;
    let mut after = None;
    for (name, value) in query_pairs(req) {
        match name.as_str() {
            "limit" => limit = parse_limit(&value)?,
            "cursor" => after = Some(uuid_cursor(&value)?),
            other => {
                return Err(InputError::new(
                    "unknown_field",
                    other.to_owned(),
                    format!("unknown query parameter `{other}`; known: limit, cursor"),
                )
                .into());
            }
        }
    }
    let client = state.pool.get().await?;
    if work_items::get(&client, kind, id, None).await?.is_none() {
        return Err(not_found(kind, id));
    }
    let mut rows = sync_admin::history(&client, id, after, limit + 1).await?;
    Ok(json_response(StatusCode::OK, &page(&mut rows, limit)))
}

/// `{"data", "pagination"}` of rows fetched with `limit + 1`.
pub(super) fn page(rows: &mut Vec<(Value, chrono::DateTime<chrono::Utc>, Uuid)>, limit: i64) -> Value {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = has_more.then(|| rows.last().map(|(_, ts, id)| encode_cursor(*ts, &id.to_string()))).flatten();
    let data: Vec<Value> = rows.drain(..).map(|(v, _, _)| v).collect();
    json!({ "data": data, "pagination": { "limit": limit, "hasMore": has_more, "nextCursor": next } })
}

/// A cursor over rows keyed by `(created_at, uuid)`.
pub(super) fn uuid_cursor(value: &str) -> Result<(chrono::DateTime<chrono::Utc>, Uuid), ApiError> {
    let (ts, id) = decode_cursor(value)?;
    let id = id.parse().map_err(|_| invalid("cursor", "`cursor` is not a cursor this API gave out"))?;
    Ok((ts, id))
}
