-- One push_to_jira job per item (unique key push:<id>). A push already
-- waiting is reused and made runnable now (a retry's backoff is cut short);
-- every row returns its job id, new or reused.
WITH wanted AS (
    SELECT t AS type, i AS id FROM unnest($1::text[], $2::text[]) AS w (t, i)
), upserted AS (
    INSERT INTO jobs (kind, payload, unique_key, max_attempts)
    SELECT 'push_to_jira', jsonb_build_object('type', type, 'id', id), 'push:' || id, 25 FROM wanted
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state = 'available'
    DO UPDATE SET run_at = least(jobs.run_at, now())
    RETURNING id, payload ->> 'id' AS item_id
)
SELECT id, item_id FROM upserted
