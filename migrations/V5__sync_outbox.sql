-- The outbox: the database itself decides what must be pushed to Jira.
--
-- Every write to a work item runs in a transaction whose source is the
-- transaction-local setting `arksync.sync_source` ('arkhitekton' when unset,
-- 'jira' for changes the inbound sync applies, 'manual' for hand fixes).
-- An edit (a change to anything but the sync's own bookkeeping) is stamped
-- with that source and, when the item syncs to Jira, marked 'pending' and
-- given a push job in the same transaction. A change whose source is 'jira'
-- never gets a push job, whatever the code that made it does: no echo.

-- The source of the current transaction's changes.
CREATE FUNCTION arksync_sync_source() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('arksync.sync_source', true), ''), 'arkhitekton')
$$;

-- Columns only the sync writes: changing them is not an edit.
CREATE FUNCTION arksync_is_edit(old_row jsonb, new_row jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (old_row - ARRAY['updated_at', 'last_synced_at', 'sync_status', 'sync_error', 'sync_source',
                            'jira_issue_key', 'jira_issue_id'])
           IS DISTINCT FROM
           (new_row - ARRAY['updated_at', 'last_synced_at', 'sync_status', 'sync_error', 'sync_source',
                            'jira_issue_key', 'jira_issue_id'])
$$;

-- BEFORE INSERT OR UPDATE on work items: stamp updated_at and sync_source
-- on edits; mark syncing items pending when the edit is not from Jira.
CREATE FUNCTION arksync_work_item_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    source constant text := arksync_sync_source();
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NOT arksync_is_edit(to_jsonb(OLD), to_jsonb(NEW)) THEN
            NEW.updated_at := OLD.updated_at;
            RETURN NEW;
        END IF;
        NEW.updated_at := now();
    END IF;
    NEW.sync_source := source;
    IF source <> 'jira' AND NEW.sync_to_jira AND NEW.sync_status IS DISTINCT FROM 'disabled' THEN
        NEW.sync_status := 'pending';
        NEW.sync_error := NULL;
    END IF;
    RETURN NEW;
END
$$;

-- AFTER INSERT OR UPDATE on work items: one waiting push job per item (a
-- burst of edits coalesces into one push, which reads the latest state).
CREATE FUNCTION arksync_work_item_enqueue_push() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sync_source <> 'jira'
       AND NEW.sync_status = 'pending'
       AND (TG_OP = 'INSERT' OR NEW.updated_at IS DISTINCT FROM OLD.updated_at) THEN
        INSERT INTO jobs (kind, payload, unique_key, max_attempts)
        VALUES ('push_to_jira', jsonb_build_object('type', TG_ARGV[0], 'id', NEW.id), 'push:' || NEW.id, 25)
        ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state = 'available' DO NOTHING;
        -- Identical notifications in one transaction are delivered once.
        PERFORM pg_notify('arksync_jobs', '');
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER epics_touch_updated_at ON epics;
DROP TRIGGER user_stories_touch_updated_at ON user_stories;
DROP TRIGGER defects_touch_updated_at ON defects;

CREATE TRIGGER epics_before_write BEFORE INSERT OR UPDATE ON epics
    FOR EACH ROW EXECUTE FUNCTION arksync_work_item_before_write();
CREATE TRIGGER user_stories_before_write BEFORE INSERT OR UPDATE ON user_stories
    FOR EACH ROW EXECUTE FUNCTION arksync_work_item_before_write();
CREATE TRIGGER defects_before_write BEFORE INSERT OR UPDATE ON defects
    FOR EACH ROW EXECUTE FUNCTION arksync_work_item_before_write();

CREATE TRIGGER epics_enqueue_push AFTER INSERT OR UPDATE ON epics
    FOR EACH ROW EXECUTE FUNCTION arksync_work_item_enqueue_push('epic');
CREATE TRIGGER user_stories_enqueue_push AFTER INSERT OR UPDATE ON user_stories
    FOR EACH ROW EXECUTE FUNCTION arksync_work_item_enqueue_push('user_story');
CREATE TRIGGER defects_enqueue_push AFTER INSERT OR UPDATE ON defects
    FOR EACH ROW EXECUTE FUNCTION arksync_work_item_enqueue_push('defect');
