//! Asynchronous webhook delivery with Jira's retry rules: a delivery is
//! retried on 408, 409, 425, 429, any 5xx, a timeout or a connection
//! failure, with exponential backoff and jitter. The
//! `X-Atlassian-Webhook-Identifier` stays the same across retries and
//! `X-Atlassian-Webhook-Retry` counts them. Delivery faults (drop,
//! duplicate, delay, reorder) are applied here.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use serde::Serialize;
use tokio::sync::mpsc;

use super::clock::iso_time;
use super::state::{Sim, lock};

/// One webhook delivery (all attempts share `identifier`).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub url: String,
    pub body: Bytes,
    pub headers: Vec<(String, String)>,
    pub identifier: String,
}

impl Outgoing {
    pub fn new(url: &str, body: Bytes, headers: Vec<(String, String)>) -> Self {
        Self { url: url.to_string(), body, headers, identifier: uuid::Uuid::new_v4().to_string() }
    }
}

/// One attempt, as `GET /_sim/deliveries` reports it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub identifier: String,
    pub url: String,
    pub retry: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at: String,
    /// `dropped` when a fault swallowed the delivery.
    pub outcome: &'static str,
}

fn retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 425 | 429) || status >= 500
}

/// Receives queued deliveries and starts them, applying reorder faults:
/// with `reorder` on, a delivery is held until the next one has been
/// delivered first (or 500 ms pass with no other delivery).
pub async fn worker(sim: Arc<Sim>, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(8).build().unwrap_or_default();
    let mut held: Option<Outgoing> = None;
    loop {
        let next = match held.is_some() {
            true => match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    spawn_in_order(&sim, &client, held.take().into_iter().collect());
                    continue;
                }
            },
            false => rx.recv().await,
        };
        let Some(out) = next else { return };
        if let Some(first_queued) = held.take() {
            spawn_in_order(&sim, &client, vec![out, first_queued]);
        } else if lock(&sim.faults).webhooks.reorder {
            held = Some(out);
        } else {
            spawn_in_order(&sim, &client, vec![out]);
        }
    }
}

/// Delivers `batch` one after the other on one task, so the order of
/// first attempts is the order given.
fn spawn_in_order(sim: &Arc<Sim>, client: &reqwest::Client, batch: Vec<Outgoing>) {
    let (sim, client) = (sim.clone(), client.clone());
    tokio::spawn(async move {
        for out in batch {
            run_one(&sim, &client, out).await;
        }
    });
}

/// Applies drop/duplicate faults, then delivers (twice when duplicated).
async fn run_one(sim: &Arc<Sim>, client: &reqwest::Client, out: Outgoing) {
    let (drop, dup) = {
        let mut f = lock(&sim.faults);
        (f.drop_delivery(), f.duplicate_delivery())
    };
    if drop {
        record(sim, &out, 0, None, None, "dropped");
        return;
    }
    if dup {
        tokio::spawn(deliver(sim.clone(), client.clone(), out.clone()));
    }
    deliver(sim.clone(), client.clone(), out).await;
}

async fn deliver(sim: Arc<Sim>, client: reqwest::Client, out: Outgoing) {
    let delay = lock(&sim.faults).webhooks.delay_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let policy = sim.config.webhook_retry.clone();
    for retry in 0..=policy.max_retries {
        let (status, error) = attempt(&client, &out, retry, policy.attempt_timeout).await;
        let again = status.is_none_or(retryable);
        record(&sim, &out, retry, status, error, if again { "failed" } else { "delivered" });
        if !again || retry == policy.max_retries {
            return;
        }
        tokio::time::sleep(backoff(policy.base_delay, retry)).await;
    }
}

async fn attempt(
    client: &reqwest::Client,
    out: &Outgoing,
    retry: u32,
    timeout: Duration,
) -> (Option<u16>, Option<String>) {
    let mut req = client
        .post(&out.url)
        .timeout(timeout)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("User-Agent", "Atlassian Webhook HTTP Client")
        .header("X-Atlassian-Webhook-Identifier", &out.identifier)
        .header("X-Atlassian-Webhook-Flow", "Primary")
        .body(out.body.clone());
    if retry > 0 {
        req = req.header("X-Atlassian-Webhook-Retry", retry.to_string());
    }
    for (k, v) in &out.headers {
        req = req.header(k, v);
    }
    match req.send().await {
        Ok(resp) => (Some(resp.status().as_u16()), None),
        Err(e) if e.is_timeout() => (None, Some("timeout".into())),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// `base × 2^retry × U(0.8, 1.2)`.
fn backoff(base: Duration, retry: u32) -> Duration {
    let factor = 2f64.powi(retry as i32) * rand::rng().random_range(0.8..1.2);
    base.mul_f64(factor)
}

fn record(sim: &Sim, out: &Outgoing, retry: u32, status: Option<u16>, error: Option<String>, outcome: &'static str) {
    let a = Attempt {
        identifier: out.identifier.clone(),
        url: out.url.clone(),
        retry,
        status,
        error,
        at: iso_time(sim.clock.now()),
        outcome,
    };
    lock(&sim.deliveries).push(a);
}
