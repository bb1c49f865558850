-- What both sides last agreed on, per link: the mapped fields (API JSON
-- names) as they stood after the last push or applied Jira version. A push
-- sends only the fields that differ from it, and an incoming Jira version
-- changes only the fields Jira changed since, so concurrent edits of
-- different fields on the two sides both survive. A field missing here is
-- unknown (links made before this column): it is sent, and judged by
-- last-write-wins.
ALTER TABLE jira_integration_mappings ADD COLUMN synced_fields jsonb NOT NULL DEFAULT '{}';

-- Creates that were begun and whose link is not stored yet. A push whose
-- item is listed here may already have made the issue (a worker killed
-- between Jira's answer and our commit), so it looks for the issue before
-- creating; any other create goes straight to Jira. The row is deleted in
-- the transaction that stores the link.
CREATE TABLE jira_pending_creates (
    arkhitekton_id text PRIMARY KEY,
    started_at     timestamptz NOT NULL DEFAULT now()
);
