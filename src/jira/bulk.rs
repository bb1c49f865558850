//! Bulk create: up to 50 issues per `POST /issue/bulk` (`createIssues`;
//! REST v3 on Cloud, v2 on Data Center), each element exactly the body
//! [`requests::issue_body`] builds for a single create.
//!
//! Jira answers `CreatedIssues`: 201 when at least one issue was created,
//! 400 when none was. `errors[]` names each refused element by its index
//! (`failedElementNumber`, from 0) with the `ErrorCollection` a single
//! create would have got; `issues[]` lists the created issues in request
//! order. A created issue carries nothing that ties it to its element
//! (Atlassian's JRACLOUD-81005), so the created issues are matched, in
//! order, to the elements `errors[]` does not name; an answer whose counts
//! disagree cannot be mapped and is treated as unknown.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::Error;
use super::client::{JiraClient, Repeat, Request, error_from_collection};
use super::ops::CreatedIssue;
use super::requests::{self, IssueInput};

/// Jira creates "upto 50" issues per bulk request (`createIssues`).
pub const BULK_CREATE_LIMIT: usize = 50;

/// One input's outcome: its issue, or the error Jira gave that element.
pub type ElementResult = Result<CreatedIssue, Error>;

impl JiraClient {
    /// Creates `inputs` in calls of at most [`BULK_CREATE_LIMIT`], one
    /// after the other. Like [`Self::create_new_issue`], nothing is looked
    /// up first: the caller knows no earlier attempt reached Jira.
    ///
    /// `Ok(results)`: every call was answered, and `results[i]` is the
    /// outcome of `inputs[i]`: its created issue, or its own error, typed as
    /// a single create's would be (`Error::Invalid` with Jira's field
    /// errors for a 400). An input whose body cannot be built (a custom
    /// field the site lacks) gets that error and is not sent.
    ///
    /// `Err(e)`: a call failed as a whole, so which inputs exist is not
    /// known from here: earlier calls created theirs, the failed call may
    /// have created some (5xx, timeout, lost connection, an answer that
    /// cannot be mapped) or none (401, 403, a refusal), later calls were
    /// not sent. The caller treats every input as in doubt and looks it up
    /// (by ARKHITEKTON ID) before creating it again. A 429 is retried
    /// here, since Jira did nothing; an ambiguous failure is not, since a
    /// blind repeat could create issues twice.
    pub async fn create_new_issues(&self, inputs: &[IssueInput]) -> Result<Vec<ElementResult>, Error> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let map = self.field_map().await?;
        let mut outcomes: Vec<Option<ElementResult>> = Vec::with_capacity(inputs.len());
        let mut sendable = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            match requests::issue_body(self.flavor, &map, input) {
                Ok(body) => {
                    outcomes.push(None);
                    sendable.push((i, body));
                }
                Err(e) => outcomes.push(Some(Err(e))),
            }
        }
        for batch in sendable.chunks(BULK_CREATE_LIMIT) {
            let bodies: Vec<&Value> = batch.iter().map(|(_, body)| body).collect();
            let answered = self.send_bulk_create(&bodies).await?;
            for ((i, _), outcome) in batch.iter().zip(answered) {
                outcomes[*i] = Some(outcome);
            }
        }
        Ok(outcomes.into_iter().map(|o| o.expect("every input is either refused locally or sent")).collect())
    }

    /// One `POST /issue/bulk` of at most [`BULK_CREATE_LIMIT`] bodies.
    async fn send_bulk_create(&self, bodies: &[&Value]) -> Result<Vec<ElementResult>, Error> {
        let body = requests::bulk_create_body(bodies);
        let request = Request {
            method: &Method::POST,
            rest: "issue/bulk",
            query: &[],
            body: Some(&body),
            answers: &[StatusCode::BAD_REQUEST],
        };
        let (status, answer) = self.call_answering(request, Repeat::NotBlindly).await?;
        let outcomes = parse_bulk_created(status, &answer, bodies.len())?;
        let created = outcomes.iter().filter(|o| o.is_ok()).count();
        tracing::debug!(sent = bodies.len(), created, "Jira bulk create answered");
        Ok(outcomes)
    }
}

/// Maps a bulk create's answer (`status`, `CreatedIssues`) for `sent`
/// elements to one outcome per element, in request order. `Err` when the
/// answer refuses the request as a whole (an `ErrorCollection`, or an
/// error naming no element) or cannot be mapped.
pub fn parse_bulk_created(status: StatusCode, answer: &Value, sent: usize) -> Result<Vec<ElementResult>, Error> {
    let Some(errors) = answer.get("errors").and_then(Value::as_array) else {
        return Err(if status.is_success() {
            Error::Decode("bulk create: the answer has no `errors` list".into())
        } else {
            error_from_collection(status, answer)
        });
    };
    let mut outcomes: Vec<Option<ElementResult>> = (0..sent).map(|_| None).collect();
    for e in errors {
        let element_status = e["status"].as_u64().and_then(|s| u16::try_from(s).ok());
        let element_status = element_status.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(status);
        let error = error_from_collection(element_status, &e["elementErrors"]);
        let slot = e["failedElementNumber"].as_u64().and_then(|n| outcomes.get_mut(usize::try_from(n).ok()?));
        match slot {
            Some(slot) if slot.is_none() => *slot = Some(Err(error)),
            _ if !status.is_success() => return Err(error),
            _ => return Err(Error::Decode(format!("bulk create: an error names no element sent: {e}"))),
        }
    }
    let issues: Vec<CreatedIssue> = serde_json::from_value(answer.get("issues").cloned().unwrap_or_else(|| json!([])))
        .map_err(|e| Error::Decode(format!("bulk create: {e}")))?;
    let unrefused = outcomes.iter().filter(|o| o.is_none()).count();
    if issues.len() != unrefused {
        return Err(Error::Decode(format!(
            "bulk create: {} issues created for {unrefused} elements not refused",
            issues.len()
        )));
    }
    let mut created = issues.into_iter().map(Ok);
    Ok(outcomes.into_iter().map(|o| o.or_else(|| created.next()).expect("counted above")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(n: u32) -> Value {
        json!({ "id": format!("{}", 10000 + n), "key": format!("PROJ-{n}"), "self": "x" })
    }

    fn refused(n: u64, field: &str) -> Value {
        json!({ "status": 400, "failedElementNumber": n, "elementErrors": { "errorMessages": [], "errors": { field: "bad" } } })
    }

    fn keys(outcomes: &[ElementResult]) -> Vec<String> {
        outcomes
            .iter()
            .map(|o| match o {
                Ok(c) => c.key.clone(),
                Err(Error::Invalid { fields, .. }) => format!("invalid:{}", fields.keys().cloned().collect::<String>()),
                Err(e) => format!("other:{e}"),
            })
            .collect()
    }

    #[test]
    fn created_issues_fill_the_elements_not_refused_in_order() {
        let answer =
            json!({ "issues": [issue(1), issue(2)], "errors": [refused(1, "summary"), refused(3, "project")] });
        let outcomes = parse_bulk_created(StatusCode::CREATED, &answer, 4).unwrap();
        assert_eq!(keys(&outcomes), ["PROJ-1", "invalid:summary", "PROJ-2", "invalid:project"]);
    }

    #[test]
    fn an_all_refused_400_maps_each_element_and_a_whole_refusal_is_an_error() {
        let answer = json!({ "issues": [], "errors": [refused(1, "b"), refused(0, "a")] });
        let outcomes = parse_bulk_created(StatusCode::BAD_REQUEST, &answer, 2).unwrap();
        assert_eq!(keys(&outcomes), ["invalid:a", "invalid:b"]);
        let whole = json!({ "errors": [{ "status": 400, "elementErrors": { "errorMessages": ["too many"] } }] });
        let e = parse_bulk_created(StatusCode::BAD_REQUEST, &whole, 2).unwrap_err();
        assert!(matches!(&e, Error::Invalid { message, .. } if message == "too many"), "{e:?}");
        let collection = json!({ "errorMessages": ["nope"], "errors": {} });
        assert!(matches!(parse_bulk_created(StatusCode::BAD_REQUEST, &collection, 1), Err(Error::Invalid { .. })));
    }

    #[test]
    fn an_answer_that_cannot_be_mapped_is_not_guessed_at() {
        let short = json!({ "issues": [issue(1)], "errors": [] });
        assert!(matches!(parse_bulk_created(StatusCode::CREATED, &short, 2), Err(Error::Decode(_))));
        let twice = json!({ "issues": [issue(1)], "errors": [refused(0, "a"), refused(0, "b")] });
        assert!(matches!(parse_bulk_created(StatusCode::CREATED, &twice, 3), Err(Error::Decode(_))));
        let outside = json!({ "issues": [issue(1)], "errors": [refused(5, "a")] });
        assert!(matches!(parse_bulk_created(StatusCode::CREATED, &outside, 2), Err(Error::Decode(_))));
    }
}
