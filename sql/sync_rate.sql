-- When: reporting sync volume, or checking that sync happens at all.
-- Syncs by direction and result over the last 24 hours and 7 days.
-- Run: psql "$DATABASE_URL" -f sql/sync_rate.sql
SELECT sync_direction, status,
       count(*) FILTER (WHERE created_at > now() - interval '24 hours') AS last_24h,
       count(*) FILTER (WHERE created_at > now() - interval '7 days')   AS last_7d,
       round(avg(duration_ms) FILTER (WHERE created_at > now() - interval '24 hours')) AS avg_ms_24h
FROM jira_sync_logs
WHERE created_at > now() - interval '7 days'
GROUP BY 1, 2
ORDER BY 1, 2;
