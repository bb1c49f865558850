//! Jira webhook ingestion: verify ([`signature`]), store durably with group
//! commit ([`ingest`]), and process asynchronously on the queue
//! ([`process`]).

pub mod ingest;
pub mod process;
pub mod signature;

use hyper::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A verified delivery, ready to store.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub idempotency_key: String,
    pub event_type: String,
    pub issue_key: Option<String>,
    pub issue_id: Option<String>,
    pub payload: Value,
    pub webhook_id: Option<String>,
    /// `X-Atlassian-Webhook-Retry`: how many times Jira already tried.
    pub retry: i32,
}

/// Why a body is not a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotADelivery(pub String);

impl Delivery {
    /// Reads a delivery from its headers and raw body.
    ///
    /// The idempotency key is `X-Atlassian-Webhook-Identifier` (unique per
    /// delivery, stable across Jira's retries); without it, event + issue
    /// id + `issue.fields.updated`; for deliveries about no issue, a hash of
    /// the body.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, NotADelivery> {
        let payload: Value =
            serde_json::from_slice(body).map_err(|e| NotADelivery(format!("the body is not valid JSON: {e}")))?;
        let Some(event_type) = payload.get("webhookEvent").and_then(Value::as_str).map(str::to_owned) else {
            return Err(NotADelivery("the body must be a JSON object with a string `webhookEvent`".into()));
        };
        let issue = payload.get("issue");
        let text = |v: Option<&Value>| {
            v.and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string())))
        };
        let issue_key = text(issue.and_then(|i| i.get("key")));
        let issue_id = text(issue.and_then(|i| i.get("id")));
        let header =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
        let webhook_id = header("x-atlassian-webhook-identifier").map(str::to_owned);
        let idempotency_key = match (&webhook_id, &issue_id) {
            (Some(id), _) => format!("delivery:{id}"),
            (None, Some(issue_id)) => {
                let updated =
                    text(issue.and_then(|i| i.get("fields")).and_then(|f| f.get("updated"))).unwrap_or_default();
                format!("{event_type}:{issue_id}:{updated}")
            }
            (None, None) => format!("body:{}", hex::encode(Sha256::digest(body))),
        };
        let retry = header("x-atlassian-webhook-retry").and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(Self { idempotency_key, event_type, issue_key, issue_id, payload, webhook_id, retry })
    }
}
