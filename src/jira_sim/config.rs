//! Typed configuration of the simulator: the CLI flags (`JiraSimArgs`) and
//! the value tests build directly (`SimConfig`).
//!
//! The CLI is only a parser in front of `SimConfig`, so a test that needs a
//! tweak (a second project, a screen field on a transition, fast webhook
//! retries) changes a field instead of formatting flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

/// Which Jira product the simulator pretends to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// Jira Cloud: REST v3 under `/rest/api/3/`, ADF descriptions, `parent`
    /// for epics, `/search/jql` with `nextPageToken`, Basic and OAuth 2.0.
    Cloud,
    /// Jira Data Center: REST v2 under `/rest/api/2/`, wiki-markup
    /// descriptions, Epic Link custom field, `/search` with `startAt`, PATs.
    Datacenter,
}

/// One account that can call the API. The first configured user is the
/// integration account; the others stand in for people working in Jira.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SimUser {
    pub email: String,
    /// API token (Cloud, Basic auth) and Personal Access Token (DC, Bearer).
    pub token: String,
    pub account_id: String,
    pub display_name: String,
    /// The person hides their e-mail (Cloud profile visibility): users
    /// render without `emailAddress` (except to themselves on `/myself`),
    /// and user search matches the address only when given in full.
    pub email_hidden: bool,
}

impl SimUser {
    /// Builds a user from `email:token`; the account id is derived from the
    /// position so that it is stable across restarts (tests compare it).
    pub fn parse(spec: &str, index: usize) -> anyhow::Result<Self> {
        let (email, token) = spec.split_once(':').with_context(|| format!("--user {spec:?}: expected EMAIL:TOKEN"))?;
        if email.is_empty() || token.is_empty() {
            bail!("--user {spec:?}: email and token must both be non-empty");
        }
        Ok(Self::new(email, token, index))
    }

    pub fn new(email: &str, token: &str, index: usize) -> Self {
        let local = email.split('@').next().unwrap_or(email);
        Self {
            email: email.to_string(),
            token: token.to_string(),
            account_id: format!("712020:00000000-0000-4000-8000-{:012}", index + 1),
            display_name: display_name_of(local),
            email_hidden: false,
        }
    }
}

/// `jane.doe` → `Jane Doe`: Jira shows people by display name in changelogs.
fn display_name_of(local: &str) -> String {
    local
        .split(['.', '_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An OAuth 2.0 (3LO) app registered with the simulated Atlassian site.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
}

/// An admin-registered webhook (Jira settings → System → WebHooks).
#[derive(Debug, Clone)]
pub struct AdminWebhook {
    pub url: String,
    /// When set, each delivery carries `X-Hub-Signature: sha256=<hex>`.
    pub secret: Option<String>,
}

/// A transition whose screen requires a field (e.g. `Won't Do` needs a
/// resolution). Jira rejects the transition with 400 when it is missing.
#[derive(Debug, Clone)]
pub struct ScreenRequirement {
    pub transition_name: String,
    pub field_id: String,
}

/// How the simulator retries webhook deliveries. Jira waits minutes between
/// attempts; tests shrink the base delay, the shape (exponential + jitter)
/// stays the same.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 5, base_delay: Duration::from_secs(10), attempt_timeout: Duration::from_secs(20) }
    }
}

/// Everything `start` needs. `Default` is what tests start from: one
/// integration user, one human user, project PROJ, Cloud, an ephemeral port.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub flavor: Flavor,
    pub users: Vec<SimUser>,
    pub projects: Vec<String>,
    pub admin_webhooks: Vec<AdminWebhook>,
    /// Requests per second per account; `None` means unlimited.
    pub rate_limit: Option<u32>,
    pub oauth_clients: Vec<OAuthClient>,
    /// How long a rotated-out refresh token is still accepted (Atlassian
    /// tolerates concurrent refreshes for a short while).
    pub refresh_grace: Duration,
    pub access_token_ttl: Duration,
    pub cloud_id: String,
    pub screen_requirements: Vec<ScreenRequirement>,
    pub webhook_retry: RetryPolicy,
    pub state_file: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            flavor: Flavor::Cloud,
            users: vec![
                SimUser::new("arksync@example.com", "integration-token", 0),
                SimUser::new("jane.doe@example.com", "jane-token", 1),
            ],
            projects: vec!["PROJ".to_string()],
            admin_webhooks: Vec::new(),
            rate_limit: None,
            oauth_clients: vec![OAuthClient {
                client_id: "arksync-client".to_string(),
                client_secret: "arksync-secret".to_string(),
            }],
            refresh_grace: Duration::from_secs(10),
            access_token_ttl: Duration::from_secs(3600),
            cloud_id: "11111111-2222-4333-8444-555555555555".to_string(),
            screen_requirements: Vec::new(),
            webhook_retry: RetryPolicy::default(),
            state_file: None,
        }
    }
}

/// `arksync jira-sim` flags. With none it serves Cloud on 127.0.0.1:8089
/// with the default accounts and prints them.
#[derive(Debug, Clone, clap::Args)]
pub struct JiraSimArgs {
    /// Address to listen on (loopback only in tests and demos).
    #[arg(long, default_value = "127.0.0.1:8089", env = "JIRA_SIM_LISTEN")]
    pub listen: SocketAddr,
    /// Which Jira to simulate.
    #[arg(long, value_enum, default_value_t = Flavor::Cloud)]
    pub flavor: Flavor,
    /// EMAIL:TOKEN, repeatable. The first is the integration account, the
    /// others are people working in Jira. Default: two built-in accounts.
    #[arg(long = "user", value_name = "EMAIL:TOKEN")]
    pub users: Vec<String>,
    /// Project key, repeatable. Default: PROJ.
    #[arg(long = "project", value_name = "KEY")]
    pub projects: Vec<String>,
    /// URL of an admin webhook that receives every issue event.
    #[arg(long)]
    pub webhook: Option<String>,
    /// Secret of the admin webhook (HMAC-SHA256 in X-Hub-Signature).
    #[arg(long, requires = "webhook", env = "JIRA_SIM_WEBHOOK_SECRET")]
    pub webhook_secret: Option<String>,
    /// Requests per second allowed per account; over it, 429.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
    /// OAuth 2.0 app as CLIENT_ID:SECRET, repeatable.
    #[arg(long = "oauth-client", value_name = "ID:SECRET")]
    pub oauth_clients: Vec<String>,
    /// Transition that needs a screen field, as "TRANSITION NAME=FIELD_ID".
    #[arg(long = "screen-field", value_name = "NAME=FIELD")]
    pub screen_fields: Vec<String>,
    /// Base delay between webhook retries, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub webhook_retry_ms: u64,
    /// Hide every user's e-mail address, as Cloud's profile visibility does.
    #[arg(long)]
    pub hide_emails: bool,
    /// Persist state to this JSON file (loaded at start, saved on change).
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<PathBuf>,
}

impl JiraSimArgs {
    /// Validates the flags and turns them into a `SimConfig`.
    pub fn into_config(self) -> anyhow::Result<SimConfig> {
        let mut config = SimConfig {
            listen: self.listen,
            flavor: self.flavor,
            rate_limit: self.rate_limit,
            state_file: self.state_file,
            ..SimConfig::default()
        };
        if !self.users.is_empty() {
            config.users = parse_users(&self.users)?;
        }
        if !self.projects.is_empty() {
            config.projects = parse_projects(&self.projects)?;
        }
        if let Some(url) = self.webhook {
            config.admin_webhooks.push(AdminWebhook { url, secret: self.webhook_secret });
        }
        if !self.oauth_clients.is_empty() {
            config.oauth_clients = parse_clients(&self.oauth_clients)?;
        }
        if self.hide_emails {
            config.users.iter_mut().for_each(|u| u.email_hidden = true);
        }
        config.screen_requirements = parse_screens(&self.screen_fields)?;
        config.webhook_retry.base_delay = Duration::from_millis(self.webhook_retry_ms);
        Ok(config)
    }
}

fn parse_users(specs: &[String]) -> anyhow::Result<Vec<SimUser>> {
    specs.iter().enumerate().map(|(i, s)| SimUser::parse(s, i)).collect()
}

/// Project keys are upper-case letters and digits starting with a letter,
/// as Jira requires.
fn parse_projects(keys: &[String]) -> anyhow::Result<Vec<String>> {
    keys.iter()
        .map(|k| {
            let ok = k.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && k.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if ok { Ok(k.clone()) } else { bail!("--project {k:?}: not a Jira project key") }
        })
        .collect()
}

fn parse_clients(specs: &[String]) -> anyhow::Result<Vec<OAuthClient>> {
    specs
        .iter()
        .map(|s| {
            let (id, secret) =
                s.split_once(':').with_context(|| format!("--oauth-client {s:?}: expected ID:SECRET"))?;
            Ok(OAuthClient { client_id: id.to_string(), client_secret: secret.to_string() })
        })
        .collect()
}

fn parse_screens(specs: &[String]) -> anyhow::Result<Vec<ScreenRequirement>> {
    specs
        .iter()
        .map(|s| {
            let (name, field) =
                s.split_once('=').with_context(|| format!("--screen-field {s:?}: expected NAME=FIELD"))?;
            Ok(ScreenRequirement { transition_name: name.to_string(), field_id: field.to_string() })
        })
        .collect()
}
