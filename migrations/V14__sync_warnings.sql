-- Field-level sync warnings: a value Jira could not take (an e-mail no Jira
-- user has) is kept here and reported on its field, while the rest of the
-- item syncs. Each element is {"field", "code", "message"}; a push replaces
-- the list, a pull that takes Jira's value for a field drops its warnings.
ALTER TABLE epics ADD COLUMN sync_warnings jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE user_stories ADD COLUMN sync_warnings jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE defects ADD COLUMN sync_warnings jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE jira_sync_logs ADD COLUMN warnings jsonb;

-- Columns only the sync writes: changing them is not an edit. One list, for
-- both triggers that ask.
CREATE OR REPLACE FUNCTION arksync_is_edit(old_row jsonb, new_row jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (old_row - ARRAY['updated_at', 'last_synced_at', 'sync_status', 'sync_error', 'sync_warnings',
                            'sync_source', 'jira_issue_key', 'jira_issue_id'])
           IS DISTINCT FROM
           (new_row - ARRAY['updated_at', 'last_synced_at', 'sync_status', 'sync_error', 'sync_warnings',
                            'sync_source', 'jira_issue_key', 'jira_issue_id'])
$$;

CREATE OR REPLACE FUNCTION arksync_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF arksync_is_edit(to_jsonb(OLD), to_jsonb(NEW)) THEN
        NEW.updated_at := now();
    ELSE
        NEW.updated_at := OLD.updated_at;
    END IF;
    RETURN NEW;
END
$$;
