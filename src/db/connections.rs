//! SQL of Jira connections (`jira_connections`) and OAuth `state` values
//! (`jira_oauth_states`). Credentials arrive here already sealed.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;

use super::prepared;
use tokio_postgres::Row;

/// A connection row as stored: credentials still sealed.
#[derive(Debug, Clone)]
pub struct ConnectionRow {
    pub id: i64,
    pub name: String,
    pub flavor: String,
    pub base_url: Option<String>,
    pub cloud_id: Option<String>,
    pub auth_kind: String,
    pub sealed_credentials: Vec<u8>,
    pub account_id: Option<String>,
    pub settings: Value,
    pub status: String,
    pub status_reason: Option<String>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub token_refreshed_at: Option<DateTime<Utc>>,
    pub refresh_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, flavor, base_url, cloud_id, auth_kind, credentials, account_id, settings, status, \
                       status_reason, access_expires_at, token_refreshed_at, refresh_count, created_at, updated_at";

fn from_row(r: &Row) -> ConnectionRow {
    ConnectionRow {
        id: r.get(0),
        name: r.get(1),
        flavor: r.get(2),
        base_url: r.get(3),
        cloud_id: r.get(4),
        auth_kind: r.get(5),
        sealed_credentials: r.get(6),
        account_id: r.get(7),
        settings: r.get(8),
        status: r.get(9),
        status_reason: r.get(10),
        access_expires_at: r.get(11),
        token_refreshed_at: r.get(12),
        refresh_count: r.get(13),
        created_at: r.get(14),
        updated_at: r.get(15),
    }
}

/// What a new connection is made of.
#[derive(Debug)]
pub struct NewConnection<'a> {
    pub name: &'a str,
    pub flavor: &'a str,
    pub base_url: Option<&'a str>,
    pub auth_kind: &'a str,
    pub sealed_credentials: &'a [u8],
    pub settings: &'a Value,
    /// OAuth connections start as `needs_consent` until the callback.
    pub status: &'a str,
}

/// Inserts a connection; `None` when the name is taken.
pub async fn insert(client: &impl GenericClient, c: &NewConnection<'_>) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = prepared::query_opt(
        client,
        "INSERT INTO jira_connections (name, flavor, base_url, auth_kind, credentials, settings, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING RETURNING id",
        &[&c.name, &c.flavor, &c.base_url, &c.auth_kind, &c.sealed_credentials, &c.settings, &c.status],
    )
    .await?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn get(client: &impl GenericClient, id: i64) -> Result<Option<ConnectionRow>, tokio_postgres::Error> {
    let row =
        prepared::query_opt(client, &format!("SELECT {COLUMNS} FROM jira_connections WHERE id = $1"), &[&id]).await?;
    Ok(row.as_ref().map(from_row))
}

pub async fn get_by_name(
    client: &impl GenericClient,
    name: &str,
) -> Result<Option<ConnectionRow>, tokio_postgres::Error> {
    let row = prepared::query_opt(client, &format!("SELECT {COLUMNS} FROM jira_connections WHERE name = $1"), &[&name])
        .await?;
    Ok(row.as_ref().map(from_row))
}

/// Reads and locks the row until the transaction ends: the one refresh of
/// an OAuth token happens under this lock, so a second worker waits here
/// and then finds the fresh token instead of refreshing again.
pub async fn get_for_update(
    client: &impl GenericClient,
    id: i64,
) -> Result<Option<ConnectionRow>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM jira_connections WHERE id = $1 FOR UPDATE");
    Ok(prepared::query_opt(client, &sql, &[&id]).await?.as_ref().map(from_row))
}

pub async fn list(client: &impl GenericClient) -> Result<Vec<ConnectionRow>, tokio_postgres::Error> {
    let rows = prepared::query(client, &format!("SELECT {COLUMNS} FROM jira_connections ORDER BY id"), &[]).await?;
    Ok(rows.iter().map(from_row).collect())
}

/// What a change to a connection sets; `None` keeps the stored value.
#[derive(Debug, Default)]
pub struct ConnectionChange<'a> {
    pub base_url: Option<&'a str>,
    pub auth_kind: Option<&'a str>,
    pub sealed_credentials: Option<&'a [u8]>,
    pub settings: Option<&'a Value>,
    /// New credentials reset the tokens' bookkeeping; OAuth ones need consent.
    pub status: Option<&'a str>,
}

/// Changes a connection; true when it exists.
pub async fn update(
    client: &impl GenericClient,
    id: i64,
    c: &ConnectionChange<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let new_credentials = c.sealed_credentials.is_some();
    let n = prepared::execute(
        client,
        "UPDATE jira_connections SET base_url = COALESCE($2, base_url), auth_kind = COALESCE($3, auth_kind), \
             credentials = COALESCE($4, credentials), settings = COALESCE($5, settings), \
             status = COALESCE($6, status), status_reason = CASE WHEN $7 THEN NULL ELSE status_reason END, \
             access_expires_at = CASE WHEN $7 THEN NULL ELSE access_expires_at END, updated_at = now() \
             WHERE id = $1",
        &[&id, &c.base_url, &c.auth_kind, &c.sealed_credentials, &c.settings, &c.status, &new_credentials],
    )
    .await?;
    Ok(n == 1)
}

/// Deletes a connection; true when it existed.
pub async fn delete(client: &impl GenericClient, id: i64) -> Result<bool, tokio_postgres::Error> {
    Ok(prepared::execute(client, "DELETE FROM jira_connections WHERE id = $1", &[&id]).await? == 1)
}

/// Records a successful token refresh: the new sealed credentials (with
/// the rotated refresh token), the access token's expiry, one more refresh.
pub async fn record_refresh(
    client: &impl GenericClient,
    id: i64,
    sealed_credentials: &[u8],
    access_expires_at: DateTime<Utc>,
) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(
        client,
        "UPDATE jira_connections SET credentials = $2, access_expires_at = $3, token_refreshed_at = now(), \
             refresh_count = refresh_count + 1, status = 'active', status_reason = NULL, updated_at = now() \
             WHERE id = $1",
        &[&id, &sealed_credentials, &access_expires_at],
    )
    .await
}

/// Records a completed consent: tokens, the site's cloudId and URL.
pub async fn record_consent(
    client: &impl GenericClient,
    id: i64,
    sealed_credentials: &[u8],
    access_expires_at: DateTime<Utc>,
    cloud_id: &str,
    base_url: &str,
) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(
        client,
        "UPDATE jira_connections SET credentials = $2, access_expires_at = $3, cloud_id = $4, base_url = $5, \
             token_refreshed_at = now(), status = 'active', status_reason = NULL, updated_at = now() WHERE id = $1",
        &[&id, &sealed_credentials, &access_expires_at, &cloud_id, &base_url],
    )
    .await
}

/// Marks a connection as needing a person to consent again.
pub async fn mark_needs_consent(
    client: &impl GenericClient,
    id: i64,
    reason: &str,
) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(
        client,
        "UPDATE jira_connections SET status = 'needs_consent', status_reason = $2, updated_at = now() \
             WHERE id = $1",
        &[&id, &reason],
    )
    .await
}

/// Remembers the integration account's id.
pub async fn set_account_id(
    client: &impl GenericClient,
    id: i64,
    account_id: &str,
) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(
        client,
        "UPDATE jira_connections SET account_id = $2, updated_at = now() WHERE id = $1",
        &[&id, &account_id],
    )
    .await
}

/// Counts connections by status, for the needs-consent gauge.
pub async fn count_needing_consent(client: &impl GenericClient) -> Result<i64, tokio_postgres::Error> {
    let row = prepared::query_one(client, "SELECT count(*) FROM jira_connections WHERE status = 'needs_consent'", &[])
        .await?;
    Ok(row.get(0))
}

/// Stores an OAuth `state` bound to a session, valid until `expires_at`.
pub async fn insert_oauth_state(
    client: &impl GenericClient,
    state: &str,
    connection_id: i64,
    session_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(
        client,
        "INSERT INTO jira_oauth_states (state, connection_id, session_hash, expires_at) VALUES ($1, $2, $3, $4)",
        &[&state, &connection_id, &session_hash, &expires_at],
    )
    .await
}

/// Deletes states that expired unused (abandoned consents).
pub async fn prune_oauth_states(client: &impl GenericClient) -> Result<u64, tokio_postgres::Error> {
    prepared::execute(client, "DELETE FROM jira_oauth_states WHERE expires_at <= now()", &[]).await
}

/// Consumes a `state`: deletes it and returns (connection, session hash)
/// if it existed and had not expired. Single use by construction.
pub async fn take_oauth_state(
    client: &impl GenericClient,
    state: &str,
) -> Result<Option<(i64, String)>, tokio_postgres::Error> {
    let row = prepared::query_opt(
        client,
        "DELETE FROM jira_oauth_states WHERE state = $1 RETURNING connection_id, session_hash, expires_at > now()",
        &[&state],
    )
    .await?;
    Ok(row.filter(|r| r.get::<_, bool>(2)).map(|r| (r.get(0), r.get(1))))
}
