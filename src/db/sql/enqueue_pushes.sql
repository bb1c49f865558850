-- One push job per item (arksync_push_job, migration V15). A push already
-- waiting is reused and made runnable now (a retry's backoff is cut short);
-- every row returns its job id, new or reused.
WITH wanted AS (
    SELECT t AS type, i AS id FROM unnest($1::text[], $2::text[]) AS w (t, i)
), upserted AS (
    INSERT INTO jobs (kind, payload, unique_key, max_attempts)
    SELECT job.* FROM wanted CROSS JOIN LATERAL arksync_push_job(wanted.type, wanted.id) AS job
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state = 'available'
    DO UPDATE SET run_at = least(jobs.run_at, now())
    RETURNING id, payload ->> 'id' AS item_id
)
SELECT id, item_id FROM upserted
