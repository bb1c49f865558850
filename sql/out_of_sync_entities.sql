-- When: the "sync lag" alert fired, or a user says an edit never reached
-- Jira. Lists syncing items edited after their last sync, oldest first.
-- Run: psql "$DATABASE_URL" -f sql/out_of_sync_entities.sql
SELECT kind, id, title, sync_status, sync_error, updated_at, last_synced_at,
       now() - updated_at AS behind_for
FROM (
    SELECT 'user_story' AS kind, id, title, sync_status, sync_error, updated_at, last_synced_at, sync_to_jira FROM user_stories
    UNION ALL
    SELECT 'defect', id, title, sync_status, sync_error, updated_at, last_synced_at, sync_to_jira FROM defects
    UNION ALL
    SELECT 'epic', id, title, sync_status, sync_error, updated_at, last_synced_at, sync_to_jira FROM epics
) items
WHERE sync_to_jira AND sync_status IS DISTINCT FROM 'disabled'
  AND (last_synced_at IS NULL OR updated_at > last_synced_at)
ORDER BY updated_at
LIMIT 100;
