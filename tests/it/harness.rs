//! The test harness: one embedded PostgreSQL cluster per test run, one
//! migrated template database, and a fresh database per test made from it.
//! Tests drive the real HTTP server on 127.0.0.1:0.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use arksync::config::Secret;
use arksync::http::AppState;
use arksync::jira::crypto::SecretKey;
use arksync::jira::store::ConnectionStore;
use arksync::pg::{ClusterOptions, EmbeddedPostgres};
use arksync::webhooks::ingest::IngestWriter;
use arksync::webhooks::signature::WebhookAuth;
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

const TEMPLATE: &str = "arksync_template";
/// The secrets the test server verifies webhooks with.
pub const WEBHOOK_SECRET: &str = "test-webhook-secret";
pub const OAUTH_SECRET: &str = "test-oauth-client-secret";

/// The key tests seal Jira credentials with.
pub fn test_secret_key() -> SecretKey {
    SecretKey::from_bytes(&[42u8; 32]).unwrap()
}

/// The run's cluster. Its watchdog stops PostgreSQL when this process exits.
struct Shared {
    pg: EmbeddedPostgres,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        // A runtime of its own: each #[tokio::test] has a runtime that dies
        // with the test, and the cluster must outlive them all.
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(start_shared())
        })
        .join()
        .expect("starting the test cluster panicked")
    })
}

async fn start_shared() -> Shared {
    if std::env::var_os("TEST_LOG").is_some() {
        arksync::telemetry::init(arksync::config::LogFormat::Text);
    }
    remove_stale_runs();
    let data_dir = test_root().join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let opts = ClusterOptions { data_dir, settings: fast_settings() };
    let pg = EmbeddedPostgres::start(&opts, TEMPLATE).await.expect("starting the embedded test cluster");
    let pool = arksync::db::pool(pg.config(TEMPLATE), 1).unwrap();
    arksync::db::migrate(&pool).await.expect("migrating the template database");
    pool.close();
    Shared { pg }
}

/// Durability is not what these tests are about; speed is welcome.
fn fast_settings() -> Vec<(String, String)> {
    [("fsync", "off"), ("synchronous_commit", "off"), ("full_page_writes", "off"), ("max_connections", "400")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Where test clusters live. World-traversable, so a `postgres` user can
/// reach it when the tests run as root.
pub fn test_root() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = std::env::temp_dir().join(format!("arksync-tests-{}", nix_uid()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

fn nix_uid() -> u32 {
    nix::unistd::Uid::effective().as_raw()
}

/// Earlier runs' clusters whose lock nobody holds any more.
fn remove_stale_runs() {
    let Ok(entries) = std::fs::read_dir(test_root()) else { return };
    for entry in entries.flatten() {
        let lock = entry.path().join("arksync.lock");
        let Ok(file) = std::fs::File::open(&lock) else { continue };
        if file.try_lock().is_ok() {
            drop(file);
            std::fs::remove_dir_all(entry.path()).ok();
        }
    }
}

/// A database of its own for one test, migrated, empty.
pub struct TestDb {
    pub name: String,
    pub pool: Pool,
}

impl TestDb {
    pub async fn new() -> Self {
        let shared = shared();
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let (admin, conn) = shared.pg.config("postgres").connect(tokio_postgres::NoTls).await.unwrap();
        let conn = tokio::spawn(conn);
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY"))
            .await
            .expect("creating the test database");
        drop(admin);
        conn.await.ok();
        // The service's default pool size (ARKSYNC_DB_POOL_SIZE): a smaller
        // pool than the worker's 10 jobs lets jobs starve the HTTP API.
        let pool = arksync::db::pool(shared.pg.config(&name), 16).unwrap();
        Self { name, pool }
    }

    /// Connection settings of this test's database.
    pub fn pg_config(&self) -> tokio_postgres::Config {
        shared().pg.config(&self.name)
    }

    /// A `DATABASE_URL` for this test's database (Unix socket, no password),
    /// for tests that start the real binary.
    pub fn url(&self) -> String {
        shared().pg.psql_url(&self.name)
    }

    /// Runs `sql` through the machine's `psql`, as an operator would, and
    /// returns its unaligned output; panics with psql's error otherwise.
    pub fn psql(&self, sql: &str) -> String {
        self.run_psql(&["-c", sql])
    }

    /// Runs a file through `psql -f` with `-v name=value` variables.
    pub fn psql_file(&self, path: &std::path::Path, vars: &[(&str, &str)]) -> String {
        let mut args: Vec<String> = Vec::new();
        for (name, value) in vars {
            args.push("-v".into());
            args.push(format!("{name}={value}"));
        }
        args.push("-f".into());
        args.push(path.display().to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run_psql(&args)
    }

    fn run_psql(&self, args: &[&str]) -> String {
        let psql = arksync::pg::Binaries::find().unwrap().initdb.with_file_name("psql");
        let out = std::process::Command::new(psql)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .arg(shared().pg.psql_url(&self.name))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "psql failed on {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// A plain connection to this test's database.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, conn) = shared().pg.config(&self.name).connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }

    /// A connection to the cluster's `postgres` database, for statements
    /// that must not run inside the test's own database.
    pub async fn admin(&self) -> tokio_postgres::Client {
        let (client, conn) = shared().pg.config("postgres").connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }
}

/// The real HTTP server on 127.0.0.1:0 against a fresh database.
pub struct TestApp {
    pub db: TestDb,
    pub base: String,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with the state adjusted by `tweak` (e.g. a smaller body limit).
    pub async fn spawn_with(tweak: impl FnOnce(&mut AppState)) -> Self {
        arksync::metrics::handle();
        let db = TestDb::new().await;
        let mut state = AppState {
            pool: db.pool.clone(),
            max_body_bytes: 1 << 20,
            jira_base_url: None,
            webhook_auth: WebhookAuth {
                hmac_secret: Some(Secret::new(WEBHOOK_SECRET)),
                jwt_secret: Some(Secret::new(OAUTH_SECRET)),
            },
            ingest: IngestWriter::spawn(db.pool.clone(), 2),
            connections: ConnectionStore::new(db.pool.clone(), Some(test_secret_key())),
            sync: arksync::sync::Engine::new(
                db.pool.clone(),
                ConnectionStore::new(db.pool.clone(), Some(test_secret_key())),
            ),
        };
        tweak(&mut state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        tokio::spawn(arksync::http::serve(listener, Arc::new(state), shutdown.clone()));
        Self { db, base, http: reqwest::Client::new(), shutdown }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs JSON; returns status and body.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let res = self.http.post(self.url(path)).json(&body).send().await.unwrap();
        status_and_json(res).await
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let res = self.http.patch(self.url(path)).json(&body).send().await.unwrap();
        status_and_json(res).await
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let res = self.http.get(self.url(path)).send().await.unwrap();
        status_and_json(res).await
    }

    pub async fn delete(&self, path: &str) -> u16 {
        self.http.delete(self.url(path)).send().await.unwrap().status().as_u16()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn status_and_json(res: reqwest::Response) -> (u16, serde_json::Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() { serde_json::Value::Null } else { serde_json::from_str(&text).unwrap() };
    (status, body)
}
