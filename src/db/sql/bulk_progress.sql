-- Progress of a bulk sync's items since the operation started: synced =
-- a successful push logged since then (or one that found Jira already
-- equal, logged as skipped); failed = not synced and the item's
-- sync is in error now; the rest are pending.
WITH op AS (
    SELECT entity_ids, created_at FROM bulk_sync_operations WHERE id = $1
), items AS (
    SELECT unnest(entity_ids) AS id FROM op
), synced AS (
    SELECT DISTINCT l.arkhitekton_id AS id FROM jira_sync_logs l, op
    WHERE l.arkhitekton_id = ANY (op.entity_ids) AND l.sync_direction = 'to_jira'
      AND l.status IN ('success', 'skipped') AND l.created_at >= op.created_at
), errors AS (
    SELECT id FROM user_stories WHERE id IN (SELECT id FROM items) AND sync_status = 'error'
    UNION ALL SELECT id FROM defects WHERE id IN (SELECT id FROM items) AND sync_status = 'error'
    UNION ALL SELECT id FROM epics WHERE id IN (SELECT id FROM items) AND sync_status = 'error'
)
SELECT (SELECT count(*) FROM synced) AS synced,
       (SELECT count(*) FROM errors WHERE id NOT IN (SELECT id FROM synced)) AS failed
