//! A Jira simulator, faithful to Atlassian's contract, for tests, benchmarks
//! and the demo (no machine of ours can reach a real Jira).
//!
//! Layout: `config` (flags → `SimConfig`), `server` (hyper loop) and
//! `router` (method + path segments) in front of one file per resource:
//! `issues` + `bulk` (many creates in one request), `transitions`,
//! `search` + `jql`, `users`, `webhooks` + `delivery`, `auth` + `oauth`.
//! `store` holds issues in memory behind one mutex (optionally persisted
//! to JSON); `render` turns them into Jira's JSON
//! (v3 with ADF, v2 with wiki markup via `wiki`); `fields` validates input
//! (ADF through our own `adf` validator); `changelog` records changes.
//! `ratelimit`, `faults`, `reqlog` and `admin` (`/_sim/…`) serve tests.
//!
//! Every change, by any account, emits webhooks with `user` = the acting
//! account, as Jira does; the sync engine filters its own echoes.

pub mod adf;
mod admin;
mod auth;
mod bulk;
mod catalog;
mod changelog;
mod clock;
pub mod config;
mod delivery;
mod faults;
mod fields;
mod http;
mod issues;
mod jql;
mod meta;
mod oauth;
mod ratelimit;
mod render;
mod reqlog;
mod router;
mod search;
mod server;
mod state;
mod store;
mod transitions;
mod users;
mod webhooks;
pub mod wiki;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use config::{AdminWebhook, Flavor, JiraSimArgs, OAuthClient, RetryPolicy, ScreenRequirement, SimConfig, SimUser};
pub use webhooks::hmac_hex;

use state::Sim;

/// A running simulator. Dropping it leaves the tasks running until the
/// runtime ends; call `shutdown` to stop accepting and drain.
pub struct SimServer {
    addr: SocketAddr,
    sim: Arc<Sim>,
    stop: oneshot::Sender<()>,
    serve: JoinHandle<()>,
    worker: JoinHandle<()>,
}

impl SimServer {
    /// `http://127.0.0.1:PORT`, the Jira site URL.
    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// All configured accounts; the first is the integration account.
    pub fn credentials(&self) -> &[SimUser] {
        &self.sim.config.users
    }

    pub fn integration_user(&self) -> &SimUser {
        self.sim.integration_user()
    }

    pub fn config(&self) -> &SimConfig {
        &self.sim.config
    }

    /// Stops accepting, drains open connections (≤ 5 s), stops deliveries.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.serve.await;
        self.worker.abort();
    }
}

/// Binds `config.listen`, spawns the server and the webhook worker, and
/// returns once the port is accepting.
pub async fn start(config: SimConfig) -> anyhow::Result<SimServer> {
    anyhow::ensure!(!config.users.is_empty(), "at least one user (the integration account) is required");
    anyhow::ensure!(!config.projects.is_empty(), "at least one project is required");
    let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let store = match &config.state_file {
        Some(path) => store::Store::load(path)?,
        None => store::Store::new(),
    };
    let (outbox, rx) = mpsc::unbounded_channel();
    let sim = Arc::new(Sim {
        base_url: format!("http://{addr}"),
        config,
        clock: clock::SimClock::default(),
        store: Mutex::new(store),
        faults: Mutex::default(),
        limiter: Mutex::default(),
        log: Mutex::default(),
        hooks: Mutex::default(),
        oauth: Mutex::default(),
        outbox,
        deliveries: Mutex::default(),
    });
    let (stop, stop_rx) = oneshot::channel();
    let serve = tokio::spawn(server::serve(sim.clone(), listener, stop_rx));
    let worker = tokio::spawn(delivery::worker(sim.clone(), rx));
    Ok(SimServer { addr, sim, stop, serve, worker })
}

/// `arksync jira-sim`: starts, prints the URL and credentials, serves
/// until Ctrl-C.
pub async fn run(args: JiraSimArgs) -> anyhow::Result<()> {
    let server = start(args.into_config()?).await?;
    println!("{}", banner(&server));
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    server.shutdown().await;
    Ok(())
}

fn banner(server: &SimServer) -> String {
    let c = server.config();
    let mut out = format!("Jira simulator ({:?}) listening on {}\n", c.flavor, server.base_url());
    out += &format!("  projects: {}\n", c.projects.join(", "));
    for (i, u) in c.users.iter().enumerate() {
        let role = if i == 0 { "integration" } else { "person" };
        out += &format!("  user ({role}): {}:{}  accountId={}\n", u.email, u.token, u.account_id);
    }
    if c.flavor == Flavor::Cloud {
        for oc in &c.oauth_clients {
            out += &format!("  oauth client: {}:{}  cloudId={}\n", oc.client_id, oc.client_secret, c.cloud_id);
        }
    }
    out += &format!("  admin API: {}/_sim/ (faults, clock, reset, issues, requests, deliveries)", server.base_url());
    out
}
