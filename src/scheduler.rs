//! Scheduled work: cron entries that only *enqueue* jobs; workers run them.
//!
//! Every replica (`serve` or `worker`) runs the same schedule. Each firing
//! names its *slot* (the time it stands for, the same on every replica) and
//! enqueues through [`crate::db::scheduled_runs::enqueue_once`], which
//! inserts `(entry, slot)` into `scheduled_runs` (primary key) and the job in
//! one statement: only the replica whose insert is new enqueues, so N
//! replicas enqueue each slot once. Neither alternative is enough alone: an
//! advisory lock only serialises replicas firing at the same instant (one
//! firing a second later would enqueue again), and the jobs table's unique
//! index covers only *waiting* jobs (a slot's job that already ran, or was
//! pruned, would not stop a late replica). The job's `unique_key`
//! (`cron:<entry>:<slot>`) names the slot in the queue for operators.
//!
//! Entries:
//! - `refresh_webhooks`: daily at 02:00 UTC (cron; slot = the minute it
//!   fired in). Refreshes dynamic webhooks within 7 days of expiry.
//! - `prune_retention`: every `ARKSYNC_PRUNE_INTERVAL_SECS` (hourly).
//! - `reconcile`: every `ARKSYNC_RECONCILE_INTERVAL_SECS` (300 s); its
//!   handler lives in the sync engine.
//!
//! Interval entries are aligned to the Unix epoch (slot = now rounded down
//! to a multiple of the interval), so replicas started at different times
//! agree on slots; each replica checks every second whether a new slot
//! began. A replica starting mid-slot offers the current slot, which is
//! enqueued unless another replica already did.

mod refresh;
mod retention;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, DurationRound, TimeZone, Utc};
use serde_json::json;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db::jobs::{self, NewJob};
use crate::queue::Registry;
use crate::sync::Engine;

pub use refresh::{REFRESH_WINDOW, RefreshOutcome, refresh_all, refresh_expiring};
pub use retention::{Retention, prune_retention};

/// Job kind: refresh dynamic webhooks near expiry.
pub const REFRESH_WEBHOOKS: &str = "refresh_webhooks";
/// Job kind: delete webhook events and sync logs past retention.
pub const PRUNE_RETENTION: &str = "prune_retention";
/// Job kind: a reconciliation pass (handled by [`crate::sync`]).
pub const RECONCILE: &str = "reconcile";

/// Daily at 02:00 UTC (tokio-cron-scheduler wants a seconds field).
const REFRESH_WEBHOOKS_CRON: &str = "0 0 2 * * *";

/// When each entry fires.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub prune_every: Duration,
    pub reconcile_every: Duration,
}

impl Schedule {
    pub fn from_config(config: &Config) -> Self {
        Self {
            prune_every: Duration::from_secs(config.prune_interval_secs),
            reconcile_every: Duration::from_secs(config.reconcile_interval_secs),
        }
    }
}

/// Adds the handlers of the scheduled jobs this module owns.
pub fn register_jobs(registry: Registry, engine: &Engine, retention: Retention) -> Registry {
    let engine = engine.clone();
    registry
        .register(REFRESH_WEBHOOKS, move |_ctx| {
            let engine = engine.clone();
            async move { refresh::refresh_all(&engine, Utc::now()).await }
        })
        .register(PRUNE_RETENTION, move |ctx| async move { prune_retention(&ctx.pool, retention).await })
}

/// Starts this replica's scheduler; it stops when `shutdown` is cancelled.
pub async fn spawn(config: &Config, pool: deadpool_postgres::Pool, shutdown: CancellationToken) -> anyhow::Result<()> {
    let schedule = Schedule::from_config(config);
    let mut scheduler = JobScheduler::new().await.context("creating the scheduler")?;
    let daily = pool.clone();
    let refresh = Job::new_async(REFRESH_WEBHOOKS_CRON, move |_, _| {
        let pool = daily.clone();
        Box::pin(async move { fire(&pool, REFRESH_WEBHOOKS, minute_slot(Utc::now())).await })
    })
    .context("the refresh_webhooks schedule")?;
    scheduler.add(refresh).await.context("adding refresh_webhooks")?;
    for (name, every) in [(PRUNE_RETENTION, schedule.prune_every), (RECONCILE, schedule.reconcile_every)] {
        scheduler.add(interval_entry(pool.clone(), name, every)?).await.with_context(|| format!("adding {name}"))?;
    }
    scheduler.start().await.context("starting the scheduler")?;
    tracing::info!(
        prune_every_secs = schedule.prune_every.as_secs(),
        reconcile_every_secs = schedule.reconcile_every.as_secs(),
        "scheduler started"
    );
    tokio::spawn(async move {
        shutdown.cancelled().await;
        if let Err(e) = scheduler.shutdown().await {
            tracing::warn!(error = %e, "stopping the scheduler failed");
        }
    });
    Ok(())
}

/// Checks every second whether a new slot of `every` began; offers it once.
fn interval_entry(pool: deadpool_postgres::Pool, name: &'static str, every: Duration) -> anyhow::Result<Job> {
    let last: Arc<Mutex<Option<DateTime<Utc>>>> = Arc::default();
    Job::new_repeated_async(Duration::from_secs(1), move |_, _| {
        let (pool, last) = (pool.clone(), last.clone());
        Box::pin(async move {
            let slot = interval_slot(Utc::now(), every);
            {
                let mut seen = last.lock().unwrap_or_else(|e| e.into_inner());
                if *seen == Some(slot) {
                    return;
                }
                *seen = Some(slot);
            }
            fire(&pool, name, slot).await;
        })
    })
    .with_context(|| format!("the {name} schedule"))
}

async fn fire(pool: &deadpool_postgres::Pool, name: &str, slot: DateTime<Utc>) {
    match enqueue_slot(pool, name, slot).await {
        Ok(Some(id)) => tracing::info!(entry = name, %slot, job.id = id, "enqueued scheduled work"),
        Ok(None) => tracing::debug!(entry = name, %slot, "another replica already enqueued this slot"),
        Err(e) => tracing::warn!(entry = name, %slot, error = format!("{e:#}"), "enqueueing scheduled work failed"),
    }
}

/// Enqueues entry `name`'s job for `slot` unless some replica already did;
/// returns the new job's id. The job's kind is the entry's name; its
/// payload is `{}`.
pub async fn enqueue_slot(
    pool: &deadpool_postgres::Pool,
    name: &str,
    slot: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let job = NewJob {
        unique_key: Some(format!("cron:{name}:{}", slot.format("%Y-%m-%dT%H:%M:%SZ"))),
        ..NewJob::new(name, json!({}))
    };
    let client = pool.get().await?;
    let id = crate::db::scheduled_runs::enqueue_once(&client, name, slot, &job).await?;
    if id.is_some() {
        jobs::notify(&client).await?;
    }
    Ok(id)
}

/// The slot of an interval entry: `now` rounded down to a multiple of
/// `every` since the Unix epoch.
pub fn interval_slot(now: DateTime<Utc>, every: Duration) -> DateTime<Utc> {
    let every = every.as_secs().max(1) as i64;
    let secs = now.timestamp().div_euclid(every) * every;
    Utc.timestamp_opt(secs, 0).single().unwrap_or(now)
}

/// The slot of a cron entry: the minute it fired in (cron entries here
/// fire on whole minutes; a replica a few seconds late names the same one).
pub fn minute_slot(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(chrono::Duration::minutes(1)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_the_same_on_every_replica() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let five = Duration::from_secs(300);
        assert_eq!(interval_slot(at("2026-11-26T06:04:59Z"), five), at("2026-11-26T06:00:00Z"));
        assert_eq!(interval_slot(at("2026-11-26T06:05:00Z"), five), at("2026-11-26T06:05:00Z"));
        assert_eq!(minute_slot(at("2026-11-26T02:00:03.5Z")), at("2026-11-26T02:00:00Z"));
    }
}
