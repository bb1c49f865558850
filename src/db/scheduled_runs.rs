//! SQL of `scheduled_runs`: which schedule slots have been enqueued (see
//! `migrations/V8__scheduled_runs.sql`). One function per statement.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::jobs::NewJob;

/// Claims `(name, slot)` and inserts `job` in one statement: the job is
/// inserted only by the caller whose claim is new. Returns the job's id,
/// or `None` when another replica already enqueued this slot.
pub async fn enqueue_once(
    client: &impl GenericClient,
    name: &str,
    slot: DateTime<Utc>,
    job: &NewJob,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "WITH claimed AS ( \
                 INSERT INTO scheduled_runs (name, slot) VALUES ($1, $2) \
                 ON CONFLICT (name, slot) DO NOTHING RETURNING name) \
             INSERT INTO jobs (kind, payload, priority, max_attempts, unique_key) \
             SELECT $3, $4, $5, $6, $7 FROM claimed RETURNING id",
            &[&name, &slot, &job.kind, &job.payload, &job.priority, &job.max_attempts, &job.unique_key],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Deletes up to `batch` records of slots enqueued more than `days` ago.
pub async fn prune(client: &impl GenericClient, days: i32, batch: i64) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM scheduled_runs WHERE ctid IN ( \
                 SELECT ctid FROM scheduled_runs WHERE created_at < now() - make_interval(days => $1) LIMIT $2)",
            &[&days, &batch],
        )
        .await
}
