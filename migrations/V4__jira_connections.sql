-- Jira connections: which Jira, how we authenticate, and the credentials,
-- sealed with AES-256-GCM under ARKSYNC_SECRET_KEY (nonce || ciphertext ||
-- tag). The database never sees a token in plaintext.
--
-- OAuth refreshes lock the row (SELECT ... FOR UPDATE) for the duration of
-- the token call, and write the rotated refresh token in that same
-- transaction, so concurrent workers never refresh twice and a refresh
-- token is never lost between rotation and storage.

CREATE TABLE jira_connections (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL UNIQUE CONSTRAINT jira_connections_name_length CHECK (length(name) BETWEEN 1 AND 100),
    flavor             text NOT NULL CONSTRAINT jira_connections_flavor_values CHECK (flavor IN ('cloud', 'datacenter')),
    -- Site URL (Basic, PAT); for OAuth, the site found with the cloudId.
    base_url           text,
    cloud_id           text,
    auth_kind          text NOT NULL CONSTRAINT jira_connections_auth_values CHECK (auth_kind IN ('basic', 'pat', 'oauth')),
    credentials        bytea NOT NULL,
    -- The integration account (GET /myself), to recognise our own echoes.
    account_id         text,
    settings           jsonb NOT NULL DEFAULT '{}',
    status             text NOT NULL DEFAULT 'active'
                       CONSTRAINT jira_connections_status_values CHECK (status IN ('active', 'needs_consent')),
    status_reason      text,
    access_expires_at  timestamptz,
    token_refreshed_at timestamptz,
    refresh_count      bigint NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jira_connections_oauth_is_cloud CHECK (auth_kind <> 'oauth' OR flavor = 'cloud'),
    CONSTRAINT jira_connections_site_known CHECK (auth_kind = 'oauth' OR base_url IS NOT NULL)
);

-- OAuth `state` values: random, bound to the browser session that asked
-- (a hash of its cookie), single-use (deleted when consumed), short-lived.
CREATE TABLE jira_oauth_states (
    state         text PRIMARY KEY,
    connection_id bigint NOT NULL REFERENCES jira_connections (id) ON DELETE CASCADE,
    session_hash  text NOT NULL,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jira_oauth_states_expiry_idx ON jira_oauth_states (expires_at);
