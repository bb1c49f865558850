//! Typed configuration from environment variables.
//!
//! Every variable is parsed once at start; a bad value stops arksync with an
//! error that names the variable, what was expected and what was found.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::jira::connection::Flavor;
use crate::jira::crypto::SecretKey;

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {var}: expected {expected}, got {got:?}")]
pub struct ConfigError {
    pub var: &'static str,
    pub expected: &'static str,
    pub got: String,
}

/// A secret value: never printed, never logged (`Debug` redacts it).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The default Jira connection as the environment describes it.
#[derive(Debug, Clone)]
pub struct JiraEnv {
    pub flavor: Flavor,
    /// Cloud API token account (`JIRA_EMAIL` + `JIRA_API_TOKEN`).
    pub basic: Option<(String, Secret)>,
    /// Data Center Personal Access Token.
    pub pat: Option<Secret>,
    /// OAuth 2.0 app (`JIRA_OAUTH_CLIENT_ID` + `JIRA_OAUTH_CLIENT_SECRET`).
    pub oauth_client_id: Option<String>,
    pub oauth_client_secret: Option<Secret>,
    pub oauth_redirect_url: Option<String>,
    /// Atlassian's authorisation server (tests point it at the simulator).
    pub oauth_auth_url: String,
    /// Atlassian's API gateway (`/ex/jira/{cloudId}`, accessible-resources).
    pub oauth_api_url: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything arksync reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// External PostgreSQL; `None` starts the embedded cluster.
    pub database_url: Option<Secret>,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Connections in the pool shared by the HTTP server and the workers.
    pub db_pool_size: usize,
    /// Jira site for links shown to people (`<base>/browse/KEY`).
    pub jira_base_url: Option<String>,
    /// HMAC secret of admin webhooks (`X-Hub-Signature`).
    pub webhook_secret: Option<Secret>,
    /// OAuth app's client secret, which signs dynamic webhooks' JWTs.
    pub oauth_client_secret: Option<Secret>,
    /// Seals Jira credentials at rest; without it none are stored.
    pub secret_key: Option<SecretKey>,
    /// The default connection, bootstrapped from `JIRA_*` at start.
    pub jira: JiraEnv,
    /// Jobs run at once by this process's worker (0: no worker in `serve`).
    pub workers: usize,
    /// Seconds a completed job is kept before the worker prunes it.
    pub completed_job_retention_secs: u64,
    /// Days finished webhook deliveries are kept (pending ones always are).
    pub webhook_event_retention_days: i32,
    /// Days sync log entries are kept.
    pub sync_log_retention_days: i32,
    /// Seconds between reconciliation passes.
    pub reconcile_interval_secs: u64,
    /// Seconds between retention prunes.
    pub prune_interval_secs: u64,
    /// Where to serve `GET /metrics` on its own (needed by `arksync worker`,
    /// which has no API listener); `None`: only on the API.
    pub metrics_listen: Option<SocketAddr>,
}

/// The variables, with their meaning, for `--help` (every line fits in 80
/// columns).
pub const ENV_HELP: &str = "\
ENVIRONMENT:
  DATABASE_URL
      PostgreSQL to use, e.g. postgres://user:pass@host/db. Unset: arksync
      runs its own private cluster in $ARKSYNC_DATA_DIR/pg (needs the
      PostgreSQL server binaries).
  ARKSYNC_LISTEN
      Address of the HTTP API, host:port [default: 127.0.0.1:5000]
  ARKSYNC_METRICS_LISTEN
      Also serve GET /metrics here, e.g. 0.0.0.0:9464 (for `arksync worker`,
      which has no API) [default: unset]
  ARKSYNC_DATA_DIR
      Folder for the embedded cluster and its lock [default: ./.arksync]
  ARKSYNC_PG_BIN
      Folder holding initdb and postgres, if not found on their own
  ARKSYNC_DEMO
      0 turns off the demo (the in-process Jira simulator started when the
      embedded PostgreSQL runs and no Jira is configured) [default: 1]
  ARKSYNC_SECRET_KEY
      32 bytes, base64 or hex: seals Jira credentials at rest (required to
      store any)
  ARKSYNC_MAX_BODY_BYTES
      Largest request body accepted [default: 1048576]
  ARKSYNC_DB_POOL_SIZE
      PostgreSQL connections in the pool [default: 16]
  ARKSYNC_WORKERS
      Jobs run at once by this process [default: 10; 0 = API only]
  ARKSYNC_COMPLETED_JOB_RETENTION_SECS
      Completed jobs are pruned after this [default: 3600]
  ARKSYNC_WEBHOOK_EVENT_RETENTION_DAYS
      Finished webhook deliveries are deleted after this [default: 30]
  ARKSYNC_SYNC_LOG_RETENTION_DAYS
      Sync log entries are deleted after this [default: 90]
  ARKSYNC_RECONCILE_INTERVAL_SECS
      Seconds between reconciliation passes [default: 300]
  ARKSYNC_PRUNE_INTERVAL_SECS
      Seconds between retention prunes [default: 3600]
  JIRA_BASE_URL
      Jira site, for issue links (https://yourcompany.atlassian.net)
  JIRA_WEBHOOK_SECRET
      Secret of the Jira admin webhook (X-Hub-Signature: sha256=...)
  JIRA_FLAVOR
      cloud | datacenter [default: cloud]
  JIRA_EMAIL, JIRA_API_TOKEN
      Cloud API-token account and its token (Basic auth)
  JIRA_PAT
      Data Center Personal Access Token (Bearer)
  JIRA_OAUTH_CLIENT_ID, JIRA_OAUTH_CLIENT_SECRET
      OAuth 2.0 (3LO) app; the secret also verifies dynamic webhooks' JWTs
  JIRA_OAUTH_REDIRECT_URL
      Our callback, e.g. https://arksync.example.com/api/jira/oauth/callback
  JIRA_OAUTH_AUTH_URL
      Authorisation server [default: https://auth.atlassian.com]
  JIRA_OAUTH_API_URL
      API gateway [default: https://api.atlassian.com]
  LOG_FORMAT
      text | json [default: text]
  RUST_LOG
      Log filter, e.g. info or arksync=debug [default: info]";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests need not touch the
    /// process environment. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Ok(Self {
            database_url: get("DATABASE_URL").map(|url| parse_database_url(&url)).transpose()?,
            listen: parse_listen("ARKSYNC_LISTEN", get("ARKSYNC_LISTEN").as_deref().unwrap_or("127.0.0.1:5000"))?,
            data_dir: PathBuf::from(get("ARKSYNC_DATA_DIR").unwrap_or_else(|| "./.arksync".into())),
            log_format: parse_log_format(get("LOG_FORMAT"))?,
            max_body_bytes: parse_positive("ARKSYNC_MAX_BODY_BYTES", get("ARKSYNC_MAX_BODY_BYTES"), 1 << 20)?,
            db_pool_size: parse_positive("ARKSYNC_DB_POOL_SIZE", get("ARKSYNC_DB_POOL_SIZE"), 16)?,
            jira_base_url: get("JIRA_BASE_URL").map(|url| parse_http_url("JIRA_BASE_URL", &url)).transpose()?,
            webhook_secret: get("JIRA_WEBHOOK_SECRET").map(Secret::new),
            oauth_client_secret: get("JIRA_OAUTH_CLIENT_SECRET").map(Secret::new),
            workers: parse_or("ARKSYNC_WORKERS", get("ARKSYNC_WORKERS"), "10", "a whole number of concurrent jobs")?,
            completed_job_retention_secs: parse_or(
                "ARKSYNC_COMPLETED_JOB_RETENTION_SECS",
                get("ARKSYNC_COMPLETED_JOB_RETENTION_SECS"),
                "3600",
                "a whole number of seconds",
            )?,
            webhook_event_retention_days: parse_days(
                "ARKSYNC_WEBHOOK_EVENT_RETENTION_DAYS",
                get("ARKSYNC_WEBHOOK_EVENT_RETENTION_DAYS"),
                30,
            )?,
            sync_log_retention_days: parse_days(
                "ARKSYNC_SYNC_LOG_RETENTION_DAYS",
                get("ARKSYNC_SYNC_LOG_RETENTION_DAYS"),
                90,
            )?,
            reconcile_interval_secs: parse_positive(
                "ARKSYNC_RECONCILE_INTERVAL_SECS",
                get("ARKSYNC_RECONCILE_INTERVAL_SECS"),
                300,
            )? as u64,
            prune_interval_secs: parse_positive(
                "ARKSYNC_PRUNE_INTERVAL_SECS",
                get("ARKSYNC_PRUNE_INTERVAL_SECS"),
                3600,
            )? as u64,
            metrics_listen: get("ARKSYNC_METRICS_LISTEN")
                .map(|v| parse_listen("ARKSYNC_METRICS_LISTEN", &v))
                .transpose()?,
            secret_key: get("ARKSYNC_SECRET_KEY").map(|k| parse_secret_key(&k)).transpose()?,
            jira: parse_jira(&get)?,
        })
    }
}

fn parse_secret_key(text: &str) -> Result<SecretKey, ConfigError> {
    SecretKey::parse(text).map_err(|expected| ConfigError {
        var: "ARKSYNC_SECRET_KEY",
        expected,
        got: "<hidden: it is a secret>".to_owned(),
    })
}

fn parse_jira(get: &impl Fn(&str) -> Option<String>) -> Result<JiraEnv, ConfigError> {
    let flavor = match get("JIRA_FLAVOR") {
        None => Flavor::Cloud,
        Some(raw) => Flavor::parse(&raw).ok_or(ConfigError {
            var: "JIRA_FLAVOR",
            expected: "`cloud` or `datacenter`",
            got: raw,
        })?,
    };
    let basic = match (get("JIRA_EMAIL"), get("JIRA_API_TOKEN")) {
        (Some(email), Some(token)) => Some((email, Secret::new(token))),
        (None, None) => None,
        (Some(_), None) => return Err(missing("JIRA_API_TOKEN", "set too, since JIRA_EMAIL is")),
        (None, Some(_)) => return Err(missing("JIRA_EMAIL", "set too, since JIRA_API_TOKEN is")),
    };
    let oauth_client_id = get("JIRA_OAUTH_CLIENT_ID");
    if oauth_client_id.is_some() && get("JIRA_OAUTH_CLIENT_SECRET").is_none() {
        return Err(missing("JIRA_OAUTH_CLIENT_SECRET", "set too, since JIRA_OAUTH_CLIENT_ID is"));
    }
    let url = |var: &'static str, default: &str| match get(var) {
        Some(v) => parse_http_url(var, &v),
        None => Ok(default.to_owned()),
    };
    Ok(JiraEnv {
        flavor,
        basic,
        pat: get("JIRA_PAT").map(Secret::new),
        oauth_client_id,
        oauth_client_secret: get("JIRA_OAUTH_CLIENT_SECRET").map(Secret::new),
        oauth_redirect_url: get("JIRA_OAUTH_REDIRECT_URL")
            .map(|u| parse_http_url("JIRA_OAUTH_REDIRECT_URL", &u))
            .transpose()?,
        oauth_auth_url: url("JIRA_OAUTH_AUTH_URL", "https://auth.atlassian.com")?,
        oauth_api_url: url("JIRA_OAUTH_API_URL", "https://api.atlassian.com")?,
    })
}

fn missing(var: &'static str, expected: &'static str) -> ConfigError {
    ConfigError { var, expected, got: String::new() }
}

fn parse_or<T: std::str::FromStr>(
    var: &'static str,
    value: Option<String>,
    default: &str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    let raw = value.unwrap_or_else(|| default.to_owned());
    raw.trim().parse().map_err(|_| ConfigError { var, expected, got: raw })
}

/// `host:port`, the host an IP address or a name (`localhost:5001`,
/// `[::1]:5001`), resolved once at start to its first address.
fn parse_listen(var: &'static str, raw: &str) -> Result<SocketAddr, ConfigError> {
    use std::net::ToSocketAddrs;
    let err = || ConfigError { var, expected: "host:port, like 127.0.0.1:5000 or localhost:5000", got: raw.to_owned() };
    if let Ok(addr) = raw.trim().parse() {
        return Ok(addr);
    }
    raw.trim().to_socket_addrs().map_err(|_| err())?.next().ok_or_else(err)
}

fn parse_positive(var: &'static str, value: Option<String>, default: usize) -> Result<usize, ConfigError> {
    let Some(raw) = value else { return Ok(default) };
    match raw.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError { var, expected: "a positive whole number", got: raw }),
    }
}

/// A positive number of days, small enough for PostgreSQL's `make_interval`.
fn parse_days(var: &'static str, value: Option<String>, default: i32) -> Result<i32, ConfigError> {
    let Some(raw) = value else { return Ok(default) };
    match raw.trim().parse::<i32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError { var, expected: "a positive whole number of days", got: raw }),
    }
}

fn parse_log_format(value: Option<String>) -> Result<LogFormat, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(ConfigError { var: "LOG_FORMAT", expected: "`text` or `json`", got: other.to_owned() }),
    }
}

/// Checks the URL parses as a libpq connection string or URL, without ever
/// echoing it back: it may hold a password.
fn parse_database_url(url: &str) -> Result<Secret, ConfigError> {
    url.parse::<tokio_postgres::Config>().map(|_| Secret::new(url)).map_err(|_| ConfigError {
        var: "DATABASE_URL",
        expected: "a PostgreSQL URL like postgres://user:password@host:5432/dbname",
        got: "<hidden: it may contain a password>".to_owned(),
    })
}

fn parse_http_url(var: &'static str, url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim().trim_end_matches('/');
    let ok = (trimmed.starts_with("https://") || trimmed.starts_with("http://")) && trimmed.len() > "https://".len();
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(ConfigError { var, expected: "an http(s) URL like https://yourcompany.atlassian.net", got: url.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_names_every_variable_in_80_columns() {
        for line in ENV_HELP.lines() {
            assert!(line.chars().count() <= 80, "too wide at 80 columns: {line:?}");
        }
        let source = include_str!("config.rs");
        let read: Vec<&str> = source
            .split("get(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        assert!(read.len() > 20, "{read:?}");
        for name in read.iter().copied().chain(["ARKSYNC_DEMO", "ARKSYNC_PG_BIN", "RUST_LOG"]) {
            assert!(ENV_HELP.contains(name), "--help does not name {name}");
        }
    }

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = config(&[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(c.data_dir, PathBuf::from("./.arksync"));
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.max_body_bytes, 1 << 20);
        assert!(c.database_url.is_none());
    }

    #[test]
    fn a_listen_address_may_name_its_host() {
        let c = config(&[("ARKSYNC_LISTEN", "localhost:5001")]).unwrap();
        assert!(c.listen.ip().is_loopback() && c.listen.port() == 5001, "{}", c.listen);
        let c = config(&[("ARKSYNC_LISTEN", "[::1]:5002")]).unwrap();
        assert_eq!(c.listen.to_string(), "[::1]:5002");
    }

    #[test]
    fn a_bad_listen_address_names_the_variable() {
        let err = config(&[("ARKSYNC_LISTEN", "localhost")]).unwrap_err();
        assert_eq!(err.var, "ARKSYNC_LISTEN");
        assert!(err.to_string().contains("ARKSYNC_LISTEN"), "{err}");
    }

    #[test]
    fn a_bad_log_format_names_the_allowed_values() {
        let err = config(&[("LOG_FORMAT", "yaml")]).unwrap_err();
        assert_eq!(err.var, "LOG_FORMAT");
        assert!(err.to_string().contains("`text` or `json`"));
    }

    #[test]
    fn a_bad_database_url_never_echoes_the_password() {
        let err = config(&[("DATABASE_URL", "postgres://u:s3cret@host:notaport/db")]).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
        assert!(!err.to_string().contains("s3cret"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = config(&[("JIRA_WEBHOOK_SECRET", "hunter2")]).unwrap();
        assert_eq!(c.webhook_secret.as_ref().map(Secret::expose), Some("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn jira_credentials_come_in_pairs_and_never_show_in_debug_output() {
        let err = config(&[("JIRA_EMAIL", "a@example.com")]).unwrap_err();
        assert_eq!(err.var, "JIRA_API_TOKEN");
        let c =
            config(&[("JIRA_EMAIL", "a@example.com"), ("JIRA_API_TOKEN", "tok-123"), ("JIRA_PAT", "pat-456")]).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("tok-123") && !shown.contains("pat-456"), "{shown}");
        assert_eq!(config(&[("JIRA_FLAVOR", "moon")]).unwrap_err().var, "JIRA_FLAVOR");
    }

    #[test]
    fn a_bad_secret_key_names_the_variable_but_not_the_value() {
        let err = config(&[("ARKSYNC_SECRET_KEY", "c2hvcnQ=")]).unwrap_err();
        assert_eq!(err.var, "ARKSYNC_SECRET_KEY");
        assert!(!err.to_string().contains("c2hvcnQ="));
    }

    #[test]
    fn schedule_and_retention_settings_default_and_name_their_variable() {
        let c = config(&[]).unwrap();
        assert_eq!((c.webhook_event_retention_days, c.sync_log_retention_days), (30, 90));
        assert_eq!((c.reconcile_interval_secs, c.prune_interval_secs), (300, 3600));
        assert_eq!(c.metrics_listen, None);
        assert_eq!(
            config(&[("ARKSYNC_RECONCILE_INTERVAL_SECS", "0")]).unwrap_err().var,
            "ARKSYNC_RECONCILE_INTERVAL_SECS"
        );
        let err = config(&[("ARKSYNC_SYNC_LOG_RETENTION_DAYS", "ninety")]).unwrap_err();
        assert_eq!(err.var, "ARKSYNC_SYNC_LOG_RETENTION_DAYS");
        let err = config(&[("ARKSYNC_WEBHOOK_EVENT_RETENTION_DAYS", "99999999999")]).unwrap_err();
        assert_eq!(err.var, "ARKSYNC_WEBHOOK_EVENT_RETENTION_DAYS");
        assert_eq!(config(&[("ARKSYNC_METRICS_LISTEN", "nope")]).unwrap_err().var, "ARKSYNC_METRICS_LISTEN");
        let c = config(&[("ARKSYNC_METRICS_LISTEN", "127.0.0.1:9464")]).unwrap();
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
    }

    #[test]
    fn zero_body_limit_is_rejected() {
        assert_eq!(config(&[("ARKSYNC_MAX_BODY_BYTES", "0")]).unwrap_err().var, "ARKSYNC_MAX_BODY_BYTES");
    }
}
