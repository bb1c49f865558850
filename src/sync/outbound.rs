//! The `push_to_jira` job: ARKHITEKTON → Jira for one work item.
//!
//! The outbox trigger enqueued it in the transaction of the edit; the queue
//! runs at most one push per item at a time (unique key `push:<id>`). The
//! job reads the item's latest state, so a burst of edits is one push.

use std::time::Instant;

use chrono::Utc;
use deadpool_postgres::GenericClient;
use serde_json::{Map, Value, json};

use super::mapping::{issue_input, person_field, select_fields};
use super::maps::{MapOverrides, ProjectMaps};
use super::options;
use super::plan::{PushOp, PushOutcome, agreed_after_push, plan_push};
use super::{Engine, Side};
use crate::db::sync::{self as sql, CreateStart, Mapping, SyncLog};
use crate::db::work_items::{self, ForPush};
use crate::domain::EntityKind;
use crate::jira::Error as JiraError;
use crate::jira::requests;
use crate::queue::{JobContext, JobError, Registry};

pub const PUSH_JOB: &str = "push_to_jira";

/// The unique key of an item's push job (one waits, one runs at a time), as
/// the database's `arksync_push_job` (migration V15) makes it.
pub fn push_key(id: &str) -> String {
    format!("push:{id}")
}
/// Jira's link type between a defect and its story.
const DEFECT_LINK_TYPE: &str = "Relates";

pub fn register(registry: Registry, engine: Engine) -> Registry {
    registry.register(PUSH_JOB, move |ctx| {
        let engine = engine.clone();
        async move { push(&engine, &ctx).await }
    })
}

/// The item a push job is about.
fn target(payload: &Value) -> Result<(EntityKind, String), JobError> {
    let kind = payload["type"].as_str().and_then(EntityKind::from_type_name);
    match (kind, payload["id"].as_str()) {
        (Some(kind), Some(id)) => Ok((kind, id.to_owned())),
        _ => Err(JobError::Discard(anyhow::anyhow!("a push job without a valid type and id: {payload}"))),
    }
}

fn db_retry(e: impl Into<anyhow::Error>) -> JobError {
    JobError::Retry(e.into())
}

async fn push(engine: &Engine, ctx: &JobContext) -> Result<(), JobError> {
    let (kind, id) = target(&ctx.job.payload)?;
    tracing::Span::current().record("arkhitekton.id", id.as_str());
    let started = Instant::now();
    let client = engine.pool.get().await.map_err(db_retry)?;
    let Some(ForPush { item, version, status, project_maps, mapping }) =
        work_items::get_for_push(&client, kind, &id).await.map_err(db_retry)?
    else {
        return Ok(()); // deleted since: nothing to push
    };
    if item["syncToJira"] != json!(true) || status.as_deref() == Some("disabled") {
        return Ok(());
    }
    // A create is recorded before it is sent: only one recorded earlier and
    // never completed can have made the issue already.
    let in_doubt = match &mapping {
        Some(_) => false,
        None => match sql::begin_create(&client, &id).await.map_err(db_retry)? {
            CreateStart::Fresh => false,
            CreateStart::InDoubt => true,
            // Linked by hand (or by a pull) since it was read: the push runs
            // again, as an edit of that issue.
            CreateStart::Linked => {
                return Err(JobError::RetryAt(Utc::now(), anyhow::anyhow!("{id} was linked meanwhile")));
            }
        },
    };
    drop(client);
    let outcome = push_item(engine, kind, &id, &item, mapping, project_maps, in_doubt).await;
    let elapsed = started.elapsed();
    match outcome {
        Ok(pushed) => {
            tracing::Span::current().record("jira.key", pushed.issue_key.as_str());
            let operation = pushed.operation;
            let record = Record { kind, id, version, elapsed, attempt: ctx.job.attempt, pushed };
            let status = engine.recorder.write(&engine.pool, record).await.map_err(db_retry)?;
            let lag = (Utc::now() - version).to_std().unwrap_or_default();
            crate::metrics::sync_done("to_jira", operation, status, elapsed, Some(lag));
            Ok(())
        }
        Err(failure) => {
            tracing::Span::current().record("jira.key", failure.issue_key.as_deref());
            let client = engine.pool.get().await.map_err(db_retry)?;
            let job_error = failure.error.to_job_error();
            let message = failure.error.to_string();
            sql::mark_error(&client, kind, &id, &message).await.map_err(db_retry)?;
            let log = SyncLog {
                mapping_id: failure.mapping_id,
                arkhitekton_id: Some(&id),
                jira_issue_key: failure.issue_key.as_deref(),
                direction: "to_jira",
                sync_type: failure.operation,
                source: "change",
                request: failure.request,
                response: None,
                status: if matches!(job_error, JobError::Discard(_)) { "failed" } else { "retrying" },
                error_message: Some(message),
                error_code: Some(failure.error.class().to_owned()),
                warnings: None,
                duration_ms: elapsed.as_millis() as i32,
                retry_count: ctx.job.attempt - 1,
            };
            sql::insert_log(&client, &log).await.map_err(db_retry)?;
            crate::metrics::sync_failed("to_jira", failure.operation, failure.error.class(), elapsed);
            Err(job_error)
        }
    }
}

/// A successful push's bookkeeping, for [`super::recorder::Recorder`].
pub struct Record {
    kind: EntityKind,
    id: String,
    /// `updated_at` of the version pushed.
    version: chrono::DateTime<Utc>,
    elapsed: std::time::Duration,
    attempt: i32,
    pushed: Pushed,
}

/// Writes a push's bookkeeping in `tx`; returns the sync log's status.
///
/// The link before the item, as the inbound sync locks them. A new issue's
/// link is stored here too: until this commits, its create stays recorded
/// as begun, so a retry looks before it creates.
pub async fn write_record(tx: &impl GenericClient, r: &Record) -> Result<&'static str, tokio_postgres::Error> {
    let (kind, id, pushed) = (r.kind, r.id.as_str(), &r.pushed);
    let mapping = match (&pushed.mapping, &pushed.created) {
        (Some(m), _) => {
            sql::merge_synced_fields(tx, m.id, &pushed.agreed, sql::AgreedBy::Push).await?;
            m.clone()
        }
        (None, Some(new)) => {
            sql::link_created(
                tx,
                kind,
                id,
                &pushed.issue_key,
                &new.issue_id,
                &new.issue_type,
                &new.project,
                &pushed.agreed,
            )
            .await?
        }
        (None, None) => unreachable!("a push either had a link or made one"),
    };
    match pushed.created {
        Some(_) => sql::mark_created(tx, kind, id, r.version, &mapping.jira_issue_key, &mapping.jira_issue_id).await?,
        None => sql::mark_synced(tx, kind, id, r.version).await?,
    }
    if !pushed.warnings.is_empty() || pushed.had_warnings {
        sql::set_warnings(tx, kind, id, &Value::Array(pushed.warnings.clone())).await?;
    }
    let mut log = pushed.log(id, mapping.id, r.elapsed, r.attempt);
    if let Some((code, problem)) = pushed.problem() {
        sql::mark_error(tx, kind, id, &problem).await?;
        log.status = "failed";
        log.error_message = Some(problem);
        log.error_code = Some(code.into());
    }
    sql::insert_log(tx, &log).await?;
    Ok(log.status)
}

/// What a successful push did.
struct Pushed {
    operation: &'static str,
    /// The link pushed through; `None` for a new issue, whose link is in
    /// `created` until it is stored.
    mapping: Option<Mapping>,
    created: Option<NewIssue>,
    issue_key: String,
    request: Value,
    response: Value,
    /// The issue's status could not follow (no transition leads there).
    status_problem: Option<String>,
    /// A select-list value Jira does not offer was left out.
    option_problem: Option<String>,
    /// The fields now equal on both sides, with their values.
    agreed: Map<String, Value>,
    /// Nothing differed from the last sync: Jira was not written.
    unchanged: bool,
    /// Field-level warnings (`{field, code, message}`): a value that could
    /// not follow (no Jira user has the e-mail) while the rest did.
    warnings: Vec<Value>,
    /// The item had warnings before this push (which replaces them).
    had_warnings: bool,
}

impl Pushed {
    /// What did not follow and fails the sync, for the item's sync error:
    /// the code of the first problem and every problem's message.
    fn problem(&self) -> Option<(&'static str, String)> {
        let problems = [("transition_unavailable", &self.status_problem), ("option_unknown", &self.option_problem)];
        let found: Vec<(&'static str, &String)> =
            problems.iter().filter_map(|(c, p)| Some((*c, p.as_ref()?))).collect();
        let code = found.first()?.0;
        Some((code, found.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>().join("; ")))
    }

    fn log<'a>(
        &'a self,
        id: &'a str,
        mapping_id: uuid::Uuid,
        elapsed: std::time::Duration,
        attempt: i32,
    ) -> SyncLog<'a> {
        SyncLog {
            mapping_id: Some(mapping_id),
            arkhitekton_id: Some(id),
            jira_issue_key: Some(&self.issue_key),
            direction: "to_jira",
            sync_type: self.operation,
            source: "change",
            request: Some(self.request.clone()),
            response: Some(self.response.clone()),
            status: if self.unchanged { "skipped" } else { "success" },
            error_message: None,
            error_code: None,
            warnings: (!self.warnings.is_empty()).then(|| Value::Array(self.warnings.clone())),
            duration_ms: elapsed.as_millis() as i32,
            retry_count: attempt - 1,
        }
    }
}

/// An issue the push created, to link in its bookkeeping.
struct NewIssue {
    issue_id: String,
    issue_type: String,
    project: String,
}

/// Why a push failed, with what is known for the log.
struct Failure {
    error: JiraError,
    operation: &'static str,
    mapping_id: Option<uuid::Uuid>,
    issue_key: Option<String>,
    request: Option<Value>,
}

impl From<JiraError> for Failure {
    fn from(error: JiraError) -> Self {
        Self { error, operation: "update", mapping_id: None, issue_key: None, request: None }
    }
}

/// A database hiccup while pushing: retried, like a network fault.
fn db_error(e: impl std::fmt::Display) -> JiraError {
    JiraError::Database(e.to_string())
}

async fn push_item(
    engine: &Engine,
    kind: EntityKind,
    id: &str,
    item: &Value,
    mapping: Option<Mapping>,
    project_maps: Option<Value>,
    in_doubt: bool,
) -> Result<Pushed, Failure> {
    let side = engine.side().await?;
    let client = engine.pool.get().await.map_err(db_error)?;
    let project = mapping
        .as_ref()
        .map(|m| m.jira_project_key.clone())
        .or_else(|| item["jiraProjectKey"].as_str().map(str::to_owned))
        .ok_or_else(|| JiraError::Config(format!("{id} has no jiraProjectKey to create its Jira issue in")))?;
    let maps = maps_of(&project, project_maps)?;
    let epic_key = epic_key(&client, kind, item).await?;
    let plan = plan_push(kind, item, mapping.as_ref().map(|m| &m.synced), epic_key.is_some(), side.flavor);
    let send = |field: &str| plan.sends(field);
    let create_in = mapping.is_none().then_some(project.as_str());
    drop(client); // no connection held across Jira calls
    let mut input = issue_input(kind, item, &maps, epic_key.clone(), create_in, &send);
    let assignee_problem = super::people::resolve(&side.client, &mut input).await?;
    let field_map = side.client.field_map().await?;
    let refused = match sends_an_option(kind, &input) {
        true => match engine.options.allowed(&side, &field_map, &project, kind, maps.issue_type(kind)).await {
            Some(allowed) => options::leave_out_unknown(kind, &mut input, &project, &allowed),
            None => Vec::new(),
        },
        false => Vec::new(),
    };
    let sent = requests::issue_fields(side.flavor, &field_map, &input).unwrap_or_default();
    let request = Value::Object(sent.clone());
    let fail = |error: JiraError, operation| {
        if matches!(error, JiraError::Invalid { .. }) {
            // Jira's options may have changed since they were read.
            engine.options.forget(&project);
        }
        Failure {
            error,
            operation,
            mapping_id: mapping.as_ref().map(|m| m.id),
            issue_key: mapping.as_ref().map(|m| m.jira_issue_key.clone()),
            request: Some(request.clone()),
        }
    };
    let unchanged = plan.op == PushOp::Nothing;
    let (operation, link, created, key, response) = match &mapping {
        Some(m) if unchanged => (
            "update",
            Some(m.clone()),
            None,
            m.jira_issue_key.clone(),
            json!({"unchanged": "no synced field changed since the last sync"}),
        ),
        Some(m) if plan.op == PushOp::Transition => {
            ("transition", Some(m.clone()), None, m.jira_issue_key.clone(), json!({"status": "transition only"}))
        }
        Some(m) => {
            side.client.edit_issue(&m.jira_issue_key, &input).await.map_err(|e| fail(e, "update"))?;
            ("update", Some(m.clone()), None, m.jira_issue_key.clone(), json!({"status": 204}))
        }
        None => {
            let created = if in_doubt {
                side.client.create_issue(&input).await
            } else {
                engine.creates.create(side.client.clone(), input).await
            };
            let created = created.map_err(|e| fail(e, "create"))?;
            link_defect_to_story(engine, &side, kind, item, &created.key).await;
            let response = json!({"id": created.id, "key": created.key});
            let new = NewIssue {
                issue_id: created.id,
                issue_type: maps.issue_type(kind).to_owned(),
                project: project.clone(),
            };
            ("create", None, Some(new), created.key, response)
        }
    };
    let new_issue = mapping.is_none().then(|| (project.as_str(), maps.issue_type(kind)));
    let status = match send("status") {
        true => move_status(engine, &side, &maps, item, &key, new_issue).await.map_err(|e| fail(e, operation))?,
        false => StatusMove::default(),
    };
    // Jira's status is now where a stuck walk stopped (or where it was).
    let outcome = PushOutcome {
        sent: &sent,
        status_stuck: status.problem.is_some().then(|| status.left_at.clone()),
        person_unknown: assignee_problem.is_some(),
        left_out: refused.iter().map(|(field, _)| *field).collect(),
    };
    let agreed = agreed_after_push(kind, item, &plan, &outcome, &field_map);
    let status_problem = status.problem;
    let option_problem = (!refused.is_empty())
        .then(|| refused.iter().map(|(_, why)| format!("{why}; it was not sent")).collect::<Vec<_>>().join("; "));
    Ok(Pushed {
        operation,
        mapping: link,
        created,
        issue_key: key,
        request,
        response,
        status_problem,
        option_problem,
        warnings: assignee_problem
            .into_iter()
            .map(|message| json!({"field": person_field(kind), "code": super::people::UNKNOWN_PERSON, "message": message}))
            .collect(),
        had_warnings: item["syncWarnings"].as_array().is_some_and(|w| !w.is_empty()),
        agreed,
        unchanged,
    })
}

/// Whether the push sets a select-list field (which Jira's options decide).
fn sends_an_option(kind: EntityKind, input: &requests::IssueInput) -> bool {
    input.custom.iter().any(|(name, value)| {
        matches!(value, requests::FieldValue::Option(_)) && select_fields(kind).iter().any(|(_, j)| j == name)
    })
}

/// A project's maps: the spec's defaults under its overrides, if any.
fn maps_of(project: &str, overrides: Option<Value>) -> Result<ProjectMaps, JiraError> {
    let overrides: MapOverrides = match overrides {
        Some(json) => serde_json::from_value(json)
            .map_err(|e| JiraError::Config(format!("jira_project_settings.maps of {project}: {e}")))?,
        None => MapOverrides::default(),
    };
    Ok(ProjectMaps::with_overrides(&overrides))
}

/// A story's epic, once the epic has its issue.
async fn epic_key(
    client: &impl deadpool_postgres::GenericClient,
    kind: EntityKind,
    item: &Value,
) -> Result<Option<String>, JiraError> {
    let Some(epic) = item["epicId"].as_str().filter(|_| kind == EntityKind::UserStory) else { return Ok(None) };
    Ok(sql::mapping_by_entity(client, epic).await.map_err(db_error)?.map(|m| m.jira_issue_key))
}

/// A new defect's issue is linked to its story's, when the story has one.
/// Best effort: a failed link is logged, not retried.
async fn link_defect_to_story(engine: &Engine, side: &Side, kind: EntityKind, item: &Value, key: &str) {
    let Some(story) = item["relatedStoryId"].as_str().filter(|_| kind == EntityKind::Defect) else { return };
    let story_key = async {
        let client = engine.pool.get().await.ok()?;
        sql::mapping_by_entity(&client, story).await.ok()?.map(|m| m.jira_issue_key)
    };
    if let Some(story_key) = story_key.await
        && let Err(e) = side.client.link_issues(DEFECT_LINK_TYPE, &story_key, key).await
    {
        tracing::warn!(error = %e, defect = key, story = story_key, "could not link the defect to its story");
    }
}

/// How moving the issue's status ended.
#[derive(Debug, Default)]
struct StatusMove {
    /// The issue could not reach the item's status (reported as the item's
    /// sync error, not retried: the workflow decides).
    problem: Option<String>,
    /// Where a walk that moved the issue and then got stuck left it, as
    /// ARKHITEKTON names that status.
    left_at: Option<String>,
}

/// Jira's status category of an ARKHITEKTON status, to steer a walk.
fn category_of(status: &str) -> Option<&'static str> {
    match status {
        "backlog" => Some("new"),
        "in-progress" | "in-review" => Some("indeterminate"),
        "done" | "cancelled" => Some("done"),
        _ => None,
    }
}

/// Moves the issue to the item's status, through several transitions when
/// the workflow has no direct one. A new issue (`new_issue`: its project
/// and type) already in its workflow's initial status needs no transition.
async fn move_status(
    engine: &Engine,
    side: &Side,
    maps: &ProjectMaps,
    item: &Value,
    key: &str,
    new_issue: Option<(&str, &str)>,
) -> Result<StatusMove, JiraError> {
    let ours = item["status"].as_str().unwrap_or_default();
    let Some(target) = maps.jira_status(ours) else { return Ok(StatusMove::default()) };
    if let Some((project, issue_type)) = new_issue
        && engine.initial_status(side, project, issue_type, key).await?.eq_ignore_ascii_case(target)
    {
        return Ok(StatusMove::default());
    }
    let walk = side.client.move_to_status(key, target, category_of(ours)).await;
    match walk.outcome {
        Ok(()) => Ok(StatusMove::default()),
        Err(e @ JiraError::TransitionUnavailable { .. }) => Ok(StatusMove {
            problem: Some(e.to_string()),
            left_at: walk.at.filter(|_| walk.moved).and_then(|s| maps.ark_status(&s, None).map(str::to_owned)),
        }),
        Err(e) => Err(e),
    }
}
