//! Wiring: what `arksync serve`, `arksync worker` and `arksync migrate` do,
//! from a typed [`Config`] to a running service, and back down on shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db::{self, Database};
use crate::http::{self, AppState};
use crate::jira::crypto::SecretKey;
use crate::jira::store::ConnectionStore;
use crate::queue::{Registry, Worker, WorkerConfig};
use crate::webhooks::ingest::IngestWriter;
use crate::webhooks::signature::WebhookAuth;

/// Ingest writer tasks: one commits while the next batch fills.
const INGEST_WRITERS: usize = 2;

/// `arksync serve`: database, migrations, HTTP API and (unless
/// `ARKSYNC_WORKERS=0`) a worker; runs until SIGINT or SIGTERM, then drains
/// requests and jobs and stops the embedded cluster.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let stop = StopSignal::install()?;
    let database = Database::open(&config).await?;
    let result = serve_on(&config, &database, stop).await;
    let closed = database.close();
    result.and(closed)
}

async fn serve_on(config: &Config, database: &Database, stop: StopSignal) -> anyhow::Result<()> {
    crate::metrics::handle();
    db::migrate(&database.pool).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {} (ARKSYNC_LISTEN)", config.listen))?;
    let demo = match crate::demo::wanted(config) {
        true => Some(crate::demo::start(config, loopback(listener.local_addr()?), &database.pool).await?),
        false => None,
    };
    let secret_key = demo.as_ref().map(|d| d.secret_key.clone()).or_else(|| config.secret_key.clone());
    let webhook_secret = demo.as_ref().map(|d| d.webhook_secret.clone()).or_else(|| config.webhook_secret.clone());
    let webhook_auth = WebhookAuth { hmac_secret: webhook_secret, jwt_secret: config.oauth_client_secret.clone() };
    if !webhook_auth.is_configured() {
        tracing::warn!("no JIRA_WEBHOOK_SECRET or JIRA_OAUTH_CLIENT_SECRET: every webhook delivery will be refused");
    }
    let connections = bootstrap_connections(config, database, secret_key.clone()).await;
    // One engine for the API and the worker: one Jira client (and rate
    // limiter) per connection in this process.
    let engine = crate::sync::Engine::new(database.pool.clone(), connections.clone());
    let state = Arc::new(AppState {
        pool: database.pool.clone(),
        max_body_bytes: config.max_body_bytes,
        jira_base_url: config.jira_base_url.clone(),
        webhook_auth,
        ingest: IngestWriter::spawn(database.pool.clone(), INGEST_WRITERS),
        sync: engine.clone(),
        connections,
    });
    tracing::info!(address = %listener.local_addr()?, "arksync is serving the API");
    let shutdown = CancellationToken::new();
    crate::scheduler::spawn(config, database.pool.clone(), shutdown.clone()).await?;
    crate::metrics::listener::spawn(config.metrics_listen, database.pool.clone(), shutdown.clone()).await?;
    let server = tokio::spawn(http::serve(listener, state, shutdown.clone()));
    let worker = (config.workers > 0).then(|| tokio::spawn(worker(config, database, engine).run(shutdown.clone())));
    stop.wait().await;
    tracing::info!("shutting down: draining requests and jobs");
    shutdown.cancel();
    server.await.context("the HTTP server task failed")??;
    if let Some(worker) = worker {
        worker.await.context("the worker task failed")??;
    }
    if let Some(demo) = demo {
        demo.sim.shutdown().await;
    }
    Ok(())
}

/// Where a local client reaches an address we listen on.
fn loopback(mut addr: std::net::SocketAddr) -> std::net::SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

/// The connection store, with the `default` connection created from the
/// `JIRA_*` variables when they describe one and it does not exist yet.
/// Without `ARKSYNC_SECRET_KEY` the credentials are not stored (and a
/// warning says so): arksync never writes a plaintext secret.
async fn bootstrap_connections(config: &Config, database: &Database, key: Option<SecretKey>) -> ConnectionStore {
    let store = ConnectionStore::new(database.pool.clone(), key);
    match store.bootstrap(&config.jira, config.jira_base_url.as_deref()).await {
        Ok(Some(id)) => tracing::info!(connection = id, "created the default Jira connection from the environment"),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "the default Jira connection from the environment was not stored"),
    }
    store
}

/// `arksync worker`: only the worker, to scale job processing out.
pub async fn run_worker(config: Config) -> anyhow::Result<()> {
    let stop = StopSignal::install()?;
    let database = Database::open(&config).await?;
    let result = async {
        db::migrate(&database.pool).await?;
        let shutdown = CancellationToken::new();
        crate::scheduler::spawn(&config, database.pool.clone(), shutdown.clone()).await?;
        crate::metrics::listener::spawn(config.metrics_listen, database.pool.clone(), shutdown.clone()).await?;
        let store = ConnectionStore::new(database.pool.clone(), config.secret_key.clone());
        let engine = crate::sync::Engine::new(database.pool.clone(), store);
        let running = tokio::spawn(worker(&config, &database, engine).run(shutdown.clone()));
        stop.wait().await;
        tracing::info!("shutting down: draining jobs");
        shutdown.cancel();
        running.await.context("the worker task failed")?
    }
    .await;
    let closed = database.close();
    result.and(closed)
}

/// The worker with every job kind arksync knows.
fn worker(config: &Config, database: &Database, engine: crate::sync::Engine) -> Worker {
    let registry = crate::webhooks::process::register(Registry::new(), Some(engine.clone()));
    let registry = crate::scheduler::register_jobs(registry, &engine, crate::scheduler::Retention::from_config(config));
    let registry = crate::sync::outbound::register(registry, engine.clone());
    let registry = crate::sync::import::register(registry, engine.clone());
    let registry = crate::sync::bulk::register(registry, engine.clone());
    let registry = crate::sync::reconcile::register(registry, engine);
    let worker_config = WorkerConfig {
        concurrency: config.workers.max(1),
        completed_retention: std::time::Duration::from_secs(config.completed_job_retention_secs),
        ..WorkerConfig::default()
    };
    Worker::new(database.pool.clone(), database.pg_config.clone(), registry, worker_config)
}

/// `arksync migrate`.
pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    let result = db::migrate(&database.pool).await;
    let closed = database.close();
    result.and(closed)
}

/// SIGINT or SIGTERM, listened for from the first moment: one that arrives
/// while arksync is still starting is kept and answered once it is up,
/// never left to the default action (killing the process mid-start).
struct StopSignal {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
