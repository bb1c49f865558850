//! Webhook ingest: arksync over HTTP versus the naive baseline of one
//! transaction (with its NOTIFY) per delivery over tokio-postgres.

use std::time::{Duration, Instant};

use arksync::webhooks::signature::sign_hmac;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{Bench, Rate, SECRET, payload};

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn http_client(connections: usize) -> HttpClient {
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(connections).build_http()
}

/// One signed delivery to arksync; returns the status.
pub async fn post(client: &HttpClient, url: &str, body: &Bytes, signature: &str, id: &str) -> anyhow::Result<u16> {
    let req = Request::post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature", signature)
        .header("x-atlassian-webhook-identifier", id)
        .body(Full::new(body.clone()))?;
    let res = client.request(req).await?;
    let status = res.status().as_u16();
    res.into_body().collect().await?;
    Ok(status)
}

/// `clients` closed-loop clients posting for `duration`.
pub async fn over_http(bench: &Bench, size: usize, clients: usize, duration: Duration) -> anyhow::Result<Rate> {
    let (addr, stop) = bench.serve().await?;
    let url = format!("http://{addr}/api/jira/webhooks");
    let body = Bytes::from(payload(size));
    let signature = sign_hmac(SECRET.as_bytes(), &body);
    let client = http_client(clients);
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (client, url, body, signature) = (client.clone(), url.clone(), body.clone(), signature.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let status = post(&client, &url, &body, &signature, &format!("{c}-{i}")).await?;
                    anyhow::ensure!(status == 202, "a delivery was answered {status}");
                    latencies.push(t.elapsed());
                    i += 1;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed();
    stop.cancel();
    Ok(Rate::new(latencies.len(), elapsed, latencies))
}

/// The baseline: each client its own connection, one transaction per
/// delivery holding the event, its job and a NOTIFY.
pub async fn naive(bench: &Bench, size: usize, clients: usize, duration: Duration) -> anyhow::Result<Rate> {
    let body = payload(size);
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (config, body) = (bench.pg_config(), body.clone());
            tokio::spawn(async move {
                let (mut client, conn) = config.connect(tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                let mut latencies = Vec::new();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let payload: serde_json::Value = serde_json::from_slice(&body)?;
                    let key = format!("naive-{c}-{i}");
                    let tx = client.transaction().await?;
                    let row = tx
                        .query_one(
                            "INSERT INTO jira_webhook_events (idempotency_key, event_type, jira_issue_key, \
                             jira_issue_id, raw_payload) VALUES ($1, 'jira:issue_updated', 'PROJ-42', '10042', $2) \
                             ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                            &[&key, &payload],
                        )
                        .await?;
                    let id: uuid::Uuid = row.get(0);
                    tx.execute(
                        "INSERT INTO jobs (kind, payload) VALUES ('process_webhook', jsonb_build_object('eventId', $1::uuid))",
                        &[&id],
                    )
                    .await?;
                    tx.execute("SELECT pg_notify('arksync_jobs', '')", &[]).await?;
                    tx.commit().await?;
                    latencies.push(t.elapsed());
                    i += 1;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    Ok(Rate::new(latencies.len(), started.elapsed(), latencies))
}
