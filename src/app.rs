//! Wiring: what `arksync serve` and `arksync migrate` do, from a typed
//! [`Config`] to a running service, and back down on shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db::{self, Database};
use crate::http::{self, AppState};

/// `arksync serve`: database, migrations, HTTP API; runs until SIGINT or
/// SIGTERM, then drains requests and stops the embedded cluster.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    let result = serve_on(&config, &database).await;
    let closed = database.close();
    result.and(closed)
}

async fn serve_on(config: &Config, database: &Database) -> anyhow::Result<()> {
    db::migrate(&database.pool).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {} (ARKSYNC_LISTEN)", config.listen))?;
    let state = Arc::new(AppState {
        pool: database.pool.clone(),
        max_body_bytes: config.max_body_bytes,
        jira_base_url: config.jira_base_url.clone(),
    });
    tracing::info!(address = %listener.local_addr()?, "arksync is serving the API");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(http::serve(listener, state, shutdown.clone()));
    wait_for_signal().await;
    tracing::info!("shutting down: draining requests");
    shutdown.cancel();
    server.await.context("the HTTP server task failed")??;
    Ok(())
}

/// `arksync migrate`.
pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    let result = db::migrate(&database.pool).await;
    let closed = database.close();
    result.and(closed)
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
