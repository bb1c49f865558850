//! SQL of retention: deleting old webhook deliveries and sync logs, in
//! batches so that no statement holds locks for long. One function per
//! statement; call each until it returns less than `batch`.

use deadpool_postgres::GenericClient;

/// Deletes up to `batch` webhook deliveries received more than `days` ago
/// that are finished (processed, ignored or failed). A pending delivery is
/// never deleted, however old: it still has work to do.
pub async fn prune_webhook_events(
    client: &impl GenericClient,
    days: i32,
    batch: i64,
) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM jira_webhook_events WHERE id IN ( \
                 SELECT id FROM jira_webhook_events \
                 WHERE processing_status IN ('processed', 'ignored', 'failed') \
                   AND received_at < now() - make_interval(days => $1) \
                 LIMIT $2)",
            &[&days, &batch],
        )
        .await
}

/// Deletes up to `batch` sync log entries written more than `days` ago.
pub async fn prune_sync_logs(client: &impl GenericClient, days: i32, batch: i64) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM jira_sync_logs WHERE id IN ( \
                 SELECT id FROM jira_sync_logs WHERE created_at < now() - make_interval(days => $1) LIMIT $2)",
            &[&days, &batch],
        )
        .await
}
