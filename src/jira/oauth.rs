//! OAuth 2.0 (3LO) for Jira Cloud: the consent URL, the code exchange with
//! cloudId discovery, and access tokens refreshed under a row lock.
//!
//! Refresh tokens rotate: each refresh returns a new one and retires the
//! old (NOTES.md item 9). The refresh therefore runs inside a transaction
//! that holds `FOR UPDATE` on the connection row and writes the rotated
//! token before committing, and the new access token is used only after
//! the commit. A concurrent worker blocks on the lock, then finds a token
//! newer than the one that failed it and uses that: one refresh, however
//! many workers. This is the one place a transaction spans a network call;
//! it is bounded by the token request's timeout. `invalid_grant` marks the
//! connection as needing consent instead of retrying forever.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Deserialize;
use serde_json::json;

use super::Error;
use super::connection::{Connection, Credentials};
use super::store::ConnectionStore;
use crate::config::Secret;
use crate::db::connections as sql;

/// The scopes arksync asks for; `offline_access` yields a refresh token.
pub const SCOPES: &str = "offline_access read:jira-work write:jira-work read:jira-user manage:jira-webhook";

/// Refresh this long before Jira says the token expires.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::seconds(60);
const TOKEN_TIMEOUT: Duration = Duration::from_secs(20);

/// The consent URL a person is redirected to.
pub fn authorize_url(auth_url: &str, client_id: &str, redirect_uri: &str, state: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("audience", "api.atlassian.com")
        .append_pair("client_id", client_id)
        .append_pair("scope", SCOPES)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("response_type", "code")
        .append_pair("prompt", "consent")
        .finish();
    format!("{}/authorize?{query}", auth_url.trim_end_matches('/'))
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    expires_in: i64,
}

/// An accessible-resources entry: a site the grant reaches.
#[derive(Debug, Deserialize)]
struct Site {
    id: String,
    url: String,
}

enum TokenFailure {
    /// The grant is gone (revoked, reused, expired): a person must consent.
    InvalidGrant(String),
    Other(Error),
}

async fn post_token(
    http: &reqwest::Client,
    auth_url: &str,
    body: serde_json::Value,
) -> Result<TokenAnswer, TokenFailure> {
    let url = format!("{}/oauth/token", auth_url.trim_end_matches('/'));
    let resp = http.post(url).json(&body).timeout(TOKEN_TIMEOUT).send().await.map_err(|e| {
        TokenFailure::Other(if e.is_timeout() { Error::Timeout } else { Error::Network(e.without_url().to_string()) })
    })?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| TokenFailure::Other(Error::Network(e.without_url().to_string())))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes)
            .map_err(|_| TokenFailure::Other(Error::Decode("the token endpoint's answer has no access_token".into())));
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let code = v["error"].as_str().unwrap_or("");
    let description = v["error_description"].as_str().unwrap_or(code).to_string();
    if code == "invalid_grant" {
        return Err(TokenFailure::InvalidGrant(format!("invalid_grant: {description}")));
    }
    Err(TokenFailure::Other(if status.is_server_error() {
        Error::Server { status: status.as_u16(), message: description }
    } else {
        Error::Invalid { status: status.as_u16(), message: description, fields: Default::default() }
    }))
}

fn expiry(expires_in: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(expires_in.max(0))
}

/// Exchanges a consent `code`, discovers the site's cloudId, and stores
/// the tokens and site. Returns the cloudId.
pub async fn complete_consent(store: &ConnectionStore, conn: &Connection, code: &str) -> Result<String, Error> {
    let Credentials::Oauth { client_id, client_secret, .. } = &conn.credentials else {
        return Err(Error::Config("not an OAuth connection".into()));
    };
    let redirect = conn.settings.oauth_redirect_url.clone().unwrap_or_default();
    let http = reqwest::Client::new();
    let body = json!({ "grant_type": "authorization_code", "client_id": client_id, "client_secret": client_secret,
                       "code": code, "redirect_uri": redirect });
    let tokens = post_token(&http, &conn.settings.oauth_auth_url, body).await.map_err(|f| match f {
        TokenFailure::InvalidGrant(d) => Error::Invalid { status: 400, message: d, fields: Default::default() },
        TokenFailure::Other(e) => e,
    })?;
    let site =
        accessible_site(&http, &conn.settings.oauth_api_url, &tokens.access_token, conn.base_url.as_deref()).await?;
    let credentials = Credentials::Oauth {
        client_id: client_id.clone(),
        client_secret: client_secret.clone(),
        access_token: Some(tokens.access_token),
        refresh_token: tokens.refresh_token,
    };
    let sealed = store.seal(&credentials)?;
    let client = store.pool.get().await?;
    sql::record_consent(&client, conn.id, &sealed, expiry(tokens.expires_in), &site.id, &site.url).await?;
    Ok(site.id)
}

/// The site the grant reaches (the one at `prefer_url` when several do).
async fn accessible_site(
    http: &reqwest::Client,
    api_url: &str,
    access_token: &str,
    prefer_url: Option<&str>,
) -> Result<Site, Error> {
    let url = format!("{}/oauth/token/accessible-resources", api_url.trim_end_matches('/'));
    let resp = http
        .get(url)
        .bearer_auth(access_token)
        .timeout(TOKEN_TIMEOUT)
        .send()
        .await
        .map_err(|e| Error::Network(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(Error::Forbidden(format!("accessible-resources answered {}", resp.status().as_u16())));
    }
    let sites: Vec<Site> = resp.json().await.map_err(|_| Error::Decode("accessible-resources".into()))?;
    let pick = sites.iter().position(|s| prefer_url.is_some_and(|p| s.url.trim_end_matches('/') == p)).unwrap_or(0);
    sites.into_iter().nth(pick).ok_or_else(|| Error::Forbidden("the grant reaches no Jira site".into()))
}

/// Hands out a connection's access token, refreshing it when needed.
pub struct TokenManager {
    store: ConnectionStore,
    connection_id: i64,
    auth_url: String,
    http: reqwest::Client,
    cached: Mutex<Option<(Secret, DateTime<Utc>)>>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager").field("connection_id", &self.connection_id).finish_non_exhaustive()
    }
}

impl TokenManager {
    pub fn new(store: ConnectionStore, conn: &Connection, http: reqwest::Client) -> Self {
        let cached = match &conn.credentials {
            Credentials::Oauth { access_token: Some(t), .. } => conn.access_expires_at.map(|at| (Secret::new(t), at)),
            _ => None,
        };
        Self {
            store,
            connection_id: conn.id,
            auth_url: conn.settings.oauth_auth_url.clone(),
            http,
            cached: Mutex::new(cached),
        }
    }

    fn pool(&self) -> &Pool {
        &self.store.pool
    }

    /// A token valid for at least a minute more.
    pub async fn access_token(&self) -> Result<Secret, Error> {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match cached {
            Some((token, at)) if at > Utc::now() + EXPIRY_MARGIN => Ok(token),
            Some((token, _)) => self.refresh(Some(&token)).await,
            None => self.refresh(None).await,
        }
    }

    /// Refreshes unless someone already did: `stale` is the token that
    /// failed (or expired); a different, unexpired token in the row is used
    /// as is.
    pub async fn refresh(&self, stale: Option<&Secret>) -> Result<Secret, Error> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        let row = sql::get_for_update(&tx, self.connection_id)
            .await?
            .ok_or_else(|| Error::Config("the connection was deleted".into()))?;
        if row.status == "needs_consent" {
            let reason = row.status_reason.clone().unwrap_or_else(|| "not authorised yet".into());
            return Err(Error::NeedsReconsent(reason));
        }
        let expires = row.access_expires_at;
        let conn = self.store.open(row)?;
        let Credentials::Oauth { client_id, client_secret, access_token, refresh_token } = conn.credentials else {
            return Err(Error::Config("not an OAuth connection".into()));
        };
        let newer = access_token.as_deref().is_some_and(|t| stale.is_none_or(|s| s.expose() != t));
        if let (true, Some(at), Some(token)) = (newer, expires, &access_token)
            && at > Utc::now() + EXPIRY_MARGIN
        {
            tx.commit().await?;
            return Ok(self.remember(Secret::new(token), at));
        }
        let Some(refresh_token) = refresh_token else {
            return Err(Error::NeedsReconsent("no refresh token (was offline_access granted?)".into()));
        };
        let body = json!({ "grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
                           "refresh_token": refresh_token });
        let answer = post_token(&self.http, &self.auth_url, body).await;
        crate::metrics::oauth_refresh(match &answer {
            Ok(_) => "ok",
            Err(TokenFailure::InvalidGrant(_)) => "invalid_grant",
            Err(TokenFailure::Other(_)) => "error",
        });
        match answer {
            Ok(answer) => {
                let at = expiry(answer.expires_in);
                let rotated = Credentials::Oauth {
                    client_id,
                    client_secret,
                    access_token: Some(answer.access_token.clone()),
                    refresh_token: answer.refresh_token.or(Some(refresh_token)),
                };
                sql::record_refresh(&tx, self.connection_id, &self.store.seal(&rotated)?, at).await?;
                tx.commit().await?;
                tracing::info!(connection = self.connection_id, "refreshed the Jira OAuth access token");
                Ok(self.remember(Secret::new(answer.access_token), at))
            }
            Err(TokenFailure::InvalidGrant(reason)) => {
                sql::mark_needs_consent(&tx, self.connection_id, &reason).await?;
                tx.commit().await?;
                *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
                tracing::error!(connection = self.connection_id, %reason, "Jira OAuth grant refused: needs re-consent");
                Err(Error::NeedsReconsent(reason))
            }
            Err(TokenFailure::Other(e)) => Err(e),
        }
    }

    fn remember(&self, token: Secret, at: DateTime<Utc>) -> Secret {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some((token.clone(), at));
        token
    }
}
