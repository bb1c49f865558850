//! The transport of the Jira client: every request passes the connection's
//! limiter, carries its credentials, and is retried by the policy in
//! [`super::backoff`]. Operations ([`super::ops`]) build on [`JiraClient::call`].
//!
//! Logs name the method, the path template's resource and the status;
//! never a header, never a credential.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::Error;
use super::backoff::RetryPolicy;
use super::connection::{Connection, Credentials, Flavor};
use super::fields::FieldCache;
use super::limiter::Limiter;
use super::oauth::TokenManager;
use super::store::ConnectionStore;
use super::users::UserCache;
use crate::config::Secret;

/// Whether a request may be repeated blindly after an ambiguous failure
/// (5xx, timeout, lost connection: it may have been applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// GET, PUT, DELETE: applying twice equals applying once.
    Safe,
    /// POST that creates: the caller checks before trying again. 429 and
    /// 401 are still retried here, since Jira did not process those.
    NotBlindly,
}

/// One request as [`JiraClient::call_answering`] sends it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub method: &'a Method,
    pub rest: &'a str,
    pub query: &'a [(&'a str, String)],
    pub body: Option<&'a Value>,
    /// Error statuses whose body is the answer, returned as `Ok`.
    pub answers: &'a [StatusCode],
}

enum Auth {
    /// `Basic …` or `Bearer <PAT>`, fixed for the connection's life.
    Fixed(Secret),
    OAuth(Arc<TokenManager>),
}

/// A client for one connection. Share it (`Arc`) between the tasks that
/// use the connection so that they share its limiter.
pub struct JiraClient {
    pub connection_id: i64,
    pub flavor: Flavor,
    api_root: String,
    http: reqwest::Client,
    auth: Auth,
    limiter: Limiter,
    pub(crate) policy: RetryPolicy,
    timeout: Duration,
    pub(crate) fields: FieldCache,
    pub(crate) users: UserCache,
    /// The workflow as learnt from transition lists.
    pub(crate) workflow: super::workflow::WorkflowCache,
}

impl std::fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraClient")
            .field("connection_id", &self.connection_id)
            .field("flavor", &self.flavor)
            .field("api_root", &self.api_root)
            .finish_non_exhaustive()
    }
}

impl JiraClient {
    /// A client for `conn`; OAuth connections refresh through `store`.
    pub fn new(conn: &Connection, store: &ConnectionStore) -> Result<Self, Error> {
        let api_root = conn.api_root().ok_or_else(|| {
            Error::NeedsReconsent(format!("connection {} has no site yet (OAuth consent not completed)", conn.name))
        })?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("arksync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))?;
        let auth = match &conn.credentials {
            Credentials::Basic { email, api_token } => {
                Auth::Fixed(Secret::new(format!("Basic {}", STANDARD.encode(format!("{email}:{api_token}")))))
            }
            Credentials::Pat { token } => Auth::Fixed(Secret::new(format!("Bearer {token}"))),
            Credentials::Oauth { .. } => Auth::OAuth(Arc::new(TokenManager::new(store.clone(), conn, http.clone()))),
        };
        Ok(Self {
            connection_id: conn.id,
            flavor: conn.flavor,
            api_root,
            http,
            auth,
            limiter: Limiter::new(conn.settings.rate_per_sec, conn.settings.burst),
            policy: RetryPolicy::default(),
            timeout: Duration::from_secs(conn.settings.timeout_secs.max(1)),
            fields: FieldCache::default(),
            users: UserCache::default(),
            workflow: Default::default(),
        })
    }

    /// Replaces the retry policy (tests shorten the backoff).
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// `{root}/rest/api/{2|3}/{rest}`.
    fn url(&self, rest: &str) -> String {
        format!("{}/rest/api/{}/{rest}", self.api_root, self.flavor.api_version())
    }

    async fn authorization(&self) -> Result<Secret, Error> {
        match &self.auth {
            Auth::Fixed(h) => Ok(h.clone()),
            Auth::OAuth(m) => Ok(Secret::new(format!("Bearer {}", m.access_token().await?.expose()))),
        }
    }

    /// Sends one logical request, retrying as the policy allows. Returns
    /// the JSON body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        rest: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        repeat: Repeat,
    ) -> Result<Value, Error> {
        let request = Request { method: &method, rest, query, body, answers: &[] };
        self.call_answering(request, repeat).await.map(|(_, v)| v)
    }

    /// [`Self::call`] for an operation whose error statuses in
    /// `request.answers` carry results to read rather than one error (the
    /// bulk create's 400 lists each element's error). Returns the status
    /// with the body.
    pub(crate) async fn call_answering(
        &self,
        request: Request<'_>,
        repeat: Repeat,
    ) -> Result<(StatusCode, Value), Error> {
        let (mut rate_tries, mut server_tries, mut net_tries) = (0, 0, 0);
        let mut refreshed = false;
        loop {
            self.limiter.acquire().await;
            let authorization = self.authorization().await?;
            let err = match self.send_once(&request, &authorization).await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            let tries = match &err {
                Error::Unauthorized => match &self.auth {
                    Auth::OAuth(m) if !refreshed => {
                        refreshed = true;
                        let stale = authorization.expose().trim_start_matches("Bearer ").to_string();
                        m.refresh(Some(&Secret::new(stale))).await?;
                        continue;
                    }
                    _ => return Err(err),
                },
                Error::RateLimited { .. } => &mut rate_tries,
                _ if repeat == Repeat::NotBlindly => return Err(err),
                Error::Server { .. } => &mut server_tries,
                Error::Timeout | Error::Network(_) => &mut net_tries,
                _ => return Err(err),
            };
            *tries += 1;
            if !self.policy.allows_retry(&err, *tries) {
                return Err(err);
            }
            match &err {
                Error::RateLimited { retry_after } => {
                    if let Some(asked) = retry_after {
                        crate::metrics::jira_retry_after_waited(self.connection_id, *asked);
                    }
                    let wait = retry_after.unwrap_or_else(|| self.policy.backoff(*tries));
                    tracing::debug!(wait_ms = wait.as_millis() as u64, "Jira rate limited us; pausing the connection");
                    self.limiter.pause_for(wait);
                }
                _ => {
                    let wait = self.policy.backoff(*tries);
                    tracing::debug!(error = %err, wait_ms = wait.as_millis() as u64, "retrying a Jira request");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn send_once(&self, request: &Request<'_>, authorization: &Secret) -> Result<(StatusCode, Value), Error> {
        let Request { method, rest, query, body, answers } = *request;
        let mut auth = HeaderValue::from_str(authorization.expose())
            .map_err(|_| Error::Config("credentials contain characters not allowed in a header".into()))?;
        auth.set_sensitive(true);
        let mut rb = self
            .http
            .request(method.clone(), self.url(rest))
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json")
            .timeout(self.timeout);
        if !query.is_empty() {
            rb = rb.query(query);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let started = std::time::Instant::now();
        let answer = async {
            let resp = rb.send().await?;
            let (status, headers) = (resp.status(), resp.headers().clone());
            Ok::<_, reqwest::Error>((status, headers, resp.bytes().await?))
        };
        let (status, headers, bytes) = match answer.await {
            Ok(answer) => answer,
            Err(e) => return self.observed(method, None, Err(transport_error(e)), started),
        };
        tracing::debug!(%method, resource = rest.split('/').next().unwrap_or(""), status = status.as_u16(), "Jira call");
        let result = if !status.is_success() && !answers.contains(&status) {
            Err(error_from(status, &headers, &bytes))
        } else if bytes.iter().all(u8::is_ascii_whitespace) {
            Ok(Value::Null)
        } else {
            serde_json::from_slice(&bytes).map_err(|e| Error::Decode(format!("{method} {rest}: {e}")))
        };
        self.observed(method, Some(status), result.map(|v| (status, v)), started)
    }

    /// Records one attempt's metrics (`status` is `None` when no answer
    /// came) and passes its result on.
    fn observed<T>(
        &self,
        method: &Method,
        status: Option<StatusCode>,
        result: Result<T, Error>,
        started: std::time::Instant,
    ) -> Result<T, Error> {
        let class = match (&status, &result) {
            (Some(status), _) => crate::metrics::status_class(status.as_u16()),
            (None, Err(Error::Timeout)) => "timeout",
            (None, _) => "network",
        };
        crate::metrics::jira_request(self.connection_id, method.as_str(), class, started.elapsed());
        if let Err(e) = &result {
            crate::metrics::jira_error(self.connection_id, e.class());
            if matches!(e, Error::RateLimited { .. }) {
                crate::metrics::jira_rate_limited(self.connection_id);
            }
        }
        result
    }
}

fn transport_error(e: reqwest::Error) -> Error {
    if e.is_timeout() { Error::Timeout } else { Error::Network(e.without_url().to_string()) }
}

/// How long Jira asked us to wait: `Retry-After` in seconds (Jira sends
/// seconds, not an HTTP date), else the time until `X-RateLimit-Reset`,
/// which Jira sends as an ISO-8601 time (NOTES.md item 10), not epoch
/// seconds as the spec's Appendix B assumes.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(secs) = header("retry-after").and_then(|v| v.parse::<f64>().ok()) {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let reset = chrono::DateTime::parse_from_rfc3339(header("x-ratelimit-reset")?).ok()?;
    (reset.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

/// Jira's ErrorCollection (`errorMessages`, `errors`) as one message plus
/// the per-field complaints.
fn messages(v: &Value) -> (String, std::collections::BTreeMap<String, String>) {
    let mut parts: Vec<String> =
        v["errorMessages"].as_array().into_iter().flatten().filter_map(|m| m.as_str().map(str::to_owned)).collect();
    let fields: std::collections::BTreeMap<String, String> = v["errors"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, m)| (k.clone(), m.as_str().map_or_else(|| m.to_string(), str::to_owned)))
        .collect();
    parts.extend(fields.iter().map(|(k, m)| format!("{k}: {m}")));
    (parts.join("; "), fields)
}

/// The typed error for a non-2xx answer.
pub fn error_from(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let collection: Value = serde_json::from_slice(body).unwrap_or_default();
    typed_error(status, retry_after(headers), &collection)
}

/// The typed error for a status and an `ErrorCollection` already parsed,
/// such as one element's `elementErrors` in a bulk answer: the same error
/// a request of its own would have got.
pub fn error_from_collection(status: StatusCode, collection: &Value) -> Error {
    typed_error(status, None, collection)
}

fn typed_error(status: StatusCode, wait: Option<Duration>, collection: &Value) -> Error {
    let (message, fields) = messages(collection);
    let message = if message.is_empty() { status.canonical_reason().unwrap_or("").to_string() } else { message };
    match status.as_u16() {
        429 => Error::RateLimited { retry_after: wait },
        503 if wait.is_some() => Error::RateLimited { retry_after: wait },
        s @ 500..=599 => Error::Server { status: s, message },
        401 => Error::Unauthorized,
        403 => Error::Forbidden(message),
        404 => Error::NotFound(message),
        409 => Error::Conflict(message),
        s => Error::Invalid { status: s, message, fields },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, headers: &[(&'static str, &'static str)], body: &str) -> Error {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_static(v));
        }
        error_from(StatusCode::from_u16(status).unwrap(), &h, body.as_bytes())
    }

    #[test]
    fn statuses_become_the_error_kinds_the_queue_branches_on() {
        let e = err(429, &[("retry-after", "3")], "");
        assert!(matches!(e, Error::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(3)));
        assert!(matches!(err(503, &[("retry-after", "1")], ""), Error::RateLimited { .. }));
        assert!(matches!(err(503, &[], ""), Error::Server { status: 503, .. }));
        let reset = (chrono::Utc::now() + chrono::Duration::seconds(30)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap());
        let Error::RateLimited { retry_after: Some(wait) } = error_from(StatusCode::TOO_MANY_REQUESTS, &h, b"") else {
            panic!("no wait from X-RateLimit-Reset")
        };
        assert!(wait > Duration::from_secs(28) && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(matches!(err(401, &[], ""), Error::Unauthorized));
        assert!(matches!(err(404, &[], ""), Error::NotFound(_)));
        let invalid = err(400, &[], r#"{"errorMessages":["Bad"],"errors":{"summary":"Field is required"}}"#);
        let Error::Invalid { status: 400, message, fields } = invalid else { panic!("not Invalid") };
        assert_eq!(message, "Bad; summary: Field is required");
        assert_eq!(fields["summary"], "Field is required");
    }
}
