-- When: the cause of a discarded job is fixed (see discarded_jobs.sql) and
-- it should run again. Gives it fresh attempts and keeps its error history.
-- Run: psql "$DATABASE_URL" -v job_id=42 -f sql/requeue_discarded_job.sql
-- Prints the job if it was requeued; nothing if it was not discarded.
UPDATE jobs
SET state = 'available', attempt = 0, run_at = now(), finalized_at = NULL
WHERE id = :'job_id'::bigint AND state IN ('discarded', 'cancelled')
RETURNING id, kind, state, run_at;
NOTIFY arksync_jobs;
