//! The ingest writer: group commit for webhook deliveries.
//!
//! One transaction per delivery caps PostgreSQL at a few thousand commits a
//! second, and a NOTIFY in each halves that. So request handlers hand their
//! delivery to a writer task and wait; a writer takes everything that has
//! arrived (up to [`MAX_BATCH`]), stores all of it and its jobs with one
//! statement, sends one NOTIFY, commits once, and only then answers each
//! waiting request with its own outcome. Nothing is acknowledged before it
//! is durable. A batch whose content the database refuses is retried one
//! delivery at a time, so one bad row cannot fail its neighbours; a batch
//! that failed because the database is unreachable fails whole, at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::Delivery;
use crate::db::{jobs, webhook_events};

/// Most deliveries written by one transaction.
pub const MAX_BATCH: usize = 512;
/// How long a request waits for its delivery to be stored before the
/// caller answers 503 (Jira then retries).
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// What happened to a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored now, with its processing job (none when it was stored as
    /// already settled: [`Delivery::ignore`]).
    Accepted { event_id: Uuid, job_id: Option<i64> },
    /// Stored before (a retry or a duplicate); nothing new was written.
    Duplicate { event_id: Uuid, status: String },
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Not stored because the database is unreachable or overloaded.
    #[error("the delivery could not be stored: {0:#}")]
    Unavailable(anyhow::Error),
    /// Not stored because the database refuses its content (e.g. a `\u0000`
    /// in the JSON, which jsonb cannot hold). Retrying cannot help.
    #[error("the delivery's content cannot be stored")]
    Refused,
}

type Reply = oneshot::Sender<Result<Outcome, IngestError>>;

#[derive(Clone)]
pub struct IngestWriter {
    tx: mpsc::Sender<(Delivery, Reply)>,
}

impl IngestWriter {
    /// Starts `writers` writer tasks (two keep one batch filling while the
    /// other commits).
    pub fn spawn(pool: deadpool_postgres::Pool, writers: usize) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            tokio::spawn(run(pool.clone(), rx.clone()));
        }
        Self { tx }
    }

    /// Stores `delivery`; returns once it is durable (or has failed).
    pub async fn submit(&self, delivery: Delivery) -> Result<Outcome, IngestError> {
        let (reply, answer) = oneshot::channel();
        let wait = async {
            self.tx.send((delivery, reply)).await.map_err(|_| anyhow::anyhow!("the ingest writer has stopped"))?;
            answer.await.map_err(|_| anyhow::anyhow!("the ingest writer dropped the delivery"))
        };
        match tokio::time::timeout(SUBMIT_TIMEOUT, wait).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(IngestError::Unavailable(e)),
            Err(_) => Err(IngestError::Unavailable(anyhow::anyhow!("timed out after {SUBMIT_TIMEOUT:?}"))),
        }
    }
}

async fn run(pool: deadpool_postgres::Pool, rx: Arc<Mutex<mpsc::Receiver<(Delivery, Reply)>>>) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            crate::batch::with_ready(first, MAX_BATCH, || rx.try_recv().ok())
        };
        write_batch(&pool, batch).await;
    }
}

async fn write_batch(pool: &deadpool_postgres::Pool, batch: Vec<(Delivery, Reply)>) {
    let (deliveries, replies): (Vec<Delivery>, Vec<Reply>) = batch.into_iter().unzip();
    match store(pool, &deliveries).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        // Only content the database refuses can be one delivery's fault;
        // an unreachable database fails them all, at once.
        Err(IngestError::Refused) if deliveries.len() > 1 => {
            for (delivery, reply) in deliveries.into_iter().zip(replies) {
                let single = std::slice::from_ref(&delivery);
                let _ = reply.send(store(pool, single).await.map(|mut o| o.remove(0)));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for reply in replies {
                let err = match &e {
                    IngestError::Refused => IngestError::Refused,
                    IngestError::Unavailable(_) => IngestError::Unavailable(anyhow::anyhow!("{message}")),
                };
                let _ = reply.send(Err(err));
            }
        }
    }
}

/// One transaction: the events, their jobs, one NOTIFY; then the outcome
/// of each delivery, in order.
async fn store(pool: &deadpool_postgres::Pool, deliveries: &[Delivery]) -> Result<Vec<Outcome>, IngestError> {
    let mut client = pool.get().await.map_err(|e| IngestError::Unavailable(e.into()))?;
    let tx = client.transaction().await.map_err(classify)?;
    let events = columns(deliveries);
    let inserted = webhook_events::insert_batch(&tx, &events).await.map_err(classify)?;
    let mut by_key: HashMap<String, Outcome> =
        inserted.into_iter().map(|(key, event_id, job_id)| (key, Outcome::Accepted { event_id, job_id })).collect();
    let missing: Vec<String> = events.idempotency_keys.iter().filter(|k| !by_key.contains_key(*k)).cloned().collect();
    if !missing.is_empty() {
        for (key, event_id, status) in webhook_events::find_by_keys(&tx, &missing).await.map_err(classify)? {
            by_key.entry(key).or_insert(Outcome::Duplicate { event_id, status });
        }
    }
    let any_job = by_key.values().any(|o| matches!(o, Outcome::Accepted { job_id: Some(_), .. }));
    if any_job {
        jobs::notify(&tx).await.map_err(classify)?;
    }
    tx.commit().await.map_err(classify)?;
    let mut seen_new = std::collections::HashSet::new();
    Ok(deliveries
        .iter()
        .map(|d| match by_key.get(&d.idempotency_key).cloned() {
            // The same key twice in one batch: the second is a duplicate.
            Some(Outcome::Accepted { event_id, .. }) if !seen_new.insert(d.idempotency_key.clone()) => {
                Outcome::Duplicate { event_id, status: "pending".into() }
            }
            Some(outcome) => outcome,
            // Stored before, and pruned between our insert and our look-up.
            None => Outcome::Duplicate { event_id: Uuid::nil(), status: "processed".into() },
        })
        .collect())
}

fn columns(deliveries: &[Delivery]) -> webhook_events::NewEvents {
    let mut e = webhook_events::NewEvents::default();
    for d in deliveries {
        e.ids.push(Uuid::new_v4());
        e.idempotency_keys.push(d.idempotency_key.clone());
        e.event_types.push(d.event_type.clone());
        e.issue_keys.push(d.issue_key.clone());
        e.issue_ids.push(d.issue_id.clone());
        e.payloads.push(d.payload.clone());
        e.webhook_ids.push(d.webhook_id.clone());
        e.retries.push(d.retry);
        e.statuses.push(if d.ignore.is_some() { "ignored" } else { "pending" }.to_owned());
        e.notes.push(d.ignore.clone());
    }
    e
}

/// Data the database refuses is final; anything else may pass on retry.
fn classify(e: tokio_postgres::Error) -> IngestError {
    let refused = e.code().is_some_and(|c| {
        c.code().starts_with("22")
            || *c == SqlState::UNTRANSLATABLE_CHARACTER
            || *c == SqlState::CHARACTER_NOT_IN_REPERTOIRE
    });
    if refused { IngestError::Refused } else { IngestError::Unavailable(e.into()) }
}
