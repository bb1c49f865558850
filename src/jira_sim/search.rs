//! Search: Cloud's `/rest/api/3/search/jql` (bounded JQL, `nextPageToken`,
//! fields default to `id`) and Data Center's `/rest/api/2/search`
//! (`startAt`, `total`, fields default to all navigable fields).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::http::{ApiError, ApiResult, Req, json_response};
use super::issues::{FieldFilter, add_expansions};
use super::jql::{self, Query};
use super::render::View;
use super::state::{Sim, lock};
use super::store::Issue;

/// Search parameters from either the query string (GET) or the body (POST).
struct Params {
    jql: String,
    fields: Vec<String>,
    expand: String,
    max_results: Option<u64>,
    next_page_token: Option<String>,
    start_at: u64,
}

fn params(req: &Req) -> Result<Params, ApiError> {
    if req.method == Method::GET {
        let fields = req.param("fields").map(|f| f.split(',').map(str::to_string).collect()).unwrap_or_default();
        return Ok(Params {
            jql: req.param("jql").unwrap_or("").to_string(),
            fields,
            expand: req.param("expand").unwrap_or("").to_string(),
            max_results: req.param("maxResults").and_then(|m| m.parse().ok()),
            next_page_token: req.param("nextPageToken").map(str::to_string),
            start_at: req.param("startAt").and_then(|m| m.parse().ok()).unwrap_or(0),
        });
    }
    let body = req.json()?;
    let strings = |k: &str| -> Vec<String> {
        body.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    Ok(Params {
        jql: body.get("jql").and_then(Value::as_str).unwrap_or("").to_string(),
        fields: strings("fields"),
        expand: body.get("expand").and_then(Value::as_str).unwrap_or("").to_string(),
        max_results: body.get("maxResults").and_then(Value::as_u64),
        next_page_token: body.get("nextPageToken").and_then(Value::as_str).map(str::to_string),
        start_at: body.get("startAt").and_then(Value::as_u64).unwrap_or(0),
    })
}

fn parse_query(sim: &Sim, jql: &str) -> Result<Query, ApiError> {
    let query = jql::parse(jql, sim.clock.now()).map_err(ApiError::bad_request)?;
    for key in query.project_keys() {
        if sim.project_key(key).is_none() {
            return Err(ApiError::bad_request(format!("The value '{key}' does not exist for the field 'project'.")));
        }
    }
    Ok(query)
}

fn encode_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_token(token: &str) -> Result<usize, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| ApiError::bad_request("The provided next page token is invalid or expired."))?;
    String::from_utf8_lossy(&bytes)
        .strip_prefix("offset:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ApiError::bad_request("The provided next page token is invalid or expired."))
}

/// Cloud `POST|GET /rest/api/3/search/jql`.
pub fn search_jql(sim: &Sim, req: &Req) -> ApiResult {
    let p = params(req)?;
    let query = parse_query(sim, &p.jql)?;
    if !query.is_bounded() {
        return Err(ApiError::bad_request(
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        ));
    }
    let filter =
        FieldFilter::parse(p.fields.iter().map(String::as_str).chain(p.fields.is_empty().then_some("id")), false);
    let cap = if filter.id_only() { 5000 } else { 100 };
    let max = p.max_results.unwrap_or(50).clamp(1, cap) as usize;
    let offset = p.next_page_token.as_deref().map(decode_token).transpose()?.unwrap_or(0);
    let horizon = index_horizon(sim);
    let store = lock(&sim.store);
    let view = View { sim, version: 3 };
    let hits = matching(horizon, &store, &query);
    let page: Vec<Value> =
        hits.iter().skip(offset).take(max).map(|i| issue_entry(&view, &store, i, &filter, &p.expand)).collect();
    let next = offset.saturating_add(max);
    let mut body = json!({ "issues": page, "isLast": next >= hits.len() });
    if next < hits.len() {
        body["nextPageToken"] = json!(encode_token(next));
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// Data Center `GET|POST /rest/api/2/search`.
pub fn search_v2(sim: &Sim, req: &Req) -> ApiResult {
    let p = params(req)?;
    let query = parse_query(sim, &p.jql)?;
    let filter = FieldFilter::parse(p.fields.iter().map(String::as_str), true);
    let max = p.max_results.unwrap_or(50).min(1000) as usize;
    let start = p.start_at as usize;
    let horizon = index_horizon(sim);
    let store = lock(&sim.store);
    let view = View { sim, version: 2 };
    let hits = matching(horizon, &store, &query);
    let page: Vec<Value> =
        hits.iter().skip(start).take(max).map(|i| issue_entry(&view, &store, i, &filter, &p.expand)).collect();
    let body =
        json!({ "expand": "schema,names", "startAt": start, "maxResults": max, "total": hits.len(), "issues": page });
    Ok(json_response(StatusCode::OK, &body))
}

/// How far the (simulated) search index has caught up: issues created
/// after this are not found yet (the `searchLagMs` fault; none by default).
fn index_horizon(sim: &Sim) -> DateTime<Utc> {
    let lag_ms = i64::try_from(lock(&sim.faults).search_lag_ms).unwrap_or(i64::MAX);
    if lag_ms == 0 {
        // Write times may run a millisecond or so ahead of the clock.
        return DateTime::<Utc>::MAX_UTC;
    }
    let lag = TimeDelta::try_milliseconds(lag_ms).unwrap_or(TimeDelta::MAX);
    sim.clock.now().checked_sub_signed(lag).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Matching issues the index already holds, in the query's order.
fn matching<'a>(horizon: DateTime<Utc>, store: &'a super::store::Store, query: &Query) -> Vec<&'a Issue> {
    let indexed = |i: &&Issue| i.created <= horizon;
    let mut hits: Vec<&Issue> = store.issues.values().filter(indexed).filter(|i| query.matches(i)).collect();
    query.sort(&mut hits);
    hits
}

fn issue_entry(view: &View, store: &super::store::Store, issue: &Issue, filter: &FieldFilter, expand: &str) -> Value {
    if filter.id_only() && expand.is_empty() {
        return json!({ "id": issue.id.to_string() });
    }
    let mut v = view.issue(store, issue, &|f| filter.includes(f));
    add_expansions(view, store, issue, expand, &mut v);
    v
}
