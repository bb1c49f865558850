//! Queue: enqueue rates and draining no-op jobs at several concurrencies.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arksync::db::jobs::{self, NewJob};
use arksync::queue::{Registry, Worker, WorkerConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Bench;

/// Single inserts from 16 clients for 3 s, then 100,000 in statements of
/// 1,000.
pub async fn enqueue_rates(bench: &Bench) -> anyhow::Result<()> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(3);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let pool = bench.pool.clone();
            tokio::spawn(async move {
                let client = pool.get().await?;
                let mut n = 0u64;
                while Instant::now() < deadline {
                    jobs::insert(&client, &NewJob::new("noop", json!({"n": n}))).await?;
                    n += 1;
                }
                anyhow::Ok(n)
            })
        })
        .collect();
    let mut single = 0;
    for t in tasks {
        single += t.await??;
    }
    println!(
        "enqueue, one job per statement, 16 clients: {:>8.0} jobs/s",
        single as f64 / started.elapsed().as_secs_f64()
    );
    bench.reset().await?;
    let started = Instant::now();
    insert_noops(bench, 100_000).await?;
    println!("enqueue, 1,000 jobs per statement:          {:>8.0} jobs/s", 100_000.0 / started.elapsed().as_secs_f64());
    Ok(())
}

pub async fn insert_noops(bench: &Bench, n: usize) -> anyhow::Result<()> {
    let client = bench.pool.get().await?;
    let mut left = n;
    while left > 0 {
        let chunk = left.min(1_000);
        let payloads: Vec<serde_json::Value> = (0..chunk).map(|i| json!({"i": i})).collect();
        jobs::insert_many(&client, "noop", &payloads, 5).await?;
        left -= chunk;
    }
    Ok(())
}

/// Time for one worker of `concurrency` to run `n` no-op jobs, and until
/// every completion is written.
pub async fn drain(bench: &Bench, n: usize, concurrency: usize) -> anyhow::Result<()> {
    insert_noops(bench, n).await?;
    let done = Arc::new(AtomicUsize::new(0));
    let counter = done.clone();
    let registry = Registry::new().register("noop", move |_| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    });
    let config = WorkerConfig { concurrency, ..WorkerConfig::default() };
    let token = CancellationToken::new();
    let started = Instant::now();
    let worker = tokio::spawn(Worker::new(bench.pool.clone(), bench.pg_config(), registry, config).run(token.clone()));
    while done.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ran = started.elapsed();
    let client = bench.pool.get().await?;
    loop {
        let completed: i64 = client.query_one("SELECT count(*) FROM jobs WHERE state = 'completed'", &[]).await?.get(0);
        if completed as usize >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let written = started.elapsed();
    token.cancel();
    worker.await??;
    println!(
        "drain {n} no-op jobs, concurrency {concurrency:>2}: {:>8.0} jobs/s run ({:.2} s), {:>8.0} jobs/s with every completion written ({:.2} s)",
        n as f64 / ran.as_secs_f64(),
        ran.as_secs_f64(),
        n as f64 / written.as_secs_f64(),
        written.as_secs_f64()
    );
    Ok(())
}
