-- The live links: one home for "a mapping that still links its item and
-- issue" (an unlinked one is kept for history). Reads, joins and updates
-- of live links go through this view (it is automatically updatable);
-- only the partial unique index's ON CONFLICT predicate names the status.
-- `*` is expanded when the view is made: a migration that adds a column to
-- jira_integration_mappings makes the view again (a test checks they agree).
CREATE VIEW live_mappings AS
    SELECT * FROM jira_integration_mappings WHERE sync_status <> 'unlinked';
