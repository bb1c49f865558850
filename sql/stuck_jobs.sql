-- When: jobs seem to hang. A running job whose lease expired has lost its
-- worker (killed, machine lost); any live worker rescues it within seconds.
-- Rows here for more than a minute mean no worker is running.
-- Run: psql "$DATABASE_URL" -f sql/stuck_jobs.sql
SELECT id, kind, attempt, locked_by, attempted_at, lease_expires_at,
       now() - lease_expires_at AS expired_for
FROM jobs
WHERE state = 'running' AND lease_expires_at < now()
ORDER BY lease_expires_at
LIMIT 50;
