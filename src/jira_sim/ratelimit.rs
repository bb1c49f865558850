//! Rate limiting as Jira Cloud answers it: a token bucket per account
//! (capacity and refill = the configured requests/s); over budget, 429 with
//! `Retry-After` (seconds), `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
//! `X-RateLimit-Reset` (ISO-8601, not epoch) and `RateLimit-Reason`.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use hyper::StatusCode;
use hyper::header::HeaderValue;

use super::clock::iso_time;
use super::http::{Resp, error_collection, json_response};

#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<String, (f64, Instant)>,
}

/// The outcome for one request.
pub enum Decision {
    Allowed { remaining: u32 },
    Limited { retry_after_secs: u64 },
}

impl RateLimiter {
    /// Takes one token from `account`'s bucket of `limit` tokens per second.
    pub fn check(&mut self, account: &str, limit: u32) -> Decision {
        let now = Instant::now();
        let cap = f64::from(limit.max(1));
        let (tokens, last) = self.buckets.entry(account.to_string()).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * cap).min(cap);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Decision::Allowed { remaining: *tokens as u32 }
        } else {
            let wait = (1.0 - *tokens) / cap;
            Decision::Limited { retry_after_secs: wait.ceil().max(1.0) as u64 }
        }
    }

    pub fn reset(&mut self) {
        self.buckets.clear();
    }
}

/// The 429 Jira sends. `reason` is one of Atlassian's `RateLimit-Reason`
/// values (`jira-burst-based`, `jira-quota-tenant-based`, …).
pub fn too_many_requests(limit: u32, retry_after_secs: u64, now: DateTime<Utc>, reason: &'static str) -> Resp {
    let body = error_collection(vec!["Rate limit exceeded.".into()], Default::default());
    let mut resp = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
    // Saturates: a fault may ask for an absurd Retry-After.
    let wait = i64::try_from(retry_after_secs).ok().and_then(Duration::try_seconds);
    let reset = iso_time(wait.and_then(|w| now.checked_add_signed(w)).unwrap_or(DateTime::<Utc>::MAX_UTC));
    let h = resp.headers_mut();
    let num = |n: u64| HeaderValue::from_str(&n.to_string()).unwrap_or(HeaderValue::from_static("0"));
    h.insert("Retry-After", num(retry_after_secs));
    h.insert("X-RateLimit-Limit", num(u64::from(limit)));
    h.insert("X-RateLimit-Remaining", HeaderValue::from_static("0"));
    h.insert("X-RateLimit-Reset", HeaderValue::from_str(&reset).unwrap_or(HeaderValue::from_static("")));
    h.insert("RateLimit-Reason", HeaderValue::from_static(reason));
    resp
}

/// Headers on allowed responses, so clients can slow down before a 429.
pub fn annotate(resp: &mut Resp, limit: u32, remaining: u32) {
    let h = resp.headers_mut();
    h.insert("X-RateLimit-Limit", HeaderValue::from(limit));
    h.insert("X-RateLimit-Remaining", HeaderValue::from(remaining));
    if f64::from(remaining) < f64::from(limit) * 0.2 {
        h.insert("X-RateLimit-NearLimit", HeaderValue::from_static("true"));
    }
}
