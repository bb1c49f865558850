//! The `bulk_sync` job: enqueues the pushes of a bulk sync
//! (`POST /api/jira/sync/bulk`) in batches, recording how far it got.
//!
//! It only enqueues: each item gets the ordinary `push_to_jira` job (unique
//! key `push:<id>`, so a push already waiting is reused, never doubled), and
//! the Jira client's per-connection limiter paces the pushes. Each batch is
//! one transaction that also advances the operation's `enqueued` count, so a
//! job that dies midway resumes after the last committed batch.

use uuid::Uuid;

use crate::db::{bulk, sync_admin};
use crate::domain::EntityKind;
use crate::queue::{JobContext, JobError, Registry};

pub const BULK_JOB: &str = "bulk_sync";
/// Items per transaction.
pub const BATCH: usize = 500;

pub fn register(registry: Registry) -> Registry {
    registry.register(BULK_JOB, |ctx| async move { run(&ctx).await })
}

fn retry(e: impl Into<anyhow::Error>) -> JobError {
    JobError::Retry(e.into())
}

async fn run(ctx: &JobContext) -> Result<(), JobError> {
    let id: Uuid = ctx.job.payload["operationId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobError::Discard(anyhow::anyhow!("a bulk job without an operationId: {}", ctx.job.payload)))?;
    while !enqueue_batch(ctx, id).await? {}
    Ok(())
}

/// Enqueues the next batch; true when the operation has nothing left.
async fn enqueue_batch(ctx: &JobContext, id: Uuid) -> Result<bool, JobError> {
    let mut client = ctx.pool.get().await.map_err(retry)?;
    let tx = client.transaction().await.map_err(retry)?;
    let Some(op) = bulk::lock(&*tx, id).await.map_err(retry)? else { return Ok(true) };
    let start = (op.enqueued.max(0) as usize).min(op.entity_ids.len());
    let end = (start + BATCH).min(op.entity_ids.len());
    let items: Vec<(EntityKind, String)> =
        op.entity_ids[start..end].iter().filter_map(|id| Some((EntityKind::from_id(id)?, id.clone()))).collect();
    for kind in EntityKind::ALL {
        let ids: Vec<&str> = items.iter().filter(|(k, _)| *k == kind).map(|(_, id)| id.as_str()).collect();
        if !ids.is_empty() {
            sync_admin::mark_pending(&*tx, kind, &ids).await.map_err(retry)?;
        }
    }
    sync_admin::enqueue_pushes(&*tx, &items).await.map_err(retry)?;
    let done = end == op.entity_ids.len();
    bulk::advance(&*tx, id, end as i32, done).await.map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    tracing::debug!(operation = %id, enqueued = end, total = op.total, "bulk sync batch enqueued");
    Ok(done)
}
