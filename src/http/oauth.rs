//! `GET /api/jira/oauth/authorize` and `GET /api/jira/oauth/callback`: the
//! OAuth 2.0 (3LO) consent dance.
//!
//! `state` is random, stored server-side with a hash of a random session
//! cookie (HttpOnly, SameSite=Lax, scoped to `/api/jira/oauth`) and an
//! expiry, and deleted when the callback consumes it. A callback is
//! accepted only from the browser that started the flow, once, within ten
//! minutes: a forged or replayed callback cannot attach someone else's
//! Jira grant to our connection.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{COOKIE, LOCATION, SET_COOKIE};
use hyper::{Request, Response, StatusCode};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::request::query_pairs;
use super::{ApiError, AppState, json_response};
use crate::db::connections as sql;
use crate::domain::input::InputError;
use crate::jira::connection::{Connection, Credentials};
use crate::jira::store::DEFAULT_CONNECTION;
use crate::jira::{JiraClient, oauth};

type Resp = Response<Full<Bytes>>;

const COOKIE_NAME: &str = "arksync_oauth_session";
const STATE_TTL_MINUTES: i64 = 10;

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn session_hash(session: &str) -> String {
    hex::encode(Sha256::digest(session.as_bytes()))
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    InputError::new(code, None, message).into()
}

/// The connection named by `?connection=ID`, else `default`.
async fn connection(state: &AppState, query: &[(String, String)]) -> Result<Connection, ApiError> {
    let wanted = query.iter().find(|(k, _)| k == "connection").map(|(_, v)| v.as_str());
    let conn = match wanted.map(str::parse::<i64>) {
        Some(Ok(id)) => state.connections.load(id).await?,
        Some(Err(_)) => None,
        None => state.connections.load_by_name(DEFAULT_CONNECTION).await?,
    };
    conn.ok_or_else(|| ApiError::NotFound("no such Jira connection".into()))
}

/// Redirects to Atlassian's consent page with a fresh, session-bound state.
pub async fn authorize(state: &AppState, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let conn = connection(state, &query_pairs(req)).await?;
    let Credentials::Oauth { client_id, .. } = &conn.credentials else {
        return Err(ApiError::Conflict { code: "not_oauth", message: "this connection does not use OAuth".into() });
    };
    let Some(redirect) = conn.settings.oauth_redirect_url.clone() else {
        let message = "the connection has no OAuth redirect URL (JIRA_OAUTH_REDIRECT_URL)".into();
        return Err(ApiError::Conflict { code: "not_configured", message });
    };
    let (session, oauth_state) = (random_token(), random_token());
    let expires = chrono::Utc::now() + chrono::Duration::minutes(STATE_TTL_MINUTES);
    let client = state.pool.get().await?;
    sql::prune_oauth_states(&client).await?;
    sql::insert_oauth_state(&client, &oauth_state, conn.id, &session_hash(&session), expires).await?;
    let secure = if redirect.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE_NAME}={session}; HttpOnly; SameSite=Lax; Path=/api/jira/oauth; Max-Age={}{secure}",
        STATE_TTL_MINUTES * 60
    );
    let location = oauth::authorize_url(&conn.settings.oauth_auth_url, client_id, &redirect, &oauth_state);
    Response::builder()
        .status(StatusCode::FOUND)
        .header(LOCATION, location)
        .header(SET_COOKIE, cookie)
        .body(Full::new(Bytes::new()))
        .map_err(ApiError::internal)
}

fn session_cookie(req: &Request<Incoming>) -> Option<String> {
    req.headers().get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == COOKIE_NAME).then(|| v.to_string())
    })
}

/// Checks state and session, exchanges the code, finds the cloudId, stores
/// the tokens, and records the integration account.
pub async fn callback(state: &AppState, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    let query = query_pairs(req);
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(error) = param("error") {
        return Err(bad("oauth_denied", format!("Atlassian did not grant access: {error}")));
    }
    let (Some(code), Some(oauth_state)) = (param("code"), param("state")) else {
        return Err(bad("invalid_state", "the callback needs `code` and `state`"));
    };
    let client = state.pool.get().await?;
    let taken = sql::take_oauth_state(&client, &oauth_state).await?;
    drop(client);
    let Some((connection_id, expected)) = taken else {
        return Err(bad(
            "invalid_state",
            "unknown, expired or already used `state`; start again at /api/jira/oauth/authorize",
        ));
    };
    let session = session_cookie(req).map(|s| session_hash(&s)).unwrap_or_default();
    if !constant_time_eq(session.as_bytes(), expected.as_bytes()) {
        return Err(bad("invalid_state", "this `state` belongs to another browser session"));
    }
    let conn = state
        .connections
        .load(connection_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("the connection was deleted during consent".into()))?;
    let cloud_id = oauth::complete_consent(&state.connections, &conn, &code).await?;
    record_account(state, connection_id).await;
    tracing::info!(connection = connection_id, %cloud_id, "Jira OAuth consent completed");
    let summary = state.connections.summary(connection_id).await?;
    Ok(json_response(StatusCode::OK, &json!({ "connection": summary })))
}

/// Remembers the integration account's id; a failure here only logs, the
/// consent itself succeeded.
async fn record_account(state: &AppState, id: i64) {
    let result = async {
        let conn = state.connections.load(id).await?.ok_or(crate::jira::Error::Config("deleted".into()))?;
        let account = JiraClient::new(&conn, &state.connections)?.myself().await?;
        let client = state.pool.get().await?;
        sql::set_account_id(&client, id, &account).await?;
        Ok::<_, crate::jira::Error>(())
    };
    if let Err(e) = result.await {
        tracing::warn!(connection = id, error = %e, "could not read the integration account after consent");
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
