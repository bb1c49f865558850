-- When: a "queue backlog" alert fired, or to see whether jobs are flowing.
-- Shows jobs by kind and state, with the oldest waiting one per kind.
-- Run: psql "$DATABASE_URL" -f sql/queue_depth.sql
SELECT kind,
       count(*) FILTER (WHERE state = 'available')                    AS waiting,
       count(*) FILTER (WHERE state = 'available' AND run_at > now()) AS scheduled_later,
       count(*) FILTER (WHERE state = 'running')                      AS running,
       count(*) FILTER (WHERE state = 'discarded')                    AS discarded,
       count(*) FILTER (WHERE state = 'completed')                    AS completed_kept,
       max(now() - run_at) FILTER (WHERE state = 'available' AND run_at <= now()) AS oldest_runnable_wait
FROM jobs
GROUP BY kind
ORDER BY waiting DESC, kind;
