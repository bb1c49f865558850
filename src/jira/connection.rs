//! A Jira connection: which Jira (Cloud or Data Center, site URL or OAuth
//! cloudId), how we authenticate, and the credentials, which exist in
//! plaintext only in memory and are sealed ([`super::crypto`]) in the
//! database. Nothing here prints a secret: `Debug` shows which kind of
//! credentials there are, never their values.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

/// Which Jira product a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// REST v3, ADF descriptions, `/search/jql` with `nextPageToken`.
    Cloud,
    /// REST v2, wiki-markup descriptions, `/search` with `startAt`.
    Datacenter,
}

impl Flavor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cloud => "cloud",
            Self::Datacenter => "datacenter",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cloud" => Some(Self::Cloud),
            "datacenter" | "data-center" | "dc" | "server" => Some(Self::Datacenter),
            _ => None,
        }
    }

    /// `3` on Cloud, `2` on Data Center.
    pub fn api_version(self) -> u8 {
        match self {
            Self::Cloud => 3,
            Self::Datacenter => 2,
        }
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// Cloud API token: `Basic base64(email:token)`.
    Basic,
    /// Data Center Personal Access Token: `Bearer <pat>`.
    Pat,
    /// Cloud OAuth 2.0 (3LO) with rotating refresh tokens.
    Oauth,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Pat => "pat",
            Self::Oauth => "oauth",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "basic" => Some(Self::Basic),
            "pat" => Some(Self::Pat),
            "oauth" => Some(Self::Oauth),
            _ => None,
        }
    }
}

/// Whether a connection can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    /// OAuth: not yet authorised, or the refresh token was refused
    /// (`invalid_grant`); a person must consent again.
    NeedsConsent,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsConsent => "needs_consent",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "needs_consent" { Self::NeedsConsent } else { Self::Active }
    }
}

/// The secrets of a connection, serialised to JSON and sealed as one blob.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Credentials {
    Basic {
        email: String,
        api_token: String,
    },
    Pat {
        token: String,
    },
    Oauth {
        client_id: String,
        client_secret: String,
        #[serde(default)]
        access_token: Option<String>,
        #[serde(default)]
        refresh_token: Option<String>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { email, .. } => write!(f, "Basic {{ email: {email:?}, api_token: [redacted] }}"),
            Self::Pat { .. } => f.write_str("Pat { token: [redacted] }"),
            Self::Oauth { client_id, access_token, refresh_token, .. } => write!(
                f,
                "Oauth {{ client_id: {client_id:?}, client_secret: [redacted], access_token: {}, refresh_token: {} }}",
                if access_token.is_some() { "[redacted]" } else { "None" },
                if refresh_token.is_some() { "[redacted]" } else { "None" },
            ),
        }
    }
}

impl Credentials {
    pub fn kind(&self) -> AuthKind {
        match self {
            Self::Basic { .. } => AuthKind::Basic,
            Self::Pat { .. } => AuthKind::Pat,
            Self::Oauth { .. } => AuthKind::Oauth,
        }
    }

    /// The sealed form's plaintext. Wrapped in `Secret` so that it cannot
    /// be printed by accident on its way to the cipher.
    pub fn to_secret_json(&self) -> Secret {
        Secret::new(serde_json::to_string(self).expect("credentials always serialise"))
    }
}

/// Per-connection settings that are not secret (JSON in the row).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Client-side limiter: sustained requests per second.
    pub rate_per_sec: f64,
    /// Client-side limiter: requests that may go at once after a quiet spell.
    pub burst: u32,
    /// Per-request timeout, in seconds.
    pub timeout_secs: u64,
    /// Where OAuth authorises and exchanges tokens (auth.atlassian.com).
    pub oauth_auth_url: String,
    /// Where OAuth API calls go (`{api}/ex/jira/{cloudId}`) and where
    /// accessible-resources lives (api.atlassian.com).
    pub oauth_api_url: String,
    /// Where OAuth sends the user back (our `/api/jira/oauth/callback`).
    pub oauth_redirect_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            // Atlassian's burst budget is 100 requests per 10 s; stay under it.
            rate_per_sec: 10.0,
            burst: 10,
            timeout_secs: 30,
            oauth_auth_url: "https://auth.atlassian.com".into(),
            oauth_api_url: "https://api.atlassian.com".into(),
            oauth_redirect_url: None,
        }
    }
}

/// A stored connection with its credentials opened.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: i64,
    pub name: String,
    pub flavor: Flavor,
    /// Site URL for Basic and PAT (`https://acme.atlassian.net`); for
    /// OAuth, the site URL discovered with the cloudId (for links only).
    pub base_url: Option<String>,
    pub cloud_id: Option<String>,
    pub credentials: Credentials,
    /// The integration account's id (`/myself`), to recognise our echoes.
    pub account_id: Option<String>,
    pub settings: Settings,
    pub status: Status,
    pub status_reason: Option<String>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub refresh_count: i64,
}

impl Connection {
    /// Where `rest/api/N/…` lives for this connection.
    pub fn api_root(&self) -> Option<String> {
        match self.credentials.kind() {
            AuthKind::Oauth => {
                let cloud = self.cloud_id.as_deref()?;
                Some(format!("{}/ex/jira/{cloud}", self.settings.oauth_api_url.trim_end_matches('/')))
            }
            _ => self.base_url.as_deref().map(|b| b.trim_end_matches('/').to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_never_shows_a_secret() {
        let c = Credentials::Oauth {
            client_id: "app".into(),
            client_secret: "s3cret".into(),
            access_token: Some("at-123".into()),
            refresh_token: Some("rt-456".into()),
        };
        let shown = format!("{c:?} {:?} {:?}", Credentials::Pat { token: "pat-789".into() }, c.to_secret_json());
        for secret in ["s3cret", "at-123", "rt-456", "pat-789"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
