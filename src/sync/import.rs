//! Import: an issue made in Jira, not linked and carrying no ARKHITEKTON
//! ID, becomes a new work item when its project has `import_unmapped`
//! (`PUT /api/jira/projects/:key/settings`).
//!
//! The item, its mapping, its sync bookkeeping, the sync log row and the
//! job that writes the new ARKHITEKTON ID back to the issue are written in
//! one transaction whose change source is `jira` (so the outbox enqueues no
//! push): all of it or nothing. Two deliveries of one new issue (created and
//! updated, or a webhook racing reconciliation) cannot both import it: the
//! unique index on live mappings' `jira_issue_id` (V2,
//! `idx_mapping_live_issue`) makes the second insert of the mapping fail once
//! the first commits, the loser's transaction rolls back whole (its item
//! too), and it goes on as an ordinary update of the winner's mapping.
//!
//! The write-back (`stamp_arkhitekton_id` job) is a queued job, not a call
//! made after the commit, so a failure is retried like any job (and a job
//! that gives up is kept as `discarded` for an operator). Until it lands,
//! the link works; the stamp is what lets a lost link heal through the
//! ARKHITEKTON ID and what stops an issue whose item was deleted here from
//! being imported again. Every push of the item writes the ID as well.

use std::time::Instant;

use serde_json::{Map, Value, json};
use tokio_postgres::error::SqlState;

use super::inbound::{Applied, Incoming};
use super::mapping::item_patch;
use super::maps::{MapOverrides, ProjectMaps};
use super::{Engine, Side};
use crate::db::jobs::{self, NewJob};
use crate::db::sync::{self as sql, Mapping, SyncLog};
use crate::db::{projects, work_items};
use crate::domain::EntityKind;
use crate::domain::input::{self, Mode};
use crate::jira::Error as JiraError;
use crate::jira::fields::names;
use crate::jira::requests::IssueInput;
use crate::jira::webhook::EventKind;
use crate::queue::{JobContext, JobError, Registry};

/// Writes an imported item's ARKHITEKTON ID to its issue.
pub const STAMP_JOB: &str = "stamp_arkhitekton_id";

/// What became of an import attempt.
#[derive(Debug)]
pub enum Imported {
    /// A new item was made from the issue.
    Created(Applied),
    /// Another delivery imported the issue first: apply this one to its
    /// mapping as an ordinary update.
    Lost(Mapping),
    /// Not imported, and why.
    Declined(String),
}

fn retry(e: impl Into<anyhow::Error>) -> JobError {
    JobError::Retry(e.into())
}

/// The issue's item, parsed and checked: nothing is written before this.
struct Candidate {
    kind: EntityKind,
    key: String,
    project: String,
    issue_type: String,
    input: input::WorkItemInput,
    patch: Map<String, Value>,
    /// `patch` with the Jira-side fingerprints of its fields.
    agreed: Map<String, Value>,
}

/// Imports the issue when its project asks for it. Called for an issue that
/// is not linked and could not be linked by its ARKHITEKTON ID.
pub async fn import(
    engine: &Engine,
    side: &Side,
    incoming: &Incoming<'_>,
    issue_id: &str,
    fields: &Map<String, Value>,
) -> Result<Imported, JobError> {
    let started = Instant::now();
    if !matches!(incoming.event, EventKind::IssueCreated | EventKind::IssueUpdated) {
        return Ok(Imported::Declined("the issue is not linked".into()));
    }
    let c = match candidate(engine, side, incoming.issue, fields).await? {
        Ok(c) => c,
        Err(why) => return Ok(Imported::Declined(why)),
    };
    let jira_updated = super::inbound::issue_updated(fields);
    let mut client = engine.pool.get().await.map_err(retry)?;
    let tx = client.transaction().await.map_err(retry)?;
    sql::set_change_source(&tx, "jira").await.map_err(retry)?;
    let id = work_items::insert(&tx, c.kind, &c.input.assignments, &c.input.sync).await.map_err(retry)?;
    let inserted =
        sql::insert_mapping(&tx, c.kind, &id, &c.key, issue_id, &c.issue_type, &c.project, "bi_directional").await;
    let m = match inserted {
        Ok(m) => m,
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            tx.rollback().await.map_err(retry)?;
            return match sql::mapping_by_issue_id(&client, issue_id).await.map_err(retry)? {
                Some(m) => Ok(Imported::Lost(m)),
                None => Err(retry(anyhow::anyhow!("a concurrent import of {} vanished; trying again", c.key))),
            };
        }
        Err(e) => return Err(retry(e)),
    };
    sql::set_issue(&tx, c.kind, &id, &c.key, issue_id).await.map_err(retry)?;
    projects::mark_imported(&tx, c.kind, &id).await.map_err(retry)?;
    sql::mark_mapping_synced(&tx, m.id, jira_updated).await.map_err(retry)?;
    // The item was made of Jira's values: both sides agree on them.
    sql::merge_synced_fields(&tx, m.id, &c.agreed, sql::AgreedBy::Pull).await.map_err(retry)?;
    let log = SyncLog {
        mapping_id: Some(m.id),
        arkhitekton_id: Some(&id),
        jira_issue_key: Some(&c.key),
        direction: "from_jira",
        sync_type: "create",
        source: incoming.source,
        request: Some(json!({"imported": c.patch, "jiraUpdated": jira_updated})),
        response: None,
        status: "success",
        error_message: None,
        error_code: None,
        warnings: None,
        duration_ms: started.elapsed().as_millis().min(i32::MAX as u128) as i32,
        retry_count: 0,
    };
    sql::insert_log(&tx, &log).await.map_err(retry)?;
    let mut stamp = NewJob::new(STAMP_JOB, json!({"id": id, "issueId": issue_id, "issueKey": c.key}));
    stamp.unique_key = Some(format!("stamp:{id}"));
    stamp.max_attempts = 25;
    jobs::insert(&tx, &stamp).await.map_err(retry)?;
    jobs::notify(&tx).await.map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    tracing::info!(arkhitekton.id = %id, jira.key = %c.key, "imported an issue made in Jira");
    crate::metrics::sync_done("from_jira", "create", "success", started.elapsed(), None);
    Ok(Imported::Created(Applied::Changed(c.patch.keys().cloned().collect())))
}

/// The item the issue would become, or why it is not imported.
async fn candidate(
    engine: &Engine,
    side: &Side,
    issue: &Value,
    fields: &Map<String, Value>,
) -> Result<Result<Candidate, String>, JobError> {
    let project = fields.get("project").and_then(|p| p["key"].as_str()).unwrap_or_default().to_owned();
    let Some(key) = issue["key"].as_str().map(str::to_owned) else {
        return Ok(Err("the issue has no key".into()));
    };
    let client = engine.pool.get().await.map_err(retry)?;
    let settings = projects::get(&client, &project).await.map_err(retry)?;
    drop(client);
    if !settings.import_unmapped {
        return Ok(Err(format!(
            "the issue is not linked and carries no known ARKHITEKTON ID (project {project} does not import issues made in Jira)"
        )));
    }
    let field_map = side.client.field_map().await.map_err(|e| e.to_job_error())?;
    let stamped = field_map.get(names::ARKHITEKTON_ID).and_then(|f| fields.get(&f.id)).and_then(Value::as_str);
    if let Some(ark_id) = stamped.map(str::trim).filter(|s| !s.is_empty()) {
        return Ok(Err(format!(
            "{key} carries ARKHITEKTON ID {ark_id}, which names no item that can be linked; not imported again"
        )));
    }
    let overrides: MapOverrides = serde_json::from_value(settings.maps)
        .map_err(|e| JobError::Discard(anyhow::anyhow!("jira_project_settings.maps of {project} is not valid: {e}")))?;
    let maps = ProjectMaps::with_overrides(&overrides);
    let issue_type = fields.get("issuetype").and_then(|t| t["name"].as_str()).unwrap_or_default().to_owned();
    let Some(kind) = maps.kind_of(&issue_type) else {
        return Ok(Err(format!(
            "{key} is a `{issue_type}`, an issue type that maps to no ARKHITEKTON kind in {project}; not imported"
        )));
    };
    let mut patch = item_patch(kind, fields, &field_map, &maps, &Value::Null);
    if kind == EntityKind::UserStory {
        let client = engine.pool.get().await.map_err(retry)?;
        if let Some(epic) = super::inbound::epic_of(&client, side.flavor, &field_map, fields).await? {
            patch.insert("epicId".into(), epic);
        }
    }
    let mut body = patch.clone();
    body.insert("syncToJira".into(), json!(true));
    body.insert("jiraProjectKey".into(), json!(project));
    let input = match input::parse(kind, &Value::Object(body), Mode::Create) {
        Ok(input) => input,
        Err(e) => return Ok(Err(format!("{key} cannot be imported: Jira's value is not valid here: {}", e.message))),
    };
    let agreed = super::agreed::with_fingerprints(&patch, &super::agreed::of_issue(kind, fields, &field_map));
    Ok(Ok(Candidate { kind, key, project, issue_type, input, patch, agreed }))
}

pub fn register(registry: Registry, engine: Engine) -> Registry {
    registry.register(STAMP_JOB, move |ctx: JobContext| {
        let engine = engine.clone();
        async move { stamp(&engine, &ctx).await }
    })
}

/// Writes the item's ARKHITEKTON ID to its issue, by our integration
/// account (so the change comes back as our own echo). Only the ID is
/// written: the issue's other fields are Jira's and stay as they are.
async fn stamp(engine: &Engine, ctx: &JobContext) -> Result<(), JobError> {
    let p = &ctx.job.payload;
    let (Some(id), Some(issue_id)) = (p["id"].as_str(), p["issueId"].as_str()) else {
        return Err(JobError::Discard(anyhow::anyhow!("a stamp job without id and issueId: {p}")));
    };
    let client = ctx.pool.get().await.map_err(retry)?;
    let live = sql::mapping_by_issue_id(&client, issue_id).await.map_err(retry)?;
    drop(client);
    if live.is_some_and(|m| m.arkhitekton_id != id) {
        return Ok(()); // the issue has been linked to another item since
    }
    let side = engine.side().await.map_err(|e| e.to_job_error())?;
    let input = IssueInput::default().with_arkhitekton_id(id);
    match side.client.edit_issue(issue_id, &input).await {
        Ok(()) | Err(JiraError::NotFound(_)) => Ok(()),
        Err(e) => Err(e.to_job_error()),
    }
}
