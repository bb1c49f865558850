//! SQL of the job queue (table `jobs`; see `migrations/V3__job_queue.sql`
//! for its life cycle). One function per statement.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;

use super::prepared;

/// The NOTIFY channel that wakes workers.
pub const CHANNEL: &str = "arksync_jobs";

/// A job to insert.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: Value,
    pub priority: i16,
    pub max_attempts: i32,
    pub run_at: Option<DateTime<Utc>>,
    pub unique_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        Self { kind: kind.into(), payload, priority: 100, max_attempts: 10, run_at: None, unique_key: None }
    }
}

/// A claimed job, as a worker sees it.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: Value,
    /// 1 on the first run.
    pub attempt: i32,
    pub max_attempts: i32,
    pub created_at: DateTime<Utc>,
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Inserts one job; `None` when a waiting job with the same unique key
/// already exists (the new one is coalesced into it).
pub async fn insert(client: &impl GenericClient, job: &NewJob) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = prepared::query_opt(
        client,
        "INSERT INTO jobs (kind, payload, priority, max_attempts, run_at, unique_key) \
             VALUES ($1, $2, $3, $4, coalesce($5, now()), $6) \
             ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state = 'available' DO NOTHING \
             RETURNING id",
        &[&job.kind, &job.payload, &job.priority, &job.max_attempts, &job.run_at, &job.unique_key],
    )
    .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Inserts many jobs of one kind with one statement; returns how many were
/// inserted (coalesced ones are not).
pub async fn insert_many(
    client: &impl GenericClient,
    kind: &str,
    payloads: &[Value],
    max_attempts: i32,
) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(
        client,
        "INSERT INTO jobs (kind, payload, max_attempts) SELECT $1, p, $3 FROM unnest($2::jsonb[]) AS p",
        &[&kind, &payloads, &max_attempts],
    )
    .await
}

/// Claims up to `limit` runnable jobs of the given kinds for `worker`, in
/// priority then run-at order, and leases them for `lease`. One statement:
/// the claim is committed before any work starts. A job whose unique key
/// has a running twin waits for it: at most one job per key runs at a time
/// (one push per work item), whatever the number of workers.
pub async fn claim(
    client: &impl GenericClient,
    kinds: &[String],
    limit: i64,
    lease: Duration,
    worker: &str,
) -> Result<Vec<ClaimedJob>, tokio_postgres::Error> {
    let rows = prepared::query(
        client,
        "WITH next AS MATERIALIZED ( \
                 SELECT id FROM jobs \
                 WHERE state = 'available' AND run_at <= now() AND kind = ANY($1) \
                   AND (unique_key IS NULL OR NOT EXISTS ( \
                       SELECT 1 FROM jobs r WHERE r.unique_key = jobs.unique_key AND r.state = 'running')) \
                 ORDER BY priority, run_at, id \
                 LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, attempted_at = now(), \
                 lease_expires_at = now() + make_interval(secs => $3), locked_by = $4 \
             FROM next WHERE j.id = next.id \
             RETURNING j.id, j.kind, j.payload, j.attempt, j.max_attempts, j.created_at",
        &[&kinds, &limit, &seconds(lease), &worker],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ClaimedJob {
            id: r.get(0),
            kind: r.get(1),
            payload: r.get(2),
            attempt: r.get(3),
            max_attempts: r.get(4),
            created_at: r.get(5),
        })
        .collect())
}

/// Marks jobs completed, each only if it is still running under the same
/// attempt (a rescued and re-claimed job is no longer ours to complete).
/// Returns how many were completed.
pub async fn complete_many(
    client: &impl GenericClient,
    ids: &[i64],
    attempts: &[i32],
) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(
        client,
        "UPDATE jobs j SET state = 'completed', finalized_at = now(), lease_expires_at = NULL \
             FROM unnest($1::bigint[], $2::int[]) AS done(id, attempt) \
             WHERE j.id = done.id AND j.attempt = done.attempt AND j.state = 'running'",
        &[&ids, &attempts],
    )
    .await
}

/// Records a failed attempt: the job runs again at `retry_at`, or is
/// discarded (kept, with its errors) when `discard` is set or it has used
/// its last attempt. A job whose unique key already has a waiting twin is
/// cancelled instead: the twin does the same work on newer data. Returns the new state, or `None` if the claim was no
/// longer ours.
pub async fn fail(
    client: &impl GenericClient,
    id: i64,
    attempt: i32,
    error: &str,
    retry_at: DateTime<Utc>,
    discard: bool,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = prepared::query_opt(client,
            "UPDATE jobs SET \
                 state = CASE WHEN $5 OR attempt >= max_attempts THEN 'discarded' \
                              WHEN (unique_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobs w WHERE w.unique_key = jobs.unique_key AND w.state = 'available')) THEN 'cancelled' ELSE 'available' END, \
                 finalized_at = CASE WHEN $5 OR attempt >= max_attempts OR (unique_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobs w WHERE w.unique_key = jobs.unique_key AND w.state = 'available')) THEN now() END, \
                 run_at = CASE WHEN $5 OR attempt >= max_attempts THEN run_at ELSE $4 END, \
                 errors = errors || jsonb_build_array(jsonb_build_object('at', now(), 'attempt', attempt, 'error', $3::text)), \
                 lease_expires_at = NULL, locked_by = NULL \
             WHERE id = $1 AND attempt = $2 AND state = 'running' \
             RETURNING state",
            &[&id, &attempt, &error, &retry_at, &discard],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Pushes a running job's lease out (heartbeat). False when the claim is
/// no longer ours: the worker should stop working on it.
pub async fn extend_lease(
    client: &impl GenericClient,
    id: i64,
    attempt: i32,
    lease: Duration,
) -> Result<bool, tokio_postgres::Error> {
    let n = prepared::execute(
        client,
        "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3) \
             WHERE id = $1 AND attempt = $2 AND state = 'running'",
        &[&id, &attempt, &seconds(lease)],
    )
    .await?;
    Ok(n == 1)
}

/// Gives unfinished jobs back without counting the attempt (graceful
/// shutdown). Returns how many were released.
pub async fn release_many(
    client: &impl GenericClient,
    ids: &[i64],
    attempts: &[i32],
) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(client,
            "UPDATE jobs j SET attempt = j.attempt - 1, lease_expires_at = NULL, locked_by = NULL, run_at = now(), \
                 state = CASE WHEN (j.unique_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobs w WHERE w.unique_key = j.unique_key AND w.state = 'available')) THEN 'cancelled' ELSE 'available' END, \
                 finalized_at = CASE WHEN (j.unique_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobs w WHERE w.unique_key = j.unique_key AND w.state = 'available')) THEN now() END \
             FROM unnest($1::bigint[], $2::int[]) AS r(id, attempt) \
             WHERE j.id = r.id AND j.attempt = r.attempt AND j.state = 'running'",
            &[&ids, &attempts],
        )
        .await
}

/// Makes jobs whose lease ran out runnable again (their worker died), or
/// discards them when that was their last attempt (or cancels them in
/// favour of a waiting twin). Returns how many.
pub async fn rescue_expired(client: &impl GenericClient) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(client,
            "UPDATE jobs SET \
                 state = CASE WHEN attempt >= max_attempts THEN 'discarded' \
                              WHEN (unique_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobs w WHERE w.unique_key = jobs.unique_key AND w.state = 'available')) THEN 'cancelled' ELSE 'available' END, \
                 finalized_at = CASE WHEN attempt >= max_attempts OR (unique_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobs w WHERE w.unique_key = jobs.unique_key AND w.state = 'available')) THEN now() END, \
                 errors = errors || jsonb_build_array(jsonb_build_object('at', now(), 'attempt', attempt, \
                     'error', 'lease expired: the worker ' || coalesce(locked_by, '?') || ' stopped answering')), \
                 lease_expires_at = NULL, locked_by = NULL, run_at = now() \
             WHERE state = 'running' AND lease_expires_at < now()",
            &[],
        )
        .await
}

/// Deletes up to `batch` finished jobs older than their retention; returns
/// how many. Call repeatedly until it returns less than `batch`.
pub async fn prune(
    client: &impl GenericClient,
    completed_retention: Duration,
    discarded_retention: Duration,
    batch: i64,
) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(
        client,
        "DELETE FROM jobs WHERE id IN ( \
                 SELECT id FROM jobs \
                 WHERE (state IN ('completed', 'cancelled') AND finalized_at < now() - make_interval(secs => $1)) \
                    OR (state = 'discarded' AND finalized_at < now() - make_interval(secs => $2)) \
                 LIMIT $3)",
        &[&seconds(completed_retention), &seconds(discarded_retention), &batch],
    )
    .await
}

/// Puts a discarded (or cancelled) job back in the queue with fresh
/// attempts; its error history is kept. False when it was not discarded,
/// or a waiting twin already does its work.
pub async fn requeue(client: &impl GenericClient, id: i64) -> Result<bool, tokio_postgres::Error> {
    let n = prepared::execute(
        client,
        "UPDATE jobs SET state = 'available', attempt = 0, run_at = now(), finalized_at = NULL \
             WHERE id = $1 AND state IN ('discarded', 'cancelled') \
               AND NOT (unique_key IS NOT NULL AND EXISTS ( \
                   SELECT 1 FROM jobs w WHERE w.unique_key = jobs.unique_key AND w.state = 'available'))",
        &[&id],
    )
    .await?;
    Ok(n == 1)
}

/// Wakes listening workers. Sent once per batch of inserts, never per row:
/// a NOTIFY in every transaction serialises commits.
/// Whether a job with this unique key is running now.
pub async fn is_running(client: &impl GenericClient, unique_key: &str) -> Result<bool, tokio_postgres::Error> {
    let sql = "SELECT EXISTS (SELECT 1 FROM jobs WHERE unique_key = $1 AND state = 'running')";
    Ok(prepared::query_one(client, sql, &[&unique_key]).await?.get(0))
}

pub async fn notify(client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    prepared::execute(client, "SELECT pg_notify($1, '')", &[&CHANNEL]).await.map(drop)
}
