-- When: the "high error rate" alert fired. Groups the last 24 h of failed
-- syncs by direction and error, with an example item for each.
-- Run: psql "$DATABASE_URL" -f sql/failed_syncs_24h.sql
SELECT sync_direction, coalesce(error_code, '-') AS error_code, left(error_message, 120) AS error,
       count(*) AS failures, max(created_at) AS last_seen, min(arkhitekton_id) AS example_item
FROM jira_sync_logs
WHERE status = 'failed' AND created_at > now() - interval '24 hours'
GROUP BY 1, 2, 3
ORDER BY failures DESC
LIMIT 50;
