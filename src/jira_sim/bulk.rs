//! `POST /issue/bulk` (`createIssues`): up to 50 creates in one request.
//!
//! Each element of `issueUpdates` goes through [`issues::create_one`], the
//! single create's own path: same validation, same keys, one
//! `jira:issue_created` webhook per created issue. The answer is
//! `CreatedIssues` as Atlassian's OpenAPI document gives it: `issues[]`
//! holds the created ones in request order, `errors[]` one
//! `BulkOperationErrorResult` per refused element (`failedElementNumber`
//! counts from 0, `elementErrors` is the `ErrorCollection` a single create
//! would have answered). 201 when at least one issue was created, 400 when
//! none was.
//!
//! The rate limiter and the fault injector run before routing, so a bulk
//! request costs one request of the budget and draws one fault, as in Jira.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::config::SimUser;
use super::http::{ApiError, ApiResult, Req, json_response};
use super::issues;
use super::state::Sim;

/// "Creates upto **50** issues" (`createIssues` in the OpenAPI document).
pub const MAX_ISSUES: usize = 50;

pub fn create(sim: &Sim, actor: &SimUser, req: &Req) -> ApiResult {
    let body = req.json()?;
    let Some(updates) = body.get("issueUpdates").and_then(Value::as_array) else {
        return Ok(refused("issueUpdates must be a list of issues to create."));
    };
    if updates.len() > MAX_ISSUES {
        return Ok(refused(&format!(
            "A bulk create takes at most {MAX_ISSUES} issues; this request has {}.",
            updates.len()
        )));
    }
    let mut issues = Vec::new();
    let mut errors = Vec::new();
    for (number, update) in updates.iter().enumerate() {
        match issues::create_one(sim, actor, update) {
            Ok(created) => issues.push(created),
            Err(e) => errors.push(element_error(Some(number), &e)),
        }
    }
    let status = if issues.is_empty() { StatusCode::BAD_REQUEST } else { StatusCode::CREATED };
    Ok(json_response(status, &json!({ "issues": issues, "errors": errors })))
}

/// A `BulkOperationErrorResult`: the element's number (none when the
/// request as a whole is refused), its status and its `ErrorCollection`.
fn element_error(number: Option<usize>, e: &ApiError) -> Value {
    let mut result = json!({ "status": e.status().as_u16(), "elementErrors": e.collection() });
    if let Some(n) = number {
        result["failedElementNumber"] = json!(n);
    }
    result
}

/// A request refused as a whole, nothing created. Atlassian documents no
/// body for this case; we keep to the operation's documented 400 schema
/// (`CreatedIssues`), with one error that names no element.
fn refused(message: &str) -> super::http::Resp {
    let error = element_error(None, &ApiError::bad_request(message));
    json_response(StatusCode::BAD_REQUEST, &json!({ "issues": [], "errors": [error] }))
}
