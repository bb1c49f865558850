//! `refresh_webhooks`: dynamic webhooks expire 30 days after registration
//! or their last refresh (NOTES.md item 5). Daily, for each OAuth
//! connection, list the app's webhooks and extend those expiring within
//! [`REFRESH_WINDOW`] with one `PUT /rest/api/3/webhook/refresh`.
//! Connections that are not OAuth, or have no dynamic webhooks, need
//! nothing. Refreshing early is harmless, so the job is idempotent.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::jira::{Error as JiraError, JiraClient};
use crate::queue::JobError;
use crate::sync::Engine;

/// Webhooks expiring sooner than this are refreshed.
pub const REFRESH_WINDOW: chrono::Duration = chrono::Duration::days(7);

/// What one connection's refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshOutcome {
    /// Webhooks the app has registered.
    pub listed: usize,
    /// Those refreshed (they expired within the window, or already had).
    pub refreshed: Vec<i64>,
}

/// Refreshes the webhooks of `client`'s connection that expire before
/// `now + window`. `now` is a parameter so that tests can stand in a
/// later day.
pub async fn refresh_expiring(
    client: &JiraClient,
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> Result<RefreshOutcome, JiraError> {
    let hooks = client.list_webhooks().await?;
    let due: Vec<i64> = hooks
        .iter()
        .filter(|h| expiration(&h.expiration_date).is_none_or(|at| at < now + window))
        .map(|h| h.id)
        .collect();
    if !due.is_empty() {
        client.refresh_webhooks(&due).await?;
    }
    Ok(RefreshOutcome { listed: hooks.len(), refreshed: due })
}

/// `expirationDate` as Jira sends it: epoch millis, or an ISO time. An
/// unreadable one counts as due (refreshing early costs nothing).
fn expiration(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => DateTime::from_timestamp_millis(n.as_i64()?),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z"))
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

/// The job: every OAuth connection, one after the other. A connection
/// needing consent is skipped (a person must act; the gauge shows it);
/// another failure is reported after the rest were tried, so the job is
/// retried.
pub async fn refresh_all(engine: &Engine, now: DateTime<Utc>) -> Result<(), JobError> {
    let connections = engine.store.list().await.map_err(|e| JobError::Retry(e.into()))?;
    let mut failed = None;
    for conn in connections.iter().filter(|c| c.auth_kind == "oauth" && c.flavor == "cloud") {
        if conn.needs_consent {
            tracing::warn!(connection = conn.id, "skipping webhook refresh: the connection needs consent");
            continue;
        }
        let result = async { refresh_expiring(&*engine.clients.get(conn.id).await?, now, REFRESH_WINDOW).await };
        match result.await {
            Ok(out) if out.refreshed.is_empty() => {
                tracing::info!(connection = conn.id, listed = out.listed, "no dynamic webhook is near expiry")
            }
            Ok(out) => {
                tracing::info!(connection = conn.id, listed = out.listed, refreshed = ?out.refreshed, "refreshed dynamic webhooks")
            }
            Err(e) => {
                tracing::warn!(connection = conn.id, error = %e, "refreshing dynamic webhooks failed");
                failed.get_or_insert(e);
            }
        }
    }
    failed.map_or(Ok(()), |e| Err(e.to_job_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_dates_are_read_in_both_forms_jira_sends() {
        let at = "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(expiration(&Value::from(at.timestamp_millis())), Some(at));
        assert_eq!(expiration(&Value::from("2026-12-01T00:00:00.000+0000")), Some(at));
        assert_eq!(expiration(&Value::from("2026-12-01T00:00:00Z")), Some(at));
        assert_eq!(expiration(&Value::Null), None);
    }
}
