-- The numbers of GET /api/jira/sync/stats, in one snapshot.
WITH items AS (
    SELECT sync_status FROM user_stories
    UNION ALL SELECT sync_status FROM defects
    UNION ALL SELECT sync_status FROM epics
)
SELECT
    (SELECT count(*) FROM live_mappings) AS total_mappings,
    (SELECT count(*) FROM jira_integration_mappings WHERE sync_status = 'active') AS active_syncs,
    (SELECT count(*) FROM items WHERE sync_status = 'error') AS error_syncs,
    (SELECT count(*) FROM items WHERE sync_status = 'pending') AS pending,
    (SELECT max(created_at) FROM jira_sync_logs WHERE status = 'success') AS last_sync_time,
    (SELECT count(*) FROM jira_sync_logs
        WHERE status = 'success' AND created_at > now() - interval '24 hours') AS last_24h,
    (SELECT count(*) FROM jira_sync_logs
        WHERE status = 'success' AND created_at > now() - interval '7 days') AS last_7d,
    (SELECT count(*) FROM sync_conflicts WHERE status = 'open') AS conflicts_open
