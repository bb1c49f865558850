//! `GET /user/search`: people by name or e-mail.
//!
//! Cloud takes `query` (prefix of the display name's words or of the
//! e-mail address) or `accountId` (exact), and answers 400 with neither or
//! with both; a hidden e-mail address matches only when given in full.
//! Data Center takes `username` (prefix of the user name, display name
//! words or e-mail) and answers 400 without it. Both page with `startAt`
//! and `maxResults` and answer a plain list of users.

use hyper::StatusCode;
use serde_json::Value;

use super::config::{Flavor, SimUser};
use super::http::{ApiError, ApiResult, Req, json_response};
use super::render::{View, dc_user_name};
use super::state::Sim;

pub fn search(sim: &Sim, req: &Req) -> ApiResult {
    let found: Vec<&SimUser> = match sim.config.flavor {
        Flavor::Cloud => cloud_matches(sim, req)?,
        Flavor::Datacenter => {
            let wanted = req
                .param("username")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::bad_request("The username query parameter was not provided"))?;
            sim.config.users.iter().filter(|u| dc_matches(u, wanted)).collect()
        }
    };
    let start = req.param("startAt").and_then(|s| s.parse().ok()).unwrap_or(0usize);
    let max = req.param("maxResults").and_then(|s| s.parse().ok()).unwrap_or(50usize).min(1000);
    let view = View { sim, version: sim.api_version() };
    let page: Vec<Value> = found.into_iter().skip(start).take(max).map(|u| view.user(u, false)).collect();
    Ok(json_response(StatusCode::OK, &Value::Array(page)))
}

fn cloud_matches<'a>(sim: &'a Sim, req: &Req) -> Result<Vec<&'a SimUser>, ApiError> {
    let users = &sim.config.users;
    match (req.param("query").filter(|s| !s.is_empty()), req.param("accountId").filter(|s| !s.is_empty())) {
        (Some(_), Some(_)) => {
            Err(ApiError::bad_request("The query parameters 'query' and 'accountId' cannot be combined."))
        }
        (None, None) => {
            Err(ApiError::bad_request("One of the query parameters 'query', 'accountId' or 'property' is required."))
        }
        (None, Some(id)) => Ok(users.iter().filter(|u| u.account_id == id).collect()),
        (Some(q), None) => Ok(users.iter().filter(|u| cloud_matches_query(u, q)).collect()),
    }
}

fn cloud_matches_query(u: &SimUser, query: &str) -> bool {
    let q = query.to_lowercase();
    let email = u.email.to_lowercase();
    let email_hit = if u.email_hidden { email == q } else { email.starts_with(&q) };
    email_hit || name_words_match(&u.display_name, &q)
}

fn dc_matches(u: &SimUser, wanted: &str) -> bool {
    let q = wanted.to_lowercase();
    dc_user_name(u).to_lowercase().starts_with(&q)
        || u.email.to_lowercase().starts_with(&q)
        || name_words_match(&u.display_name, &q)
}

/// The display name, or one of its words, starts with `q` (lower case).
fn name_words_match(display_name: &str, q: &str) -> bool {
    let name = display_name.to_lowercase();
    name.starts_with(q) || name.split_whitespace().any(|w| w.starts_with(q))
}
