//! `cargo bench --bench pipeline`: webhook ingest, queue drain and pickup
//! latency on this machine, against an embedded PostgreSQL with default
//! durability (fsync on, synchronous_commit on). Prints figures; asserts
//! nothing about time.
//!
//! Environment knobs: `BENCH_SECONDS` (per ingest run, default 5),
//! `BENCH_JOBS` (queue drain size, default 100000), `BENCH_SOAK_SECS`
//! (steady-load soak, default 0 = skip; the target is 600),
//! `BENCH_PG_STATEMENTS=1` (print where PostgreSQL spent its time).

mod support;

use std::time::Duration;

use support::{Bench, env_u64};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let bench = Bench::start().await?;
    let seconds = Duration::from_secs(env_u64("BENCH_SECONDS", 5));
    println!("# arksync pipeline benchmark ({} cores)", std::thread::available_parallelism()?);
    println!("PostgreSQL: embedded, default durability; data in {}", bench.data_dir.display());

    println!("\n## Webhook ingest over HTTP (signed deliveries, group commit) vs one transaction per delivery");
    for size in [10_000, 2_000] {
        for clients in [1, 16, 64] {
            bench.reset().await?;
            let ours = support::ingest::over_http(&bench, size, clients, seconds).await?;
            bench.reset().await?;
            let naive = support::ingest::naive(&bench, size, clients, seconds).await?;
            println!(
                "{:>5} B x {clients:>2} clients: arksync {} | naive {} | ratio {:.2}x",
                size,
                ours,
                naive,
                ours.rate / naive.rate
            );
        }
    }

    println!("\n## Queue");
    bench.reset().await?;
    let jobs = env_u64("BENCH_JOBS", 100_000) as usize;
    support::queue::enqueue_rates(&bench).await?;
    for concurrency in [1, 10, 50] {
        bench.reset().await?;
        support::queue::drain(&bench, jobs, concurrency).await?;
    }

    bench.print_statements("ingest and queue").await?;
    println!("\n## Pickup latency at a steady 500 webhooks/s (accepted -> job started)");
    bench.reset().await?;
    support::latency::pickup(&bench, 500, Duration::from_secs(10)).await?;

    let soak = env_u64("BENCH_SOAK_SECS", 0);
    if soak > 0 {
        println!("\n## Soak: 500 webhooks/s for {soak} s with pruning (retention 10 s)");
        bench.reset().await?;
        support::latency::soak(&bench, 500, Duration::from_secs(soak)).await?;
    }
    bench.stop()
}
