//! Issue operations: create (idempotent through the ARKHITEKTON ID), get,
//! edit, delete, transitions, search, issue links and field discovery.

use std::collections::HashSet;
use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::Error;
use super::client::{JiraClient, Repeat};
use super::connection::Flavor;
use super::fields::{FieldMap, names};
use super::requests::{self, IssueInput, jql_quote};
use super::workflow::MAX_HOPS;

/// What `POST /issue` answers (the part we keep).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreatedIssue {
    pub id: String,
    pub key: String,
}

/// One page of a search.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub issues: Vec<Value>,
    /// Where the next page starts, `None` on the last page.
    pub next: Option<PageCursor>,
}

/// Cloud pages by token, Data Center by offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageCursor {
    Token(String),
    StartAt(u64),
}

/// A transition as `GET /issue/{key}/transitions` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub to: TransitionTarget,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TransitionTarget {
    pub id: String,
    pub name: String,
    /// `new`, `indeterminate` or `done` (`statusCategory.key`), when given.
    #[serde(default, rename = "statusCategory", deserialize_with = "category_key")]
    pub status_category: Option<String>,
}

fn category_key<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.and_then(|c| c["key"].as_str().map(str::to_owned)))
}

/// Where [`JiraClient::move_to_status`] got: whether the issue moved, the
/// status it is in when known, and how the walk ended.
#[derive(Debug)]
pub struct StatusWalk {
    pub moved: bool,
    pub at: Option<String>,
    pub outcome: Result<(), Error>,
}

const SEARCH_PAGE: u32 = 50;

/// Parses a search answer of either flavour.
pub fn parse_search(flavor: Flavor, body: &Value, start_at: u64) -> Result<SearchPage, Error> {
    let issues = body["issues"].as_array().cloned().ok_or_else(|| Error::Decode("search: no `issues`".into()))?;
    let next = match flavor {
        Flavor::Cloud => body["nextPageToken"].as_str().filter(|_| body["isLast"] != Value::Bool(true)),
        Flavor::Datacenter => None,
    }
    .map(|t| PageCursor::Token(t.to_string()));
    let next = match flavor {
        Flavor::Cloud => next,
        Flavor::Datacenter => {
            let seen = start_at + issues.len() as u64;
            let total = body["total"].as_u64().unwrap_or(0);
            (!issues.is_empty() && seen < total).then_some(PageCursor::StartAt(seen))
        }
    };
    Ok(SearchPage { issues, next })
}

/// Parses `GET /issue/{key}/transitions`.
pub fn parse_transitions(body: &Value) -> Result<Vec<Transition>, Error> {
    serde_json::from_value(body["transitions"].clone()).map_err(|e| Error::Decode(format!("transitions: {e}")))
}

impl JiraClient {
    /// The site's field map, from the hour-long cache or `GET /field`.
    pub async fn field_map(&self) -> Result<Arc<FieldMap>, Error> {
        if let Some(map) = self.fields.fresh() {
            return Ok(map);
        }
        let body = self.call(Method::GET, "field", &[], None, Repeat::Safe).await?;
        Ok(self.fields.store(FieldMap::from_response(&body)?))
    }

    /// `GET /myself`: the integration account's id (`accountId` on Cloud,
    /// `key`/`name` on Data Center).
    pub async fn myself(&self) -> Result<String, Error> {
        let me = self.call(Method::GET, "myself", &[], None, Repeat::Safe).await?;
        ["accountId", "key", "name"]
            .iter()
            .find_map(|k| me[*k].as_str().map(str::to_owned))
            .ok_or_else(|| Error::Decode("myself: no account id".into()))
    }

    /// Creates an issue at most once. When `input` carries an ARKHITEKTON
    /// ID, an issue that already has it is returned instead; after an
    /// ambiguous failure (5xx, timeout), the lookup runs again before any
    /// new attempt, so a create that did happen is never repeated.
    pub async fn create_issue(&self, input: &IssueInput) -> Result<CreatedIssue, Error> {
        self.create(input, true).await
    }

    /// [`Self::create_issue`] for a caller that knows no earlier attempt
    /// can have reached Jira (it records its attempts), so the first lookup
    /// is skipped; an ambiguous failure is still looked up before a retry.
    pub async fn create_new_issue(&self, input: &IssueInput) -> Result<CreatedIssue, Error> {
        self.create(input, false).await
    }

    async fn create(&self, input: &IssueInput, look_first: bool) -> Result<CreatedIssue, Error> {
        let ark_id = input.arkhitekton_id().map(str::to_owned);
        if let Some(id) = ark_id.as_deref().filter(|_| look_first)
            && let Some(found) = self.find_by_arkhitekton_id(id).await?
        {
            return Ok(found);
        }
        let body = requests::issue_body(self.flavor, &*self.field_map().await?, input)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match self.call(Method::POST, "issue", &[], Some(&body), Repeat::NotBlindly).await {
                Ok(created) => {
                    return serde_json::from_value(created).map_err(|e| Error::Decode(format!("create: {e}")));
                }
                Err(e) => e,
            };
            let Some(id) = ark_id.as_deref().filter(|_| self.policy.allows_retry(&err, attempt)) else {
                return Err(err);
            };
            tokio::time::sleep(self.policy.backoff(attempt)).await;
            if let Some(found) = self.find_by_arkhitekton_id(id).await? {
                tracing::info!(key = %found.key, "a create that failed ambiguously had happened; not repeating it");
                return Ok(found);
            }
        }
    }

    /// The issue carrying this ARKHITEKTON ID, if any (exact match).
    pub async fn find_by_arkhitekton_id(&self, ark_id: &str) -> Result<Option<CreatedIssue>, Error> {
        let map = self.field_map().await?;
        let field = map.id(names::ARKHITEKTON_ID)?.to_string();
        let jql = format!("{} ~ {}", map.jql_clause(names::ARKHITEKTON_ID)?, jql_quote(ark_id));
        let page = self.search(&jql, &["key", field.as_str()], None).await?;
        let found = page.issues.iter().find(|i| i["fields"][&field].as_str() == Some(ark_id));
        Ok(found.and_then(|i| {
            Some(CreatedIssue { id: i["id"].as_str()?.to_string(), key: i["key"].as_str()?.to_string() })
        }))
    }

    /// `GET /issue/{key}` with `fields` (all when empty).
    pub async fn get_issue(&self, key: &str, fields: &[&str]) -> Result<Value, Error> {
        let query: Vec<(&str, String)> = if fields.is_empty() { vec![] } else { vec![("fields", fields.join(","))] };
        self.call(Method::GET, &format!("issue/{key}"), &query, None, Repeat::Safe).await
    }

    /// `PUT /issue/{key}`. Status is not a field: use [`Self::transition_to`].
    pub async fn edit_issue(&self, key: &str, input: &IssueInput) -> Result<(), Error> {
        let body = requests::issue_body(self.flavor, &*self.field_map().await?, input)?;
        self.call(Method::PUT, &format!("issue/{key}"), &[], Some(&body), Repeat::Safe).await.map(drop)
    }

    /// `DELETE /issue/{key}`; an issue already gone counts as deleted.
    pub async fn delete_issue(&self, key: &str) -> Result<(), Error> {
        match self.call(Method::DELETE, &format!("issue/{key}"), &[], None, Repeat::Safe).await {
            Ok(_) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn transitions(&self, key: &str) -> Result<Vec<Transition>, Error> {
        let body = self.call(Method::GET, &format!("issue/{key}/transitions"), &[], None, Repeat::Safe).await?;
        parse_transitions(&body)
    }

    /// Moves the issue to the status named `target` through the available
    /// transition leading there. No such transition, or Jira refusing it
    /// (400/409, e.g. a screen field is required), is a
    /// `TransitionUnavailable` that lists the statuses reachable instead.
    /// Already in `target`: nothing to do, returns false.
    pub async fn transition_to(&self, key: &str, target: &str) -> Result<bool, Error> {
        let available = self.transitions(key).await?;
        let reachable = || available.iter().map(|t| t.to.name.clone()).collect::<Vec<_>>();
        let Some(t) = available.iter().find(|t| t.to.name.eq_ignore_ascii_case(target) || t.to.id == target) else {
            let current = self.get_issue(key, &["status"]).await?;
            if current["fields"]["status"]["name"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(target)) {
                return Ok(false);
            }
            let (issue, target, reachable) = (key.to_string(), target.to_string(), reachable());
            return Err(Error::TransitionUnavailable { issue, target, reachable, detail: None });
        };
        let body = requests::transition_body(&t.id);
        match self.call(Method::POST, &format!("issue/{key}/transitions"), &[], Some(&body), Repeat::Safe).await {
            Ok(_) => Ok(true),
            Err(Error::Invalid { message, .. } | Error::Conflict(message)) => Err(Error::TransitionUnavailable {
                issue: key.to_string(),
                target: target.to_string(),
                reachable: reachable(),
                detail: Some(message),
            }),
            Err(e) => Err(e),
        }
    }

    /// Moves the issue to the status named `target`, through several
    /// transitions when no single one leads there (see [`super::workflow`]);
    /// `target_category` (`new`, `indeterminate`, `done`) steers the walk.
    /// A walk that cannot go on ends in `TransitionUnavailable`, with the
    /// status the issue was left in.
    pub async fn move_to_status(&self, key: &str, target: &str, target_category: Option<&str>) -> StatusWalk {
        let mut walk = StatusWalk { moved: false, at: None, outcome: Ok(()) };
        let mut visited = HashSet::new();
        for hop in 0..=MAX_HOPS {
            let available = match self.transitions(key).await {
                Ok(available) => available,
                Err(e) => return StatusWalk { outcome: Err(e), ..walk },
            };
            let direct = available.iter().any(|t| t.to.name.eq_ignore_ascii_case(target));
            if walk.at.is_none() && !direct {
                match self.get_issue(key, &["status"]).await {
                    Ok(issue) => walk.at = issue["fields"]["status"]["name"].as_str().map(str::to_owned),
                    Err(e) => return StatusWalk { outcome: Err(e), ..walk },
                }
                if walk.at.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(target)) {
                    return walk; // already there
                }
            }
            if let Some(current) = &walk.at {
                self.workflow.learn(current, &available);
                visited.insert(current.to_lowercase());
            }
            let current = walk.at.clone().unwrap_or_default();
            let step = (hop < MAX_HOPS)
                .then(|| self.workflow.next_step(&current, &available, target, target_category, &visited))
                .flatten();
            let Some(t) = step else {
                let reachable = available.iter().map(|t| t.to.name.clone()).collect();
                let (issue, target) = (key.to_string(), target.to_string());
                return StatusWalk {
                    outcome: Err(Error::TransitionUnavailable { issue, target, reachable, detail: None }),
                    ..walk
                };
            };
            let body = requests::transition_body(&t.id);
            match self.call(Method::POST, &format!("issue/{key}/transitions"), &[], Some(&body), Repeat::Safe).await {
                Ok(_) => {}
                Err(Error::Invalid { message, .. } | Error::Conflict(message)) => {
                    let reachable = available.iter().map(|t| t.to.name.clone()).collect();
                    let (issue, target) = (key.to_string(), target.to_string());
                    let detail = Some(message);
                    return StatusWalk {
                        outcome: Err(Error::TransitionUnavailable { issue, target, reachable, detail }),
                        ..walk
                    };
                }
                Err(e) => return StatusWalk { outcome: Err(e), ..walk },
            }
            walk.moved = true;
            walk.at = Some(t.to.name.clone());
            if t.to.name.eq_ignore_ascii_case(target) {
                return walk;
            }
        }
        unreachable!("the last hop always returns")
    }

    /// One page of a JQL search (`/search/jql` with `nextPageToken` on
    /// Cloud, `/search` with `startAt` on Data Center). JQL must be bounded.
    pub async fn search(&self, jql: &str, fields: &[&str], cursor: Option<&PageCursor>) -> Result<SearchPage, Error> {
        let (path, body, start) = match self.flavor {
            Flavor::Cloud => {
                let token = match cursor {
                    Some(PageCursor::Token(t)) => Some(t.as_str()),
                    _ => None,
                };
                ("search/jql", requests::search_jql_body(jql, fields, SEARCH_PAGE, token), 0)
            }
            Flavor::Datacenter => {
                let start = match cursor {
                    Some(PageCursor::StartAt(n)) => *n,
                    _ => 0,
                };
                ("search", requests::search_v2_body(jql, fields, SEARCH_PAGE, start), start)
            }
        };
        // A search only reads, so repeating it is safe although it is a POST.
        let answer = self.call(Method::POST, path, &[], Some(&body), Repeat::Safe).await?;
        parse_search(self.flavor, &answer, start)
    }

    /// Every issue matching `jql`, all pages.
    pub async fn search_all(&self, jql: &str, fields: &[&str]) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.search(jql, fields, cursor.as_ref()).await?;
            out.extend(page.issues);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// `POST /issueLink`, e.g. `("Relates", "PROJ-1", "PROJ-2")`.
    pub async fn link_issues(&self, link_type: &str, inward_key: &str, outward_key: &str) -> Result<(), Error> {
        let body = requests::issue_link_body(link_type, inward_key, outward_key);
        self.call(Method::POST, "issueLink", &[], Some(&body), Repeat::Safe).await.map(drop)
    }
}
