//! Batched completion: finished jobs are reported to a task that marks
//! them completed together, one statement per batch, so throughput is not
//! bounded by one round trip per job. A batch is whatever arrived while the
//! previous one was being written.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::db::jobs;

/// Largest batch written at once.
const MAX_BATCH: usize = 5_000;

pub struct Completer {
    tx: mpsc::UnboundedSender<(i64, i32)>,
    task: JoinHandle<()>,
}

impl Completer {
    pub fn spawn(pool: deadpool_postgres::Pool) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self { tx, task: tokio::spawn(run(pool, rx)) }
    }

    /// Where finished jobs' (id, attempt) are sent. A send only fails
    /// after shutdown; the job is then rescued and rerun.
    pub fn handle(&self) -> mpsc::UnboundedSender<(i64, i32)> {
        self.tx.clone()
    }

    /// Writes everything queued so far, then stops.
    pub async fn flush(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

async fn run(pool: deadpool_postgres::Pool, mut rx: mpsc::UnboundedReceiver<(i64, i32)>) {
    while let Some(first) = rx.recv().await {
        let (ids, attempts): (Vec<i64>, Vec<i32>) =
            crate::batch::with_ready(first, MAX_BATCH, || rx.try_recv().ok()).into_iter().unzip();
        write(&pool, &ids, &attempts).await;
    }
}

/// Retries until written: a completion lost here would rerun the job.
async fn write(pool: &deadpool_postgres::Pool, ids: &[i64], attempts: &[i32]) {
    let mut delay = Duration::from_millis(50);
    for _ in 0..40 {
        let result = async {
            let client = pool.get().await.map_err(anyhow::Error::from)?;
            jobs::complete_many(&client, ids, attempts).await.map_err(anyhow::Error::from)
        };
        match result.await {
            Ok(_) => return,
            Err(e) => tracing::warn!(error = %e, jobs = ids.len(), "could not record completions; retrying"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
    tracing::error!(jobs = ids.len(), "gave up recording completions; the jobs will be rescued and run again");
}
