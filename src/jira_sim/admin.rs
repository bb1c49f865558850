//! The `/_sim/` admin API: faults, clock, reset and views for assertions.
//! It needs no credentials, is never rate limited, faulted or logged, and
//! exists only on the simulator (a client must never call it).
//!
//! | method + path | body / answer |
//! |---|---|
//! | `GET /_sim/health` | `{"ok":true}` |
//! | `GET /_sim/config` | flavour, base URL, cloud id, projects, users (email, token, accountId) |
//! | `GET /_sim/issues` | every issue in the flavour's REST form (all fields) |
//! | `GET /_sim/requests`, `DELETE` | request log: `{seq, method, path, query, status, received, receivedMs, user, retryAfter, durationMs}` |
//! | `GET /_sim/deliveries`, `DELETE` | webhook attempts: `{identifier, url, retry, status, error, at, outcome}` |
//! | `GET /_sim/faults`, `POST`, `DELETE` | the fault set (below); POST replaces it, DELETE clears it |
//! | `POST /_sim/clock/advance` | `{"seconds": n}` (or `minutes`, `hours`, `days`): moves the clock forward (expires tokens, webhooks) |
//! | `GET /_sim/clock` | `{"now": "2024-10-08T16:38:03.790+0000"}` |
//! | `POST /_sim/reset` | empties issues, logs, tokens, dynamic webhooks, faults; resets the clock |
//!
//! Fault set (`POST /_sim/faults`, every key optional):
//! ```json
//! { "errorRates": [{"status": 503, "rate": 0.1, "pathContains": "/issue"}],
//!   "failNext": {"status": 500, "count": 3, "pathContains": "/search"},
//!   "latencyMs": 200,
//!   "burst429": {"count": 5, "retryAfterSecs": 2},
//!   "searchLagMs": 2000,
//!   "webhooks": {"dropNext": 1, "dropRate": 0.0, "duplicateNext": 1, "duplicateRate": 0.0,
//!                "delayMs": 500, "reorder": true} }
//! ```

use chrono::Duration;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::clock::jira_time;
use super::faults::Faults;
use super::http::{ApiError, Req, Resp, json_response};
use super::oauth::OAuthState;
use super::render::View;
use super::state::{Sim, lock};
use super::store::Store;

pub fn handle(sim: &Sim, req: &Req) -> Resp {
    let segs = req.segments();
    let result = match (&req.method, &segs[1..]) {
        (&Method::GET, ["health"]) => Ok(json!({ "ok": true })),
        (&Method::GET, ["config"]) => Ok(config(sim)),
        (&Method::GET, ["issues"]) => Ok(issues(sim)),
        (&Method::GET, ["requests"]) => Ok(json!(lock(&sim.log).entries())),
        (&Method::DELETE, ["requests"]) => Ok(cleared(|| lock(&sim.log).clear())),
        (&Method::GET, ["deliveries"]) => Ok(json!(*lock(&sim.deliveries))),
        (&Method::DELETE, ["deliveries"]) => Ok(cleared(|| lock(&sim.deliveries).clear())),
        (&Method::GET, ["faults"]) => Ok(json!(*lock(&sim.faults))),
        (&Method::POST, ["faults"]) => set_faults(sim, req),
        (&Method::DELETE, ["faults"]) => Ok(cleared(|| *lock(&sim.faults) = Faults::default())),
        (&Method::GET, ["clock"]) => Ok(json!({ "now": jira_time(sim.clock.now()) })),
        (&Method::POST, ["clock", "advance"]) => advance(sim, req),
        (&Method::POST, ["reset"]) => Ok(cleared(|| reset(sim))),
        _ => Err(ApiError::NotFound("No such simulator admin endpoint".into())),
    };
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

fn cleared(f: impl FnOnce()) -> Value {
    f();
    json!({ "ok": true })
}

fn config(sim: &Sim) -> Value {
    let users: Vec<Value> = sim
        .config
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| json!({ "email": u.email, "token": u.token, "accountId": u.account_id, "displayName": u.display_name, "emailHidden": u.email_hidden, "integration": i == 0 }))
        .collect();
    json!({
        "flavor": sim.config.flavor, "baseUrl": sim.base_url, "cloudId": sim.config.cloud_id,
        "projects": sim.config.projects, "users": users,
        "oauthClients": sim.config.oauth_clients.iter().map(|c| c.client_id.clone()).collect::<Vec<_>>(),
    })
}

fn issues(sim: &Sim) -> Value {
    let store = lock(&sim.store);
    let view = View { sim, version: sim.api_version() };
    Value::Array(store.issues.values().map(|i| view.issue(&store, i, &|_| true)).collect())
}

fn set_faults(sim: &Sim, req: &Req) -> Result<Value, ApiError> {
    let faults: Faults =
        serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("invalid fault set: {e}")))?;
    *lock(&sim.faults) = faults;
    Ok(json!(*lock(&sim.faults)))
}

fn advance(sim: &Sim, req: &Req) -> Result<Value, ApiError> {
    let body = req.json()?;
    let invalid = || ApiError::bad_request("advance by a positive seconds/minutes/hours/days (at most 100 years)");
    let n = |k: &str| body.get(k).and_then(Value::as_i64).unwrap_or(0);
    let parts = [
        Duration::try_seconds(n("seconds")),
        Duration::try_minutes(n("minutes")),
        Duration::try_hours(n("hours")),
        Duration::try_days(n("days")),
    ];
    let by = parts.into_iter().try_fold(Duration::zero(), |sum, d| sum.checked_add(&d?)).ok_or_else(invalid)?;
    if by <= Duration::zero() || by > Duration::days(36_525) {
        return Err(invalid());
    }
    sim.clock.advance(by);
    Ok(json!({ "now": jira_time(sim.clock.now()) }))
}

fn reset(sim: &Sim) {
    *lock(&sim.store) = Store::new();
    *lock(&sim.faults) = Faults::default();
    *lock(&sim.oauth) = OAuthState::default();
    lock(&sim.hooks).dynamic.clear();
    lock(&sim.log).clear();
    lock(&sim.deliveries).clear();
    lock(&sim.limiter).reset();
    sim.clock.reset();
    let store = lock(&sim.store);
    sim.persist(&store);
}
