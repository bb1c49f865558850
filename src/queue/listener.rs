//! The LISTEN connection: one per worker process, outside the pool, kept
//! alive with reconnects (backoff 100 ms doubling to 5 s). Every
//! notification wakes all idle worker loops; so does every (re)connect,
//! since notifications sent while disconnected are lost.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, mpsc};
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use crate::db::jobs::CHANNEL;

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Listens until `shutdown`, waking `wake`'s waiters on each notification.
pub async fn run(mut config: tokio_postgres::Config, wake: Arc<Notify>, shutdown: CancellationToken) {
    config.application_name("arksync-listener");
    let mut backoff = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        match listen_once(&config, &wake, &shutdown).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "LISTEN connection lost"),
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection's life: Ok on shutdown, Err when the connection drops.
async fn listen_once(
    config: &tokio_postgres::Config,
    wake: &Notify,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            if let AsyncMessage::Notification(_) = message? {
                let _ = tx.send(());
            }
        }
        Ok::<(), tokio_postgres::Error>(())
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    tracing::debug!("listening for job notifications");
    wake.notify_waiters();
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                Some(()) => wake.notify_waiters(),
                None => break,
            },
            () = shutdown.cancelled() => return Ok(()),
        }
    }
    drop(client);
    match driver.await {
        Ok(Err(e)) => Err(e.into()),
        _ => Err(anyhow::anyhow!("the server closed the connection")),
    }
}
