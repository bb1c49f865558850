//! SQL of the sync-management API: sync intents, explicit pushes, the
//! mapping endpoints, stats, retries and an item's sync history.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::{Value, json};
use tokio_postgres::Row;
use uuid::Uuid;

use super::work_items::timestamp;
use crate::domain::EntityKind;

/// Marks an item for sync (in `project` when given, else the stored one)
/// and `pending`; returns false when there is no such item.
pub async fn set_sync_intent(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
    project: Option<&str>,
) -> Result<bool, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET sync_to_jira = true, jira_project_key = coalesce($2, jira_project_key), \
             sync_status = 'pending', sync_error = NULL WHERE id = $1",
        kind.table()
    );
    Ok(client.execute(&sql, &[&id, &project]).await? == 1)
}

/// Enqueues one push per `(kind, id)` (ids must be distinct), reusing and
/// waking a push already waiting; returns `(item id, job id)` pairs. Call it
/// after the item's change is committed, so a reused job reads it.
pub async fn enqueue_pushes(
    client: &impl GenericClient,
    items: &[(EntityKind, String)],
) -> Result<Vec<(String, i64)>, tokio_postgres::Error> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let types: Vec<&str> = items.iter().map(|(k, _)| k.type_name()).collect();
    let ids: Vec<&str> = items.iter().map(|(_, id)| id.as_str()).collect();
    let rows = client.query(include_str!("sql/enqueue_pushes.sql"), &[&types, &ids]).await?;
    super::jobs::notify(client).await?;
    Ok(rows.iter().map(|r| (r.get(1), r.get(0))).collect())
}

/// Marks syncing items `pending` again (bookkeeping: no trigger push).
pub async fn mark_pending(
    client: &impl GenericClient,
    kind: EntityKind,
    ids: &[&str],
) -> Result<u64, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET sync_status = 'pending', sync_error = NULL \
         WHERE id = ANY($1) AND sync_to_jira AND sync_status IS DISTINCT FROM 'disabled'",
        kind.table()
    );
    client.execute(&sql, &[&ids]).await
}

/// Items whose last push failed, oldest edit first.
pub async fn failed_items(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<(EntityKind, String)>, tokio_postgres::Error> {
    let union = EntityKind::ALL
        .iter()
        .map(|k| {
            format!(
                "SELECT '{}' AS type, id, updated_at FROM {} WHERE sync_status = 'error' AND sync_to_jira",
                k.type_name(),
                k.table()
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let sql = format!("SELECT type, id FROM ({union}) f ORDER BY updated_at, id LIMIT $1");
    let rows = client.query(&sql, &[&limit]).await?;
    Ok(rows.iter().filter_map(|r| Some((EntityKind::from_type_name(r.get(0))?, r.get(1)))).collect())
}

const MAPPING_JSON_COLUMNS: &str = "id, arkhitekton_id, arkhitekton_type, jira_issue_key, jira_issue_id, \
     jira_issue_type, jira_project_key, sync_direction, sync_status, last_synced_at, created_at";

fn mapping_json(row: &Row, jira_base_url: Option<&str>) -> Value {
    let key: String = row.get(3);
    let url = jira_base_url.map(|base| format!("{}/browse/{key}", base.trim_end_matches('/')));
    json!({
        "id": row.get::<_, Uuid>(0),
        "arkhitektonId": row.get::<_, String>(1),
        "arkhitektonType": row.get::<_, String>(2),
        "jiraIssueKey": key,
        "jiraIssueId": row.get::<_, String>(4),
        "jiraIssueType": row.get::<_, String>(5),
        "jiraIssueUrl": url,
        "jiraProjectKey": row.get::<_, String>(6),
        "syncDirection": row.get::<_, String>(7),
        "syncStatus": row.get::<_, String>(8),
        "lastSyncedAt": row.get::<_, Option<DateTime<Utc>>>(9).map(timestamp),
        "createdAt": timestamp(row.get(10)),
    })
}

/// The live mapping of an item as API JSON.
pub async fn live_mapping_json(
    client: &impl GenericClient,
    ark_id: &str,
    jira_base_url: Option<&str>,
) -> Result<Option<Value>, tokio_postgres::Error> {
    let sql = format!("SELECT {MAPPING_JSON_COLUMNS} FROM live_mappings WHERE arkhitekton_id = $1");
    Ok(client.query_opt(&sql, &[&ark_id]).await?.map(|r| mapping_json(&r, jira_base_url)))
}

/// Unlinks a live mapping; returns its item, or `None` when there is no
/// live mapping with that id.
pub async fn unlink_mapping(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<(EntityKind, String)>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "UPDATE live_mappings SET sync_status = 'unlinked' WHERE id = $1 RETURNING arkhitekton_type, arkhitekton_id",
            &[&id],
        )
        .await?;
    Ok(row.and_then(|r| Some((EntityKind::from_type_name(r.get(0))?, r.get(1)))))
}

/// After an unlink: the item no longer syncs and names no issue (as if it
/// had never been synced), so it can be linked or synced afresh.
pub async fn clear_item_link(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET sync_to_jira = false, sync_status = NULL, sync_error = NULL, jira_issue_key = NULL, \
             jira_issue_id = NULL WHERE id = $1",
        kind.table()
    );
    client.execute(&sql, &[&id]).await.map(drop)
}

/// After a manual link: the item syncs with `project` and waits for a push.
pub async fn set_linked_item(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
    project: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "UPDATE {} SET jira_project_key = $2, sync_status = 'pending', sync_error = NULL WHERE id = $1",
        kind.table()
    );
    client.execute(&sql, &[&id, &project]).await.map(drop)
}

/// Whether an item exists: `(has a live mapping)`, or `None`.
pub async fn item_link_state(
    client: &impl GenericClient,
    kind: EntityKind,
    id: &str,
) -> Result<Option<bool>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM live_mappings m WHERE m.arkhitekton_id = t.id) FROM {} t WHERE t.id = $1 FOR UPDATE",
        kind.table()
    );
    Ok(client.query_opt(&sql, &[&id]).await?.map(|r| r.get(0)))
}

/// The numbers of `GET /api/jira/sync/stats`.
pub async fn stats(client: &impl GenericClient) -> Result<Value, tokio_postgres::Error> {
    let r = client.query_one(include_str!("sql/sync_stats.sql"), &[]).await?;
    Ok(json!({
        "totalMappings": r.get::<_, i64>(0),
        "activeSyncs": r.get::<_, i64>(1),
        "errorSyncs": r.get::<_, i64>(2),
        "pending": r.get::<_, i64>(3),
        "lastSyncTime": r.get::<_, Option<DateTime<Utc>>>(4).map(timestamp),
        "syncRate": { "last24h": r.get::<_, i64>(5), "last7d": r.get::<_, i64>(6) },
        "conflictsOpen": r.get::<_, i64>(7),
    }))
}

/// One page of an item's sync log, newest first, after `after` (the
/// `(created_at, id)` of the previous page's last row); each row comes with
/// its own `(created_at, id)` for the next cursor.
pub async fn history(
    client: &impl GenericClient,
    ark_id: &str,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<(Value, DateTime<Utc>, Uuid)>, tokio_postgres::Error> {
    let (ts, id) = after.unzip();
    let rows = client
        .query(
            "SELECT id, mapping_id, jira_issue_key, sync_direction, sync_type, sync_source, request_payload, \
                 response_payload, status, error_message, error_code, duration_ms, retry_count, created_at, \
                 warnings \
             FROM jira_sync_logs WHERE arkhitekton_id = $1 \
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4",
            &[&ark_id, &ts, &id, &limit],
        )
        .await?;
    Ok(rows.iter().map(|r| (history_json(r), r.get(13), r.get(0))).collect())
}

fn history_json(r: &Row) -> Value {
    json!({
        "id": r.get::<_, Uuid>(0),
        "mappingId": r.get::<_, Option<Uuid>>(1),
        "jiraIssueKey": r.get::<_, Option<String>>(2),
        "syncDirection": r.get::<_, String>(3),
        "syncType": r.get::<_, String>(4),
        "syncSource": r.get::<_, String>(5),
        "requestPayload": r.get::<_, Option<Value>>(6),
        "responsePayload": r.get::<_, Option<Value>>(7),
        "status": r.get::<_, String>(8),
        "errorMessage": r.get::<_, Option<String>>(9),
        "errorCode": r.get::<_, Option<String>>(10),
        "warnings": r.get::<_, Option<Value>>(14).unwrap_or_else(|| json!([])),
        "durationMs": r.get::<_, Option<i32>>(11),
        "retryCount": r.get::<_, i32>(12),
        "createdAt": timestamp(r.get(13)),
    })
}

/// Makes an item's unlinked mapping to `issue_key` live again (a link can
/// exist once per item and issue); returns its id, or `None` when there is
/// no such unlinked mapping.
pub async fn relink_mapping(
    client: &impl GenericClient,
    ark_id: &str,
    issue_key: &str,
    issue_id: &str,
    project: &str,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "UPDATE jira_integration_mappings SET sync_status = 'active', jira_issue_id = $3, jira_project_key = $4, \
                 jira_updated_at = NULL WHERE arkhitekton_id = $1 AND jira_issue_key = $2 AND sync_status = 'unlinked' \
             RETURNING id",
            &[&ark_id, &issue_key, &issue_id, &project],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}
