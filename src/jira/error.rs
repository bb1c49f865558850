//! `jira::Error`: every way a Jira call fails, typed so that the queue can
//! decide between retrying now, retrying at a time, and giving up.
//!
//! The policy (spec, "Error Handling & Retry Logic", and NOTES.md item 10):
//! 429 waits for `Retry-After`; 5xx and timeouts are retried with backoff;
//! 401 refreshes an OAuth token once, then fails; 400/404/422 are the
//! data's fault and never retried; a revoked OAuth grant needs a person.
//! Messages carry Jira's own words and never a credential.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::queue::JobError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// 429 (or 503 with `Retry-After`): not processed; wait, then retry.
    #[error("Jira is rate limiting us; retry after {}", describe_wait(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx: Jira failed, the request may or may not have been applied.
    #[error("Jira answered {status}: {message}")]
    Server { status: u16, message: String },
    #[error("Jira did not answer within the timeout")]
    Timeout,
    /// Connection refused, reset, DNS: never reached Jira or lost the answer.
    #[error("could not reach Jira: {0}")]
    Network(String),
    /// 401 after the one refresh we allow (or with a static credential).
    #[error("Jira refused the connection's credentials (401)")]
    Unauthorized,
    #[error("Jira forbids this to the integration account (403): {0}")]
    Forbidden(String),
    #[error("not found in Jira (404): {0}")]
    NotFound(String),
    /// 400 or 422: the request is wrong; `fields` maps field ids to Jira's
    /// complaint about each.
    #[error("Jira rejected the request ({status}): {message}")]
    Invalid { status: u16, message: String, fields: BTreeMap<String, String> },
    #[error("Jira reported a conflict (409): {0}")]
    Conflict(String),
    /// No transition leads to the wanted status from where the issue is.
    #[error(
        "cannot move {issue} to status {target:?}: no available transition leads there{}; reachable statuses: {}",
        .detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default(),
        if .reachable.is_empty() { "none".to_string() } else { .reachable.join(", ") }
    )]
    TransitionUnavailable { issue: String, target: String, reachable: Vec<String>, detail: Option<String> },
    /// The OAuth grant was refused (`invalid_grant`): a person must consent again.
    #[error("the Jira connection needs re-consent: {0}")]
    NeedsReconsent(String),
    /// The connection cannot be used as configured (no site, no key, …).
    #[error("the Jira connection is misconfigured: {0}")]
    Config(String),
    /// Jira answered 2xx with something we cannot read.
    #[error("unexpected answer from Jira: {0}")]
    Decode(String),
    /// Our own database failed while handling credentials.
    #[error("database error while using the Jira connection: {0}")]
    Database(String),
}

fn describe_wait(wait: Option<Duration>) -> String {
    match wait {
        Some(d) => format!("{} s", d.as_secs_f64()),
        None => "a backoff".into(),
    }
}

impl Error {
    /// Whether trying the same request again can succeed on its own.
    /// A short, bounded name of the error's kind, for metrics labels and
    /// the sync log's `error_code`.
    pub fn class(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::Server { .. } => "server_error",
            Self::Timeout => "timeout",
            Self::Network(_) => "network",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Invalid { .. } => "invalid",
            Self::Conflict(_) => "conflict",
            Self::TransitionUnavailable { .. } => "transition_unavailable",
            Self::NeedsReconsent(_) => "needs_consent",
            Self::Config(_) => "config",
            Self::Decode(_) => "decode",
            Self::Database(_) => "database",
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Timeout | Self::Network(_) | Self::Database(_)
        )
    }

    /// How the queue should treat a job that failed with this error.
    pub fn to_job_error(&self) -> JobError {
        let cause = anyhow::anyhow!("{self}");
        match self {
            Self::RateLimited { retry_after: Some(wait) } => {
                let at = Utc::now() + chrono::Duration::from_std(*wait).unwrap_or_default();
                JobError::RetryAt(at, cause)
            }
            _ if self.is_retryable() => JobError::Retry(cause),
            Self::NeedsReconsent(_) => JobError::Discard(anyhow::anyhow!(
                "{self}; an administrator must authorise the connection again at /api/jira/oauth/authorize"
            )),
            _ => JobError::Discard(cause),
        }
    }

    /// When the retry may happen, if Jira said.
    pub fn retry_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::RateLimited { retry_after: Some(wait) } => {
                Some(Utc::now() + chrono::Duration::from_std(*wait).unwrap_or_default())
            }
            _ => None,
        }
    }
}

/// Lets job handlers use `?` on Jira calls.
impl From<Error> for JobError {
    fn from(e: Error) -> Self {
        e.to_job_error()
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Database(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Database(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_retries_transient_failures_and_discards_bad_data() {
        let limited = Error::RateLimited { retry_after: Some(Duration::from_secs(5)) };
        assert!(matches!(limited.to_job_error(), JobError::RetryAt(..)));
        assert!(matches!(Error::Server { status: 503, message: "x".into() }.to_job_error(), JobError::Retry(_)));
        assert!(matches!(Error::Timeout.to_job_error(), JobError::Retry(_)));
        assert!(matches!(Error::NotFound("PROJ-1".into()).to_job_error(), JobError::Discard(_)));
        let invalid = Error::Invalid { status: 400, message: "bad".into(), fields: BTreeMap::new() };
        assert!(matches!(invalid.to_job_error(), JobError::Discard(_)));
        let consent = Error::NeedsReconsent("invalid_grant".into()).to_job_error();
        assert!(matches!(&consent, JobError::Discard(_)));
        assert!(consent.to_string().contains("authorise the connection again"), "{consent}");
    }

    #[test]
    fn an_unavailable_transition_names_the_reachable_statuses() {
        let e = Error::TransitionUnavailable {
            issue: "PROJ-1".into(),
            target: "Done".into(),
            reachable: vec!["In Progress".into(), "Won't Do".into()],
            detail: None,
        };
        assert_eq!(
            e.to_string(),
            "cannot move PROJ-1 to status \"Done\": no available transition leads there; reachable statuses: In Progress, Won't Do"
        );
    }
}
