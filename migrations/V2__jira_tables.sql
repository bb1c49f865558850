-- The spec's three Jira tables: the id mapping, the audit trail of every
-- sync, and the inbox of webhook deliveries.

CREATE TABLE jira_integration_mappings (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    arkhitekton_id    text NOT NULL,
    arkhitekton_type  text NOT NULL
                      CONSTRAINT mappings_arkhitekton_type_values CHECK (arkhitekton_type IN ('user_story', 'defect', 'epic')),
    jira_issue_key    text NOT NULL,
    jira_issue_id     text NOT NULL,
    jira_issue_type   text NOT NULL,
    jira_project_key  text NOT NULL,
    sync_direction    text NOT NULL DEFAULT 'bi_directional'
                      CONSTRAINT mappings_sync_direction_values CHECK (sync_direction IN ('to_jira', 'from_jira', 'bi_directional')),
    last_synced_at    timestamptz DEFAULT now(),
    sync_status       text NOT NULL DEFAULT 'active'
                      CONSTRAINT mappings_sync_status_values CHECK (sync_status IN ('active', 'paused', 'error', 'unlinked')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_arkhitekton_id ON jira_integration_mappings (arkhitekton_id);
CREATE INDEX idx_jira_issue_key ON jira_integration_mappings (jira_issue_key);
CREATE INDEX idx_jira_issue_id ON jira_integration_mappings (jira_issue_id);
CREATE UNIQUE INDEX idx_mapping_unique ON jira_integration_mappings (arkhitekton_id, jira_issue_key);
-- At most one live link per entity and per Jira issue: a second one would
-- make every sync ambiguous.
CREATE UNIQUE INDEX idx_mapping_live_entity ON jira_integration_mappings (arkhitekton_id)
    WHERE sync_status <> 'unlinked';
CREATE UNIQUE INDEX idx_mapping_live_issue ON jira_integration_mappings (jira_issue_id)
    WHERE sync_status <> 'unlinked';

CREATE TRIGGER jira_integration_mappings_touch_updated_at BEFORE UPDATE ON jira_integration_mappings
    FOR EACH ROW EXECUTE FUNCTION arksync_touch_updated_at();

CREATE TABLE jira_sync_logs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    mapping_id       uuid REFERENCES jira_integration_mappings (id) ON DELETE SET NULL,
    arkhitekton_id   text,
    jira_issue_key   text,
    sync_direction   text NOT NULL
                     CONSTRAINT sync_logs_direction_values CHECK (sync_direction IN ('to_jira', 'from_jira')),
    sync_type        text NOT NULL
                     CONSTRAINT sync_logs_type_values CHECK (sync_type IN ('create', 'update', 'delete', 'transition', 'link')),
    sync_source      text NOT NULL
                     CONSTRAINT sync_logs_source_values CHECK (sync_source IN ('webhook', 'manual', 'scheduled', 'change')),
    request_payload  jsonb,
    response_payload jsonb,
    status           text NOT NULL
                     CONSTRAINT sync_logs_status_values CHECK (status IN ('success', 'failed', 'pending', 'retrying', 'skipped')),
    error_message    text,
    error_code       text,
    duration_ms      integer,
    retry_count      integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_sync_status ON jira_sync_logs (status);
CREATE INDEX idx_sync_created ON jira_sync_logs (created_at);
CREATE INDEX idx_mapping_logs ON jira_sync_logs (mapping_id);
CREATE INDEX idx_sync_logs_entity ON jira_sync_logs (arkhitekton_id, created_at DESC);
CREATE INDEX idx_sync_logs_recent ON jira_sync_logs (created_at DESC) WHERE status = 'failed';

CREATE TABLE jira_webhook_events (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    webhook_id         text,
    event_type         text NOT NULL,
    jira_issue_key     text,
    jira_issue_id      text,
    raw_payload        jsonb NOT NULL,
    processed_at       timestamptz,
    processing_status  text NOT NULL DEFAULT 'pending'
                       CONSTRAINT webhook_events_status_values CHECK (processing_status IN ('pending', 'processed', 'failed', 'ignored')),
    processing_error   text,
    idempotency_key    text NOT NULL,
    delivery_retry     integer NOT NULL DEFAULT 0,
    received_at        timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_webhook_status ON jira_webhook_events (processing_status);
CREATE INDEX idx_webhook_received ON jira_webhook_events (received_at);
CREATE UNIQUE INDEX idx_idempotency ON jira_webhook_events (idempotency_key);
CREATE INDEX idx_webhook_processing ON jira_webhook_events (processing_status, received_at);
