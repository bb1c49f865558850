//! `cargo bench --bench sync`: end-to-end sync against the in-process Jira
//! simulator (its latency 0, no rate limit): edit → the other side has it,
//! both ways, at a steady 100 edits/s each way; then sustained pushes/s.
//! PostgreSQL is embedded with default durability. Prints figures only.
//!
//! Knobs: `BENCH_SYNC_SECONDS` (per direction, default 10), `BENCH_SYNC_ITEMS`
//! (items in the throughput run, default 6000), `BENCH_PG_STATEMENTS=1`
//! (load pg_stat_statements and print where PostgreSQL spent its time).

#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arksync::jira::connection::{Credentials, Flavor, Settings};
use arksync::jira::crypto::SecretKey;
use arksync::jira::store::{ConnectionStore, NewConnectionInput};
use arksync::jira_sim::{self, AdminWebhook, SimConfig};
use arksync::queue::{Registry, Worker, WorkerConfig};
use arksync::sync::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use support::{Bench, SECRET, env_u64, ms, quantile};
use tokio_util::sync::CancellationToken;

const RATE: u64 = 100;

/// The service binary's allocator (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let bench = Bench::start().await?;
    let key = SecretKey::parse(&"ab".repeat(32)).map_err(anyhow::Error::msg)?;
    let store = ConnectionStore::new(bench.pool.clone(), Some(key));
    // One engine for the API and the worker, as `arksync serve` runs them.
    let engine = Engine::new(bench.pool.clone(), store.clone());
    let (addr, stop_http) = bench.serve_with(engine.clone()).await?;
    let sim = jira_sim::start(SimConfig {
        admin_webhooks: vec![AdminWebhook {
            url: format!("http://{addr}/api/jira/webhooks"),
            secret: Some(SECRET.to_owned()),
        }],
        ..SimConfig::default()
    })
    .await?;
    let user = sim.integration_user();
    store
        .create(&NewConnectionInput {
            name: "default".into(),
            flavor: Flavor::Cloud,
            base_url: Some(sim.base_url()),
            credentials: Credentials::Basic { email: user.email.clone(), api_token: user.token.clone() },
            settings: Settings { rate_per_sec: 100_000.0, burst: 10_000, ..Settings::default() },
        })
        .await?;
    let registry = arksync::webhooks::process::register(Registry::new(), Some(engine.clone()));
    let registry = arksync::sync::outbound::register(registry, engine);
    let stop = CancellationToken::new();
    let config = WorkerConfig { concurrency: 32, ..WorkerConfig::default() };
    let worker = tokio::spawn(Worker::new(bench.pool.clone(), bench.pg_config(), registry, config).run(stop.clone()));
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let seconds = Duration::from_secs(env_u64("BENCH_SYNC_SECONDS", 10));

    println!("# arksync sync benchmark ({} cores), simulator latency 0", std::thread::available_parallelism()?);
    let items = create_synced(&bench, &http, &base, 50).await?;
    let keys = issue_keys(&bench, &items).await?;
    println!("\n## ARKHITEKTON edit -> Jira has it, {RATE} edits/s for {} s", seconds.as_secs());
    let sent = edit_here(&http, &base, &items, seconds).await?;
    settle(&bench).await?;
    report(&sent, &logged(&bench, "to_jira", &["summary"]).await?);
    println!("\n## Jira edit (a person) -> ARKHITEKTON has it, {RATE} edits/s for {} s", seconds.as_secs());
    let sent = edit_in_jira(&http, &sim, &keys, seconds).await?;
    settle(&bench).await?;
    report(&sent, &logged(&bench, "from_jira", &["changes", "title"]).await?);

    let n = env_u64("BENCH_SYNC_ITEMS", 6000) as usize;
    println!("\n## Sustained pushes: {n} items created with syncToJira, until all are synced");
    bench.print_statements("the latency runs").await?;
    throughput(&bench, n).await?;
    bench.print_statements("the sustained pushes").await?;

    stop.cancel();
    worker.await??;
    stop_http.cancel();
    sim.shutdown().await;
    bench.stop()
}

async fn create_synced(bench: &Bench, http: &reqwest::Client, base: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = json!({"title": format!("item {i}"), "syncToJira": true, "jiraProjectKey": "PROJ"});
        let v: Value = http.post(format!("{base}/api/user-stories")).json(&body).send().await?.json().await?;
        ids.push(v["id"].as_str().unwrap_or_default().to_owned());
    }
    settle(bench).await?;
    Ok(ids)
}

async fn issue_keys(bench: &Bench, ids: &[String]) -> anyhow::Result<Vec<String>> {
    let client = bench.pool.get().await?;
    let rows = client.query("SELECT jira_issue_key FROM user_stories WHERE id = ANY($1)", &[&ids]).await?;
    Ok(rows.iter().filter_map(|r| r.get::<_, Option<String>>(0)).collect())
}

/// Waits until no job waits or runs, twice in a row 200 ms apart.
async fn settle(bench: &Bench) -> anyhow::Result<()> {
    let client = bench.pool.get().await?;
    let mut quiet = 0;
    while quiet < 3 {
        let busy: i64 =
            client.query_one("SELECT count(*) FROM jobs WHERE state IN ('available', 'running')", &[]).await?.get(0);
        quiet = if busy == 0 { quiet + 1 } else { 0 };
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Marker → when it was sent.
type Sent = HashMap<String, DateTime<Utc>>;

/// Sends one edit every 1/RATE s for `d`, each from `send(n, marker)`;
/// returns when each marker was sent.
async fn paced(prefix: &str, d: Duration, mut send: impl FnMut(usize, String)) -> Sent {
    let mut sent = Sent::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / RATE as f64));
    let started = Instant::now();
    let mut n = 0usize;
    while started.elapsed() < d {
        tick.tick().await;
        let marker = format!("{prefix}-{n}");
        sent.insert(marker.clone(), Utc::now());
        send(n, marker);
        n += 1;
    }
    sent
}

async fn edit_here(http: &reqwest::Client, base: &str, items: &[String], d: Duration) -> anyhow::Result<Sent> {
    Ok(paced("here", d, |n, marker| {
        let url = format!("{base}/api/user-stories/{}", items[n % items.len()]);
        let http = http.clone();
        tokio::spawn(async move { http.patch(url).json(&json!({"title": marker})).send().await });
    })
    .await)
}

async fn edit_in_jira(
    http: &reqwest::Client,
    sim: &jira_sim::SimServer,
    keys: &[String],
    d: Duration,
) -> anyhow::Result<Sent> {
    let person = sim.credentials()[1].clone();
    Ok(paced("jira", d, |n, marker| {
        let url = format!("{}/rest/api/3/issue/{}", sim.base_url(), keys[n % keys.len()]);
        let (http, person) = (http.clone(), person.clone());
        tokio::spawn(async move {
            http.put(url)
                .basic_auth(person.email, Some(person.token))
                .json(&json!({"fields": {"summary": marker}}))
                .send()
                .await
        });
    })
    .await)
}

/// Marker → when the sync wrote it on the other side (the sync log row is
/// written right after the write succeeded).
async fn logged(bench: &Bench, direction: &str, path: &[&str]) -> anyhow::Result<Sent> {
    let client = bench.pool.get().await?;
    let path: Vec<String> = path.iter().map(|p| (*p).to_owned()).collect();
    let rows = client
        .query(
            "SELECT request_payload #>> $2::text[], created_at FROM jira_sync_logs \
             WHERE sync_direction = $1 AND status = 'success'",
            &[&direction, &path],
        )
        .await?;
    let mut out = Sent::new();
    for r in rows {
        if let Some(marker) = r.get::<_, Option<String>>(0) {
            out.entry(marker).or_insert(r.get(1));
        }
    }
    Ok(out)
}

/// Latency of every marker that reached the other side. A marker overtaken
/// by a newer edit of the same item before its push is coalesced: counted
/// as coalesced, not as a latency.
fn report(sent: &Sent, arrived: &Sent) {
    let mut latencies: Vec<Duration> =
        sent.iter().filter_map(|(m, at)| arrived.get(m).and_then(|got| (*got - *at).to_std().ok())).collect();
    latencies.sort();
    println!(
        "{} edits, {} written individually ({} coalesced into a later one): p50 {} p95 {} p99 {} max {}",
        sent.len(),
        latencies.len(),
        sent.len() - latencies.len(),
        ms(quantile(&latencies, 0.5)),
        ms(quantile(&latencies, 0.95)),
        ms(quantile(&latencies, 0.99)),
        ms(quantile(&latencies, 1.0)),
    );
}

const ECHOES: &str = "SELECT count(*) FROM jira_webhook_events WHERE event_type = 'jira:issue_created'";

/// Polls until the number `sql` returns reaches `target`.
async fn wait_for(client: &tokio_postgres::Client, sql: &str, target: i64) -> anyhow::Result<()> {
    while client.query_one(sql, &[]).await?.get::<_, i64>(0) < target {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn throughput(bench: &Bench, n: usize) -> anyhow::Result<()> {
    let client = bench.pool.get().await?;
    let echoes_before: i64 = client.query_one(ECHOES, &[]).await?.get(0);
    let started = Instant::now();
    client
        .execute(
            "INSERT INTO user_stories (title, sync_to_jira, jira_project_key) \
             SELECT 'bulk ' || g, true, 'PROJ' FROM generate_series(1, $1::int) g",
            &[&(n as i32)],
        )
        .await?;
    client.execute("NOTIFY arksync_jobs", &[]).await?;
    let synced = "SELECT count(*) FROM user_stories WHERE title LIKE 'bulk %' AND sync_status = 'synced'";
    wait_for(&client, synced, n as i64).await?;
    let elapsed = started.elapsed();
    println!(
        "{n} issues created in Jira in {:.2} s: {:.0} syncs/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    // Jira's echo of each create (`jira:issue_created`) may still be on its
    // way, or waiting for its job: the rate at which the whole pipeline
    // keeps up counts them too.
    wait_for(&client, ECHOES, echoes_before + n as i64).await?;
    let idle = "SELECT CASE WHEN EXISTS (SELECT FROM jobs WHERE state IN ('available', 'running')) \
                THEN 0::int8 ELSE 1::int8 END";
    wait_for(&client, idle, 1).await?;
    let drained = started.elapsed();
    println!(
        "...and every echo stored and every job done in {:.2} s: {:.0} syncs/s",
        drained.as_secs_f64(),
        n as f64 / drained.as_secs_f64()
    );
    Ok(())
}
