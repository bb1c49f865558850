//! Connections in the database: sealing credentials on the way in,
//! opening them on the way out, the environment's default connection, and
//! the secret-free summary the API shows.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;

use super::Error;
use super::connection::{AuthKind, Connection, Credentials, Flavor, Settings, Status};
use super::crypto::SecretKey;
use crate::config::JiraEnv;
use crate::db::connections::{self as sql, ConnectionRow, NewConnection};

/// The name of the connection bootstrapped from `JIRA_*` variables.
pub const DEFAULT_CONNECTION: &str = "default";

/// What the API shows of a connection: everything but the credentials.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub id: i64,
    pub name: String,
    pub flavor: String,
    pub base_url: Option<String>,
    pub cloud_id: Option<String>,
    pub auth_kind: String,
    pub account_id: Option<String>,
    pub settings: serde_json::Value,
    pub status: String,
    pub status_reason: Option<String>,
    pub needs_consent: bool,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub token_refreshed_at: Option<DateTime<Utc>>,
    pub refresh_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ConnectionRow> for Summary {
    fn from(r: ConnectionRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            flavor: r.flavor,
            base_url: r.base_url,
            cloud_id: r.cloud_id,
            auth_kind: r.auth_kind,
            account_id: r.account_id,
            settings: r.settings,
            needs_consent: r.status == Status::NeedsConsent.as_str(),
            status: r.status,
            status_reason: r.status_reason,
            access_expires_at: r.access_expires_at,
            token_refreshed_at: r.token_refreshed_at,
            refresh_count: r.refresh_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A connection to create.
#[derive(Debug, Clone)]
pub struct NewConnectionInput {
    pub name: String,
    pub flavor: Flavor,
    pub base_url: Option<String>,
    pub credentials: Credentials,
    pub settings: Settings,
}

/// A change to a connection; `None` keeps what is stored.
#[derive(Debug, Clone, Default)]
pub struct ConnectionUpdate {
    pub base_url: Option<String>,
    pub credentials: Option<Credentials>,
    pub settings: Option<Settings>,
}

/// The database of connections and the key that seals their credentials.
#[derive(Clone)]
pub struct ConnectionStore {
    pub pool: Pool,
    key: Option<SecretKey>,
}

impl std::fmt::Debug for ConnectionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionStore").field("has_key", &self.key.is_some()).finish_non_exhaustive()
    }
}

const NO_KEY: &str = "ARKSYNC_SECRET_KEY is not set, so Jira credentials can be neither stored nor read";

impl ConnectionStore {
    pub fn new(pool: Pool, key: Option<SecretKey>) -> Self {
        Self { pool, key }
    }

    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Seals credentials; refuses without a key rather than store plaintext.
    pub fn seal(&self, credentials: &Credentials) -> Result<Vec<u8>, Error> {
        let key = self.key.as_ref().ok_or_else(|| Error::Config(NO_KEY.into()))?;
        Ok(key.seal(credentials.to_secret_json().expose().as_bytes()))
    }

    fn open_credentials(&self, row: &ConnectionRow) -> Result<Credentials, Error> {
        let key = self.key.as_ref().ok_or_else(|| Error::Config(NO_KEY.into()))?;
        let plain =
            key.open(&row.sealed_credentials).map_err(|e| Error::Config(format!("connection {}: {e}", row.name)))?;
        serde_json::from_slice(&plain)
            .map_err(|_| Error::Config(format!("connection {}: sealed credentials are not readable", row.name)))
    }

    /// Opens a row into a usable connection.
    pub fn open(&self, row: ConnectionRow) -> Result<Connection, Error> {
        let credentials = self.open_credentials(&row)?;
        let flavor = Flavor::parse(&row.flavor).ok_or_else(|| Error::Config(format!("flavor {:?}", row.flavor)))?;
        let settings = serde_json::from_value(row.settings.clone()).unwrap_or_default();
        Ok(Connection {
            id: row.id,
            name: row.name,
            flavor,
            base_url: row.base_url,
            cloud_id: row.cloud_id,
            credentials,
            account_id: row.account_id,
            settings,
            status: Status::parse(&row.status),
            status_reason: row.status_reason,
            access_expires_at: row.access_expires_at,
            refresh_count: row.refresh_count,
        })
    }

    /// Stores a new connection; `None` when the name is taken. OAuth
    /// connections start as needing consent: they have no tokens yet.
    pub async fn create(&self, input: &NewConnectionInput) -> Result<Option<i64>, Error> {
        let kind = input.credentials.kind();
        if kind == AuthKind::Oauth && input.flavor != Flavor::Cloud {
            return Err(Error::Config("OAuth 2.0 (3LO) exists only on Jira Cloud".into()));
        }
        if kind != AuthKind::Oauth && input.base_url.is_none() {
            return Err(Error::Config("a site URL is required for API-token and PAT connections".into()));
        }
        let sealed = self.seal(&input.credentials)?;
        let settings = serde_json::to_value(&input.settings).expect("settings serialise");
        let status = if kind == AuthKind::Oauth { Status::NeedsConsent } else { Status::Active };
        let client = self.pool.get().await?;
        let new = NewConnection {
            name: &input.name,
            flavor: input.flavor.as_str(),
            base_url: input.base_url.as_deref(),
            auth_kind: kind.as_str(),
            sealed_credentials: &sealed,
            settings: &settings,
            status: status.as_str(),
        };
        Ok(sql::insert(&client, &new).await?)
    }

    /// Changes a connection's site, credentials or settings; `Ok(false)`
    /// when there is no such connection. New OAuth credentials need a new
    /// consent; the flavour never changes (issue ids would not carry over).
    pub async fn update(&self, id: i64, change: &ConnectionUpdate) -> Result<bool, Error> {
        let Some(current) = self.load(id).await? else { return Ok(false) };
        let kind = change.credentials.as_ref().map(Credentials::kind);
        if kind == Some(AuthKind::Oauth) && current.flavor != Flavor::Cloud {
            return Err(Error::Config("OAuth 2.0 (3LO) exists only on Jira Cloud".into()));
        }
        let sealed = change.credentials.as_ref().map(|c| self.seal(c)).transpose()?;
        let settings = change.settings.as_ref().map(|s| serde_json::to_value(s).expect("settings serialise"));
        let status = kind.map(|k| if k == AuthKind::Oauth { Status::NeedsConsent } else { Status::Active });
        let client = self.pool.get().await?;
        let sql_change = sql::ConnectionChange {
            base_url: change.base_url.as_deref(),
            auth_kind: kind.map(AuthKind::as_str),
            sealed_credentials: sealed.as_deref(),
            settings: settings.as_ref(),
            status: status.map(Status::as_str),
        };
        Ok(sql::update(&client, id, &sql_change).await?)
    }

    pub async fn load(&self, id: i64) -> Result<Option<Connection>, Error> {
        let client = self.pool.get().await?;
        sql::get(&client, id).await?.map(|row| self.open(row)).transpose()
    }

    pub async fn load_by_name(&self, name: &str) -> Result<Option<Connection>, Error> {
        let client = self.pool.get().await?;
        sql::get_by_name(&client, name).await?.map(|row| self.open(row)).transpose()
    }

    pub async fn summary(&self, id: i64) -> Result<Option<Summary>, Error> {
        let client = self.pool.get().await?;
        Ok(sql::get(&client, id).await?.map(Summary::from))
    }

    pub async fn list(&self) -> Result<Vec<Summary>, Error> {
        let client = self.pool.get().await?;
        Ok(sql::list(&client).await?.into_iter().map(Summary::from).collect())
    }

    /// Creates the `default` connection from the environment, once: an
    /// existing `default` is left alone (its OAuth tokens live in the
    /// database, not in the environment). Returns the id when created.
    pub async fn bootstrap(&self, env: &JiraEnv, base_url: Option<&str>) -> Result<Option<i64>, Error> {
        let Some(credentials) = env_credentials(env) else { return Ok(None) };
        let settings = Settings {
            oauth_auth_url: env.oauth_auth_url.clone(),
            oauth_api_url: env.oauth_api_url.clone(),
            oauth_redirect_url: env.oauth_redirect_url.clone(),
            ..Settings::default()
        };
        let input = NewConnectionInput {
            name: DEFAULT_CONNECTION.into(),
            flavor: env.flavor,
            base_url: base_url.map(str::to_owned),
            credentials,
            settings,
        };
        self.create(&input).await
    }
}

/// The credentials the environment gives, preferring OAuth, then an API
/// token, then a PAT.
fn env_credentials(env: &JiraEnv) -> Option<Credentials> {
    if let (Some(id), Some(secret)) = (&env.oauth_client_id, &env.oauth_client_secret) {
        return Some(Credentials::Oauth {
            client_id: id.clone(),
            client_secret: secret.expose().to_owned(),
            access_token: None,
            refresh_token: None,
        });
    }
    if let Some((email, token)) = &env.basic {
        return Some(Credentials::Basic { email: email.clone(), api_token: token.expose().to_owned() });
    }
    env.pat.as_ref().map(|t| Credentials::Pat { token: t.expose().to_owned() })
}
