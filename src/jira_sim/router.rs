//! Routing: every request goes admin → OAuth endpoints → authentication →
//! rate limit → injected faults → the REST resource, matched on method and
//! path segments. Each API request is written to the request log.

use std::sync::Arc;
use std::time::Instant;

use hyper::{Method, StatusCode};
use serde_json::json;

use super::auth::{self, Actor};
use super::config::Flavor;
use super::faults::{self, Injected};
use super::http::{ApiError, ApiResult, Req, Resp, json_response};
use super::ratelimit::{self, Decision};
use super::render::View;
use super::reqlog::LogEntry;
use super::state::{Sim, lock};
use super::{admin, bulk, catalog, issues, meta, oauth, search, transitions, users, webhooks};

pub async fn handle(sim: Arc<Sim>, req: Req) -> Resp {
    if req.path.starts_with("/_sim/") {
        return admin::handle(&sim, &req);
    }
    let started = Instant::now();
    let (resp, user) = api(&sim, &req).await;
    log(&sim, &req, &resp, user, started);
    resp
}

fn log(sim: &Sim, req: &Req, resp: &Resp, user: Option<String>, started: Instant) {
    let retry_after = resp.headers().get("Retry-After").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let entry = LogEntry {
        seq: 0,
        method: req.method.to_string(),
        path: req.path.clone(),
        query: req.query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"),
        status: resp.status().as_u16(),
        received: super::clock::iso_time(req.received),
        received_ms: req.received.timestamp_millis(),
        user,
        retry_after,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    lock(&sim.log).push(entry);
}

/// Runs the API pipeline; returns the response and the caller's email.
async fn api(sim: &Sim, req: &Req) -> (Resp, Option<String>) {
    let segs = req.segments();
    let cloud = sim.config.flavor == Flavor::Cloud;
    match (&req.method, segs.as_slice()) {
        (&Method::GET, ["authorize"]) if cloud => {
            return (unwrap(oauth::authorize(sim, req)), None);
        }
        (&Method::POST, ["oauth", "token"]) if cloud => {
            return (unwrap(oauth::token_endpoint(sim, req)), None);
        }
        (&Method::GET, ["oauth", "token", "accessible-resources"]) if cloud => {
            return (unwrap(oauth::accessible_resources(sim, req)), None);
        }
        _ => {}
    }
    let (oauth_path, rest) = match segs.as_slice() {
        ["ex", "jira", cloud_id, rest @ ..] if cloud => {
            if *cloud_id != sim.config.cloud_id {
                return (ApiError::NotFound("Site not found".into()).into_response(), None);
            }
            (true, rest)
        }
        rest => (false, rest),
    };
    let actor = match auth::authenticate(sim, req, oauth_path) {
        Ok(a) => a,
        Err(e) => return (e.into_response(), None),
    };
    let email = Some(actor.user.email.clone());
    let remaining = match throttle(sim, &actor) {
        Ok(remaining) => remaining,
        Err(resp) => return (*resp, email),
    };
    if let Some(resp) = inject(sim, req).await {
        return (resp, email);
    }
    let mut resp = unwrap(route(sim, &actor, req, rest));
    if let (Some(limit), Some(remaining)) = (sim.config.rate_limit, remaining) {
        ratelimit::annotate(&mut resp, limit, remaining);
    }
    (resp, email)
}

fn unwrap(r: ApiResult) -> Resp {
    r.unwrap_or_else(ApiError::into_response)
}

/// Spends one request of the caller's budget: `Ok(remaining)` (None when
/// unlimited) or the 429 to send.
fn throttle(sim: &Sim, actor: &Actor) -> Result<Option<u32>, Box<Resp>> {
    let Some(limit) = sim.config.rate_limit else {
        return Ok(None);
    };
    match lock(&sim.limiter).check(&actor.user.account_id, limit) {
        Decision::Allowed { remaining } => Ok(Some(remaining)),
        Decision::Limited { retry_after_secs } => {
            let now = sim.clock.now();
            Err(Box::new(ratelimit::too_many_requests(limit, retry_after_secs, now, "jira-burst-based")))
        }
    }
}

/// Added latency, then any injected error or forced 429.
async fn inject(sim: &Sim, req: &Req) -> Option<Resp> {
    let (latency, fault) = {
        let mut f = lock(&sim.faults);
        (f.latency_ms, f.for_request(&req.path))
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    match fault? {
        Injected::RateLimited(secs) => {
            let limit = sim.config.rate_limit.unwrap_or(100);
            Some(ratelimit::too_many_requests(limit, secs, sim.clock.now(), "jira-burst-based"))
        }
        Injected::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(ApiError::Status(status, faults::message_for(code).into()).into_response())
        }
    }
}

/// Matches `rest/api/{version}/…` for the flavour's version.
fn route(sim: &Sim, actor: &Actor, req: &Req, segs: &[&str]) -> ApiResult {
    let version = sim.api_version().to_string();
    let path = match segs {
        ["rest", "api", v, path @ ..] if *v == version => path,
        _ => return Err(ApiError::NotFound("Not found".into())),
    };
    if let Some(scope) = required_scope(&req.method, path)
        && !actor.has_scope(scope)
    {
        return Ok(oauth::scope_mismatch());
    }
    let user = &actor.user;
    let cloud = sim.config.flavor == Flavor::Cloud;
    match (&req.method, path) {
        (&Method::POST, ["issue"]) => issues::create(sim, user, req),
        (&Method::POST, ["issue", "bulk"]) => bulk::create(sim, user, req),
        (&Method::GET, ["issue", k]) => issues::get(sim, req, k),
        (&Method::PUT, ["issue", k]) => issues::edit(sim, user, req, k),
        (&Method::DELETE, ["issue", k]) => issues::delete(sim, user, req, k),
        (&Method::GET, ["issue", "createmeta", p, "issuetypes"]) => meta::issue_types(sim, req, p),
        (&Method::GET, ["issue", "createmeta", p, "issuetypes", t]) => meta::fields(sim, req, p, t),
        (&Method::GET, ["issue", k, "transitions"]) => transitions::list(sim, req, k),
        (&Method::POST, ["issue", k, "transitions"]) => transitions::perform(sim, user, req, k),
        (&Method::GET | &Method::POST, ["search", "jql"]) if cloud => search::search_jql(sim, req),
        (&Method::GET | &Method::POST, ["search"]) if !cloud => search::search_v2(sim, req),
        // Cloud removed the old search in 2025 and answers 410 Gone.
        (_, ["search"]) if cloud => Err(ApiError::Status(
            StatusCode::GONE,
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.".into(),
        )),
        (&Method::GET, ["field"]) => Ok(json_response(StatusCode::OK, &json!(catalog::fields_json(sim.config.flavor)))),
        (&Method::POST, ["issueLink"]) => issues::link(sim, user, req),
        (&Method::GET, ["myself"]) => {
            Ok(json_response(StatusCode::OK, &View { sim, version: sim.api_version() }.user(user, true)))
        }
        (&Method::GET, ["project", k]) => project(sim, k),
        (&Method::GET, ["user", "search"]) => users::search(sim, req),
        (&Method::POST, ["webhook"]) if cloud => webhooks::register(sim, actor, req),
        (&Method::GET, ["webhook"]) if cloud => webhooks::list(sim, actor, req),
        (&Method::DELETE, ["webhook"]) if cloud => webhooks::delete(sim, actor, req),
        (&Method::PUT, ["webhook", "refresh"]) if cloud => webhooks::refresh(sim, actor, req),
        (
            _,
            ["issue"]
            | ["issue", _]
            | ["issue", _, "transitions"]
            | ["field"]
            | ["myself"]
            | ["issueLink"]
            | ["user", "search"],
        ) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound("Not found".into())),
    }
}

/// The classic OAuth 2.0 scope an operation needs, as Atlassian documents
/// it per operation: a token granted less gets 401 on api.atlassian.com.
fn required_scope(method: &Method, path: &[&str]) -> Option<&'static str> {
    Some(match (method, path) {
        (_, ["webhook", ..]) => "manage:jira-webhook",
        (_, ["myself"] | ["user", ..]) => "read:jira-user",
        (&Method::GET, _) | (&Method::POST, ["search", ..]) => "read:jira-work",
        (&Method::POST | &Method::PUT | &Method::DELETE, _) => "write:jira-work",
        _ => return None,
    })
}

fn project(sim: &Sim, id_or_key: &str) -> ApiResult {
    let key = sim
        .project_key(id_or_key)
        .ok_or_else(|| ApiError::NotFound(format!("No project could be found with key '{id_or_key}'.")))?;
    let view = View { sim, version: sim.api_version() };
    let mut p = view.project(&key);
    let issue_types: Vec<_> = catalog::ISSUE_TYPES.iter().map(|t| view.issue_type(t.id)).collect();
    let extra = json!({
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "description": "", "lead": view.user(sim.integration_user(), false), "components": [],
        "issueTypes": issue_types, "assigneeType": "UNASSIGNED", "versions": [], "roles": {},
        "style": "classic", "isPrivate": false, "properties": {},
    });
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    Ok(json_response(StatusCode::OK, &p))
}
