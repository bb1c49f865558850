//! SQL of the conflicts endpoints (table `sync_conflicts`, written by the
//! inbound sync through `db::sync::insert_conflict`).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::{Value, json};
use tokio_postgres::Row;
use uuid::Uuid;

use super::work_items::timestamp;

const COLUMNS: &str = "id, arkhitekton_id, arkhitekton_type, jira_issue_key, arkhitekton_version, jira_version, \
     applied, resolution, arkhitekton_updated_at, jira_updated_at, status, resolved_choice, resolved_at, created_at";

/// A stored conflict: what a resolution needs, and its API JSON.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub arkhitekton_id: String,
    pub arkhitekton_type: String,
    pub arkhitekton_version: Value,
    pub jira_version: Value,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub json: Value,
}

fn conflict(r: &Row) -> Conflict {
    let json = json!({
        "id": r.get::<_, Uuid>(0),
        "arkhitektonId": r.get::<_, String>(1),
        "arkhitektonType": r.get::<_, String>(2),
        "jiraIssueKey": r.get::<_, String>(3),
        "arkhitektonVersion": r.get::<_, Value>(4),
        "jiraVersion": r.get::<_, Value>(5),
        "applied": r.get::<_, Value>(6),
        "resolution": r.get::<_, String>(7),
        "arkhitektonUpdatedAt": timestamp(r.get(8)),
        "jiraUpdatedAt": timestamp(r.get(9)),
        "status": r.get::<_, String>(10),
        "resolvedChoice": r.get::<_, Option<String>>(11),
        "resolvedAt": r.get::<_, Option<DateTime<Utc>>>(12).map(timestamp),
        "createdAt": timestamp(r.get(13)),
    });
    Conflict {
        arkhitekton_id: r.get(1),
        arkhitekton_type: r.get(2),
        arkhitekton_version: r.get(4),
        jira_version: r.get(5),
        status: r.get(10),
        created_at: r.get(13),
        json,
    }
}

/// Filters of the list; `None` means any.
#[derive(Debug, Default, Clone)]
pub struct ConflictFilter {
    pub status: Option<String>,
    pub arkhitekton_id: Option<String>,
    /// Resume after this (created_at, id), newest first.
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// One page of conflicts, newest first, each with its id for the cursor.
pub async fn list(
    client: &impl GenericClient,
    filter: &ConflictFilter,
    limit: i64,
) -> Result<Vec<(Conflict, Uuid)>, tokio_postgres::Error> {
    let (ts, id) = filter.after.unzip();
    let sql = format!(
        "SELECT {COLUMNS} FROM sync_conflicts \
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR arkhitekton_id = $2) \
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) \
         ORDER BY created_at DESC, id DESC LIMIT $5"
    );
    let rows = client.query(&sql, &[&filter.status, &filter.arkhitekton_id, &ts, &id, &limit]).await?;
    Ok(rows.iter().map(|r| (conflict(r), r.get(0))).collect())
}

pub async fn get(client: &impl GenericClient, id: Uuid) -> Result<Option<Conflict>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM sync_conflicts WHERE id = $1");
    Ok(client.query_opt(&sql, &[&id]).await?.as_ref().map(conflict))
}

/// The conflict, locked for the rest of the transaction (one resolution
/// at a time).
pub async fn lock(client: &impl GenericClient, id: Uuid) -> Result<Option<Conflict>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM sync_conflicts WHERE id = $1 FOR UPDATE");
    Ok(client.query_opt(&sql, &[&id]).await?.as_ref().map(conflict))
}

pub async fn mark_resolved(client: &impl GenericClient, id: Uuid, choice: &str) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE sync_conflicts SET status = 'resolved', resolved_choice = $2, resolved_at = now() WHERE id = $1",
            &[&id, &choice],
        )
        .await
        .map(drop)
}
