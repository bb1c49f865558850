//! PostgreSQL: the connection pool, the migrations, and all SQL arksync runs
//! (one small function per statement, in the submodules).

pub mod bulk;
pub mod conflicts;
pub mod connections;
pub mod jobs;
pub mod prepared;
pub mod projects;
pub mod raw_json;
pub mod retention;
pub mod scheduled_runs;
pub mod stats;
pub mod sync;
pub mod sync_admin;
pub mod webhook_events;
pub mod work_items;

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::config::Config;
use crate::pg::{ClusterOptions, EmbeddedPostgres};

refinery::embed_migrations!("migrations");

/// The database name the embedded cluster uses.
pub const EMBEDDED_DBNAME: &str = "arksync";

/// Key of the advisory lock that serialises migrations across replicas.
const MIGRATION_LOCK: i64 = 0x61726b_73796e63; // "arksync"

/// The database arksync runs against, and the embedded cluster behind it
/// when there is one.
pub struct Database {
    pub pool: Pool,
    /// For connections outside the pool (the worker's LISTEN).
    pub pg_config: tokio_postgres::Config,
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts the embedded cluster.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        let (pg_config, embedded) = match &config.database_url {
            Some(url) => (url.expose().parse::<tokio_postgres::Config>().context("parsing DATABASE_URL")?, None),
            None => {
                let opts = ClusterOptions { data_dir: config.data_dir.clone(), settings: Vec::new() };
                let pg = EmbeddedPostgres::start(&opts, EMBEDDED_DBNAME).await?;
                tracing::info!(
                    data = %pg.cluster_dir().display(),
                    log = %pg.log_path().display(),
                    psql = %pg.psql_url(EMBEDDED_DBNAME),
                    "embedded PostgreSQL is running"
                );
                (pg.config(EMBEDDED_DBNAME), Some(pg))
            }
        };
        let pool = pool(pg_config.clone(), config.db_pool_size)?;
        Ok(Self { pool, pg_config, embedded })
    }

    /// Stops the embedded cluster, if any, after the pool is closed.
    pub fn close(self) -> anyhow::Result<()> {
        self.pool.close();
        match self.embedded {
            Some(pg) => pg.stop(),
            None => Ok(()),
        }
    }
}

/// A pool of `size` connections.
pub fn pool(mut pg_config: tokio_postgres::Config, size: usize) -> anyhow::Result<Pool> {
    pg_config.application_name("arksync");
    pg_config.connect_timeout(Duration::from_secs(5));
    let manager = Manager::from_config(pg_config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .context("building the connection pool")
}

/// Applies the embedded migrations. An advisory lock makes replicas that
/// start together take turns; the later ones find nothing left to do.
pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    let mut client = pool.get().await.context("connecting to PostgreSQL to migrate")?;
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let result = migrations::runner().set_abort_divergent(true).run_async(&mut **client).await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await?;
    let report = result.context("applying migrations")?;
    for m in report.applied_migrations() {
        tracing::info!(migration = %m.name(), version = m.version(), "applied migration");
    }
    Ok(())
}

/// True when the database answers a trivial query within `timeout`.
pub async fn is_ready(pool: &Pool, timeout: Duration) -> bool {
    let check = async {
        let client = pool.get().await.ok()?;
        client.simple_query("SELECT 1").await.ok()
    };
    matches!(tokio::time::timeout(timeout, check).await, Ok(Some(_)))
}
