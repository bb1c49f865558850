//! `/api/jira/mappings`: read an item's link to its Jira issue, link an
//! item to an existing issue by hand, and unlink.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::body::{self, invalid};
use super::request::read_json;
use super::{ApiError, AppState, json_response};
use crate::db::{sync as sync_sql, sync_admin};
use crate::domain::input::is_project_key;
use crate::domain::{EntityKind, ids};
use crate::jira::Error as JiraError;

type HttpResult = Result<Response<Full<Bytes>>, ApiError>;

/// The live mapping of an item.
pub async fn get(state: &AppState, ark_id: &str) -> HttpResult {
    let client = state.pool.get().await?;
    let mapping = sync_admin::live_mapping_json(&client, ark_id, state.jira_base_url.as_deref()).await?;
    let mapping = mapping.ok_or_else(|| ApiError::NotFound(format!("`{ark_id}` is not linked to a Jira issue")))?;
    Ok(json_response(StatusCode::OK, &mapping))
}

/// What a manual link asks for, validated.
struct NewLink<'b> {
    kind: EntityKind,
    id: &'b str,
    issue_key: &'b str,
    project: &'b str,
}

fn parse_link(body: &serde_json::Value) -> Result<NewLink<'_>, ApiError> {
    let map = body::object(body, &["arkhitektonId", "arkhitektonType", "jiraIssueKey", "jiraProjectKey"])?;
    let id = body::req_str(map, "arkhitektonId")?;
    let type_name = body::req_str(map, "arkhitektonType")?;
    let issue_key = body::req_str(map, "jiraIssueKey")?;
    let project = body::req_str(map, "jiraProjectKey")?;
    let kind = EntityKind::from_type_name(type_name)
        .ok_or_else(|| invalid("arkhitektonType", "`arkhitektonType` must be one of: user_story, defect, epic"))?;
    if !ids::is_valid(kind, id) {
        return Err(invalid("arkhitektonId", format!("`{id}` is not the id of a {}", kind.noun())));
    }
    if !is_project_key(project) {
        return Err(invalid("jiraProjectKey", format!("`{project}` is not a Jira project key (e.g. `PROJ`)")));
    }
    let number = issue_key.strip_prefix(project).and_then(|rest| rest.strip_prefix('-'));
    if !number.is_some_and(|n| !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit())) {
        return Err(invalid(
            "jiraIssueKey",
            format!("`{issue_key}` is not an issue key of project {project} (e.g. `{project}-123`)"),
        ));
    }
    Ok(NewLink { kind, id, issue_key, project })
}

fn already_linked(message: String) -> ApiError {
    ApiError::Conflict { code: "already_linked", message }
}

/// Links an item to an existing issue, then pushes the item's state to it.
pub async fn create(state: &AppState, req: Request<Incoming>) -> HttpResult {
    let body = read_json(req, state.max_body_bytes).await?;
    let link = parse_link(&body)?;
    let client = state.pool.get().await?;
    match sync_admin::item_link_state(&client, link.kind, link.id).await? {
        None => return Err(super::work_items::not_found(link.kind, link.id)),
        Some(true) => return Err(already_linked(format!("`{}` is already linked to a Jira issue", link.id))),
        Some(false) => {}
    }
    drop(client);
    // Jira is asked outside any transaction: the issue's id and type.
    let side = state.sync.side().await?;
    let issue = match side.client.get_issue(link.issue_key, &["issuetype"]).await {
        Ok(issue) => issue,
        Err(JiraError::NotFound(_)) => {
            return Err(invalid("jiraIssueKey", format!("Jira has no issue `{}`", link.issue_key)));
        }
        Err(e) => return Err(e.into()),
    };
    let issue_id = issue["id"].as_str().unwrap_or_default().to_owned();
    let issue_type = issue["fields"]["issuetype"]["name"].as_str().unwrap_or("Task").to_owned();
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    // Bookkeeping from Jira's side: the triggers enqueue nothing for it.
    sync_sql::set_change_source(&tx, "jira").await?;
    if sync_admin::item_link_state(&tx, link.kind, link.id).await?.is_none() {
        return Err(super::work_items::not_found(link.kind, link.id));
    }
    let relinked = sync_admin::relink_mapping(&tx, link.id, link.issue_key, &issue_id, link.project)
        .await
        .map_err(|e| unique_to_conflict(e, link.issue_key))?;
    if relinked.is_none() {
        let mapping = sync_sql::insert_mapping(
            &tx,
            link.kind,
            link.id,
            link.issue_key,
            &issue_id,
            &issue_type,
            link.project,
            "bi_directional",
        )
        .await
        .map_err(|e| unique_to_conflict(e, link.issue_key))?;
        if mapping.jira_issue_key != link.issue_key {
            return Err(already_linked(format!("`{}` is already linked to {}", link.id, mapping.jira_issue_key)));
        }
    }
    sync_sql::set_issue(&tx, link.kind, link.id, link.issue_key, &issue_id)
        .await
        .map_err(|e| unique_to_conflict(e, link.issue_key))?;
    sync_admin::set_linked_item(&tx, link.kind, link.id, link.project).await?;
    tx.commit().await?;
    sync_admin::enqueue_pushes(&client, &[(link.kind, link.id.to_owned())]).await?;
    let json = sync_admin::live_mapping_json(&client, link.id, state.jira_base_url.as_deref()).await?;
    Ok(json_response(StatusCode::CREATED, &json.unwrap_or_default()))
}

/// The issue is linked to another item (a unique index said so).
fn unique_to_conflict(e: tokio_postgres::Error, key: &str) -> ApiError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        already_linked(format!("Jira issue `{key}` is already linked to another item"))
    } else {
        e.into()
    }
}

/// Unlinks: the item stops syncing and forgets the issue; the Jira issue
/// is left as it is.
pub async fn delete(state: &AppState, mapping_id: &str) -> HttpResult {
    let not_found = || ApiError::NotFound(format!("no live mapping with id `{mapping_id}`"));
    let id: Uuid = mapping_id.parse().map_err(|_| not_found())?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let (kind, ark_id) = sync_admin::unlink_mapping(&tx, id).await?.ok_or_else(not_found)?;
    sync_admin::clear_item_link(&tx, kind, &ark_id).await?;
    tx.commit().await?;
    Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Full::new(Bytes::new())).expect("static response"))
}
