-- One row per scheduled slot that has been enqueued: the scheduler of every
-- replica tries to insert (name, slot) and only the one that succeeds
-- enqueues the slot's job, in the same statement. The jobs table cannot
-- decide this alone: its unique index covers only waiting jobs, and a job
-- that already ran (or was pruned) would let a late replica enqueue again.
CREATE TABLE scheduled_runs (
    name       text NOT NULL,
    slot       timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, slot)
);

CREATE INDEX scheduled_runs_created_idx ON scheduled_runs (created_at);
