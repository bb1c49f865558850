-- When: the "webhook failures" or "no webhooks" alert fired. Counts
-- deliveries by event and processing status, last 24 h and in all, with the
-- time of the last one.
-- Run: psql "$DATABASE_URL" -f sql/webhook_events_by_status.sql
SELECT event_type, processing_status,
       count(*) FILTER (WHERE received_at > now() - interval '24 hours') AS last_24h,
       count(*) AS kept,
       max(received_at) AS last_received,
       max(processing_error) FILTER (WHERE processing_status = 'failed') AS an_error
FROM jira_webhook_events
GROUP BY 1, 2
ORDER BY last_received DESC NULLS LAST;
