//! Jira → ARKHITEKTON for one issue, from a webhook delivery or a
//! reconciliation pass.
//!
//! Loop prevention, in the spec's layers: (1) a change made by our own
//! integration account, or one setting the Sync Source marker, is our echo;
//! (2) deliveries are idempotent (the inbox's unique key); (3) a Jira
//! version not newer than the last one applied is stale (Jira reorders and
//! redelivers); (4) values equal to what the item holds are no change and
//! write nothing. What is written carries `sync_source = 'jira'`, which the
//! outbox triggers never push back.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::agreed;
use super::conflicts::Resolution;
use super::mapping::item_patch;
use super::maps::{MapOverrides, ProjectMaps};
use super::plan::{self, Facts};
use super::{Engine, Side};
use crate::db::sync::{self as sql, Mapping, NewConflict, SyncLog};
use crate::db::work_items;
use crate::db::{jobs, sync_admin};
use crate::domain::EntityKind;
use crate::domain::input::{self, Mode, SyncIntent};
use crate::jira::connection::Flavor;
use crate::jira::fields::{FieldMap, names};
use crate::jira::webhook::{Changelog, EventKind, parse_jira_time};
use crate::queue::JobError;

/// One issue as Jira reported it.
pub struct Incoming<'a> {
    pub event: EventKind,
    /// `{id, key, fields}`, in REST v2 (webhook) or v3 (search) form.
    pub issue: &'a Value,
    /// Who made the change (webhooks only).
    pub actor_account_id: Option<&'a str>,
    pub changelog: Option<&'a Changelog>,
    /// `webhook` or `scheduled` (reconciliation), for the sync log.
    pub source: &'static str,
    /// When `issue` was read from Jira (a search's start), if known: a read
    /// older than our last push may show a step of that push.
    pub read_at: Option<DateTime<Utc>>,
}

/// What became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// These fields of the item were written.
    Changed(Vec<String>),
    /// The issue was deleted in Jira: the item is kept, its link disabled.
    Unlinked,
    /// Nothing to do, and why.
    Ignored(String),
}

fn retry(e: impl Into<anyhow::Error>) -> JobError {
    JobError::Retry(e.into())
}

fn ignored(why: impl Into<String>) -> Result<Applied, JobError> {
    Ok(Applied::Ignored(why.into()))
}

pub async fn apply(engine: &Engine, incoming: &Incoming<'_>) -> Result<Applied, JobError> {
    let started = Instant::now();
    let side = engine.side().await.map_err(|e| e.to_job_error())?;
    if let Some(why) = own_echo(&side, incoming).await? {
        return ignored(why);
    }
    let issue_id =
        scalar(&incoming.issue["id"]).ok_or_else(|| JobError::Discard(anyhow::anyhow!("an issue without an id")))?;
    let client = engine.pool.get().await.map_err(retry)?;
    let found = sql::mapping_by_issue_id(&client, &issue_id).await.map_err(retry)?;
    drop(client); // linking and importing take their own connections
    if incoming.event == EventKind::IssueDeleted {
        let Some(mapping) = found else { return ignored("the issue is not linked") };
        unlink(engine, &mapping, incoming.source).await?;
        crate::metrics::sync_done("from_jira", "delete", "success", started.elapsed(), None);
        return Ok(Applied::Unlinked);
    }
    // From here on the issue's fields matter: read them fresh where the
    // delivery cannot be taken as it is (see `fresh_read`).
    let read_at = Utc::now();
    let fresh = match fresh_read(incoming) {
        Some(key) => match side.client.get_issue(key, &[]).await {
            Ok(issue) => Some(issue),
            Err(crate::jira::Error::NotFound(_)) => return ignored("the issue no longer exists in Jira"),
            Err(e) => return Err(e.to_job_error()),
        },
        None => None,
    };
    let incoming = &Incoming {
        event: incoming.event.clone(),
        issue: fresh.as_ref().unwrap_or(incoming.issue),
        actor_account_id: incoming.actor_account_id,
        changelog: incoming.changelog,
        source: incoming.source,
        read_at: if fresh.is_some() { Some(read_at) } else { incoming.read_at },
    };
    let fields = incoming.issue["fields"].as_object().cloned().unwrap_or_default();
    let mapping = match found {
        Some(m) => m,
        None => match link_by_arkhitekton_id(engine, &side, incoming.issue, &fields).await? {
            Some(m) => m,
            // Made in Jira: imported when its project asks for it (src/sync/import.rs).
            None => match super::import::import(engine, &side, incoming, &issue_id, &fields).await? {
                super::import::Imported::Created(applied) => return Ok(applied),
                super::import::Imported::Lost(m) => m,
                super::import::Imported::Declined(why) => return ignored(why),
            },
        },
    };
    let jira_updated = issue_updated(&fields);
    if let (Some(seen), Some(this)) = (mapping.jira_updated_at, jira_updated)
        && this <= seen
    {
        return ignored("stale: an equal or newer version of the issue was already applied");
    }
    let outcome = update_item(engine, &side, &mapping, &fields, jira_updated, incoming).await?;
    let lag = jira_updated.and_then(|t| (Utc::now() - t).to_std().ok());
    let result = if matches!(outcome, Applied::Changed(_)) { "success" } else { "ignored" };
    crate::metrics::sync_done("from_jira", "update", result, started.elapsed(), lag.filter(|_| result == "success"));
    Ok(outcome)
}

/// How far a delivery's clock may run ahead of ours before its timestamp
/// is no longer believed.
pub const MAX_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// The issue's `updated`, as a time; one beyond our clock plus
/// [`MAX_CLOCK_SKEW`] is capped there, so no version can claim a future
/// that would make every later real edit look stale.
pub(super) fn issue_updated(fields: &Map<String, Value>) -> Option<DateTime<Utc>> {
    let updated =
        fields.get("updated").and_then(Value::as_str).and_then(parse_jira_time).map(|t| t.with_timezone(&Utc))?;
    Some(updated.min(Utc::now() + MAX_CLOCK_SKEW))
}

/// The key of an issue whose delivery is not taken as it is but read again
/// from Jira before it is applied: every delivery. A delivery says that
/// the issue changed; what it changed to is read from Jira itself, because
/// - on Cloud a delivery carries rich text as wiki markup (REST v2 form), a
///   lossy rendering of the ADF Jira holds, and Markdown is read from the
///   ADF (REST v3);
/// - a delivery's clock (`updated`) is not to be trusted (one dated in the
///   future would make every later edit look stale): staleness is judged on
///   the issue Jira holds now;
/// - a delivery may be late, and show a step of a push of ours that has
///   finished since.
///
/// Search results (reconciliation, bulk pulls) are read fresh already.
fn fresh_read<'a>(incoming: &Incoming<'a>) -> Option<&'a str> {
    if incoming.source != "webhook" {
        return None;
    }
    incoming.issue["key"].as_str().or_else(|| incoming.issue["id"].as_str())
}

/// Why an issue read while our push of it ran is not applied.
const PUSH_IN_FLIGHT: &str = "read while our own push of the item was under way: it may show a step of that push";

/// Why a change by our integration account is ignored.
pub const OWN_ACCOUNT: &str = "made by the integration account (our own change)";

/// Layer 1: our own account made the change, or it set our marker.
async fn own_echo(side: &Side, incoming: &Incoming<'_>) -> Result<Option<String>, JobError> {
    if let (Some(actor), Some(ours)) = (incoming.actor_account_id, side.account_id.as_deref())
        && actor == ours
    {
        return Ok(Some(OWN_ACCOUNT.into()));
    }
    let Some(changelog) = incoming.changelog else { return Ok(None) };
    let field_map = side.client.field_map().await.map_err(|e| e.to_job_error())?;
    let marker = field_map.get(names::SYNC_SOURCE).map(|f| f.id.clone());
    let marked = changelog.items.iter().any(|item| {
        item.field_id.is_some()
            && item.field_id == marker
            && item.to_string.as_deref() == Some(super::mapping::SYNC_SOURCE_VALUE)
    });
    Ok(marked.then(|| "the change set the Sync Source marker (our own change)".into()))
}

/// An issue not linked yet but carrying the id of an unlinked item (made
/// in Jira by copying the id, or a create whose link was lost) is linked.
async fn link_by_arkhitekton_id(
    engine: &Engine,
    side: &Side,
    issue: &Value,
    fields: &Map<String, Value>,
) -> Result<Option<Mapping>, JobError> {
    let field_map = side.client.field_map().await.map_err(|e| e.to_job_error())?;
    let Some(ark_id) = field_map.get(names::ARKHITEKTON_ID).and_then(|f| fields.get(&f.id)).and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let Some(kind) = crate::domain::EntityKind::from_id(ark_id) else { return Ok(None) };
    let (Some(key), Some(issue_id)) = (issue["key"].as_str(), scalar(&issue["id"])) else { return Ok(None) };
    let project = fields.get("project").and_then(|p| p["key"].as_str()).unwrap_or_default().to_owned();
    let issue_type = fields.get("issuetype").and_then(|t| t["name"].as_str()).unwrap_or_default().to_owned();
    let mut client = engine.pool.get().await.map_err(retry)?;
    let tx = client.transaction().await.map_err(retry)?;
    if sql::sync_state(&tx, kind, ark_id).await.map_err(retry)?.is_none() {
        return Ok(None);
    }
    if sql::was_unlinked(&tx, ark_id, key).await.map_err(retry)? {
        return Ok(None); // a person unlinked the two: only they link them again (POST /api/jira/mappings)
    }
    sql::set_change_source(&tx, "jira").await.map_err(retry)?;
    let m = sql::insert_mapping(&tx, kind, ark_id, key, &issue_id, &issue_type, &project, "bi_directional")
        .await
        .map_err(retry)?;
    if m.jira_issue_id != issue_id {
        return Ok(None); // the item is linked to another issue already
    }
    sql::set_issue(&tx, kind, ark_id, key, &issue_id).await.map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    Ok(Some(m))
}

async fn unlink(engine: &Engine, m: &Mapping, source: &'static str) -> Result<(), JobError> {
    let mut client = engine.pool.get().await.map_err(retry)?;
    let tx = client.transaction().await.map_err(retry)?;
    sql::set_change_source(&tx, "jira").await.map_err(retry)?;
    sql::unlink_mapping(&tx, m.id).await.map_err(retry)?;
    sql::mark_disabled(&tx, m.kind, &m.arkhitekton_id).await.map_err(retry)?;
    let log = log_row(m, "delete", source, json!({"event": "jira:issue_deleted"}), "success", None);
    sql::insert_log(&tx, &log).await.map_err(retry)?;
    tx.commit().await.map_err(retry)
}

/// Layers 3 and 4, conflicts, and the write: load → [`plan`] → apply, in
/// one transaction that holds the link.
async fn update_item(
    engine: &Engine,
    side: &Side,
    m: &Mapping,
    fields: &Map<String, Value>,
    jira_updated: Option<DateTime<Utc>>,
    incoming: &Incoming<'_>,
) -> Result<Applied, JobError> {
    let field_map = side.client.field_map().await.map_err(|e| e.to_job_error())?;
    let mut client = engine.pool.get().await.map_err(retry)?;
    let maps = project_maps(&client, &m.jira_project_key).await?;
    let tx = client.transaction().await.map_err(retry)?;
    // One version of an issue at a time: two deliveries applied at once
    // would each pass the stale check, and the older could land last.
    let Some(m) = &sql::lock_mapping(&tx, m.id).await.map_err(retry)? else {
        return ignored("the issue was unlinked meanwhile");
    };
    if let Some(skip) = not_now(&tx, m, jira_updated, incoming).await? {
        return skip;
    }
    let Some(item) = work_items::get(&tx, m.kind, &m.arkhitekton_id, None).await.map_err(retry)? else {
        return ignored("the item no longer exists in ARKHITEKTON");
    };
    let Some((item_updated, _, status)) = sql::sync_state(&tx, m.kind, &m.arkhitekton_id).await.map_err(retry)? else {
        return ignored("the item no longer exists in ARKHITEKTON");
    };
    if status.as_deref() == Some("disabled") {
        return ignored("sync is disabled for this item");
    }
    let fields = super::people::with_known_emails(&side.client, fields);
    let mut theirs = item_patch(m.kind, &fields, &field_map, &maps, &item);
    if m.kind == EntityKind::UserStory
        && let Some(epic) = epic_of(&tx, side.flavor, &field_map, &fields).await?
    {
        theirs.insert("epicId".into(), epic);
    }
    let in_jira = agreed::of_issue(m.kind, &fields, &field_map);
    let pending_here = status.as_deref() == Some("pending");
    let facts = Facts {
        item: &item,
        agreed: &m.synced,
        theirs,
        in_jira: &in_jira,
        pending_here,
        item_updated,
        jira_updated,
        flavor: side.flavor,
    };
    let p = plan::plan(facts);
    apply_plan(&tx, m, &item, &p, pending_here, (item_updated, jira_updated), incoming.source).await?;
    tx.commit().await.map_err(retry)?;
    if p.changes.is_empty() {
        return ignored("no change: the item already holds these values");
    }
    Ok(Applied::Changed(p.writes.keys().cloned().collect()))
}

/// Why this version of the issue is not applied now, if it is not: it is
/// stale, or it was read while our own push of the item ran (or before
/// that push finished), so it may show a step of the push (a status
/// half-way through a walk of transitions). A delivery is then retried
/// (and read again); a pass's read is left for the next pass.
async fn not_now(
    tx: &impl deadpool_postgres::GenericClient,
    m: &Mapping,
    jira_updated: Option<DateTime<Utc>>,
    incoming: &Incoming<'_>,
) -> Result<Option<Result<Applied, JobError>>, JobError> {
    if let (Some(seen), Some(this)) = (m.jira_updated_at, jira_updated)
        && this <= seen
    {
        return Ok(Some(ignored("stale: an equal or newer version of the issue was already applied")));
    }
    let pushing = jobs::is_running(tx, &super::outbound::push_key(&m.arkhitekton_id)).await.map_err(retry)?;
    let read_before_push = matches!((m.last_pushed_at, incoming.read_at), (Some(p), Some(r)) if p >= r);
    if !(pushing || read_before_push) {
        return Ok(None);
    }
    Ok(Some(match incoming.source {
        "webhook" => Err(JobError::Retry(anyhow::anyhow!(PUSH_IN_FLIGHT))),
        _ => ignored(PUSH_IN_FLIGHT),
    }))
}

/// Writes what [`plan`] decided: the item's fields (as the inbound path,
/// which the outbox never pushes back), what both sides now agree on, the
/// push that must follow, the conflict and the sync log.
async fn apply_plan(
    tx: &impl deadpool_postgres::GenericClient,
    m: &Mapping,
    item: &Value,
    p: &plan::Plan,
    pending_here: bool,
    (item_updated, jira_updated): (DateTime<Utc>, Option<DateTime<Utc>>),
    source: &'static str,
) -> Result<(), JobError> {
    sql::set_change_source(tx, "jira").await.map_err(retry)?;
    sql::mark_mapping_synced(tx, m.id, jira_updated).await.map_err(retry)?;
    sql::merge_synced_fields(tx, m.id, &p.agreed, sql::AgreedBy::Pull).await.map_err(retry)?;
    if p.changes.is_empty() {
        return Ok(());
    }
    if !p.writes.is_empty() {
        let parsed = input::parse(m.kind, &Value::Object(p.writes.clone()), Mode::Patch).map_err(|e| {
            JobError::Discard(anyhow::anyhow!("Jira's value cannot be stored in ARKHITEKTON: {}", e.message))
        })?;
        work_items::update(tx, m.kind, &m.arkhitekton_id, &parsed.assignments, &SyncIntent::default())
            .await
            .map_err(retry)?;
        // A field that now holds Jira's value has nothing left to warn of.
        if item["syncWarnings"].as_array().is_some_and(|w| !w.is_empty()) {
            let written: Vec<String> = p.writes.keys().cloned().collect();
            sql::drop_warnings(tx, m.kind, &m.arkhitekton_id, &written).await.map_err(retry)?;
        }
    }
    if !pending_here {
        sql::mark_synced_inbound(tx, m.kind, &m.arkhitekton_id).await.map_err(retry)?;
    }
    // Where the item keeps a value Jira lacks (its own newer edit, a
    // conflict it won, a union of labels), a push must follow; one may be
    // waiting already (coalesced), but an item in error has none.
    if p.push {
        sync_admin::mark_pending(tx, m.kind, &[m.arkhitekton_id.as_str()]).await.map_err(retry)?;
        sync_admin::enqueue_pushes(tx, &[(m.kind, m.arkhitekton_id.clone())]).await.map_err(retry)?;
    }
    let resolution = p.conflict.as_ref().map(|(r, _)| *r);
    if let (Some((r, contested)), Some(theirs)) = (&p.conflict, jira_updated) {
        record_conflict(tx, m, item, contested, &p.writes, *r, item_updated, theirs).await?;
    }
    let request =
        json!({"changes": p.changes, "applied": p.writes, "keptOurs": p.kept_ours, "jiraUpdated": jira_updated});
    sql::insert_log(tx, &log_row(m, "update", source, request, "success", resolution)).await.map_err(retry)?;
    Ok(())
}

/// A story's epic as Jira names it (`parent` on Cloud, the Epic Link field
/// on Data Center), as the ARKHITEKTON epic linked to that issue; `None`
/// (leave the item's alone) when Jira names none or an issue that is not a
/// linked epic. Removing the epic is not synced, either way: an epic whose
/// issue does not exist yet is not on the issue either, and must not be
/// cleared here for that.
pub(super) async fn epic_of(
    client: &impl deadpool_postgres::GenericClient,
    flavor: Flavor,
    field_map: &FieldMap,
    fields: &Map<String, Value>,
) -> Result<Option<Value>, JobError> {
    let named = match flavor {
        Flavor::Cloud => fields.get("parent").map(|p| p["key"].clone()),
        Flavor::Datacenter => field_map.get(names::EPIC_LINK).and_then(|f| fields.get(&f.id)).cloned(),
    };
    let Some(Value::String(key)) = named else { return Ok(None) };
    let epic = sql::mapping_by_issue_key(client, &key).await.map_err(retry)?;
    Ok(epic.filter(|e| e.kind == EntityKind::Epic).map(|e| json!(e.arkhitekton_id)))
}

#[allow(clippy::too_many_arguments)]
async fn record_conflict(
    tx: &impl deadpool_postgres::GenericClient,
    m: &Mapping,
    item: &Value,
    changes: &Map<String, Value>,
    applied: &Map<String, Value>,
    resolution: Resolution,
    item_updated: DateTime<Utc>,
    jira_updated: DateTime<Utc>,
) -> Result<(), JobError> {
    let ours: Map<String, Value> = changes.keys().map(|k| (k.clone(), item[k.as_str()].clone())).collect();
    let conflict = NewConflict {
        kind: m.kind,
        arkhitekton_id: &m.arkhitekton_id,
        jira_issue_key: &m.jira_issue_key,
        arkhitekton_version: Value::Object(ours),
        jira_version: Value::Object(changes.clone()),
        applied: Value::Object(applied.clone()),
        resolution: resolution.as_str(),
        arkhitekton_updated_at: item_updated,
        jira_updated_at: jira_updated,
    };
    sql::insert_conflict(tx, &conflict).await.map_err(retry)?;
    crate::metrics::sync_conflict(resolution.as_str());
    Ok(())
}

fn log_row<'a>(
    m: &'a Mapping,
    sync_type: &'static str,
    source: &'static str,
    request: Value,
    status: &'static str,
    resolution: Option<Resolution>,
) -> SyncLog<'a> {
    SyncLog {
        mapping_id: Some(m.id),
        arkhitekton_id: Some(&m.arkhitekton_id),
        jira_issue_key: Some(&m.jira_issue_key),
        direction: "from_jira",
        sync_type,
        source,
        request: Some(request),
        response: None,
        status,
        error_message: resolution.map(|r| format!("concurrent edit: {}", r.as_str())),
        error_code: None,
        warnings: None,
        duration_ms: 0,
        retry_count: 0,
    }
}

async fn project_maps(client: &impl deadpool_postgres::GenericClient, project: &str) -> Result<ProjectMaps, JobError> {
    let (overrides, _) = sql::project_settings(client, project).await.map_err(retry)?;
    let overrides: MapOverrides = serde_json::from_value(overrides)
        .map_err(|e| JobError::Discard(anyhow::anyhow!("jira_project_settings.maps of {project} is not valid: {e}")))?;
    Ok(ProjectMaps::with_overrides(&overrides))
}

/// Jira ids are strings in REST and webhooks; tolerate numbers.
fn scalar(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string()))
}
