//! Throughput of the Jira simulator: starts it in-process on 127.0.0.1:0,
//! then C keep-alive connections (hyper client) send a bounded number of
//! requests each, and prints requests/s and latency percentiles.
//!
//! `cargo run --example jira_sim_bench -- [CONNECTIONS] [REQUESTS_PER_CONN] [PATH]`
//! PATH defaults to `/rest/api/3/myself`; `issue` means GET PROJ-1.

use std::time::{Duration, Instant};

use arksync::jira_sim::{self, SimConfig};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let conns: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(32);
    let per_conn: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let target = args.get(3).cloned().unwrap_or_else(|| "/rest/api/3/myself".into());
    let server = jira_sim::start(SimConfig::default()).await?;
    let user = server.integration_user().clone();
    let auth =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", user.email, user.token)));
    let path = if target == "issue" { seed_issue(&server.base_url(), &auth).await? } else { target };
    let url = format!("{}{path}", server.base_url());

    let client: Client<_, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(conns).build_http();
    warm_up(&client, &url, &auth).await?;
    let started = Instant::now();
    let tasks: Vec<_> =
        (0..conns).map(|_| tokio::spawn(worker(client.clone(), url.clone(), auth.clone(), per_conn))).collect();
    let mut latencies = Vec::with_capacity(conns * per_conn);
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed();
    report(&path, conns, &mut latencies, elapsed);
    server.shutdown().await;
    Ok(())
}

async fn worker<C>(
    client: Client<C, Empty<Bytes>>,
    url: String,
    auth: String,
    n: usize,
) -> anyhow::Result<Vec<Duration>>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let req = Request::get(&url).header("Authorization", &auth).body(Empty::new())?;
        let t = Instant::now();
        let resp = client.request(req).await?;
        anyhow::ensure!(resp.status().is_success(), "status {}", resp.status());
        resp.into_body().collect().await?;
        out.push(t.elapsed());
    }
    Ok(out)
}

async fn warm_up<C>(client: &Client<C, Empty<Bytes>>, url: &str, auth: &str) -> anyhow::Result<()>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    for _ in 0..100 {
        let req = Request::get(url).header("Authorization", auth).body(Empty::new())?;
        client.request(req).await?.into_body().collect().await?;
    }
    Ok(())
}

async fn seed_issue(base: &str, auth: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Story" }, "summary": "bench" } });
    let resp = reqwest::Client::new()
        .post(format!("{base}/rest/api/3/issue"))
        .header("Authorization", auth)
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 201, "seeding failed: {}", resp.status());
    Ok("/rest/api/3/issue/PROJ-1".into())
}

fn report(path: &str, conns: usize, latencies: &mut [Duration], elapsed: Duration) {
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let rps = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "GET {path}: {} requests over {conns} keep-alive connections in {:.2}s = {rps:.0} req/s; latency p50 {:?} p90 {:?} p99 {:?} max {:?}",
        latencies.len(),
        elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
}
