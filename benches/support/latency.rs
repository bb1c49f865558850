//! Open-loop load at a steady rate through the webhook endpoint, with a
//! worker picking the jobs up: pickup latency, and a soak that watches the
//! jobs table stay at the live backlog.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arksync::queue::{Registry, Worker, WorkerConfig};
use arksync::webhooks::signature::sign_hmac;
use bytes::Bytes;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::ingest::{http_client, post};
use super::{Bench, SECRET, ms, payload, quantile};

type Pickups = Arc<Mutex<Vec<Duration>>>;

/// A worker whose webhook job only records how long after its delivery's
/// transaction began it started: an upper bound of accepted → started.
fn recording_worker(bench: &Bench, pickups: &Pickups, retention: Duration) -> Worker {
    let pickups = pickups.clone();
    let registry = Registry::new().register(arksync::db::webhook_events::PROCESS_JOB, move |ctx| {
        let pickups = pickups.clone();
        async move {
            let waited = (Utc::now() - ctx.job.created_at).to_std().unwrap_or_default();
            pickups.lock().expect("pickups").push(waited);
            Ok(())
        }
    });
    let config = WorkerConfig {
        concurrency: 20,
        completed_retention: retention,
        rescue_interval: Duration::from_secs(5),
        ..WorkerConfig::default()
    };
    Worker::new(bench.pool.clone(), bench.pg_config(), registry, config)
}

/// Sends `rate` deliveries a second for `duration`, open loop.
async fn steady_load(
    bench: &Bench,
    rate: u64,
    duration: Duration,
    every: Option<Duration>,
) -> anyhow::Result<Vec<Duration>> {
    let (addr, stop) = bench.serve().await?;
    let url = format!("http://{addr}/api/jira/webhooks");
    let body = Bytes::from(payload(2_000));
    let signature = sign_hmac(SECRET.as_bytes(), &body);
    let client = http_client(64);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut last_report = started;
    let mut sent = Vec::new();
    let mut i = 0u64;
    while started.elapsed() < duration {
        tick.tick().await;
        let (client, url, body, signature) = (client.clone(), url.clone(), body.clone(), signature.clone());
        sent.push(tokio::spawn(async move {
            let t = Instant::now();
            let status = post(&client, &url, &body, &signature, &format!("steady-{i}")).await?;
            anyhow::ensure!(status == 202, "a delivery was answered {status}");
            anyhow::Ok(t.elapsed())
        }));
        i += 1;
        if every.is_some_and(|e| last_report.elapsed() >= e) {
            last_report = Instant::now();
            report_table(bench, started.elapsed()).await?;
        }
    }
    let mut latencies = Vec::with_capacity(sent.len());
    for t in sent {
        latencies.push(t.await??);
    }
    stop.cancel();
    latencies.sort();
    Ok(latencies)
}

pub async fn pickup(bench: &Bench, rate: u64, duration: Duration) -> anyhow::Result<()> {
    let pickups: Pickups = Arc::default();
    let token = CancellationToken::new();
    let worker = tokio::spawn(recording_worker(bench, &pickups, Duration::from_secs(3600)).run(token.clone()));
    let http = steady_load(bench, rate, duration, None).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    token.cancel();
    worker.await??;
    let mut p = pickups.lock().expect("pickups").clone();
    p.sort();
    println!(
        "{} deliveries at {rate}/s: pickup p50 {} p95 {} p99 {} max {} | HTTP answer p50 {} p95 {} p99 {}",
        p.len(),
        ms(quantile(&p, 0.5)),
        ms(quantile(&p, 0.95)),
        ms(quantile(&p, 0.99)),
        ms(quantile(&p, 1.0)),
        ms(quantile(&http, 0.5)),
        ms(quantile(&http, 0.95)),
        ms(quantile(&http, 0.99)),
    );
    Ok(())
}

pub async fn soak(bench: &Bench, rate: u64, duration: Duration) -> anyhow::Result<()> {
    let pickups: Pickups = Arc::default();
    let token = CancellationToken::new();
    let worker = tokio::spawn(recording_worker(bench, &pickups, Duration::from_secs(10)).run(token.clone()));
    steady_load(bench, rate, duration, Some(Duration::from_secs(30))).await?;
    tokio::time::sleep(Duration::from_secs(20)).await;
    report_table(bench, duration + Duration::from_secs(20)).await?;
    token.cancel();
    worker.await??;
    Ok(())
}

async fn report_table(bench: &Bench, at: Duration) -> anyhow::Result<()> {
    let client = bench.pool.get().await?;
    let row = client
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE state IN ('available', 'running')), \
                    pg_total_relation_size('jobs') FROM jobs",
            &[],
        )
        .await?;
    let (rows, live, bytes): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    println!("t={:>4} s: jobs table {rows} rows ({live} live), {:.1} MiB", at.as_secs(), bytes as f64 / 1048576.0);
    Ok(())
}
