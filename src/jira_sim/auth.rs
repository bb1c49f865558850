//! Who is calling. Cloud site URLs take Basic `email:api_token`; OAuth 2.0
//! access tokens work only under `/ex/jira/{cloudId}/…` (api.atlassian.com
//! in real life); Data Center takes a Personal Access Token as Bearer (and
//! Basic). Anything else is 401.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::config::{Flavor, SimUser};
use super::http::{ApiError, Req};
use super::oauth;
use super::state::Sim;

/// The authenticated caller; `client_id` is set for OAuth 2.0 apps, which
/// alone may register dynamic webhooks, and `scopes` holds what the app
/// was granted (None for API tokens and PATs, which act as the user).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: SimUser,
    pub client_id: Option<String>,
    pub scopes: Option<Vec<String>>,
}

impl Actor {
    /// Whether an OAuth app's grant covers `scope`; always true otherwise.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.as_ref().is_none_or(|s| s.iter().any(|g| g == scope))
    }
}

/// Authenticates a request to a site path (`oauth_path` false) or an
/// `/ex/jira/…` path (`oauth_path` true).
pub fn authenticate(sim: &Sim, req: &Req, oauth_path: bool) -> Result<Actor, ApiError> {
    let header = req.header("authorization").ok_or(ApiError::Unauthorized)?;
    let (scheme, credentials) = header.split_once(' ').ok_or(ApiError::Unauthorized)?;
    match (scheme.to_ascii_lowercase().as_str(), oauth_path, sim.config.flavor) {
        ("bearer", true, Flavor::Cloud) => oauth::access_token_user(sim, credentials.trim()),
        ("basic", false, _) => basic(sim, credentials.trim()),
        ("bearer", false, Flavor::Datacenter) => pat(sim, credentials.trim()),
        _ => Err(ApiError::Unauthorized),
    }
}

fn basic(sim: &Sim, encoded: &str) -> Result<Actor, ApiError> {
    let decoded = STANDARD.decode(encoded).map_err(|_| ApiError::Unauthorized)?;
    let text = String::from_utf8(decoded).map_err(|_| ApiError::Unauthorized)?;
    let (who, secret) = text.split_once(':').ok_or(ApiError::Unauthorized)?;
    // Cloud knows people by email here; Data Center by user name too.
    let dc = sim.config.flavor == Flavor::Datacenter;
    let user = sim
        .config
        .users
        .iter()
        .find(|u| {
            (u.email == who || dc && super::render::dc_user_name(u) == who)
                && constant_time_eq(u.token.as_bytes(), secret.as_bytes())
        })
        .ok_or(ApiError::Unauthorized)?;
    Ok(Actor { user: user.clone(), client_id: None, scopes: None })
}

fn pat(sim: &Sim, token: &str) -> Result<Actor, ApiError> {
    let user = sim
        .config
        .users
        .iter()
        .find(|u| constant_time_eq(u.token.as_bytes(), token.as_bytes()))
        .ok_or(ApiError::Unauthorized)?;
    Ok(Actor { user: user.clone(), client_id: None, scopes: None })
}

/// Compares secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
