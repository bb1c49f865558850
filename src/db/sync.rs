//! SQL of the sync engine: mappings, the sync bookkeeping of work items,
//! the sync log, project settings and conflicts.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::prepared;
use crate::domain::EntityKind;

/// A live link between a work item and a Jira issue.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub id: Uuid,
    pub arkhitekton_id: String,
    pub kind: EntityKind,
    pub jira_issue_key: String,
    pub jira_issue_id: String,
    pub jira_project_key: String,
    /// `updated` of the newest Jira version applied or pushed.
    pub jira_updated_at: Option<DateTime<Utc>>,
    /// The mapped fields as both sides last agreed on them (API JSON
    /// names); a field missing is unknown.
    pub synced: serde_json::Map<String, Value>,
    /// When a push last finished writing to the issue.
    pub last_pushed_at: Option<DateTime<Utc>>,
}

pub(crate) const MAPPING_COLUMNS: &str = "id, arkhitekton_id, arkhitekton_type, jira_issue_key, jira_issue_id, jira_project_key, \
     jira_updated_at, synced_fields, last_pushed_at";

fn mapping(row: &Row) -> Mapping {
    mapping_at(row, 0)
}

/// The mapping in `row`'s columns from `at` on ([`MAPPING_COLUMNS`]).
pub(crate) fn mapping_at(row: &Row, at: usize) -> Mapping {
    let type_name: String = row.get(at + 2);
    Mapping {
        id: row.get(at),
        arkhitekton_id: row.get(at + 1),
        // The column's CHECK constraint allows these three names only.
        kind: EntityKind::from_type_name(&type_name).expect("arkhitekton_type is one of the kinds' names"),
        jira_issue_key: row.get(at + 3),
        jira_issue_id: row.get(at + 4),
        jira_project_key: row.get(at + 5),
        jira_updated_at: row.get(at + 6),
        synced: match row.get(at + 7) {
            Value::Object(fields) => fields,
            _ => serde_json::Map::new(),
        },
        last_pushed_at: row.get(at + 8),
    }
}

/// The live link whose `column` equals `value` (locked until the
/// transaction ends when `for_update`).
async fn live_mapping(
    client: &impl GenericClient,
    column: &str,
    value: &(dyn tokio_postgres::types::ToSql + Sync),
    for_update: bool,
) -> Result<Option<Mapping>, tokio_postgres::Error> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {MAPPING_COLUMNS} FROM live_mappings WHERE {column} = $1{lock}");
    Ok(prepared::query_opt(client, &sql, &[value]).await?.as_ref().map(mapping))
}

pub async fn mapping_by_issue_key(
    client: &impl GenericClient,
    issue_key: &str,
) -> Result<Option<Mapping>, tokio_postgres::Error> {
    live_mapping(client, "jira_issue_key", &issue_key, false).await
}

pub async fn mapping_by_issue_id(
    client: &impl GenericClient,
    issue_id: &str,
) -> Result<Option<Mapping>, tokio_postgres::Error> {
    live_mapping(client, "jira_issue_id", &issue_id, false).await
}

pub async fn mapping_by_entity(
    client: &impl GenericClient,
    ark_id: &str,
) -> Result<Option<Mapping>, tokio_postgres::Error> {
    live_mapping(client, "arkhitekton_id", &ark_id, false).await
}

/// The live link, locked until the transaction ends: the inbound sync
/// applies one version of an issue at a time.
pub async fn lock_mapping(client: &impl GenericClient, id: Uuid) -> Result<Option<Mapping>, tokio_postgres::Error> {
    live_mapping(client, "id", &id, true).await
}

/// Whether the item and the issue were linked once and then unlinked.
pub async fn was_unlinked(
    client: &impl GenericClient,
    ark_id: &str,
    issue_key: &str,
) -> Result<bool, tokio_postgres::Error> {
    let row = prepared::query_one(
        client,
        "SELECT EXISTS (SELECT 1 FROM jira_integration_mappings \
                 WHERE arkhitekton_id = $1 AND jira_issue_key = $2 AND sync_status = 'unlinked')",
        &[&ark_id, &issue_key],
    )
    .await?;
    Ok(row.get(0))
}

/// Links an item to an issue, or returns the link it already has (a
/// concurrent create of the same link is answered, not duplicated).
#[allow(clippy::too_many_arguments)]
pub async fn insert_mapping(
    client: &impl GenericClient,
    kind: EntityKind,
    ark_id: &str,
    issue_key: &str,
    issue_id: &str,
    issue_type: &str,
    project_key: &str,
    direction: &str,
) -> Result<Mapping, tokio_postgres::Error> {
    let sql = format!(
        "INSERT INTO jira_integration_mappings (arkhitekton_id, arkhitekton_type, jira_issue_key, jira_issue_id, \
             jira_issue_type, jira_project_key, sync_direction) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (arkhitekton_id) WHERE sync_status <> 'unlinked' DO NOTHING RETURNING {MAPPING_COLUMNS}"
    );
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
        [&ark_id, &kind.type_name(), &issue_key, &issue_id, &issue_type, &project_key, &direction];
    match prepared::query_opt(client, &sql, &params).await? {
        Some(row) => Ok(mapping(&row)),
        None => Ok(mapping_by_entity(client, ark_id).await?.expect("the conflicting mapping exists")),
    }
}

/// Links an item to the issue its push just created, with the fields both
/// sides now agree on, and clears the create's in-doubt record: one
/// statement. Should a live link have appeared meanwhile (a person linked
/// the item by hand), that link is kept, the agreed fields merged into it,
/// and returned, as [`insert_mapping`] and [`merge_synced_fields`] would.
#[allow(clippy::too_many_arguments)]
pub async fn link_created(
    client: &impl GenericClient,
    kind: EntityKind,
    ark_id: &str,
    issue_key: &str,
    issue_id: &str,
    issue_type: &str,
    project_key: &str,
    synced: &serde_json::Map<String, Value>,
) -> Result<Mapping, tokio_postgres::Error> {
    let sql = format!(
        "WITH done AS (DELETE FROM jira_pending_creates WHERE arkhitekton_id = $1) \
         INSERT INTO jira_integration_mappings (arkhitekton_id, arkhitekton_type, jira_issue_key, jira_issue_id, \
             jira_issue_type, jira_project_key, sync_direction, synced_fields, last_pushed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'bi_directional', $7, now()) \
         ON CONFLICT (arkhitekton_id) WHERE sync_status <> 'unlinked' \
         DO UPDATE SET synced_fields = jira_integration_mappings.synced_fields || excluded.synced_fields, \
             last_pushed_at = now() \
         RETURNING {MAPPING_COLUMNS}"
    );
    let synced = Value::Object(synced.clone());
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
        [&ark_id, &kind.type_name(), &issue_key, &issue_id, &issue_type, &project_key, &synced];
    Ok(mapping(&prepared::query_one(client, &sql, &params).await?))
}

/// Records that the mapping has seen Jira's version `jira_updated` (never
/// moving backwards) and was synced now.
pub async fn mark_mapping_synced(
    client: &impl GenericClient,
    id: Uuid,
    jira_updated: Option<DateTime<Utc>>,
) -> Result<(), tokio_postgres::Error> {
    prepared::execute(
        client,
        "UPDATE jira_integration_mappings SET last_synced_at = now(), sync_status = 'active', \
                 jira_updated_at = greatest(jira_updated_at, $2) WHERE id = $1",
        &[&id, &jira_updated],
    )
    .await
    .map(drop)
}

/// Who made both sides agree on some fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgreedBy {
    /// An applied Jira version (or an import).
    Pull,
    /// A push, which also records when it wrote to the issue.
    Push,
}

/// Records fields as agreed by both sides, over what was agreed before.
pub async fn merge_synced_fields(
    client: &impl GenericClient,
    id: Uuid,
    fields: &serde_json::Map<String, Value>,
    by: AgreedBy,
) -> Result<(), tokio_postgres::Error> {
    if fields.is_empty() {
        return Ok(());
    }
    let sql = match by {
        AgreedBy::Pull => "UPDATE jira_integration_mappings SET synced_fields = synced_fields || $2 WHERE id = $1",
        AgreedBy::Push => {
            "UPDATE jira_integration_mappings SET synced_fields = synced_fields || $2, last_pushed_at = now() \
             WHERE id = $1"
        }
    };
    prepared::execute(client, sql, &[&id, &Value::Object(fields.clone())]).await.map(drop)
}

/// Forgets what the item's link last agreed on, so its next push sends
/// every synced field (a manual sync-to-jira).
pub async fn forget_synced_fields(client: &impl GenericClient, ark_id: &str) -> Result<(), tokio_postgres::Error> {
    prepared::execute(client, "UPDATE live_mappings SET synced_fields = '{}' WHERE arkhitekton_id = $1", &[&ark_id])
        .await
        .map(drop)
}

/// How a create of an item's issue may begin (see [`begin_create`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateStart {
    /// No earlier create is pending: go straight to Jira.
    Fresh,
    /// An earlier create was begun and never recorded (its worker died
    /// between Jira's answer and our commit): it may have made the issue,
    /// so look for it before creating.
    InDoubt,
    /// The item has a link now (made meanwhile, by hand or by a pull).
    Linked,
}

/// Notes that a create of the item's issue is about to be sent, unless the
/// item got a link since the push read it.
pub async fn begin_create(client: &impl GenericClient, ark_id: &str) -> Result<CreateStart, tokio_postgres::Error> {
    let inserted = prepared::execute(
        client,
        "INSERT INTO jira_pending_creates (arkhitekton_id) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&ark_id],
    )
    .await?;
    if inserted == 0 {
        return Ok(CreateStart::InDoubt);
    }
    // Asked after the insert committed, so a link stored together with the
    // removal of an earlier pending row is seen here.
    let linked = prepared::query_one(
        client,
        "SELECT EXISTS (SELECT 1 FROM live_mappings WHERE arkhitekton_id = $1)",
        &[&ark_id],
    )
    .await?
    .get::<_, bool>(0);
    if linked {
        prepared::execute(client, "DELETE FROM jira_pending_creates WHERE arkhitekton_id = $1", &[&ark_id]).await?;
        return Ok(CreateStart::Linked);
    }
    Ok(CreateStart::Fresh)
}

pub async fn unlink_mapping(client: &impl GenericClient, id: Uuid) -> Result<(), tokio_postgres::Error> {
    prepared::execute(client, "UPDATE jira_integration_mappings SET sync_status = 'unlinked' WHERE id = $1", &[&id])
        .await
        .map(drop)
}

/// The sync bookkeeping of an item: (updated_at, last_synced_at,
/// sync_status), or `None` when the item does not exist.
pub async fn sync_state(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
) -> Result<Option<(DateTime<Utc>, Option<DateTime<Utc>>, Option<String>)>, tokio_postgres::Error> {
    let sql = format!("SELECT updated_at, last_synced_at, sync_status FROM {} WHERE id = $1", kind.table());
    Ok(prepared::query_opt(client, &sql, &[&id]).await?.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Stores the issue an item is linked to (bookkeeping: no push follows).
pub async fn set_issue(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
    issue_key: &str,
    issue_id: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET jira_issue_key = $2, jira_issue_id = $3, sync_to_jira = true WHERE id = $1",
        kind.table()
    );
    prepared::execute(client, &sql, &[&id, &issue_key, &issue_id]).await.map(drop)
}

/// After the version edited at `version` reached Jira (or came from it):
/// that version is synced; the item is `synced` unless a newer edit is
/// already waiting for its own push.
pub async fn mark_synced(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
    version: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET last_synced_at = greatest(last_synced_at, $2), sync_error = NULL, \
             sync_status = CASE WHEN updated_at <= $2 THEN 'synced' ELSE sync_status END WHERE id = $1",
        kind.table()
    );
    prepared::execute(client, &sql, &[&id, &version]).await.map(drop)
}

/// [`mark_synced`] for the first push, which made the item's issue: the
/// item also records it ([`set_issue`]), in the same statement.
pub async fn mark_created(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
    version: DateTime<Utc>,
    issue_key: &str,
    issue_id: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET jira_issue_key = $3, jira_issue_id = $4, sync_to_jira = true, \
             last_synced_at = greatest(last_synced_at, $2), sync_error = NULL, \
             sync_status = CASE WHEN updated_at <= $2 THEN 'synced' ELSE sync_status END WHERE id = $1",
        kind.table()
    );
    prepared::execute(client, &sql, &[&id, &version, &issue_key, &issue_id]).await.map(drop)
}

/// After Jira's version was applied to an item with no unsynced edits of
/// its own: the item equals its issue again.
pub async fn mark_synced_inbound(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET last_synced_at = updated_at, sync_status = 'synced', sync_error = NULL \
         WHERE id = $1 AND (sync_status IS NULL OR sync_status = 'synced')",
        kind.table()
    );
    prepared::execute(client, &sql, &[&id]).await.map(drop)
}

/// Replaces an item's field-level sync warnings (`[{field, code, message}]`).
pub async fn set_warnings(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
    warnings: &Value,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!("UPDATE {} SET sync_warnings = $2 WHERE id = $1", kind.table());
    prepared::execute(client, &sql, &[&id, warnings]).await.map(drop)
}

/// Drops the warnings of `fields` (Jira's value was taken for them).
pub async fn drop_warnings(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
    fields: &[String],
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET sync_warnings = coalesce(( \
             SELECT jsonb_agg(w) FROM jsonb_array_elements(sync_warnings) w WHERE NOT (w->>'field' = ANY($2)) \
         ), '[]'::jsonb) \
         WHERE id = $1 AND sync_warnings <> '[]'::jsonb",
        kind.table()
    );
    prepared::execute(client, &sql, &[&id, &fields]).await.map(drop)
}

pub async fn mark_error(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
    message: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!("UPDATE {} SET sync_status = 'error', sync_error = $2 WHERE id = $1", kind.table());
    prepared::execute(client, &sql, &[&id, &message]).await.map(drop)
}

/// The issue is gone from Jira: keep the item, stop syncing it.
pub async fn mark_disabled(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET sync_status = 'disabled', sync_error = 'the Jira issue was deleted' WHERE id = $1",
        kind.table()
    );
    prepared::execute(client, &sql, &[&id]).await.map(drop)
}

/// One row of the audit trail.
#[derive(Debug, Clone)]
pub struct SyncLog<'a> {
    pub mapping_id: Option<Uuid>,
    pub arkhitekton_id: Option<&'a str>,
    pub jira_issue_key: Option<&'a str>,
    pub direction: &'static str,
    pub sync_type: &'static str,
    pub source: &'static str,
    pub request: Option<Value>,
    pub response: Option<Value>,
    pub status: &'static str,
    pub error_message: Option<String>,
    pub error_code: Option<String>,
    /// Field-level warnings of a sync that otherwise went through.
    pub warnings: Option<Value>,
    pub duration_ms: i32,
    pub retry_count: i32,
}

pub async fn insert_log(client: &impl GenericClient, log: &SyncLog<'_>) -> Result<(), tokio_postgres::Error> {
    prepared::execute(
        client,
        "INSERT INTO jira_sync_logs (mapping_id, arkhitekton_id, jira_issue_key, sync_direction, sync_type, \
                 sync_source, request_payload, response_payload, status, error_message, error_code, duration_ms, \
                 retry_count, warnings) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            &log.mapping_id,
            &log.arkhitekton_id,
            &log.jira_issue_key,
            &log.direction,
            &log.sync_type,
            &log.source,
            &log.request,
            &log.response,
            &log.status,
            &log.error_message,
            &log.error_code,
            &log.duration_ms,
            &log.retry_count,
            &log.warnings,
        ],
    )
    .await
    .map(drop)
}

/// A project's map overrides (JSON) and import setting; defaults when the
/// project has no row.
pub async fn project_settings(
    client: &impl GenericClient,
    project_key: &str,
) -> Result<(Value, bool), tokio_postgres::Error> {
    let row = prepared::query_opt(
        client,
        "SELECT maps, import_unmapped FROM jira_project_settings WHERE project_key = $1",
        &[&project_key],
    )
    .await?;
    Ok(row.map_or((serde_json::json!({}), false), |r| (r.get(0), r.get(1))))
}

/// A concurrent edit and how it was resolved.
#[derive(Debug, Clone)]
pub struct NewConflict<'a> {
    pub kind: EntityKind,
    pub arkhitekton_id: &'a str,
    pub jira_issue_key: &'a str,
    pub arkhitekton_version: Value,
    pub jira_version: Value,
    pub applied: Value,
    pub resolution: &'static str,
    pub arkhitekton_updated_at: DateTime<Utc>,
    pub jira_updated_at: DateTime<Utc>,
}

pub async fn insert_conflict(client: &impl GenericClient, c: &NewConflict<'_>) -> Result<Uuid, tokio_postgres::Error> {
    let row = prepared::query_one(
        client,
        "INSERT INTO sync_conflicts (arkhitekton_id, arkhitekton_type, jira_issue_key, arkhitekton_version, \
                 jira_version, applied, resolution, arkhitekton_updated_at, jira_updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        &[
            &c.arkhitekton_id,
            &c.kind.type_name(),
            &c.jira_issue_key,
            &c.arkhitekton_version,
            &c.jira_version,
            &c.applied,
            &c.resolution,
            &c.arkhitekton_updated_at,
            &c.jira_updated_at,
        ],
    )
    .await?;
    Ok(row.get(0))
}

/// Sets this transaction's change source (`SET LOCAL`): the outbox
/// triggers read it, and `jira` makes a push impossible.
pub async fn set_change_source(client: &impl GenericClient, source: &str) -> Result<(), tokio_postgres::Error> {
    prepared::execute(client, "SELECT set_config('arksync.sync_source', $1, true)", &[&source]).await.map(drop)
}

/// Jira projects that items sync with (linked or asked to).
pub async fn synced_projects(client: &impl GenericClient) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = prepared::query(
        client,
        "SELECT jira_project_key FROM live_mappings \
             UNION SELECT jira_project_key FROM user_stories WHERE sync_to_jira AND jira_project_key IS NOT NULL \
             UNION SELECT jira_project_key FROM defects WHERE sync_to_jira AND jira_project_key IS NOT NULL \
             UNION SELECT jira_project_key FROM epics WHERE sync_to_jira AND jira_project_key IS NOT NULL \
             ORDER BY 1",
        &[],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A reconciliation high-water mark.
pub async fn cursor(client: &impl GenericClient, name: &str) -> Result<Option<DateTime<Utc>>, tokio_postgres::Error> {
    Ok(prepared::query_opt(client, "SELECT position FROM sync_cursors WHERE name = $1", &[&name])
        .await?
        .map(|r| r.get(0)))
}

pub async fn set_cursor(
    client: &impl GenericClient,
    name: &str,
    at: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    prepared::execute(
        client,
        "INSERT INTO sync_cursors (name, position) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()",
        &[&name, &at],
    )
    .await
    .map(drop)
}

/// Enqueues a push for syncing items whose last push failed, or that were
/// edited after their last sync with no push waiting or running (a lost
/// job, a crash). Returns how many jobs were added.
pub async fn enqueue_stale_pushes(client: &impl GenericClient, limit: i64) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(client,
            "INSERT INTO jobs (kind, payload, unique_key, max_attempts) \
             SELECT job.* FROM ( \
                 SELECT 'user_story' AS type, id, updated_at, last_synced_at, sync_status, sync_to_jira FROM user_stories \
                 UNION ALL SELECT 'defect', id, updated_at, last_synced_at, sync_status, sync_to_jira FROM defects \
                 UNION ALL SELECT 'epic', id, updated_at, last_synced_at, sync_status, sync_to_jira FROM epics) items \
             CROSS JOIN LATERAL arksync_push_job(items.type, items.id) AS job \
             WHERE sync_to_jira AND sync_status IS DISTINCT FROM 'disabled' \
               AND (sync_status = 'error' OR last_synced_at IS NULL OR updated_at > last_synced_at) \
               AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.unique_key = job.unique_key \
                               AND j.state IN ('available', 'running')) \
             ORDER BY items.updated_at LIMIT $1 \
             ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state = 'available' DO NOTHING",
            &[&limit],
        )
        .await
}
