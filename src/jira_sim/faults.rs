//! Faults on demand, set through `POST /_sim/faults`. Counted faults
//! ("the next 3 requests fail with 503") are deterministic for tests;
//! rates ("10 % fail with 500") are for soak runs and demos.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Fail a share of API requests with a status.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorRate {
    pub status: u16,
    /// Probability per request, 0.0–1.0.
    pub rate: f64,
    /// When set, only paths containing this text are affected.
    pub path_contains: Option<String>,
}

/// Fail the next `count` API requests with `status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FailNext {
    pub status: u16,
    pub count: u32,
    pub path_contains: Option<String>,
}

/// Answer the next `count` API requests with 429 and `Retry-After`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Burst429 {
    pub count: u32,
    pub retry_after_secs: u64,
}

/// Webhook delivery faults: counted drops/duplicates, rates, a fixed
/// delay, and pairwise reordering (each delivery is held until the next
/// one is sent first).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebhookFaults {
    pub drop_next: u32,
    pub drop_rate: f64,
    pub duplicate_next: u32,
    pub duplicate_rate: f64,
    pub delay_ms: u64,
    pub reorder: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    pub error_rates: Vec<ErrorRate>,
    pub fail_next: Option<FailNext>,
    pub latency_ms: u64,
    pub burst429: Option<Burst429>,
    pub webhooks: WebhookFaults,
    /// Jira's search index trails writes: issues created less than this
    /// long ago are not yet found by JQL search (GET by key still works).
    pub search_lag_ms: u64,
}

/// What to do to one API request.
#[derive(Debug, PartialEq)]
pub enum Injected {
    Status(u16),
    RateLimited(u64),
}

impl Faults {
    /// Decides (and consumes) the fault for a request to `path`.
    pub fn for_request(&mut self, path: &str) -> Option<Injected> {
        if let Some(b) = self.burst429.as_mut().filter(|b| b.count > 0) {
            b.count -= 1;
            return Some(Injected::RateLimited(b.retry_after_secs));
        }
        let applies = |p: &Option<String>| p.as_deref().is_none_or(|p| path.contains(p));
        if let Some(f) = self.fail_next.as_mut().filter(|f| f.count > 0 && applies(&f.path_contains)) {
            f.count -= 1;
            return Some(Injected::Status(f.status));
        }
        let mut rng = rand::rng();
        self.error_rates
            .iter()
            .find(|e| applies(&e.path_contains) && rng.random_bool(e.rate.clamp(0.0, 1.0)))
            .map(|e| Injected::Status(e.status))
    }

    /// Whether to drop the next webhook delivery (consumes a counted drop).
    pub fn drop_delivery(&mut self) -> bool {
        take(&mut self.webhooks.drop_next) || rand::rng().random_bool(self.webhooks.drop_rate.clamp(0.0, 1.0))
    }

    pub fn duplicate_delivery(&mut self) -> bool {
        take(&mut self.webhooks.duplicate_next) || rand::rng().random_bool(self.webhooks.duplicate_rate.clamp(0.0, 1.0))
    }
}

fn take(n: &mut u32) -> bool {
    if *n > 0 {
        *n -= 1;
        true
    } else {
        false
    }
}

/// The Jira-shaped body of an injected error.
pub fn message_for(status: u16) -> &'static str {
    match status {
        500 => "Internal server error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        409 => "Conflict",
        _ => "Injected fault",
    }
}
