//! The `process_webhook` job: reads a stored delivery, parses it into typed
//! values, and records what became of it. Issue events are the sync
//! engine's to act on; everything else Jira sends (comments, links,
//! worklogs…) is kept and marked `ignored`.

use serde_json::Value;
use uuid::Uuid;

use crate::db::webhook_events;
use crate::jira::webhook::{EventKind, WebhookPayload};
use crate::queue::{JobContext, JobError, Registry};

/// Adds the webhook job to `registry`.
pub fn register(registry: Registry) -> Registry {
    registry.register(webhook_events::PROCESS_JOB, run)
}

async fn run(ctx: JobContext) -> Result<(), JobError> {
    let event_id = event_id(&ctx.job.payload)?;
    let client = ctx.pool.get().await.map_err(|e| JobError::Retry(e.into()))?;
    let retry = |e: tokio_postgres::Error| JobError::Retry(e.into());
    let Some(raw) = webhook_events::payload(&**client, event_id).await.map_err(retry)? else {
        return Err(JobError::Discard(anyhow::anyhow!("webhook event {event_id} no longer exists")));
    };
    let started = std::time::Instant::now();
    let (status, error) = match classify(&raw) {
        Ok(Handling::Process) => ("processed", None),
        Ok(Handling::Ignore) => ("ignored", None),
        Err(e) => ("failed", Some(e)),
    };
    webhook_events::finish(&**client, event_id, status, error.as_deref()).await.map_err(retry)?;
    let event = raw.get("webhookEvent").and_then(Value::as_str).unwrap_or("other");
    crate::metrics::webhook_processed(event, status, started.elapsed());
    match error {
        // Parsing again cannot succeed: keep the job as discarded.
        Some(e) => Err(JobError::Discard(anyhow::anyhow!(e))),
        None => Ok(()),
    }
}

enum Handling {
    Process,
    Ignore,
}

/// Parses the delivery and decides whether the sync has anything to do.
fn classify(raw: &Value) -> Result<Handling, String> {
    let payload: WebhookPayload =
        serde_json::from_value(raw.clone()).map_err(|e| format!("the delivery does not parse: {e}"))?;
    match payload.kind() {
        EventKind::IssueCreated | EventKind::IssueUpdated | EventKind::IssueDeleted => {
            if payload.issue.is_none() {
                return Err(format!("a `{}` delivery without an issue", payload.webhook_event));
            }
            Ok(Handling::Process)
        }
        EventKind::Other(_) => Ok(Handling::Ignore),
    }
}

fn event_id(payload: &Value) -> Result<Uuid, JobError> {
    payload
        .get("eventId")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobError::Discard(anyhow::anyhow!("the job has no valid eventId: {payload}")))
}
