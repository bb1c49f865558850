//! Read-only queries behind the metrics gauges.

use deadpool_postgres::GenericClient;

/// The queue and mapping figures a scrape reports.
#[derive(Debug, Clone, Default)]
pub struct QueueSnapshot {
    /// (state, kind, jobs) for waiting, running and discarded jobs.
    pub counts: Vec<(String, String, i64)>,
    /// Seconds the oldest runnable job has waited; 0 when none.
    pub oldest_runnable_secs: f64,
    pub active_mappings: i64,
    /// Unix time of the newest stored webhook delivery; 0 when none.
    pub last_webhook_at: f64,
}

/// Every figure in one round trip; each part is served by a partial index.
pub async fn queue_snapshot(client: &impl GenericClient) -> Result<QueueSnapshot, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT state, kind, count(*) FROM jobs WHERE state IN ('available', 'running', 'discarded') \
             GROUP BY state, kind",
            &[],
        )
        .await?;
    let counts = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    let row = client
        .query_one(
            "SELECT coalesce((SELECT extract(epoch FROM now() - min(run_at))::float8 FROM jobs \
                              WHERE state = 'available' AND run_at <= now()), 0), \
                    (SELECT count(*) FROM jira_integration_mappings WHERE sync_status = 'active'), \
                    coalesce((SELECT extract(epoch FROM max(received_at))::float8 FROM jira_webhook_events), 0)",
            &[],
        )
        .await?;
    Ok(QueueSnapshot {
        counts,
        oldest_runnable_secs: row.get(0),
        active_mappings: row.get(1),
        last_webhook_at: row.get(2),
    })
}
