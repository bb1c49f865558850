-- The push job of a work item, defined once: its kind, payload, unique key
-- (one waits and one runs per item) and attempts. The outbox trigger and
-- every enqueue (src/db/sql/enqueue_pushes.sql, stale pushes) insert this
-- row, each with its own policy for a push already waiting. The Rust side
-- names the same key (`sync::outbound::push_key`) and payload.
CREATE FUNCTION arksync_push_job(item_type text, item_id text,
                                 OUT kind text, OUT payload jsonb, OUT unique_key text, OUT max_attempts integer)
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'push_to_jira', jsonb_build_object('type', item_type, 'id', item_id), 'push:' || item_id, 25
$$;

CREATE OR REPLACE FUNCTION arksync_work_item_enqueue_push() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sync_source <> 'jira'
       AND NEW.sync_status = 'pending'
       AND (TG_OP = 'INSERT' OR NEW.updated_at IS DISTINCT FROM OLD.updated_at) THEN
        INSERT INTO jobs (kind, payload, unique_key, max_attempts)
        SELECT * FROM arksync_push_job(TG_ARGV[0], NEW.id)
        ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state = 'available' DO NOTHING;
        -- Identical notifications in one transaction are delivered once.
        PERFORM pg_notify('arksync_jobs', '');
    END IF;
    RETURN NULL;
END
$$;
