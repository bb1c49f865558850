//! Coalesced wake-ups. Anything that enqueued jobs outside the ingest
//! writer calls [`Notifier::wake`] after its commit; one background task
//! turns any number of calls into one `NOTIFY` at a time, so a burst of
//! enqueues never puts a NOTIFY in every transaction.

use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Clone)]
pub struct Notifier {
    pending: Arc<Notify>,
}

impl Notifier {
    /// Starts the task that sends the NOTIFYs through `pool`.
    pub fn spawn(pool: deadpool_postgres::Pool) -> Self {
        let pending = Arc::new(Notify::new());
        let waiting = pending.clone();
        tokio::spawn(async move {
            loop {
                // A wake() while we were sending left a permit: loop once more.
                waiting.notified().await;
                let sent = async { crate::db::jobs::notify(&**pool.get().await.ok()?).await.ok() };
                if sent.await.is_none() {
                    tracing::debug!("could not send NOTIFY; workers will find the jobs by polling");
                }
            }
        });
        Self { pending }
    }

    /// Asks for a NOTIFY soon; never blocks.
    pub fn wake(&self) {
        self.pending.notify_one();
    }
}
