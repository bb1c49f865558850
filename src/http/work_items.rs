//! `/api/user-stories`, `/api/defects`, `/api/epics`: list, get, create,
//! patch and delete work items.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use serde_json::{Value, json};
use tokio_postgres::error::SqlState;

use super::request::{query_pairs, read_json};
use super::{ApiError, AppState, json_response};
use crate::db::work_items::{self as sql, ListFilter};
use crate::domain::input::{self, InputError, Mode};
use crate::domain::{EntityKind, STATUSES, SYNC_STATUSES, ids};

type HttpResult = Result<Response<Full<Bytes>>, ApiError>;

/// Page size when the client names none, and the most it may ask for.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

pub async fn list(state: &AppState, kind: EntityKind, req: &Request<Incoming>) -> HttpResult {
    let (filter, limit) = parse_list_query(kind, &query_pairs(req))?;
    let client = state.pool.get().await?;
    let mut rows = sql::list(&client, kind, &filter, limit + 1, state.jira_base_url.as_deref()).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = has_more.then(|| rows.last().map(|(_, ts, id)| encode_cursor(*ts, id))).flatten();
    let stats = sql::sync_stats(&client, kind).await?;
    let data: Vec<Value> = rows.into_iter().map(|(item, _, _)| item).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "data": data,
            "pagination": { "limit": limit, "hasMore": has_more, "nextCursor": next_cursor },
            "syncStats": {
                "totalSynced": stats.total_synced,
                "totalPending": stats.total_pending,
                "totalErrors": stats.total_errors,
            },
        }),
    ))
}

pub async fn get(state: &AppState, kind: EntityKind, id: &str) -> HttpResult {
    let client = state.pool.get().await?;
    let item = fetch(&client, state, kind, id).await?;
    Ok(json_response(StatusCode::OK, &item))
}

pub async fn create(state: &AppState, kind: EntityKind, req: Request<Incoming>) -> HttpResult {
    let body = read_json(req, state.max_body_bytes).await?;
    let input = input::parse(kind, &body, Mode::Create)?;
    check_options(state, kind, &body, input.sync.jira_project_key.clone().flatten().as_deref())?;
    let client = state.pool.get().await?;
    let id = sql::insert(&client, kind, &input.assignments, &input.sync).await.map_err(|e| write_error(kind, e))?;
    let item = fetch(&client, state, kind, &id).await?;
    let mut response = json_response(StatusCode::CREATED, &item);
    if let Ok(location) = header::HeaderValue::from_str(&format!("/api/{}/{id}", kind.collection())) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A select-list value Jira does not offer in the item's project is
/// refused (400, naming the allowed ones) once a push has learnt them.
fn check_options(state: &AppState, kind: EntityKind, body: &Value, project: Option<&str>) -> Result<(), ApiError> {
    let Some(project) = project else { return Ok(()) };
    match state.sync.known_options(project, kind) {
        Some(allowed) => Ok(crate::sync::options::check(kind, body, project, &allowed)?),
        None => Ok(()),
    }
}

pub async fn patch(state: &AppState, kind: EntityKind, id: &str, req: Request<Incoming>) -> HttpResult {
    if !ids::is_valid(kind, id) {
        return Err(not_found(kind, id));
    }
    let body = read_json(req, state.max_body_bytes).await?;
    let input = input::parse(kind, &body, Mode::Patch)?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let (stored_project, linked_key) =
        sql::lock_sync_target(&tx, kind, id).await?.ok_or_else(|| not_found(kind, id))?;
    let target = input.sync.jira_project_key.clone().unwrap_or_else(|| stored_project.clone());
    check_options(state, kind, &body, target.as_deref())?;
    if input.sync.sync_to_jira == Some(true) {
        let project = match &input.sync.jira_project_key {
            Some(given) => given.clone(),
            None => stored_project,
        };
        if project.is_none() && linked_key.is_none() {
            return Err(InputError::new(
                "missing_field",
                "jiraProjectKey".to_owned(),
                "`jiraProjectKey` is required to sync an item that is not linked to a Jira issue yet",
            )
            .into());
        }
    }
    sql::update(&tx, kind, id, &input.assignments, &input.sync).await.map_err(|e| write_error(kind, e))?;
    tx.commit().await?;
    let item = fetch(&client, state, kind, id).await?;
    Ok(json_response(StatusCode::OK, &item))
}

pub async fn delete(state: &AppState, kind: EntityKind, id: &str) -> HttpResult {
    if !ids::is_valid(kind, id) {
        return Err(not_found(kind, id));
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    if !sql::delete(&tx, kind, id).await? {
        return Err(not_found(kind, id));
    }
    tx.commit().await?;
    Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Full::new(Bytes::new())).expect("static response"))
}

async fn fetch(
    client: &impl deadpool_postgres::GenericClient,
    state: &AppState,
    kind: EntityKind,
    id: &str,
) -> Result<Value, ApiError> {
    if !ids::is_valid(kind, id) {
        return Err(not_found(kind, id));
    }
    sql::get(client, kind, id, state.jira_base_url.as_deref()).await?.ok_or_else(|| not_found(kind, id))
}

pub(super) fn not_found(kind: EntityKind, id: &str) -> ApiError {
    ApiError::NotFound(format!("no {} with id `{id}`", kind.noun()))
}

/// Turns a constraint the database enforced into a 400 naming the field;
/// the database's own text never reaches the client.
pub(super) fn write_error(kind: EntityKind, err: tokio_postgres::Error) -> ApiError {
    let Some(db) = err.as_db_error() else { return err.into() };
    let field = db
        .constraint()
        .and_then(|c| kind.fields().iter().find(|f| c.starts_with(&format!("{}_{}_", kind.table(), f.column))));
    match (db.code(), field) {
        (&SqlState::FOREIGN_KEY_VIOLATION, Some(f)) => InputError::new(
            "invalid_value",
            f.json.to_owned(),
            format!("`{}` names an item that does not exist", f.json),
        )
        .into(),
        (&SqlState::CHECK_VIOLATION, Some(f)) => InputError::new(
            "invalid_value",
            f.json.to_owned(),
            format!("`{}` has a value the database refuses", f.json),
        )
        .into(),
        _ => err.into(),
    }
}

/// Parses `limit`, `cursor` and the filters; anything else is refused.
fn parse_list_query(kind: EntityKind, pairs: &[(String, String)]) -> Result<(ListFilter, i64), ApiError> {
    let mut filter = ListFilter::default();
    let mut limit = DEFAULT_LIMIT;
    let person = kind.person_field().json;
    for (name, value) in pairs {
        match name.as_str() {
            "limit" => limit = parse_limit(value)?,
            "cursor" => filter.after = Some(decode_cursor(value)?),
            "syncStatus" => filter.sync_status = Some(one_of("syncStatus", value, SYNC_STATUSES)?),
            "status" => filter.status = Some(one_of("status", value, STATUSES)?),
            "hasSyncError" => filter.has_sync_error = Some(parse_bool("hasSyncError", value)?),
            n if n == person => filter.person = Some(value.trim().to_owned()),
            "epicId" if kind == EntityKind::UserStory => filter.epic_id = Some(value.clone()),
            other => {
                let mut known = vec!["limit", "cursor", "syncStatus", "hasSyncError", "status", person];
                if kind == EntityKind::UserStory {
                    known.push("epicId");
                }
                return Err(InputError::new(
                    "unknown_field",
                    other.to_owned(),
                    format!("unknown query parameter `{other}`; known: {}", known.join(", ")),
                )
                .into());
            }
        }
    }
    Ok((filter, limit))
}

pub(super) fn parse_limit(value: &str) -> Result<i64, ApiError> {
    match value.parse::<i64>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(InputError::new(
            "invalid_value",
            "limit".to_owned(),
            format!("`limit` must be a whole number from 1 to {MAX_LIMIT}"),
        )
        .into()),
    }
}

pub(super) fn one_of(name: &str, value: &str, allowed: &[&str]) -> Result<String, ApiError> {
    if allowed.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(InputError::new(
            "invalid_value",
            name.to_owned(),
            format!("`{name}` must be one of: {}", allowed.join(", ")),
        )
        .into())
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(InputError::new("invalid_value", name.to_owned(), format!("`{name}` must be true or false")).into()),
    }
}

/// Cursors are opaque to clients: base64url of `micros|id` of the last row.
pub(super) fn encode_cursor(created_at: DateTime<Utc>, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", created_at.timestamp_micros()))
}

pub(super) fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, String), ApiError> {
    let bad = || InputError::new("invalid_value", "cursor".to_owned(), "`cursor` is not a cursor this API gave out");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (micros, id) = text.split_once('|').ok_or_else(bad)?;
    let ts = micros.parse::<i64>().ok().and_then(DateTime::from_timestamp_micros).ok_or_else(bad)?;
    Ok((ts, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let ts = DateTime::from_timestamp_micros(1_760_263_200_123_456).unwrap();
        let (back_ts, back_id) = decode_cursor(&encode_cursor(ts, "US-K7V595F")).unwrap();
        assert_eq!((back_ts, back_id.as_str()), (ts, "US-K7V595F"));
        assert!(decode_cursor("not-a-cursor").is_err());
    }

    #[test]
    fn list_query_refuses_unknown_parameters_and_bad_limits() {
        let q = |pairs: &[(&str, &str)]| {
            let owned: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            parse_list_query(EntityKind::Defect, &owned)
        };
        assert!(q(&[("epicId", "EPIC-0000000")]).is_err(), "defects have no epic filter");
        assert!(q(&[("limit", "0")]).is_err());
        assert!(q(&[("limit", "201")]).is_err());
        assert_eq!(q(&[("limit", "200")]).unwrap().1, 200);
        assert!(q(&[("syncStatus", "bogus")]).is_err());
    }
}
