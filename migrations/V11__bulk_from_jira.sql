-- Bulk syncs that pull from Jira (`from_jira`, and the pull phase of
-- `bi_directional`): how far the pull has got, how many of its items could
-- not be pulled, and why, per item.

-- How many of entity_ids have been pulled (a prefix: the job resumes there).
ALTER TABLE bulk_sync_operations ADD COLUMN pulled integer NOT NULL DEFAULT 0;
-- How many of the pulled items could not be pulled (they are in `skipped`).
ALTER TABLE bulk_sync_operations ADD COLUMN pull_failed integer NOT NULL DEFAULT 0;
-- The ids asked for that were not synced, with the reason:
-- [{"id": "US-…", "reason": "…"}], in the order they were found.
ALTER TABLE bulk_sync_operations ADD COLUMN skipped jsonb NOT NULL DEFAULT '[]';

-- `pulling`: the pull is under way; `completed`: a `from_jira` operation
-- has pulled every item (a push operation is completed when its pushes
-- are, which is read from the items, not stored).
ALTER TABLE bulk_sync_operations DROP CONSTRAINT bulk_sync_status_values;
ALTER TABLE bulk_sync_operations ADD CONSTRAINT bulk_sync_status_values
    CHECK (status IN ('queued', 'pulling', 'enqueueing', 'enqueued', 'completed'));
