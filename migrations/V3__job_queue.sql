-- The job queue. Workers claim with FOR UPDATE SKIP LOCKED, commit the claim
-- (state 'running', a lease), do the work outside any transaction, then
-- complete or fail the job only if the claim is still theirs (same attempt,
-- still running). A job whose lease ran out (worker killed) is rescued.
--
--   available --claim--> running --complete--> completed --prune--> (gone)
--       ^                  |  \--fail, attempts left--> available (run_at later)
--       |                  \--fail, last attempt----> discarded (dead letter)
--       \---- requeue (operator) ----------------------------/

CREATE TABLE jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'available'
                     CONSTRAINT jobs_state_values CHECK (state IN ('available', 'running', 'completed', 'discarded', 'cancelled')),
    attempt          integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 10 CONSTRAINT jobs_max_attempts_positive CHECK (max_attempts > 0),
    -- Lower runs first.
    priority         smallint NOT NULL DEFAULT 100,
    run_at           timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz,
    locked_by        text,
    -- [{"at": timestamptz, "attempt": n, "error": text}, ...], oldest first.
    errors           jsonb NOT NULL DEFAULT '[]',
    -- Jobs with the same key coalesce while one is waiting to run.
    unique_key       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempted_at     timestamptz,
    finalized_at     timestamptz,
    CONSTRAINT jobs_running_has_lease CHECK (state <> 'running' OR lease_expires_at IS NOT NULL)
);

-- Claiming touches only runnable rows, in claim order.
CREATE INDEX jobs_claim_idx ON jobs (priority, run_at, id) WHERE state = 'available';
-- Rescue touches only running rows.
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
-- Pruning touches only finished rows.
CREATE INDEX jobs_finalized_idx ON jobs (finalized_at) WHERE state IN ('completed', 'cancelled', 'discarded');
-- At most one waiting job per key. A running job does not count: an edit
-- made while its push is running needs a push of its own.
CREATE UNIQUE INDEX jobs_unique_waiting_idx ON jobs (unique_key) WHERE unique_key IS NOT NULL AND state = 'available';

-- Finished jobs are short-lived rows; vacuum them eagerly.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05);

