//! The `bulk_sync` job: carries out a bulk sync (`POST /api/jira/sync/bulk`)
//! in steps, recording how far it got after each.
//!
//! - Pull (`from_jira`, and first for `bi_directional`): a page of the
//!   operation's items at a time, their linked issues are fetched by one
//!   JQL search (`id in (…)`, through the client's rate limiter) and applied
//!   through the ordinary inbound path, as reconciliation does. The page's
//!   outcome (how far, what failed and why) is committed in one transaction;
//!   a job that dies midway pulls the unfinished page again, which the
//!   inbound path's stale and no-change checks make harmless.
//! - Push (`to_jira`, then for `bi_directional`): it only enqueues. Each
//!   item gets the ordinary `push_to_jira` job (unique key `push:<id>`, so a
//!   push already waiting is reused, never doubled), and the Jira client's
//!   per-connection limiter paces the pushes. Each batch is one transaction
//!   that also advances the operation's `enqueued` count, so a job that dies
//!   midway resumes after the last committed batch.
//!
//! `bi_directional` pulls before it pushes: Jira's changes that no webhook
//! brought are applied here first (concurrent edits are settled as usual),
//! then the items' state is pushed, so nothing of either side is lost.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Engine;
use super::inbound::{self, Applied, Incoming};
use crate::db::bulk::{self, Operation};
use crate::db::{sync as sync_sql, sync_admin};
use crate::domain::EntityKind;
use crate::jira::Error as JiraError;
use crate::jira::requests::jql_quote;
use crate::jira::webhook::{EventKind, parse_jira_time};
use crate::queue::{JobContext, JobError, Registry};

pub const BULK_JOB: &str = "bulk_sync";
/// Items per push transaction.
pub const BATCH: usize = 500;
/// Items per pull page (one JQL search, two result pages of 50).
pub const PULL_PAGE: usize = 100;
/// The sync log's source of a bulk pull (an operator asked for it).
const PULL_SOURCE: &str = "manual";

pub fn register(registry: Registry, engine: Engine) -> Registry {
    registry.register(BULK_JOB, move |ctx| {
        let engine = engine.clone();
        async move { run(&engine, &ctx).await }
    })
}

fn retry(e: impl Into<anyhow::Error>) -> JobError {
    JobError::Retry(e.into())
}

async fn run(engine: &Engine, ctx: &JobContext) -> Result<(), JobError> {
    let id: Uuid = ctx.job.payload["operationId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobError::Discard(anyhow::anyhow!("a bulk job without an operationId: {}", ctx.job.payload)))?;
    let client = ctx.pool.get().await.map_err(retry)?;
    let Some(op) = bulk::get(&client, id).await.map_err(retry)? else { return Ok(()) };
    drop(client);
    if op.direction != "to_jira" {
        while !pull_page(engine, ctx, id).await? {}
    }
    if op.direction != "from_jira" {
        while !enqueue_batch(ctx, id).await? {}
    }
    Ok(())
}

/// One item that could not be pulled, and why.
fn skip(id: &str, reason: impl Into<String>) -> Value {
    json!({"id": id, "reason": reason.into()})
}

/// Pulls the next page; true when every item has been pulled.
async fn pull_page(engine: &Engine, ctx: &JobContext, id: Uuid) -> Result<bool, JobError> {
    let client = ctx.pool.get().await.map_err(retry)?;
    let Some(op) = bulk::get(&client, id).await.map_err(retry)? else { return Ok(true) };
    let start = (op.pulled.max(0) as usize).min(op.entity_ids.len());
    if start == op.entity_ids.len() && op.status != "queued" {
        return Ok(true); // pulled already (a rerun of a job that died while pushing)
    }
    let end = (start + PULL_PAGE).min(op.entity_ids.len());
    let page: Vec<&str> = op.entity_ids[start..end].iter().map(String::as_str).collect();
    let links = bulk::live_links(&client, &page).await.map_err(retry)?;
    drop(client);
    let mut skipped = Vec::new();
    if op.direction == "from_jira" {
        let linked: Vec<&str> = links.iter().map(|(item, _, _)| item.as_str()).collect();
        // Unlinked since the request: nothing to pull. (A bi_directional
        // item without an issue is not a failure: its push creates one.)
        skipped.extend(page.iter().filter(|i| !linked.contains(i)).map(|i| skip(i, "not linked to a Jira issue")));
    }
    if !links.is_empty() {
        skipped.extend(pull_links(engine, &links).await?);
    }
    let done = end == op.entity_ids.len();
    let status = match (done, op.direction.as_str()) {
        (true, "from_jira") => "completed",
        _ => "pulling",
    };
    let mut client = ctx.pool.get().await.map_err(retry)?;
    let tx = client.transaction().await.map_err(retry)?;
    let Some(now) = bulk::lock(&tx, id).await.map_err(retry)? else { return Ok(true) };
    if now.pulled != op.pulled {
        return Ok(false); // another run recorded this page meanwhile: go on from there
    }
    bulk::record_pull(&tx, id, end as i32, skipped.len() as i32, &Value::Array(skipped), status)
        .await
        .map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    tracing::debug!(operation = %id, pulled = end, total = op.total, "bulk sync page pulled");
    Ok(done)
}

/// Fetches the linked issues with one search and applies each; returns the
/// items that could not be pulled, with the reason.
async fn pull_links(engine: &Engine, links: &[(String, String, String)]) -> Result<Vec<Value>, JobError> {
    let read_at = chrono::Utc::now();
    let issues = fetch(engine, links).await?;
    let by_id: HashMap<String, &Value> = issues.iter().filter_map(|i| Some((scalar(&i["id"])?, i))).collect();
    let mut skipped = Vec::new();
    for (item, issue_id, key) in links {
        let Some(issue) = by_id.get(issue_id) else {
            let why = format!(
                "the linked issue {key} was not found in Jira (deleted, or hidden from the integration account)"
            );
            skipped.push(skip(item, why));
            continue;
        };
        let incoming = Incoming {
            event: EventKind::IssueUpdated,
            issue,
            actor_account_id: None,
            changelog: None,
            source: PULL_SOURCE,
            read_at: Some(read_at),
        };
        match inbound::apply(engine, &incoming).await {
            Ok(Applied::Changed(_) | Applied::Unlinked) => {}
            Ok(Applied::Ignored(why)) => {
                if !up_to_date(engine, issue_id, issue).await? {
                    skipped.push(skip(item, why));
                }
            }
            Err(JobError::Discard(e)) => skipped.push(skip(item, format!("{e:#}"))),
            Err(e) => return Err(e),
        }
    }
    Ok(skipped)
}

/// The linked issues, by one search. Real Jira refuses (400) a JQL naming
/// an issue that no longer exists; then this page is read issue by issue,
/// and a missing one is simply absent.
async fn fetch(engine: &Engine, links: &[(String, String, String)]) -> Result<Vec<Value>, JobError> {
    let side = engine.side().await.map_err(|e| e.to_job_error())?;
    match side.client.search_all(&ids_jql(links), &["*all"]).await {
        Ok(issues) => return Ok(issues),
        Err(JiraError::Invalid { message, .. }) => {
            tracing::info!(%message, "Jira refused the page's search; reading its issues one by one");
        }
        Err(e) => return Err(e.to_job_error()),
    }
    let mut issues = Vec::with_capacity(links.len());
    for (_, issue_id, _) in links {
        match side.client.get_issue(issue_id, &[]).await {
            Ok(issue) => issues.push(issue),
            Err(JiraError::NotFound(_)) => {}
            Err(e) => return Err(e.to_job_error()),
        }
    }
    Ok(issues)
}

/// Whether the item's link has seen this version of the issue (an ignored
/// pull that was stale or changed nothing is a success; one ignored for
/// another reason, such as a disabled sync, is not).
async fn up_to_date(engine: &Engine, issue_id: &str, issue: &Value) -> Result<bool, JobError> {
    let updated = issue["fields"]["updated"].as_str().and_then(parse_jira_time).map(|t| t.with_timezone(&Utc));
    let client = engine.pool.get().await.map_err(retry)?;
    let mapping = sync_sql::mapping_by_issue_id(&client, issue_id).await.map_err(retry)?;
    Ok(match (mapping.and_then(|m| m.jira_updated_at), updated) {
        (Some(seen), Some(this)) => seen >= this,
        _ => false,
    })
}

/// `id in (10001, 10002)`: bounded, as Jira requires. Jira's issue ids are
/// numbers; anything else is quoted, never spliced in.
fn ids_jql(links: &[(String, String, String)]) -> String {
    let ids: Vec<String> = links
        .iter()
        .map(
            |(_, id, _)| {
                if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) { id.clone() } else { jql_quote(id) }
            },
        )
        .collect();
    format!("id in ({})", ids.join(", "))
}

fn scalar(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string()))
}

/// Enqueues the next batch of pushes; true when the operation has nothing left.
async fn enqueue_batch(ctx: &JobContext, id: Uuid) -> Result<bool, JobError> {
    let mut client = ctx.pool.get().await.map_err(retry)?;
    let tx = client.transaction().await.map_err(retry)?;
    let Some(op) = bulk::lock(&tx, id).await.map_err(retry)? else { return Ok(true) };
    let (start, end) = next_batch(&op);
    let items: Vec<(EntityKind, String)> =
        op.entity_ids[start..end].iter().filter_map(|id| Some((EntityKind::from_id(id)?, id.clone()))).collect();
    for kind in EntityKind::ALL {
        let ids: Vec<&str> = items.iter().filter(|(k, _)| *k == kind).map(|(_, id)| id.as_str()).collect();
        if !ids.is_empty() {
            sync_admin::mark_pending(&tx, kind, &ids).await.map_err(retry)?;
        }
    }
    sync_admin::enqueue_pushes(&tx, &items).await.map_err(retry)?;
    let done = end == op.entity_ids.len();
    bulk::advance(&tx, id, end as i32, done).await.map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    tracing::debug!(operation = %id, enqueued = end, total = op.total, "bulk sync batch enqueued");
    Ok(done)
}

fn next_batch(op: &Operation) -> (usize, usize) {
    let start = (op.enqueued.max(0) as usize).min(op.entity_ids.len());
    (start, (start + BATCH).min(op.entity_ids.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pull_query_lists_issue_ids_and_quotes_anything_else() {
        let link = |id: &str| ("US-0000000".to_owned(), id.to_owned(), "PROJ-1".to_owned());
        assert_eq!(ids_jql(&[link("10001"), link("10002")]), "id in (10001, 10002)");
        assert_eq!(ids_jql(&[link("1) OR project = X")]), r#"id in ("1) OR project = X")"#);
    }
}
