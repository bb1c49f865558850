//! Jira webhook ingestion: verify ([`signature`]), store durably with group
//! commit ([`ingest`]), and process asynchronously on the queue
//! ([`process`]).

pub mod ingest;
pub mod process;
pub mod signature;

use std::borrow::Cow;

use bytes::Bytes;
use hyper::HeaderMap;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::db::raw_json::RawJson;

/// A verified delivery, ready to store.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub idempotency_key: String,
    pub event_type: String,
    pub issue_key: Option<String>,
    pub issue_id: Option<String>,
    /// The body exactly as received (valid JSON: it has been parsed).
    pub payload: RawJson,
    pub webhook_id: Option<String>,
    /// `X-Atlassian-Webhook-Retry`: how many times Jira already tried.
    pub retry: i32,
    /// Who made the change (`user`: Cloud's account id, else Data
    /// Center's key or name).
    pub actor: Option<String>,
    /// Set when the delivery is known to need no processing (our own
    /// change's echo): it is stored as `ignored` with this reason, and no
    /// job is made for it.
    pub ignore: Option<String>,
}

/// Why a body is not a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotADelivery(pub String);

/// The few members ingestion reads; the rest of the body is skipped
/// without building a tree (the processing job parses it all later).
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "webhookEvent", borrow)]
    webhook_event: Cow<'a, str>,
    #[serde(borrow)]
    issue: Option<IssueHead<'a>>,
    #[serde(borrow)]
    user: Option<UserHead<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserHead<'a> {
    #[serde(borrow)]
    account_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct IssueHead<'a> {
    id: Option<Scalar<'a>>,
    #[serde(borrow)]
    key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    fields: Option<FieldsHead<'a>>,
}

#[derive(Deserialize)]
struct FieldsHead<'a> {
    #[serde(borrow)]
    updated: Option<Cow<'a, str>>,
}

/// Jira sends ids as strings; tolerate numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Number(i64),
}

impl Scalar<'_> {
    fn into_string(self) -> String {
        match self {
            Self::Text(s) => s.into_owned(),
            Self::Number(n) => n.to_string(),
        }
    }
}

impl Delivery {
    /// Reads a delivery from its headers and raw body.
    ///
    /// The idempotency key is `X-Atlassian-Webhook-Identifier` (unique per
    /// delivery, stable across Jira's retries); without it, event + issue
    /// id + `issue.fields.updated`; for deliveries about no issue, a hash of
    /// the body.
    pub fn parse(headers: &HeaderMap, body: &Bytes) -> Result<Self, NotADelivery> {
        let head: Head<'_> = serde_json::from_slice(body)
            .map_err(|e| NotADelivery(format!("the body must be a JSON object with a string `webhookEvent` ({e})")))?;
        let event_type = head.webhook_event.into_owned();
        let (issue_id, issue_key, updated) = match head.issue {
            Some(i) => (
                i.id.map(Scalar::into_string),
                i.key.map(Cow::into_owned),
                i.fields.and_then(|f| f.updated).map(Cow::into_owned),
            ),
            None => (None, None, None),
        };
        let header =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
        let webhook_id = header("x-atlassian-webhook-identifier").map(str::to_owned);
        let idempotency_key = match (&webhook_id, &issue_id) {
            (Some(id), _) => format!("delivery:{id}"),
            (None, Some(issue_id)) => format!("{event_type}:{issue_id}:{}", updated.unwrap_or_default()),
            (None, None) => format!("body:{}", hex::encode(Sha256::digest(body))),
        };
        let retry = header("x-atlassian-webhook-retry").and_then(|v| v.parse().ok()).unwrap_or(0);
        let actor = head.user.and_then(|u| u.account_id.or(u.key).or(u.name)).map(Cow::into_owned);
        Ok(Self {
            idempotency_key,
            event_type,
            issue_key,
            issue_id,
            payload: RawJson(body.clone()),
            webhook_id,
            retry,
            actor,
            ignore: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str, headers: &[(&'static str, &str)]) -> Result<Delivery, NotADelivery> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        Delivery::parse(&map, &Bytes::from(body.to_owned()))
    }

    #[test]
    fn escaped_strings_and_numeric_ids_are_read_and_the_body_kept_as_sent() {
        let body = r#"{"webhookEvent":"jira:issue_updated","issue":{"id":10042,"key":"PROJ-\u0034\u0032",
                       "fields":{"updated":"2025-10-12T10:00:00.123+0000","summary":"x"}},"extra":[1,{"a":null}]}"#;
        let d = parse(body, &[]).unwrap();
        assert_eq!((d.issue_id.as_deref(), d.issue_key.as_deref()), (Some("10042"), Some("PROJ-42")));
        assert_eq!(d.idempotency_key, "jira:issue_updated:10042:2025-10-12T10:00:00.123+0000");
        assert_eq!(d.payload.0, body.as_bytes());
    }

    #[test]
    fn the_delivery_identifier_wins_and_retries_are_counted() {
        let d = parse(
            r#"{"webhookEvent":"comment_created"}"#,
            &[("x-atlassian-webhook-identifier", "abc"), ("x-atlassian-webhook-retry", "2")],
        )
        .unwrap();
        assert_eq!((d.idempotency_key.as_str(), d.retry), ("delivery:abc", 2));
        assert!(parse(r#"{"webhookEvent":"x"}"#, &[]).unwrap().idempotency_key.starts_with("body:"));
    }

    #[test]
    fn malformed_json_is_refused_even_past_the_members_we_read() {
        assert!(parse(r#"{"webhookEvent":"jira:issue_updated","rest": [1,}"#, &[]).is_err());
        assert!(parse(r#"[1, 2]"#, &[]).is_err());
    }
}
