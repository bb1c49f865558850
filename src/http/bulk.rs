//! `POST /api/jira/sync/bulk` and `GET /api/jira/sync/bulk/:operationId`:
//! push many items to Jira, pull their issues from it, or both, as an
//! operation whose progress can be polled. The request only records the
//! operation and its `bulk_sync` job ([`crate::sync::bulk`]), which pulls
//! page by page and enqueues the pushes in batches.

use std::collections::HashSet;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::body::{self, invalid};
use super::request::read_json;
use super::{ApiError, AppState, json_response};
use crate::db::jobs::{self, NewJob};
use crate::db::{bulk as sql, work_items::timestamp};
use crate::domain::{EntityKind, ids};
use crate::sync::bulk::BULK_JOB;

type HttpResult = Result<Response<Full<Bytes>>, ApiError>;

/// The most ids one bulk sync takes.
pub const MAX_IDS: usize = 10_000;
const DIRECTIONS: &[&str] = &["to_jira", "from_jira", "bi_directional"];

/// The ids asked for, each valid and once, in order.
fn parse_ids(map: &serde_json::Map<String, Value>) -> Result<Vec<(EntityKind, &str)>, ApiError> {
    let Some(list) = map.get("entityIds") else {
        return Err(body::missing("entityIds", "`entityIds` is required"));
    };
    let Some(list) = list.as_array() else {
        return Err(body::wrong_type("entityIds", "an array of ids"));
    };
    if list.is_empty() || list.len() > MAX_IDS {
        return Err(invalid("entityIds", format!("`entityIds` must hold from 1 to {MAX_IDS} ids")));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let field = format!("entityIds[{i}]");
        let id = v.as_str().ok_or_else(|| body::wrong_type(&field, "a string"))?;
        let kind = EntityKind::from_id(id)
            .filter(|k| ids::is_valid(*k, id))
            .ok_or_else(|| invalid(&field, format!("`{id}` is not a user story, defect or epic id")))?;
        if seen.insert(id) {
            out.push((kind, id));
        }
    }
    Ok(out)
}

pub async fn create(state: &AppState, req: Request<Incoming>) -> HttpResult {
    let body = read_json(req, state.max_body_bytes).await?;
    let map = body::object(&body, &["entityIds", "syncDirection"])?;
    let direction = body::req_str(map, "syncDirection")?;
    if !DIRECTIONS.contains(&direction) {
        return Err(invalid("syncDirection", format!("`syncDirection` must be one of: {}", DIRECTIONS.join(", "))));
    }
    let wanted = parse_ids(map)?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let mut syncing: HashSet<String> = HashSet::new();
    let mut known: HashSet<String> = HashSet::new();
    for kind in EntityKind::ALL {
        let ids: Vec<&str> = wanted.iter().filter(|(k, _)| *k == kind).map(|(_, id)| *id).collect();
        for (id, syncs) in sql::existing(&tx, kind, &ids).await? {
            if syncs {
                syncing.insert(id.clone());
            }
            known.insert(id);
        }
    }
    let pulls = direction == "from_jira";
    // A pull needs a linked issue; a push needs an item that syncs.
    let eligible: HashSet<String> = if pulls {
        let known_ids: Vec<&str> = known.iter().map(String::as_str).collect();
        sql::live_links(&tx, &known_ids).await?.into_iter().map(|(id, _, _)| id).collect()
    } else {
        syncing
    };
    let ids = || wanted.iter().map(|(_, id)| *id);
    let unknown: Vec<&str> = ids().filter(|id| !known.contains(*id)).collect();
    let ineligible: Vec<&str> = ids().filter(|id| known.contains(*id) && !eligible.contains(*id)).collect();
    let chosen: Vec<String> = ids().filter(|id| eligible.contains(*id)).map(str::to_owned).collect();
    let why_not = if pulls { "not linked to a Jira issue" } else { "does not sync to Jira (`syncToJira` is false)" };
    let skipped: Vec<Value> = unknown
        .iter()
        .map(|id| json!({"id": id, "reason": "no such item"}))
        .chain(ineligible.iter().map(|id| json!({"id": id, "reason": why_not})))
        .collect();
    let operation = sql::insert(&tx, direction, &chosen, &Value::Array(skipped)).await?;
    let mut job = NewJob::new(BULK_JOB, json!({ "operationId": operation }));
    job.unique_key = Some(format!("bulk:{operation}"));
    let job_id = jobs::insert(&tx, &job).await?;
    jobs::notify(&tx).await?;
    tx.commit().await?;
    let ineligible_name = if pulls { "notLinkedIds" } else { "notSyncingIds" };
    let mut answer = json!({
        "operationId": operation,
        "jobId": job_id,
        "total": chosen.len(),
        "unknownIds": unknown,
    });
    answer[ineligible_name] = json!(ineligible);
    Ok(json_response(StatusCode::ACCEPTED, &answer))
}

pub async fn get(state: &AppState, id: &str) -> HttpResult {
    let not_found = || ApiError::NotFound(format!("no bulk sync with id `{id}`"));
    let uuid: Uuid = id.parse().map_err(|_| not_found())?;
    let client = state.pool.get().await?;
    let op = sql::get(&client, uuid).await?.ok_or_else(not_found)?;
    let (synced, failed, status) = if op.direction == "from_jira" {
        let failed = i64::from(op.pull_failed);
        (i64::from(op.pulled) - failed, failed, op.status.clone())
    } else {
        let (synced, failed) = sql::progress(&client, uuid).await?;
        let pending = i64::from(op.total) - synced - failed;
        let done = op.status == "enqueued" && pending <= 0;
        (synced, failed, if done { "completed".to_owned() } else { op.status.clone() })
    };
    let pending = (i64::from(op.total) - synced - failed).max(0);
    let pushes = op.direction != "from_jira";
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "operationId": op.id,
            "syncDirection": op.direction,
            "status": status,
            "total": op.total,
            "pulled": op.pulled,
            "enqueued": op.enqueued,
            "synced": synced,
            "failed": failed,
            "pending": pending,
            "skipped": op.skipped,
            "createdAt": timestamp(op.created_at),
            "enqueuedAt": op.finished_at.filter(|_| pushes).map(timestamp),
            "finishedAt": op.finished_at.map(timestamp),
        }),
    ))
}
