-- The sync engine's state: which Jira version a mapping has seen, per
-- project settings, and the record of concurrent edits.

-- The `updated` of the newest Jira version applied or pushed: an older
-- delivery arriving late (Jira reorders and retries) is stale.
ALTER TABLE jira_integration_mappings ADD COLUMN jira_updated_at timestamptz;

-- Per Jira project: value maps laid over the spec's defaults, and whether
-- issues created in Jira without an ARKHITEKTON ID are imported.
CREATE TABLE jira_project_settings (
    project_key      text PRIMARY KEY CONSTRAINT project_settings_key_format CHECK (project_key ~ '^[A-Z][A-Z0-9_]+$'),
    maps             jsonb NOT NULL DEFAULT '{}',
    import_unmapped  boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Concurrent edits of one item on both sides: both versions, what was
-- applied, and whether a person has reviewed it.
CREATE TABLE sync_conflicts (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    arkhitekton_id      text NOT NULL,
    arkhitekton_type    text NOT NULL
                        CONSTRAINT sync_conflicts_type_values CHECK (arkhitekton_type IN ('user_story', 'defect', 'epic')),
    jira_issue_key      text NOT NULL,
    -- The fields in conflict, as each side had them (API JSON names).
    arkhitekton_version jsonb NOT NULL,
    jira_version        jsonb NOT NULL,
    -- What was written to ARKHITEKTON.
    applied             jsonb NOT NULL,
    resolution          text NOT NULL
                        CONSTRAINT sync_conflicts_resolution_values CHECK (resolution IN ('jira_won', 'arkhitekton_won', 'merged')),
    arkhitekton_updated_at timestamptz NOT NULL,
    jira_updated_at     timestamptz NOT NULL,
    status              text NOT NULL DEFAULT 'open'
                        CONSTRAINT sync_conflicts_status_values CHECK (status IN ('open', 'resolved')),
    resolved_choice     text CONSTRAINT sync_conflicts_choice_values CHECK (resolved_choice IN ('arkhitekton', 'jira', 'applied')),
    resolved_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sync_conflicts_entity_idx ON sync_conflicts (arkhitekton_id, created_at DESC);
CREATE INDEX sync_conflicts_open_idx ON sync_conflicts (created_at DESC) WHERE status = 'open';

-- Reconciliation's high-water marks, one row per connection and direction.
CREATE TABLE sync_cursors (
    name        text PRIMARY KEY,
    position    timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
