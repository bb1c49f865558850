-- When: you need to know what an item is linked to, or which item a Jira
-- issue belongs to. Takes an ARKHITEKTON id or a Jira key, and shows the
-- link (live and unlinked) with its last syncs.
-- Run: psql "$DATABASE_URL" -v id=US-K7V595F -f sql/mappings_for.sql
--      psql "$DATABASE_URL" -v id=PROJ-12 -f sql/mappings_for.sql
SELECT m.id AS mapping_id, m.arkhitekton_id, m.arkhitekton_type, m.jira_issue_key, m.jira_issue_id,
       m.jira_project_key, m.sync_status, m.last_synced_at,
       (SELECT count(*) FROM jira_sync_logs l WHERE l.mapping_id = m.id) AS syncs_logged,
       (SELECT max(created_at) FROM jira_sync_logs l WHERE l.mapping_id = m.id AND l.status = 'failed') AS last_failure
FROM jira_integration_mappings m
WHERE m.arkhitekton_id = :'id' OR m.jira_issue_key = :'id'
ORDER BY m.created_at DESC;
