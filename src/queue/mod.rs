//! The PostgreSQL job queue: jobs are rows in `jobs`, claimed with
//! `FOR UPDATE SKIP LOCKED` (see [`crate::db::jobs`] for every statement).
//!
//! - [`Worker`] claims jobs of the kinds its [`Registry`] handles, runs each
//!   on its own task with a heartbeat that extends the lease, and finishes
//!   them: completions are batched, failures retried with backoff or
//!   discarded after the last attempt.
//! - Workers sleep until a `NOTIFY` on [`crate::db::jobs::CHANNEL`] (one
//!   dedicated connection per process, reconnecting with backoff) or a slow
//!   poll, whichever comes first.
//! - Jobs whose lease expired (their worker died) are rescued by any worker.
//!
//! Delivery is at least once: a worker killed after finishing a job but
//! before its completion was written runs it again after the lease expires,
//! so handlers are written to be idempotent.

mod backoff;
mod completer;
mod listener;
mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use crate::db::jobs::{ClaimedJob, NewJob};
pub use backoff::retry_delay;
pub use worker::{Worker, WorkerConfig};

/// How a job failed, which decides what happens next.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Try again later, with exponential backoff.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Try again at (not before) the given time, e.g. a Retry-After.
    #[error("{1:#}")]
    RetryAt(DateTime<Utc>, anyhow::Error),
    /// Trying again cannot help (bad data): keep the job as discarded.
    #[error("{0:#}")]
    Discard(anyhow::Error),
}

/// What a handler gets: the job and the database.
#[derive(Clone)]
pub struct JobContext {
    pub job: ClaimedJob,
    pub pool: deadpool_postgres::Pool,
}

pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
pub type Handler = Arc<dyn Fn(JobContext) -> JobFuture + Send + Sync>;

/// The kinds of job a worker runs, and how.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Handler>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for jobs of `kind`.
    pub fn register<F, Fut>(mut self, kind: &str, handler: F) -> Self
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.handlers.insert(kind.to_owned(), Arc::new(move |ctx| Box::pin(handler(ctx))));
        self
    }

    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.handlers.keys().cloned().collect();
        kinds.sort();
        kinds
    }

    fn get(&self, kind: &str) -> Option<Handler> {
        self.handlers.get(kind).cloned()
    }
}
