-- Bulk syncs (POST /api/jira/sync/bulk): the items asked for and how far
-- the `bulk_sync` job has got in enqueueing their pushes. Progress of the
-- pushes themselves is read from the items and the sync log.
CREATE TABLE bulk_sync_operations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sync_direction text NOT NULL
                   CONSTRAINT bulk_sync_direction_values CHECK (sync_direction IN ('to_jira', 'from_jira', 'bi_directional')),
    -- The known, syncing items to push, in the order they are enqueued.
    entity_ids     text[] NOT NULL,
    total          integer NOT NULL,
    -- How many of entity_ids have a push enqueued (a prefix: the job resumes there).
    enqueued       integer NOT NULL DEFAULT 0,
    status         text NOT NULL DEFAULT 'queued'
                   CONSTRAINT bulk_sync_status_values CHECK (status IN ('queued', 'enqueueing', 'enqueued')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
