-- When a push last wrote to the link's issue. An issue read from Jira before
-- that moment (a reconciliation pass, a delivery) may show a step of our own
-- push (a status half-way through a walk of transitions): it is not taken
-- for a person's edit.
ALTER TABLE jira_integration_mappings ADD COLUMN last_pushed_at timestamptz;
