//! Group commit for the bookkeeping of successful pushes.
//!
//! After Jira took a push, its link, agreed fields, item status and sync log
//! are written in one transaction: four statements, a `BEGIN` and a
//! `COMMIT`, each a round trip. Pushes finishing at the same time hand their
//! records to a writer task instead, which writes everything that has
//! arrived (up to [`MAX_GROUP`]) in one transaction, the records' statements
//! sent together, and commits once. Each push waits for its own outcome, so
//! its job completes only after its bookkeeping is durable, as before.
//!
//! Records in one group never share an item (one push per item runs at a
//! time), and each takes its locks in the inbound sync's order (link, then
//! item), so a group cannot deadlock with them. A group the database
//! refuses is written again one record per transaction, so one bad record
//! cannot fail its neighbours.

use std::sync::{Arc, OnceLock};

use futures_util::future::join_all;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::outbound::{Record, write_record};

/// Most records written by one transaction.
pub const MAX_GROUP: usize = 64;
/// Writer tasks: one fills its group while another commits.
const WRITERS: usize = 2;

/// The record's sync log status, or why it could not be written.
type Reply = oneshot::Sender<Result<&'static str, String>>;

/// Hands records to the writers, started on first use.
#[derive(Default)]
pub struct Recorder {
    writers: OnceLock<mpsc::UnboundedSender<(Record, Reply)>>,
}

impl Recorder {
    /// Writes `record` (in a group with any others waiting); returns its
    /// sync log status once committed.
    pub async fn write(&self, pool: &deadpool_postgres::Pool, record: Record) -> anyhow::Result<&'static str> {
        let writers = self.writers.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..WRITERS {
                tokio::spawn(run(pool.clone(), rx.clone()));
            }
            tx
        });
        let (reply, answer) = oneshot::channel();
        writers.send((record, reply)).map_err(|_| anyhow::anyhow!("the push recorder stopped"))?;
        let written = answer.await.map_err(|_| anyhow::anyhow!("the push recorder dropped the record"))?;
        written.map_err(|e| anyhow::anyhow!("writing the push's bookkeeping failed: {e}"))
    }
}

async fn run(pool: deadpool_postgres::Pool, rx: Arc<Mutex<mpsc::UnboundedReceiver<(Record, Reply)>>>) {
    loop {
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            crate::batch::with_ready(first, MAX_GROUP, || rx.try_recv().ok())
        };
        write_group(&pool, group).await;
    }
}

async fn write_group(pool: &deadpool_postgres::Pool, group: Vec<(Record, Reply)>) {
    let (records, replies): (Vec<Record>, Vec<Reply>) = group.into_iter().unzip();
    match write(pool, &records).await {
        Ok(statuses) => {
            for (reply, status) in replies.into_iter().zip(statuses) {
                reply.send(Ok(status)).ok();
            }
        }
        Err(_) if records.len() > 1 => {
            for (record, reply) in records.iter().zip(replies) {
                let one = write(pool, std::slice::from_ref(record)).await.map(|mut s| s.remove(0));
                reply.send(one.map_err(|e| format!("{e:#}"))).ok();
            }
        }
        Err(e) => {
            let message = format!("{e:#}");
            for reply in replies {
                reply.send(Err(message.clone())).ok();
            }
        }
    }
}

/// One transaction for all of `records`.
async fn write(pool: &deadpool_postgres::Pool, records: &[Record]) -> anyhow::Result<Vec<&'static str>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let written = join_all(records.iter().map(|r| write_record(&tx, r))).await;
    let statuses = written.into_iter().collect::<Result<Vec<_>, _>>()?;
    tx.commit().await?;
    Ok(statuses)
}
