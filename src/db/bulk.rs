//! SQL of bulk syncs (table `bulk_sync_operations`, V8).

use chrono::{DateTime, Utc};
use tokio_postgres::{GenericClient, Row};
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
}

const COLUMNS: &str = "id, sync_direction, entity_ids, total, enqueued, status, created_at, finished_at";

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

pub async fn insert(
    client: &impl GenericClient,
    direction: &str,
    entity_ids: &[String],
) -> Result<Uuid, tokio_postgres::Error> {
    let total = entity_ids.len() as i32;
    let row = client
        .query_one(
            "INSERT INTO bulk_sync_operations (sync_direction, entity_ids, total) VALUES ($1, $2, $3) RETURNING id",
            &[&direction, &entity_ids, &total],
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
