-- When: the database grows or the queue slows down. The queue tables churn
-- (every job is inserted, updated and deleted); dead rows far above live
-- ones, or no recent autovacuum, mean vacuum is not keeping up.
-- Run: psql "$DATABASE_URL" -f sql/queue_bloat.sql
SELECT relname AS table_name,
       pg_size_pretty(pg_total_relation_size(relid)) AS total_size,
       n_live_tup AS live_rows, n_dead_tup AS dead_rows,
       round(100.0 * n_dead_tup / greatest(n_live_tup + n_dead_tup, 1), 1) AS dead_pct,
       last_autovacuum, last_vacuum, autovacuum_count
FROM pg_stat_user_tables
WHERE relname IN ('jobs', 'jira_webhook_events', 'jira_sync_logs')
ORDER BY pg_total_relation_size(relid) DESC;
