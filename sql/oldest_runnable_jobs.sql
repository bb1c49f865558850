-- When: the "oldest runnable job" alert fired: jobs could run but nobody
-- runs them. If this lists jobs, check that workers run (`arksync worker`
-- or `serve` with ARKSYNC_WORKERS > 0) and handle these kinds.
-- Run: psql "$DATABASE_URL" -f sql/oldest_runnable_jobs.sql
SELECT id, kind, attempt, max_attempts, priority, run_at, now() - run_at AS waiting,
       payload, errors -> -1 ->> 'error' AS last_error
FROM jobs
WHERE state = 'available' AND run_at <= now()
ORDER BY priority, run_at, id
LIMIT 20;
