-- Webhook deliveries and sync-log payloads are compressed with lz4 rather
-- than the default pglz: a delivery is several kilobytes of JSON, and
-- pglz compressing each was the largest single cost PostgreSQL paid per
-- stored delivery. Existing rows keep their compression; new ones use lz4.
-- A server built without lz4 (rare since PostgreSQL 14) keeps pglz.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE jira_webhook_events ALTER COLUMN raw_payload SET COMPRESSION lz4;
        ALTER TABLE jira_sync_logs
            ALTER COLUMN request_payload SET COMPRESSION lz4,
            ALTER COLUMN response_payload SET COMPRESSION lz4;
    END IF;
END
$$;
