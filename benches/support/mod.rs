//! Shared pieces of the pipeline benchmark: the embedded database, the
//! arksync server under test, an HTTP load generator, percentiles.

pub mod ingest;
pub mod latency;
pub mod queue;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arksync::config::Secret;
use arksync::http::AppState;
use arksync::pg::{ClusterOptions, EmbeddedPostgres};
use arksync::webhooks::ingest::IngestWriter;
use arksync::webhooks::signature::WebhookAuth;
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "bench-webhook-secret";
const DBNAME: &str = "bench";

pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The embedded cluster with a migrated database, default durability.
pub struct Bench {
    pub pg: EmbeddedPostgres,
    pub pool: deadpool_postgres::Pool,
    pub data_dir: PathBuf,
}

impl Bench {
    pub async fn start() -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let data_dir = std::env::temp_dir().join(format!("arksync-bench-{}", std::process::id()));
        std::fs::create_dir_all(&data_dir)?;
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755))?;
        let mut settings = vec![("max_connections".to_owned(), "300".to_owned())];
        let statements = std::env::var("BENCH_PG_STATEMENTS").is_ok_and(|v| v == "1");
        if statements {
            settings.push(("shared_preload_libraries".to_owned(), "pg_stat_statements".to_owned()));
        }
        let pg = EmbeddedPostgres::start(&ClusterOptions { data_dir: data_dir.clone(), settings }, DBNAME).await?;
        let pool = arksync::db::pool(pg.config(DBNAME), 32)?;
        arksync::db::migrate(&pool).await?;
        if statements {
            pool.get().await?.batch_execute("CREATE EXTENSION pg_stat_statements").await?;
        }
        Ok(Self { pg, pool, data_dir })
    }

    /// With `BENCH_PG_STATEMENTS=1`: where PostgreSQL's time went, by
    /// statement, since the last call (for finding what to make cheaper).
    pub async fn print_statements(&self, heading: &str) -> anyhow::Result<()> {
        if !std::env::var("BENCH_PG_STATEMENTS").is_ok_and(|v| v == "1") {
            return Ok(());
        }
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT calls, round(total_exec_time::numeric, 1)::float8, round(total_plan_time::numeric, 1)::float8, \
                        left(regexp_replace(query, '\\s+', ' ', 'g'), 110) \
                 FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 30",
                &[],
            )
            .await?;
        println!("\n### PostgreSQL statements by execution time: {heading}");
        println!("{:>8} {:>10} {:>9}  query", "calls", "exec ms", "plan ms");
        for r in rows {
            let (calls, exec, plan, query): (i64, f64, f64, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
            println!("{calls:>8} {exec:>10.1} {plan:>9.1}  {query}");
        }
        client.batch_execute("SELECT pg_stat_statements_reset()").await?;
        Ok(())
    }

    pub fn pg_config(&self) -> tokio_postgres::Config {
        self.pg.config(DBNAME)
    }

    /// Empties the queue and the inbox so every run starts alike.
    pub async fn reset(&self) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client.batch_execute("TRUNCATE jobs, jira_webhook_events; CHECKPOINT").await?;
        Ok(())
    }

    pub fn stop(self) -> anyhow::Result<()> {
        self.pool.close();
        self.pg.stop()?;
        std::fs::remove_dir_all(&self.data_dir).ok();
        Ok(())
    }

    /// The real arksync HTTP server (webhook endpoint, group commit) on
    /// 127.0.0.1:0.
    pub async fn serve(&self) -> anyhow::Result<(SocketAddr, CancellationToken)> {
        let store = arksync::jira::store::ConnectionStore::new(self.pool.clone(), None);
        self.serve_with(arksync::sync::Engine::new(self.pool.clone(), store)).await
    }

    /// [`Self::serve`] with the sync engine the worker uses, as `arksync
    /// serve` shares one between its API and its worker.
    pub async fn serve_with(&self, sync: arksync::sync::Engine) -> anyhow::Result<(SocketAddr, CancellationToken)> {
        let state = Arc::new(AppState {
            pool: self.pool.clone(),
            max_body_bytes: 1 << 20,
            jira_base_url: None,
            webhook_auth: WebhookAuth { hmac_secret: Some(Secret::new(SECRET)), jwt_secret: None },
            ingest: IngestWriter::spawn(self.pool.clone(), 2),
            connections: arksync::jira::store::ConnectionStore::new(self.pool.clone(), None),
            sync,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let token = CancellationToken::new();
        tokio::spawn(arksync::http::serve(listener, state, token.clone()));
        Ok((addr, token))
    }
}

/// A throughput with its latency distribution.
pub struct Rate {
    pub rate: f64,
    pub latencies: Vec<Duration>,
}

impl Rate {
    pub fn new(count: usize, elapsed: Duration, mut latencies: Vec<Duration>) -> Self {
        latencies.sort();
        Self { rate: count as f64 / elapsed.as_secs_f64(), latencies }
    }
}

/// The `q`-quantile of sorted durations.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latencies;
        write!(
            f,
            "{:>7.0}/s p50 {} p95 {} p99 {}",
            self.rate,
            ms(quantile(l, 0.5)),
            ms(quantile(l, 0.95)),
            ms(quantile(l, 0.99))
        )
    }
}

/// A realistic delivery of about `size` bytes: our own fixture's shape with
/// the description padded.
pub fn payload(size: usize) -> Vec<u8> {
    let fixture = include_bytes!("../../tests/fixtures/webhooks/issue_updated_status.json");
    let mut v: serde_json::Value = serde_json::from_slice(fixture).expect("fixture is JSON");
    let base = serde_json::to_vec(&v).expect("serialises").len();
    let pad = "As a shopper I want to reuse a saved card so that checkout is quick. ";
    let mut description = String::new();
    while base + description.len() < size {
        description.push_str(pad);
    }
    description.truncate(size.saturating_sub(base));
    v["issue"]["fields"]["description"] = serde_json::Value::String(description);
    serde_json::to_vec(&v).expect("serialises")
}
