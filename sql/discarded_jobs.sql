-- When: something never synced. Discarded jobs used all their attempts, or
-- failed in a way retrying cannot fix; each keeps every error it met.
-- Fix the cause, then requeue with requeue_discarded_job.sql.
-- Run: psql "$DATABASE_URL" -f sql/discarded_jobs.sql
SELECT id, kind, attempt, finalized_at, payload,
       errors -> -1 ->> 'error' AS last_error,
       jsonb_array_length(errors) AS errors_kept
FROM jobs
WHERE state = 'discarded'
ORDER BY finalized_at DESC
LIMIT 50;
