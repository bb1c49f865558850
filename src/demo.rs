//! Demo mode: `arksync` with no configuration at all (embedded PostgreSQL,
//! no Jira) starts the Jira simulator in-process, connects to it, points
//! its webhook at itself, and logs a short walkthrough. A newcomer sees the
//! sync work with one command; nothing here runs when Jira is configured,
//! when `DATABASE_URL` is set, or with `ARKSYNC_DEMO=0`.

use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use rand::RngCore;

use crate::config::{Config, Secret};
use crate::jira::connection::{Credentials, Flavor, Settings};
use crate::jira::crypto::SecretKey;
use crate::jira::store::{ConnectionStore, ConnectionUpdate, NewConnectionInput};
use crate::jira_sim::{self, AdminWebhook, SimConfig, SimServer};

/// What the demo set up.
pub struct Demo {
    pub sim: SimServer,
    pub secret_key: SecretKey,
    pub webhook_secret: Secret,
}

/// True when arksync runs with nothing configured.
pub fn wanted(config: &Config) -> bool {
    let jira = &config.jira;
    let unconfigured = jira.basic.is_none() && jira.pat.is_none() && jira.oauth_client_id.is_none();
    let enabled = std::env::var("ARKSYNC_DEMO").map_or(true, |v| v != "0");
    config.database_url.is_none() && unconfigured && enabled
}

/// Starts the simulator (its issues kept in the data dir) with its admin
/// webhook pointed at `listen`, and makes the `default` connection use it.
pub async fn start(config: &Config, listen: SocketAddr, pool: &deadpool_postgres::Pool) -> anyhow::Result<Demo> {
    let secret_key = match &config.secret_key {
        Some(key) => key.clone(),
        None => local_key(&config.data_dir.join("secret.key"))?,
    };
    let webhook_secret = config.webhook_secret.clone().unwrap_or_else(|| Secret::new(random_hex(16)));
    let sim_config = SimConfig {
        admin_webhooks: vec![AdminWebhook {
            url: format!("http://{listen}/api/jira/webhooks"),
            secret: Some(webhook_secret.expose().to_owned()),
        }],
        state_file: Some(config.data_dir.join("jira-sim.json")),
        ..SimConfig::default()
    };
    let sim = jira_sim::start(sim_config).await.context("starting the demo Jira simulator")?;
    let store = ConnectionStore::new(pool.clone(), Some(secret_key.clone()));
    connect(&store, &sim).await?;
    walkthrough(listen, &sim);
    Ok(Demo { sim, secret_key, webhook_secret })
}

/// The `default` connection, pointed at this run's simulator (its port
/// changes between runs).
async fn connect(store: &ConnectionStore, sim: &SimServer) -> anyhow::Result<()> {
    let user = sim.integration_user();
    let credentials = Credentials::Basic { email: user.email.clone(), api_token: user.token.clone() };
    let settings = Settings { rate_per_sec: 100.0, burst: 50, ..Settings::default() };
    match store.load_by_name(crate::sync::DEFAULT_CONNECTION).await? {
        Some(conn) => {
            let change = ConnectionUpdate {
                base_url: Some(sim.base_url()),
                credentials: Some(credentials),
                settings: Some(settings),
            };
            store.update(conn.id, &change).await?;
        }
        None => {
            let input = NewConnectionInput {
                name: crate::sync::DEFAULT_CONNECTION.into(),
                flavor: Flavor::Cloud,
                base_url: Some(sim.base_url()),
                credentials,
                settings,
            };
            store.create(&input).await?;
        }
    }
    Ok(())
}

/// A key for sealing credentials, made once and kept (mode 0600) beside
/// the embedded cluster, for this machine's demo only.
fn local_key(path: &Path) -> anyhow::Result<SecretKey> {
    if !path.exists() {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        std::io::Write::write_all(&mut file, random_hex(32).as_bytes())?;
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    SecretKey::parse(text.trim()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

fn walkthrough(listen: SocketAddr, sim: &SimServer) {
    let person = &sim.credentials()[1];
    let jira = sim.base_url();
    tracing::info!(jira = %jira, "demo: no Jira is configured, so arksync runs the Jira simulator and syncs with it");
    tracing::info!(
        "demo: 1) create a story that syncs: curl -s -X POST http://{listen}/api/user-stories \
         -H 'content-type: application/json' -d '{{\"title\":\"Try arksync\",\"syncToJira\":true,\"jiraProjectKey\":\"PROJ\"}}'"
    );
    tracing::info!(
        "demo: 2) see it in the simulated Jira: curl -s -u {}:{} {jira}/rest/api/3/search/jql \
         -H 'content-type: application/json' -d '{{\"jql\":\"project = PROJ\",\"fields\":[\"summary\",\"status\"]}}'",
        person.email,
        person.token
    );
    tracing::info!(
        "demo: 3) edit it as a person working in Jira: curl -s -u {}:{} -X PUT {jira}/rest/api/3/issue/PROJ-1 \
         -H 'content-type: application/json' -d '{{\"fields\":{{\"summary\":\"Renamed in Jira\"}}}}'",
        person.email,
        person.token
    );
    tracing::info!("demo: 4) the story changed here: curl -s 'http://{listen}/api/user-stories?limit=5'");
}
