//! OAuth 2.0 (3LO) as Atlassian runs it: `/authorize` redirects back with
//! `code` and `state`; `/oauth/token` exchanges codes and rotates refresh
//! tokens (each refresh returns a new one and retires the old). A retired
//! token replayed within the grace window gets the same successor; replayed
//! later, it revokes the whole token family (403 `invalid_grant`), which is
//! how Atlassian contains a stolen refresh token.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use hyper::StatusCode;
use hyper::header::{HeaderValue, LOCATION};
use serde_json::{Value, json};

use super::auth::{Actor, constant_time_eq};
use super::config::OAuthClient;
use super::http::{self, ApiError, ApiResult, Req, json_response};
use super::state::{Sim, lock};

#[derive(Debug, Default)]
pub struct OAuthState {
    /// Each code with the `redirect_uri` it was issued for.
    codes: HashMap<String, (Grant, String)>,
    access: HashMap<String, (Grant, DateTime<Utc>)>,
    refresh: HashMap<String, RefreshToken>,
    next_family: u64,
}

/// What a code or token stands for.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    account_id: String,
    scope: String,
    family: u64,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    grant: Grant,
    /// Set once rotated: when, and the token that replaced it.
    rotated: Option<(DateTime<Utc>, String)>,
    revoked: bool,
}

fn token(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// OAuth errors use RFC 6749's body, not Jira's ErrorCollection.
fn error_response(status: StatusCode, error: &str, description: &str) -> http::Resp {
    json_response(status, &json!({ "error": error, "error_description": description }))
}

/// `GET /authorize`: the user (integration account unless `login_hint`
/// names another) consents at once and is sent back with code and state.
pub fn authorize(sim: &Sim, req: &Req) -> ApiResult {
    let client_id = req.param("client_id").unwrap_or("");
    if client(sim, client_id).is_none() {
        return Ok(error_response(StatusCode::BAD_REQUEST, "invalid_request", "Unknown client_id"));
    }
    let Some(redirect) = req.param("redirect_uri") else {
        return Ok(error_response(StatusCode::BAD_REQUEST, "invalid_request", "redirect_uri is required"));
    };
    // Atlassian requires both; a client that omits them never gets a code.
    if req.param("audience") != Some("api.atlassian.com") {
        return Ok(error_response(StatusCode::BAD_REQUEST, "invalid_request", "audience must be api.atlassian.com"));
    }
    if req.param("response_type") != Some("code") {
        return Ok(error_response(StatusCode::BAD_REQUEST, "unsupported_response_type", "response_type must be code"));
    }
    let user = req
        .param("login_hint")
        .and_then(|h| sim.config.users.iter().find(|u| u.email == h))
        .unwrap_or_else(|| sim.integration_user());
    let code = token("code");
    let grant = Grant {
        client_id: client_id.into(),
        account_id: user.account_id.clone(),
        scope: req.param("scope").unwrap_or("").into(),
        family: 0,
    };
    lock(&sim.oauth).codes.insert(code.clone(), (grant, redirect.to_string()));
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let state = req.param("state").unwrap_or("");
    let location = format!("{redirect}{sep}code={code}&state={}", encode(state));
    let mut resp = http::empty(StatusCode::FOUND);
    resp.headers_mut()
        .insert(LOCATION, HeaderValue::from_str(&location).map_err(|_| ApiError::bad_request("bad redirect_uri"))?);
    Ok(resp)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn client<'a>(sim: &'a Sim, id: &str) -> Option<&'a OAuthClient> {
    sim.config.oauth_clients.iter().find(|c| c.client_id == id)
}

/// Reads the token request from JSON (Atlassian's form) or a form body.
fn token_params(req: &Req) -> HashMap<String, String> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&req.body) {
        return map.into_iter().filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string()))).collect();
    }
    http::parse_query(std::str::from_utf8(&req.body).ok())
}

/// `POST /oauth/token`.
pub fn token_endpoint(sim: &Sim, req: &Req) -> ApiResult {
    let p = token_params(req);
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let authenticated = client(sim, get("client_id"))
        .is_some_and(|c| constant_time_eq(c.client_secret.as_bytes(), get("client_secret").as_bytes()));
    if !authenticated {
        return Ok(error_response(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized"));
    }
    let now = sim.clock.now();
    let mut state = lock(&sim.oauth);
    let result = match get("grant_type") {
        "authorization_code" => exchange_code(&mut state, get("code"), get("client_id"), get("redirect_uri")),
        "refresh_token" => rotate(&mut state, get("refresh_token"), get("client_id"), now, sim.config.refresh_grace),
        _ => {
            return Ok(error_response(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Unsupported grant type"));
        }
    };
    match result {
        Ok((grant, refresh)) => Ok(issue_tokens(&mut state, grant, refresh, now, sim.config.access_token_ttl)),
        Err(description) => Ok(error_response(StatusCode::FORBIDDEN, "invalid_grant", description)),
    }
}

/// A code is single-use and must come back with the client and the
/// `redirect_uri` it was issued for; it starts a new refresh-token family,
/// and yields a refresh token only when `offline_access` was granted.
fn exchange_code(
    state: &mut OAuthState,
    code: &str,
    client_id: &str,
    redirect_uri: &str,
) -> Result<(Grant, Option<String>), &'static str> {
    let (mut grant, _) = state
        .codes
        .remove(code)
        .filter(|(g, redirect)| g.client_id == client_id && redirect == redirect_uri)
        .ok_or("Invalid authorization code")?;
    state.next_family += 1;
    grant.family = state.next_family;
    let refresh = grant.scope.split_whitespace().any(|s| s == "offline_access").then(|| new_refresh(state, &grant));
    Ok((grant, refresh))
}

fn new_refresh(state: &mut OAuthState, grant: &Grant) -> String {
    let fresh = token("rt");
    state.refresh.insert(fresh.clone(), RefreshToken { grant: grant.clone(), rotated: None, revoked: false });
    fresh
}

/// Rotates `old`: first use → a new refresh token; replay inside the grace
/// window → the same successor (concurrent refreshes agree); replay after
/// it → the family is revoked.
fn rotate(
    state: &mut OAuthState,
    old: &str,
    client_id: &str,
    now: DateTime<Utc>,
    grace: std::time::Duration,
) -> Result<(Grant, Option<String>), &'static str> {
    let entry = state
        .refresh
        .get(old)
        .filter(|t| t.grant.client_id == client_id && !t.revoked)
        .cloned()
        .ok_or("Unknown or invalid refresh token.")?;
    let successor = match entry.rotated {
        None => {
            let fresh = new_refresh(state, &entry.grant);
            if let Some(t) = state.refresh.get_mut(old) {
                t.rotated = Some((now, fresh.clone()));
            }
            fresh
        }
        Some((at, successor)) if now - at <= Duration::from_std(grace).unwrap_or_default() => successor,
        Some(_) => {
            revoke_family(state, entry.grant.family);
            return Err("Refresh token reuse detected; every token of this grant was revoked.");
        }
    };
    Ok((entry.grant, Some(successor)))
}

fn revoke_family(state: &mut OAuthState, family: u64) {
    state.refresh.values_mut().filter(|t| t.grant.family == family).for_each(|t| t.revoked = true);
    state.access.retain(|_, (g, _)| g.family != family);
}

/// Issues an access token, returned with the refresh token when there is one.
fn issue_tokens(
    state: &mut OAuthState,
    grant: Grant,
    refresh: Option<String>,
    now: DateTime<Utc>,
    ttl: std::time::Duration,
) -> http::Resp {
    let access = token("at");
    let expires = now + Duration::from_std(ttl).unwrap_or_default();
    state.access.insert(access.clone(), (grant.clone(), expires));
    let mut body =
        json!({ "access_token": access, "expires_in": ttl.as_secs(), "token_type": "Bearer", "scope": grant.scope });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    json_response(StatusCode::OK, &body)
}

/// What api.atlassian.com answers when the token lacks the operation's
/// scope: 401 with its own body, not Jira's ErrorCollection.
pub fn scope_mismatch() -> http::Resp {
    json_response(StatusCode::UNAUTHORIZED, &json!({ "code": 401, "message": "Unauthorized; scope does not match" }))
}

/// Resolves a Bearer access token to its user (401 when unknown/expired).
pub fn access_token_user(sim: &Sim, token: &str) -> Result<Actor, ApiError> {
    let now = sim.clock.now();
    let state = lock(&sim.oauth);
    let (grant, expires) = state.access.get(token).ok_or(ApiError::Unauthorized)?;
    if *expires <= now {
        return Err(ApiError::Unauthorized);
    }
    let user = sim.user(&grant.account_id).ok_or(ApiError::Unauthorized)?;
    let scopes = grant.scope.split_whitespace().map(str::to_string).collect();
    Ok(Actor { user: user.clone(), client_id: Some(grant.client_id.clone()), scopes: Some(scopes) })
}

/// `GET /oauth/token/accessible-resources`: the one simulated site.
pub fn accessible_resources(sim: &Sim, req: &Req) -> ApiResult {
    let bearer = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).ok_or(ApiError::Unauthorized)?;
    let actor = access_token_user(sim, bearer.trim())?;
    let scopes: Vec<String> = actor.scopes.unwrap_or_default().into_iter().filter(|s| s != "offline_access").collect();
    let site = json!([{ "id": sim.config.cloud_id, "url": sim.base_url, "name": "arksync-sim", "scopes": scopes, "avatarUrl": format!("{}/avatar.png", sim.base_url) }]);
    Ok(json_response(StatusCode::OK, &site))
}
