-- ARKHITEKTON work items: user stories, defects and epics, with the Jira
-- sync columns the spec adds to each. Enumerated values are CHECKed here so
-- that a psql session cannot write what the service would reject.

-- ARKHITEKTON ids: a prefix, a dash and 7 characters of Crockford base-32
-- (0-9, A-Z without I, L, O, U), e.g. US-K7V595F. Drawn from the random bytes
-- of a v4 UUID (bytes 0-5 and 10 are fully random).
CREATE FUNCTION arksync_new_id(prefix text) RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT prefix || '-' || string_agg(
        substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + get_byte(b, i) % 32, 1), '' ORDER BY i)
    FROM (SELECT uuid_send(gen_random_uuid()) AS b) AS r,
         unnest(ARRAY[0, 1, 2, 3, 4, 5, 10]) AS i
$$;

-- Keeps updated_at honest: bumped by the database on every update that
-- edits the item, and only then. Writing the same values is not an edit, and
-- neither is the sync's own bookkeeping (link, sync status, last sync time):
-- "updated_at > last_synced_at" must mean "edited since the last sync".
CREATE FUNCTION arksync_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bookkeeping constant text[] := ARRAY['updated_at', 'last_synced_at', 'sync_status', 'sync_error',
                                         'sync_source', 'jira_issue_key', 'jira_issue_id'];
BEGIN
    IF (to_jsonb(NEW) - bookkeeping) IS DISTINCT FROM (to_jsonb(OLD) - bookkeeping) THEN
        NEW.updated_at := now();
    ELSE
        NEW.updated_at := OLD.updated_at;
    END IF;
    RETURN NEW;
END
$$;

CREATE TABLE epics (
    id               text PRIMARY KEY DEFAULT arksync_new_id('EPIC')
                     CONSTRAINT epics_id_format CHECK (id ~ '^EPIC-[0-9A-HJKMNP-TV-Z]{7}$'),
    title            text NOT NULL CONSTRAINT epics_title_length CHECK (length(btrim(title)) BETWEEN 1 AND 500),
    description      text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'backlog'
                     CONSTRAINT epics_status_values CHECK (status IN ('backlog', 'in-progress', 'in-review', 'done', 'cancelled')),
    priority         text NOT NULL DEFAULT 'medium'
                     CONSTRAINT epics_priority_values CHECK (priority IN ('critical', 'high', 'medium', 'low')),
    value_stream     text,
    business_value   text,
    target_date      date,
    owner            text,
    labels           text[] NOT NULL DEFAULT '{}',
    sync_to_jira     boolean NOT NULL DEFAULT false,
    jira_project_key text CONSTRAINT epics_jira_project_key_format CHECK (jira_project_key ~ '^[A-Z][A-Z0-9_]+$'),
    jira_issue_key   text,
    jira_issue_id    text,
    last_synced_at   timestamptz,
    sync_source      text NOT NULL DEFAULT 'arkhitekton'
                     CONSTRAINT epics_sync_source_values CHECK (sync_source IN ('arkhitekton', 'jira', 'manual')),
    sync_status      text CONSTRAINT epics_sync_status_values CHECK (sync_status IN ('synced', 'pending', 'error', 'disabled')),
    sync_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_stories (
    id                  text PRIMARY KEY DEFAULT arksync_new_id('US')
                        CONSTRAINT user_stories_id_format CHECK (id ~ '^US-[0-9A-HJKMNP-TV-Z]{7}$'),
    title               text NOT NULL CONSTRAINT user_stories_title_length CHECK (length(btrim(title)) BETWEEN 1 AND 500),
    description         text NOT NULL DEFAULT '',
    acceptance_criteria text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'backlog'
                        CONSTRAINT user_stories_status_values CHECK (status IN ('backlog', 'in-progress', 'in-review', 'done', 'cancelled')),
    priority            text NOT NULL DEFAULT 'medium'
                        CONSTRAINT user_stories_priority_values CHECK (priority IN ('critical', 'high', 'medium', 'low')),
    story_points        integer CONSTRAINT user_stories_story_points_range CHECK (story_points BETWEEN 0 AND 1000),
    assignee            text,
    epic_id             text REFERENCES epics (id) ON DELETE SET NULL,
    labels              text[] NOT NULL DEFAULT '{}',
    related_files       text[] NOT NULL DEFAULT '{}',
    sync_to_jira        boolean NOT NULL DEFAULT false,
    jira_project_key    text CONSTRAINT user_stories_jira_project_key_format CHECK (jira_project_key ~ '^[A-Z][A-Z0-9_]+$'),
    jira_issue_key      text,
    jira_issue_id       text,
    last_synced_at      timestamptz,
    sync_source         text NOT NULL DEFAULT 'arkhitekton'
                        CONSTRAINT user_stories_sync_source_values CHECK (sync_source IN ('arkhitekton', 'jira', 'manual')),
    sync_status         text CONSTRAINT user_stories_sync_status_values CHECK (sync_status IN ('synced', 'pending', 'error', 'disabled')),
    sync_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE defects (
    id               text PRIMARY KEY DEFAULT arksync_new_id('DEF')
                     CONSTRAINT defects_id_format CHECK (id ~ '^DEF-[0-9A-HJKMNP-TV-Z]{7}$'),
    title            text NOT NULL CONSTRAINT defects_title_length CHECK (length(btrim(title)) BETWEEN 1 AND 500),
    description      text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'backlog'
                     CONSTRAINT defects_status_values CHECK (status IN ('backlog', 'in-progress', 'in-review', 'done', 'cancelled')),
    severity         text NOT NULL DEFAULT 'medium'
                     CONSTRAINT defects_severity_values CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    defect_type      text,
    root_cause       text,
    resolution_notes text,
    related_story_id text REFERENCES user_stories (id) ON DELETE SET NULL,
    assignee         text,
    labels           text[] NOT NULL DEFAULT '{}',
    sync_to_jira     boolean NOT NULL DEFAULT false,
    jira_project_key text CONSTRAINT defects_jira_project_key_format CHECK (jira_project_key ~ '^[A-Z][A-Z0-9_]+$'),
    jira_issue_key   text,
    jira_issue_id    text,
    last_synced_at   timestamptz,
    sync_source      text NOT NULL DEFAULT 'arkhitekton'
                     CONSTRAINT defects_sync_source_values CHECK (sync_source IN ('arkhitekton', 'jira', 'manual')),
    sync_status      text CONSTRAINT defects_sync_status_values CHECK (sync_status IN ('synced', 'pending', 'error', 'disabled')),
    sync_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER epics_touch_updated_at BEFORE UPDATE ON epics
    FOR EACH ROW EXECUTE FUNCTION arksync_touch_updated_at();
CREATE TRIGGER user_stories_touch_updated_at BEFORE UPDATE ON user_stories
    FOR EACH ROW EXECUTE FUNCTION arksync_touch_updated_at();
CREATE TRIGGER defects_touch_updated_at BEFORE UPDATE ON defects
    FOR EACH ROW EXECUTE FUNCTION arksync_touch_updated_at();

-- Listing pages newest first with a (created_at, id) keyset cursor.
CREATE INDEX epics_created_idx ON epics (created_at DESC, id DESC);
CREATE INDEX user_stories_created_idx ON user_stories (created_at DESC, id DESC);
CREATE INDEX defects_created_idx ON defects (created_at DESC, id DESC);

-- Webhooks look entities up by Jira key; only linked rows carry one.
CREATE UNIQUE INDEX epics_jira_key_idx ON epics (jira_issue_key) WHERE jira_issue_key IS NOT NULL;
CREATE UNIQUE INDEX user_stories_jira_key_idx ON user_stories (jira_issue_key) WHERE jira_issue_key IS NOT NULL;
CREATE UNIQUE INDEX defects_jira_key_idx ON defects (jira_issue_key) WHERE jira_issue_key IS NOT NULL;

-- Filters of the list endpoints and of the operators' runbook.
CREATE INDEX epics_sync_status_idx ON epics (sync_status) WHERE sync_status IS NOT NULL;
CREATE INDEX user_stories_sync_status_idx ON user_stories (sync_status) WHERE sync_status IS NOT NULL;
CREATE INDEX defects_sync_status_idx ON defects (sync_status) WHERE sync_status IS NOT NULL;
CREATE INDEX user_stories_epic_idx ON user_stories (epic_id) WHERE epic_id IS NOT NULL;
CREATE INDEX defects_related_story_idx ON defects (related_story_id) WHERE related_story_id IS NOT NULL;
