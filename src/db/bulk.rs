//! SQL of bulk syncs (table `bulk_sync_operations`, V8 and V11).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::EntityKind;

/// A bulk sync as stored.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: Uuid,
    pub direction: String,
    pub entity_ids: Vec<String>,
    pub total: i32,
    pub enqueued: i32,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// How many of `entity_ids` have been pulled from Jira (a prefix).
    pub pulled: i32,
    /// How many of the pulled items could not be pulled.
    pub pull_failed: i32,
    /// `[{"id", "reason"}]`: the ids asked for that were not synced.
    pub skipped: Value,
}

const COLUMNS: &str =
    "id, sync_direction, entity_ids, total, enqueued, status, created_at, finished_at, pulled, pull_failed, skipped";

fn operation(r: &Row) -> Operation {
    Operation {
        id: r.get(0),
        direction: r.get(1),
        entity_ids: r.get(2),
        total: r.get(3),
        enqueued: r.get(4),
        status: r.get(5),
        created_at: r.get(6),
        finished_at: r.get(7),
        pulled: r.get(8),
        pull_failed: r.get(9),
        skipped: r.get(10),
    }
}

/// Which of `ids` (all of `kind`) exist, and whether each syncs to Jira.
pub async fn existing(
    client: &impl GenericClient,
    kind: EntityKind,
    ids: &[&str],
) -> Result<Vec<(String, bool)>, tokio_postgres::Error> {
    let sql = format!("SELECT id, sync_to_jira FROM {} WHERE id = ANY($1)", kind.table());
    Ok(client.query(&sql, &[&ids]).await?.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Records an operation over `entity_ids`; `skipped` lists the ids asked
/// for and left out, with the reason (`[{"id", "reason"}]`).
pub async fn insert(
    client: &impl GenericClient,
    direction: &str,
    entity_ids: &[String],
    skipped: &Value,
) -> Result<Uuid, tokio_postgres::Error> {
    let total = entity_ids.len() as i32;
    let row = client
        .query_one(
            "INSERT INTO bulk_sync_operations (sync_direction, entity_ids, total, skipped) VALUES ($1, $2, $3, $4) \
             RETURNING id",
            &[&direction, &entity_ids, &total, &skipped],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn get(client: &impl GenericClient, id: Uuid) -> Result<Option<Operation>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM bulk_sync_operations WHERE id = $1");
    Ok(client.query_opt(&sql, &[&id]).await?.as_ref().map(operation))
}

/// The operation, locked: one job enqueues its pushes at a time.
pub async fn lock(client: &impl GenericClient, id: Uuid) -> Result<Option<Operation>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM bulk_sync_operations WHERE id = $1 FOR UPDATE");
    Ok(client.query_opt(&sql, &[&id]).await?.as_ref().map(operation))
}

/// Records that the first `enqueued` items have their push; `done` ends it.
pub async fn advance(
    client: &impl GenericClient,
    id: Uuid,
    enqueued: i32,
    done: bool,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE bulk_sync_operations SET enqueued = $2, \
                 status = CASE WHEN $3 THEN 'enqueued' ELSE 'enqueueing' END, \
                 finished_at = CASE WHEN $3 THEN now() END WHERE id = $1",
            &[&id, &enqueued, &done],
        )
        .await
        .map(drop)
}

/// `(synced, failed)` among the operation's items since it started.
pub async fn progress(client: &impl GenericClient, id: Uuid) -> Result<(i64, i64), tokio_postgres::Error> {
    let r = client.query_one(include_str!("sql/bulk_progress.sql"), &[&id]).await?;
    Ok((r.get(0), r.get(1)))
}

/// Which of `ids` are linked to a Jira issue: `(item id, issue id, issue key)`
/// of their live mappings.
pub async fn live_links(
    client: &impl GenericClient,
    ids: &[&str],
) -> Result<Vec<(String, String, String)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT arkhitekton_id, jira_issue_id, jira_issue_key FROM live_mappings WHERE arkhitekton_id = ANY($1)",
            &[&ids],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// Records a pulled page: the first `pulled` items are done, `failed` more
/// of them could not be pulled (`skipped` says why), and the new `status`
/// (`completed` ends the operation).
pub async fn record_pull(
    client: &impl GenericClient,
    id: Uuid,
    pulled: i32,
    failed: i32,
    skipped: &Value,
    status: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE bulk_sync_operations SET pulled = $2, pull_failed = pull_failed + $3, skipped = skipped || $4, \
                 status = $5, finished_at = CASE WHEN $5 = 'completed' THEN now() END WHERE id = $1",
            &[&id, &pulled, &failed, &skipped, &status],
        )
        .await
        .map(drop)
}
