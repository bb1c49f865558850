//! `prune_retention`: deletes finished webhook deliveries and sync logs
//! past their retention, and the schedule's own bookkeeping, in batches.
//! (Finished jobs are pruned by every worker's maintenance loop.)

use crate::db::{retention as sql, scheduled_runs};
use crate::queue::JobError;

/// Rows deleted per statement: short transactions, however large the backlog.
const BATCH: i64 = 5_000;
/// `scheduled_runs` rows older than this are no longer needed: no replica
/// still offers a slot that old.
const SCHEDULED_RUNS_DAYS: i32 = 7;

/// How long rows are kept, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Finished `jira_webhook_events` (never pending ones).
    pub webhook_event_days: i32,
    /// `jira_sync_logs`.
    pub sync_log_days: i32,
}

impl Retention {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self { webhook_event_days: config.webhook_event_retention_days, sync_log_days: config.sync_log_retention_days }
    }
}

/// The job: each table in turn, batch after batch, until nothing is left
/// past retention. Returns a retryable error on a database failure.
pub async fn prune_retention(pool: &deadpool_postgres::Pool, retention: Retention) -> Result<(), JobError> {
    let client = pool.get().await.map_err(|e| JobError::Retry(e.into()))?;
    let client = &client;
    let events = until_done(|| sql::prune_webhook_events(client, retention.webhook_event_days, BATCH)).await?;
    let logs = until_done(|| sql::prune_sync_logs(client, retention.sync_log_days, BATCH)).await?;
    let runs = until_done(|| scheduled_runs::prune(client, SCHEDULED_RUNS_DAYS, BATCH)).await?;
    tracing::info!(webhook_events = events, sync_logs = logs, scheduled_runs = runs, "pruned rows past retention");
    Ok(())
}

async fn until_done<F, Fut>(mut batch: F) -> Result<u64, JobError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, tokio_postgres::Error>>,
{
    let mut total = 0;
    loop {
        let n = batch().await.map_err(|e| JobError::Retry(e.into()))?;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
    }
}
