//! Webhooks as Jira sends them. Admin webhooks (from configuration) get
//! every issue event, signed with `X-Hub-Signature: sha256=<hex>` over the
//! raw body when they have a secret. Dynamic webhooks (registered by an
//! OAuth app through `/rest/api/3/webhook`) match on events, a JQL filter
//! and optional field ids, expire after 30 days, and carry
//! `Authorization: Bearer <JWT>` signed (HS256) with the app's secret.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use hyper::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use super::auth::Actor;
use super::delivery::Outgoing;
use super::http::{ApiError, ApiResult, Req, empty, json_response};
use super::jql;
use super::render::View;
use super::state::{Sim, lock};
use super::store::Issue;

/// Something that happened to an issue, ready to be delivered.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: &'static str,
    pub type_name: &'static str,
    pub issue: Issue,
    /// The issue in REST v2 form at the time of the event.
    pub issue_json: Value,
    pub user: String,
    pub timestamp: DateTime<Utc>,
    pub changelog: Option<(u64, Vec<Value>)>,
}

#[derive(Debug, Clone)]
pub struct Dynamic {
    pub id: u64,
    pub client_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub jql: String,
    pub field_ids: Vec<String>,
    pub expires: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Registry {
    pub dynamic: BTreeMap<u64, Dynamic>,
    next_id: u64,
}

const EVENTS: &[&str] = &["jira:issue_created", "jira:issue_updated", "jira:issue_deleted"];
const LIFETIME_DAYS: i64 = 30;

/// The payload Jira posts: v2 issue, `changelog.id` as a string.
fn payload(sim: &Sim, event: &Event) -> Value {
    let view = View { sim, version: 2 };
    let mut body = json!({
        "timestamp": event.timestamp.timestamp_millis(),
        "webhookEvent": event.name,
        "issue_event_type_name": event.type_name,
        "user": view.user_by_id(Some(&event.user)),
        "issue": event.issue_json,
    });
    if let Some((id, items)) = &event.changelog {
        body["changelog"] = json!({ "id": id.to_string(), "items": items });
    }
    body
}

/// Queues deliveries of `event` to every matching webhook. Never blocks:
/// delivery happens on the delivery worker, as Jira's is asynchronous.
pub fn emit(sim: &Sim, event: Event) {
    let base = payload(sim, &event);
    let raw = Bytes::from(base.to_string());
    for hook in &sim.config.admin_webhooks {
        let mut headers = Vec::new();
        if let Some(secret) = &hook.secret {
            headers.push(("X-Hub-Signature".to_string(), format!("sha256={}", hmac_hex(secret.as_bytes(), &raw))));
        }
        let _ = sim.outbox.send(Outgoing::new(&hook.url, raw.clone(), headers));
    }
    let now = sim.clock.now();
    let hooks: Vec<Dynamic> = lock(&sim.hooks)
        .dynamic
        .values()
        .filter(|h| h.expires > now && dynamic_matches(sim, h, &event))
        .cloned()
        .collect();
    for hook in hooks {
        let mut body = base.clone();
        body["matchedWebhookIds"] = json!([hook.id]);
        let raw = Bytes::from(body.to_string());
        let jwt = sign_jwt(sim, &hook.client_id, now);
        let headers = vec![("Authorization".to_string(), format!("Bearer {jwt}"))];
        let _ = sim.outbox.send(Outgoing::new(&hook.url, raw, headers));
    }
}

/// HMAC-SHA256 of the raw body, hex-encoded, as in `X-Hub-Signature`.
pub fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn sign_jwt(sim: &Sim, client_id: &str, now: DateTime<Utc>) -> String {
    let secret = sim
        .config
        .oauth_clients
        .iter()
        .find(|c| c.client_id == client_id)
        .map(|c| c.client_secret.clone())
        .unwrap_or_default();
    let claims = json!({
        "iss": format!("jira:{}", sim.config.cloud_id), "aud": client_id, "sub": "webhook",
        "iat": now.timestamp(), "exp": (now + Duration::minutes(10)).timestamp(),
    });
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()))
        .unwrap_or_default()
}

fn dynamic_matches(sim: &Sim, hook: &Dynamic, event: &Event) -> bool {
    if !hook.events.iter().any(|e| e == event.name) {
        return false;
    }
    let jql_ok = jql::parse(&hook.jql, sim.clock.now()).is_ok_and(|q| q.matches(&event.issue));
    let fields_ok = hook.field_ids.is_empty()
        || event.name != "jira:issue_updated"
        || event
            .changelog
            .as_ref()
            .is_some_and(|(_, items)| items.iter().any(|i| hook.field_ids.iter().any(|f| i["fieldId"] == f.as_str())));
    jql_ok && fields_ok
}

fn require_app(actor: &Actor) -> Result<String, ApiError> {
    actor
        .client_id
        .clone()
        .ok_or_else(|| ApiError::Forbidden("Only Connect and OAuth 2.0 apps can use this operation.".into()))
}

/// `POST /rest/api/3/webhook`.
pub fn register(sim: &Sim, actor: &Actor, req: &Req) -> ApiResult {
    let client_id = require_app(actor)?;
    let body = req.json()?;
    let url = body.get("url").and_then(Value::as_str).ok_or_else(|| ApiError::field("url", "url is required"))?;
    let specs = body
        .get("webhooks")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::field("webhooks", "webhooks are required"))?;
    let expires = sim.clock.now() + Duration::days(LIFETIME_DAYS);
    let mut reg = lock(&sim.hooks);
    let results: Vec<Value> = specs
        .iter()
        .map(|spec| match parse_spec(sim, spec) {
            Ok((events, jql, field_ids)) => {
                reg.next_id += 1;
                let id = reg.next_id;
                reg.dynamic.insert(
                    id,
                    Dynamic { id, client_id: client_id.clone(), url: url.to_string(), events, jql, field_ids, expires },
                );
                json!({ "createdWebhookId": id })
            }
            Err(e) => json!({ "errors": [e] }),
        })
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "webhookRegistrationResult": results })))
}

fn parse_spec(sim: &Sim, spec: &Value) -> Result<(Vec<String>, String, Vec<String>), String> {
    let strings = |k: &str| -> Vec<String> {
        spec.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let events = strings("events");
    if events.is_empty() || events.iter().any(|e| !EVENTS.contains(&e.as_str())) {
        return Err(format!("Events must be a non-empty list of: {}", EVENTS.join(", ")));
    }
    let jql = spec.get("jqlFilter").and_then(Value::as_str).ok_or("The JQL filter is required.")?;
    let query = jql::parse(jql, sim.clock.now()).map_err(|e| format!("The JQL filter is invalid: {e}"))?;
    if let Some(unsupported) = query.webhook_filter_error() {
        return Err(unsupported);
    }
    Ok((events, jql.to_string(), strings("fieldIdsFilter")))
}

fn webhook_json(h: &Dynamic) -> Value {
    let mut v = json!({ "id": h.id, "jqlFilter": h.jql, "events": h.events, "url": h.url, "expirationDate": h.expires.timestamp_millis() });
    if !h.field_ids.is_empty() {
        v["fieldIdsFilter"] = json!(h.field_ids);
    }
    v
}

/// `GET /rest/api/3/webhook`: the calling app's webhooks, paged.
pub fn list(sim: &Sim, actor: &Actor, req: &Req) -> ApiResult {
    let client_id = require_app(actor)?;
    let start: usize = req.param("startAt").and_then(|s| s.parse().ok()).unwrap_or(0);
    let max: usize = req.param("maxResults").and_then(|s| s.parse().ok()).unwrap_or(100).clamp(1, 100);
    let reg = lock(&sim.hooks);
    let mine: Vec<&Dynamic> = reg.dynamic.values().filter(|h| h.client_id == client_id).collect();
    let values: Vec<Value> = mine.iter().skip(start).take(max).map(|h| webhook_json(h)).collect();
    let body = json!({ "startAt": start, "maxResults": max, "total": mine.len(), "isLast": start.saturating_add(max) >= mine.len(), "values": values });
    Ok(json_response(StatusCode::OK, &body))
}

fn webhook_ids(req: &Req) -> Result<Vec<u64>, ApiError> {
    let body = req.json()?;
    let ids = body
        .get("webhookIds")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::field("webhookIds", "webhookIds are required"))?;
    Ok(ids.iter().filter_map(Value::as_u64).collect())
}

/// `DELETE /rest/api/3/webhook` (202, as Jira answers).
pub fn delete(sim: &Sim, actor: &Actor, req: &Req) -> ApiResult {
    let client_id = require_app(actor)?;
    let ids = webhook_ids(req)?;
    lock(&sim.hooks).dynamic.retain(|id, h| !(ids.contains(id) && h.client_id == client_id));
    Ok(empty(StatusCode::ACCEPTED))
}

/// `PUT /rest/api/3/webhook/refresh`: pushes expiry 30 days out.
pub fn refresh(sim: &Sim, actor: &Actor, req: &Req) -> ApiResult {
    let client_id = require_app(actor)?;
    let ids = webhook_ids(req)?;
    let expires = sim.clock.now() + Duration::days(LIFETIME_DAYS);
    let mut reg = lock(&sim.hooks);
    reg.dynamic
        .values_mut()
        .filter(|h| ids.contains(&h.id) && h.client_id == client_id)
        .for_each(|h| h.expires = expires);
    Ok(json_response(StatusCode::OK, &json!({ "expirationDate": expires.timestamp_millis() })))
}
