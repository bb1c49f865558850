//! The `reconcile` job: heals what webhooks and pushes missed.
//!
//! - Inbound: issues of the synced projects (and of those importing issues
//!   made in Jira) updated since the last pass's
//!   high-water mark (JQL, paged, a minute of overlap since JQL compares at
//!   minute precision) go through the same inbound path as webhooks, whose
//!   stale-version and no-change checks make a repeated issue a no-op.
//! - Outbound: syncing items whose last push failed, or edited after their
//!   last sync with no push waiting, get a push job again.

use chrono::{DateTime, Duration, Utc};

use super::Engine;
use super::inbound::{self, Applied, Incoming};
use crate::db::sync as sql;
use crate::jira::requests::jql_quote;
use crate::jira::webhook::EventKind;
use crate::queue::{JobContext, JobError, Registry};

pub const RECONCILE_JOB: &str = "reconcile";
/// Re-read this far behind the mark: JQL dates have minute precision and
/// Jira's index trails writes by a little.
const OVERLAP: Duration = Duration::minutes(2);
/// A first pass looks back this far.
const FIRST_LOOKBACK: Duration = Duration::days(1);
/// Most pushes re-enqueued by one pass.
const OUTBOUND_BATCH: i64 = 1_000;

pub fn register(registry: Registry, engine: Engine) -> Registry {
    registry.register(RECONCILE_JOB, move |_ctx: JobContext| {
        let engine = engine.clone();
        async move { reconcile(&engine).await.map(drop) }
    })
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub issues_seen: usize,
    pub items_changed: usize,
    pub pushes_enqueued: u64,
    /// Another pass was running (a slow pass outlasting its interval, or
    /// a replica's): this one did nothing.
    pub skipped: bool,
}

/// Key of the advisory lock one reconciliation pass holds at a time.
const PASS_LOCK: i64 = 0x61726b_7265636f; // "ark" "reco"

fn retry(e: impl Into<anyhow::Error>) -> JobError {
    JobError::Retry(e.into())
}

/// One pass, both directions, unless another is running. The pass holds a
/// session advisory lock on a connection taken out of the pool, so the
/// lock ends with the connection whatever becomes of the pass.
pub async fn reconcile(engine: &Engine) -> Result<Report, JobError> {
    let lock = deadpool_postgres::Object::take(engine.pool.get().await.map_err(retry)?);
    let held: bool = lock.query_one("SELECT pg_try_advisory_lock($1)", &[&PASS_LOCK]).await.map_err(retry)?.get(0);
    if !held {
        tracing::info!("reconciliation pass skipped: another one is running");
        return Ok(Report { skipped: true, ..Report::default() });
    }
    let result = pass(engine).await;
    lock.execute("SELECT pg_advisory_unlock($1)", &[&PASS_LOCK]).await.map_err(retry)?;
    result
}

async fn pass(engine: &Engine) -> Result<Report, JobError> {
    let mut report = pull(engine).await?;
    let client = engine.pool.get().await.map_err(retry)?;
    report.pushes_enqueued = sql::enqueue_stale_pushes(&client, OUTBOUND_BATCH).await.map_err(retry)?;
    tracing::info!(
        issues_seen = report.issues_seen,
        items_changed = report.items_changed,
        pushes_enqueued = report.pushes_enqueued,
        "reconciliation pass done"
    );
    Ok(report)
}

async fn pull(engine: &Engine) -> Result<Report, JobError> {
    if engine.store.list().await.map_err(|e| e.to_job_error())?.is_empty() {
        return Ok(Report::default()); // no Jira configured: nothing to pull
    }
    let side = engine.side().await.map_err(|e| e.to_job_error())?;
    let cursor = format!("reconcile:{}:from_jira", side.client.connection_id);
    let client = engine.pool.get().await.map_err(retry)?;
    let mut projects = sql::synced_projects(&client).await.map_err(retry)?;
    // Projects that import issues made in Jira, linked or not yet.
    projects.extend(crate::db::projects::importing(&client).await.map_err(retry)?);
    projects.sort_unstable();
    projects.dedup();
    if projects.is_empty() {
        return Ok(Report::default());
    }
    let since = sql::cursor(&client, &cursor).await.map_err(retry)?.unwrap_or_else(|| Utc::now() - FIRST_LOOKBACK);
    drop(client);
    let started = Utc::now();
    let issues =
        side.client.search_all(&jql(&projects, since - OVERLAP), &["*all"]).await.map_err(|e| e.to_job_error())?;
    let mut report = Report { issues_seen: issues.len(), ..Report::default() };
    for issue in &issues {
        let incoming = Incoming {
            event: EventKind::IssueUpdated,
            issue,
            actor_account_id: None,
            changelog: None,
            source: "scheduled",
            read_at: Some(started),
        };
        if let Applied::Changed(_) = inbound::apply(engine, &incoming).await? {
            report.items_changed += 1;
        }
    }
    let client = engine.pool.get().await.map_err(retry)?;
    sql::set_cursor(&client, &cursor, started).await.map_err(retry)?;
    Ok(report)
}

/// `project in ("A", "B") AND updated >= "2025-10-12 10:00" ORDER BY
/// updated ASC`: bounded, as Jira requires.
fn jql(projects: &[String], since: DateTime<Utc>) -> String {
    let list: Vec<String> = projects.iter().map(|p| jql_quote(p)).collect();
    format!(
        "project in ({}) AND updated >= {} ORDER BY updated ASC",
        list.join(", "),
        jql_quote(&since.format("%Y-%m-%d %H:%M").to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_bounded_by_project_and_time() {
        let since = DateTime::parse_from_rfc3339("2025-10-12T10:00:59Z").unwrap().with_timezone(&Utc);
        assert_eq!(
            jql(&["PROJ".into(), "OPS".into()], since),
            r#"project in ("PROJ", "OPS") AND updated >= "2025-10-12 10:00" ORDER BY updated ASC"#
        );
    }
}
