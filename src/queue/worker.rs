//! The worker loop: claim, run, finish; sleep until NOTIFY or poll.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::completer::Completer;
use super::{ClaimedJob, JobContext, JobError, Registry, backoff, listener};
use crate::db::jobs;

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once by this worker.
    pub concurrency: usize,
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// Fallback poll when no NOTIFY arrives.
    pub poll_interval: Duration,
    /// Most jobs claimed by one statement.
    pub claim_batch: usize,
    /// How long in-flight jobs may run after shutdown begins; then they are
    /// given back to the queue.
    pub shutdown_deadline: Duration,
    /// How often this worker rescues jobs whose lease expired and prunes
    /// finished ones.
    pub rescue_interval: Duration,
    /// How long completed jobs are kept before pruning.
    pub completed_retention: Duration,
    /// How long discarded jobs (the dead letters) are kept before pruning.
    pub discarded_retention: Duration,
    /// Base of the exponential retry delay.
    pub retry_base: Duration,
    /// Listen for NOTIFY (off only to test the poll fallback).
    pub listen: bool,
    /// Names this worker in `jobs.locked_by`.
    pub id: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 10,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            claim_batch: 100,
            shutdown_deadline: Duration::from_secs(10),
            rescue_interval: Duration::from_secs(5),
            completed_retention: Duration::from_secs(3600),
            discarded_retention: Duration::from_secs(7 * 86_400),
            retry_base: Duration::from_secs(1),
            listen: true,
            id: format!("arksync-{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]),
        }
    }
}

/// Jobs this worker is running: id → attempt. Released on a hard stop.
type InFlight = Arc<Mutex<HashMap<i64, i32>>>;

pub struct Worker {
    /// Durable connections, handed to job handlers.
    pool: deadpool_postgres::Pool,
    /// The queue's own bookkeeping (claims, heartbeats, completions,
    /// failures, rescue, pruning) commits with `synchronous_commit = off`:
    /// visible at once, flushed to disk within ~200 ms. Losing the last of
    /// these in a database crash only makes a job run once more, which
    /// at-least-once delivery allows; waiting for an fsync on each would cap
    /// a worker at a few hundred jobs a second. Enqueueing stays durable.
    /// Its sessions also keep the claim on its index (see [`queue_pool`]).
    queue_pool: deadpool_postgres::Pool,
    /// For the dedicated LISTEN connection.
    pg_config: tokio_postgres::Config,
    registry: Registry,
    config: WorkerConfig,
}

impl Worker {
    pub fn new(
        pool: deadpool_postgres::Pool,
        pg_config: tokio_postgres::Config,
        registry: Registry,
        config: WorkerConfig,
    ) -> Self {
        let queue_pool = queue_pool(&pg_config, config.concurrency);
        Self { pool, queue_pool, pg_config, registry, config }
    }

    /// Runs until `shutdown`; then stops claiming, lets running jobs finish
    /// within the deadline, gives back the rest, and flushes completions.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let wake = Arc::new(Notify::new());
        let stop_background = CancellationToken::new();
        if self.config.listen {
            tokio::spawn(listener::run(self.pg_config.clone(), wake.clone(), stop_background.clone()));
        }
        tokio::spawn(maintenance_loop(self.queue_pool.clone(), self.config.clone(), stop_background.clone()));
        let completer = Completer::spawn(self.queue_pool.clone());
        let in_flight: InFlight = Arc::default();
        let mut tasks = JoinSet::new();
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        let kinds = self.registry.kinds();
        tracing::info!(worker = %self.config.id, kinds = ?kinds, concurrency = self.config.concurrency, "worker started");

        while !shutdown.is_cancelled() {
            // Armed before the claim: a NOTIFY sent from now on is not missed.
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let Some(mut held) = self.acquire_permits(&permits, &shutdown).await else { break };
            let wanted = held.len();
            let jobs = match self.claim(&kinds, wanted).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed; retrying after the poll interval");
                    Vec::new()
                }
            };
            let full = jobs.len() == wanted;
            for job in jobs {
                let permit = held.pop().expect("one permit per claimed job");
                self.spawn_job(&mut tasks, job, permit, &completer, &in_flight);
            }
            drop(held);
            while tasks.try_join_next().is_some() {}
            if full {
                continue;
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
                () = shutdown.cancelled() => {}
            }
        }

        self.drain(tasks, &in_flight).await;
        stop_background.cancel();
        completer.flush().await;
        self.queue_pool.close();
        tracing::info!(worker = %self.config.id, "worker stopped");
        Ok(())
    }

    /// Waits for one free slot, then takes any others free too.
    async fn acquire_permits(
        &self,
        permits: &Arc<Semaphore>,
        shutdown: &CancellationToken,
    ) -> Option<Vec<OwnedSemaphorePermit>> {
        let first = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.ok()?,
            () = shutdown.cancelled() => return None,
        };
        let mut held = vec![first];
        while held.len() < self.config.claim_batch {
            match permits.clone().try_acquire_owned() {
                Ok(p) => held.push(p),
                Err(_) => break,
            }
        }
        Some(held)
    }

    async fn claim(&self, kinds: &[String], n: usize) -> anyhow::Result<Vec<ClaimedJob>> {
        let client = self.queue_pool.get().await?;
        Ok(jobs::claim(&client, kinds, n as i64, self.config.lease, &self.config.id).await?)
    }

    fn spawn_job(
        &self,
        tasks: &mut JoinSet<()>,
        job: ClaimedJob,
        permit: OwnedSemaphorePermit,
        completer: &Completer,
        in_flight: &InFlight,
    ) {
        in_flight.lock().expect("in-flight map").insert(job.id, job.attempt);
        let run = JobRun {
            handler: self.registry.get(&job.kind),
            ctx: JobContext { job, pool: self.pool.clone() },
            queue_pool: self.queue_pool.clone(),
            lease: self.config.lease,
            retry_base: self.config.retry_base,
            completions: completer.handle(),
            in_flight: in_flight.clone(),
        };
        tasks.spawn(async move {
            run.execute().await;
            drop(permit);
        });
    }

    /// Lets running jobs finish within the deadline; gives back the rest.
    async fn drain(&self, mut tasks: JoinSet<()>, in_flight: &InFlight) {
        let finished =
            tokio::time::timeout(self.config.shutdown_deadline, async { while tasks.join_next().await.is_some() {} })
                .await;
        if finished.is_ok() {
            return;
        }
        tasks.shutdown().await;
        let (ids, attempts): (Vec<i64>, Vec<i32>) = in_flight.lock().expect("in-flight map").drain().unzip();
        if ids.is_empty() {
            return;
        }
        let released = async {
            let client = self.queue_pool.get().await?;
            anyhow::Ok(jobs::release_many(&client, &ids, &attempts).await?)
        };
        match released.await {
            Ok(n) => tracing::info!(released = n, "gave unfinished jobs back to the queue"),
            Err(e) => {
                tracing::warn!(error = %e, "could not give jobs back; they will be rescued when their lease expires")
            }
        }
    }
}

/// One job's run: the handler, its heartbeat, and the outcome recorded.
struct JobRun {
    handler: Option<super::Handler>,
    ctx: JobContext,
    queue_pool: deadpool_postgres::Pool,
    lease: Duration,
    retry_base: Duration,
    completions: tokio::sync::mpsc::UnboundedSender<(i64, i32)>,
    in_flight: InFlight,
}

impl JobRun {
    async fn execute(self) {
        let job = &self.ctx.job;
        // `arkhitekton.id` and `jira.key` are recorded by the handler once
        // known (`Span::current().record(…)`); every line of the job then
        // carries them.
        let span = tracing::info_span!(
            "job",
            job.id = job.id,
            job.kind = %job.kind,
            job.attempt = job.attempt,
            arkhitekton.id = tracing::field::Empty,
            jira.key = tracing::field::Empty,
        );
        self.execute_in_span().instrument(span).await;
    }

    async fn execute_in_span(self) {
        let job = self.ctx.job.clone();
        // Aborted on drop too: a worker torn down mid-job must stop renewing
        // the lease, or the job would never be rescued.
        let heartbeat = AbortOnDrop(tokio::spawn(heartbeat(self.queue_pool.clone(), job.id, job.attempt, self.lease)));
        let started = std::time::Instant::now();
        crate::metrics::job_started();
        let outcome = match &self.handler {
            Some(handler) => AssertUnwindSafe(handler(self.ctx.clone()))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(JobError::Retry(anyhow::anyhow!("the job's handler panicked")))),
            None => Err(JobError::Discard(anyhow::anyhow!("no handler for job kind `{}`", job.kind))),
        };
        drop(heartbeat);
        crate::metrics::job_ended();
        let result = match &outcome {
            Ok(()) => "completed",
            Err(JobError::Discard(_)) => "discarded",
            Err(_) if job.attempt >= job.max_attempts => "discarded",
            Err(_) => "retry",
        };
        crate::metrics::job_finished(&job.kind, result, started.elapsed());
        tracing::debug!(result, elapsed_ms = started.elapsed().as_millis() as u64, "job finished");
        match outcome {
            Ok(()) => {
                let _ = self.completions.send((job.id, job.attempt));
            }
            Err(err) => self.record_failure(&job, err).await,
        }
        self.in_flight.lock().expect("in-flight map").remove(&job.id);
    }

    async fn record_failure(&self, job: &ClaimedJob, err: JobError) {
        let now = chrono::Utc::now();
        let (retry_at, discard) = match &err {
            JobError::Retry(_) => (now + backoff::retry_delay(self.retry_base, job.attempt), false),
            JobError::RetryAt(at, _) => (*at, false),
            JobError::Discard(_) => (now, true),
        };
        let message = err.to_string();
        let result = async {
            let client = self.queue_pool.get().await?;
            anyhow::Ok(jobs::fail(&client, job.id, job.attempt, &message, retry_at, discard).await?)
        };
        match result.await {
            Ok(Some(state)) => tracing::warn!(error = %message, next = %state, "job failed"),
            Ok(None) => tracing::warn!(error = %message, "job failed, but its claim had already been lost"),
            Err(e) => tracing::error!(error = %e, "could not record a job failure; it will be rescued"),
        }
    }
}

/// The queue's session settings: asynchronous commits, and no bitmap scans
/// or sorts where an index gives the order. A queue's statistics are always
/// stale (thousands of jobs arrive and leave between two autovacuum
/// analyses), and a planner that believes the queue is tiny sorts every
/// runnable job on each claim: 4–8 ms a claim with 6,000 waiting, instead
/// of reading the first few entries of the claim index (0.1 ms).
const QUEUE_SESSION: &str = "-c synchronous_commit=off -c enable_bitmapscan=off -c enable_sort=off";

/// A small pool for the queue's bookkeeping.
fn queue_pool(pg_config: &tokio_postgres::Config, concurrency: usize) -> deadpool_postgres::Pool {
    let mut config = pg_config.clone();
    let options = match config.get_options() {
        Some(existing) => format!("{existing} {QUEUE_SESSION}"),
        None => QUEUE_SESSION.to_owned(),
    };
    config.options(&options);
    crate::db::pool(config, (concurrency / 4).clamp(2, 8) + 2).expect("a pool of valid settings")
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Extends the lease every third of it while the job runs.
async fn heartbeat(pool: deadpool_postgres::Pool, id: i64, attempt: i32, lease: Duration) {
    let mut tick = tokio::time::interval(lease / 3);
    tick.tick().await;
    loop {
        tick.tick().await;
        let extended = async { jobs::extend_lease(&pool.get().await.ok()?, id, attempt, lease).await.ok() };
        if extended.await == Some(false) {
            tracing::warn!(job.id = id, "lost the claim on a running job (lease expired and rescued)");
            return;
        }
    }
}

/// Most finished jobs deleted by one statement: short transactions, no
/// long locks, however large the backlog of finished jobs.
const PRUNE_BATCH: i64 = 5_000;

/// Until `stop`: rescues expired leases, then prunes finished jobs past
/// their retention, in batches.
async fn maintenance_loop(pool: deadpool_postgres::Pool, config: WorkerConfig, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(config.rescue_interval) => {}
            () = stop.cancelled() => return,
        }
        let Ok(client) = pool.get().await else { continue };
        match jobs::rescue_expired(&client).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(rescued = n, "rescued jobs whose worker stopped answering"),
            Err(e) => tracing::warn!(error = %e, "rescuing expired jobs failed"),
        }
        while !stop.is_cancelled() {
            match jobs::prune(&client, config.completed_retention, config.discarded_retention, PRUNE_BATCH).await {
                Ok(n) if n < PRUNE_BATCH as u64 => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "pruning finished jobs failed");
                    break;
                }
            }
        }
    }
}
