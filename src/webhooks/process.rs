//! The `process_webhook` job: reads a stored delivery, parses it into typed
//! values, hands issue events to the sync engine, and records what became
//! of it: `processed`, `ignored` (with the reason: our own echo, stale,
//! nothing changed, a comment…) or `failed` (with the error).

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::db::webhook_events;
use crate::jira::webhook::{EventKind, WebhookPayload};
use crate::queue::{JobContext, JobError, Registry};
use crate::sync::Engine;
use crate::sync::inbound::{self, Applied, Incoming};

/// Adds the webhook job to `registry`. Without an engine (no Jira
/// connection in this process), issue events are parsed and marked
/// processed, but nothing is synced.
pub fn register(registry: Registry, engine: Option<Engine>) -> Registry {
    registry.register(webhook_events::PROCESS_JOB, move |ctx| {
        let engine = engine.clone();
        async move { run(engine.as_ref(), ctx).await }
    })
}

fn retry(e: impl Into<anyhow::Error>) -> JobError {
    JobError::Retry(e.into())
}

async fn run(engine: Option<&Engine>, ctx: JobContext) -> Result<(), JobError> {
    let event_id = event_id(&ctx.job.payload)?;
    let client = ctx.pool.get().await.map_err(retry)?;
    let Some(raw) = webhook_events::payload(&client, event_id).await.map_err(retry)? else {
        return Err(JobError::Discard(anyhow::anyhow!("webhook event {event_id} no longer exists")));
    };
    drop(client);
    tracing::Span::current().record("jira.key", raw["issue"]["key"].as_str());
    let started = std::time::Instant::now();
    let event = raw.get("webhookEvent").and_then(Value::as_str).unwrap_or("other").to_owned();
    let outcome = handle(engine, &raw).await;
    let last_attempt = ctx.job.attempt >= ctx.job.max_attempts;
    let (status, note, result) = match outcome {
        Ok(Applied::Changed(_) | Applied::Unlinked) => ("processed", None, Ok(())),
        Ok(Applied::Ignored(why)) => ("ignored", Some(why), Ok(())),
        Err(e @ JobError::Discard(_)) => ("failed", Some(e.to_string()), Err(e)),
        Err(e) if last_attempt => ("failed", Some(e.to_string()), Err(e)),
        Err(e) => ("pending", Some(e.to_string()), Err(e)),
    };
    let client = ctx.pool.get().await.map_err(retry)?;
    if status == "pending" {
        webhook_events::note_error(&client, event_id, note.as_deref().unwrap_or_default()).await.map_err(retry)?;
    } else {
        webhook_events::finish(&client, event_id, status, note.as_deref()).await.map_err(retry)?;
        crate::metrics::webhook_processed(&event, status_label(status), started.elapsed());
    }
    result
}

fn status_label(status: &str) -> &'static str {
    match status {
        "processed" => "processed",
        "ignored" => "ignored",
        _ => "failed",
    }
}

/// Parses the delivery and syncs what it says.
async fn handle(engine: Option<&Engine>, raw: &Value) -> Result<Applied, JobError> {
    let payload = WebhookPayload::deserialize(raw)
        .map_err(|e| JobError::Discard(anyhow::anyhow!("the delivery does not parse: {e}")))?;
    let kind = payload.kind();
    if let EventKind::Other(name) = &kind {
        return Ok(Applied::Ignored(format!("`{name}` events are not synced")));
    }
    let Some(issue) = raw.get("issue").filter(|_| payload.issue.is_some()) else {
        return Err(JobError::Discard(anyhow::anyhow!("a `{}` delivery without an issue", payload.webhook_event)));
    };
    let Some(engine) = engine else {
        return Ok(Applied::Changed(Vec::new()));
    };
    let incoming = Incoming {
        event: kind,
        issue,
        actor_account_id: payload.user.as_ref().and_then(|u| u.id()),
        changelog: payload.changelog.as_ref(),
        source: "webhook",
        read_at: None,
    };
    inbound::apply(engine, &incoming).await
}

fn event_id(payload: &Value) -> Result<Uuid, JobError> {
    payload
        .get("eventId")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobError::Discard(anyhow::anyhow!("the job has no valid eventId: {payload}")))
}
