//! The bodies the client sends, built by pure functions so that a contract
//! test can check each against the request schema of its operation in
//! Atlassian's OpenAPI document without a network in between.

use serde_json::{Map, Value, json};

use super::Error;
use super::connection::Flavor;
use super::fields::{self, FieldMap, names};
use super::{adf, wiki};

/// A custom field's value, in the form our side holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Single-line text (`ARKHITEKTON ID`).
    Text(String),
    /// Multi-line text, in Markdown: ADF on Cloud, wiki markup on DC.
    Markdown(String),
    /// A select list's option.
    Option(String),
    Number(f64),
    /// Clears the field.
    Clear,
}

/// Who the issue is assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// Nobody: `"assignee": null`.
    Unassigned,
    /// A person known only by e-mail, not yet looked up: not sent.
    Email(String),
    /// A Jira user: `accountId` (Cloud) or user `name` (Data Center).
    User(String),
}

/// The issue fields arksync sets; `None` leaves a field alone on edit.
#[derive(Debug, Clone, Default)]
pub struct IssueInput {
    /// Create only.
    pub project_key: Option<String>,
    /// Create only: `Story`, `Bug`, `Epic`, `Task`.
    pub issue_type: Option<String>,
    pub summary: Option<String>,
    /// Markdown; converted to ADF (Cloud) or wiki markup (DC).
    pub description: Option<String>,
    pub labels: Option<Vec<String>>,
    /// Jira's priority name (Highest … Lowest, or the site's own scheme).
    pub priority: Option<String>,
    /// The epic: `parent` on Cloud, the Epic Link field on Data Center.
    pub epic_key: Option<String>,
    pub assignee: Option<Assignee>,
    /// Custom fields by their name in Jira (see [`names`]).
    pub custom: Vec<(String, FieldValue)>,
}

impl IssueInput {
    /// Sets the ARKHITEKTON ID, which makes creates findable (idempotent).
    pub fn with_arkhitekton_id(mut self, id: &str) -> Self {
        self.custom.push((names::ARKHITEKTON_ID.into(), FieldValue::Text(id.into())));
        self
    }

    pub fn arkhitekton_id(&self) -> Option<&str> {
        self.custom.iter().find_map(|(name, v)| match v {
            FieldValue::Text(t) if name.eq_ignore_ascii_case(names::ARKHITEKTON_ID) => Some(t.as_str()),
            _ => None,
        })
    }
}

/// Markdown in the flavour's rich-text form.
pub fn rich_text(flavor: Flavor, markdown: &str) -> Value {
    match flavor {
        Flavor::Cloud => adf::markdown_to_adf(markdown),
        Flavor::Datacenter => Value::String(wiki::markdown_to_wiki(markdown)),
    }
}

/// Rich text from Jira (ADF object or wiki string) as Markdown.
pub fn markdown_of(value: &Value) -> Option<String> {
    markdown_of_keeping(value, "")
}

/// Rich text from Jira as Markdown, keeping the blocks of `before` (the
/// field's Markdown until now) that Jira still holds unchanged.
pub fn markdown_of_keeping(value: &Value, before: &str) -> Option<String> {
    match value {
        Value::Object(_) => Some(adf::adf_to_markdown_keeping(value, before)),
        Value::String(s) => Some(wiki::wiki_to_markdown_keeping(s, before)),
        _ => None,
    }
}

fn field_value(flavor: Flavor, v: &FieldValue) -> Value {
    match v {
        FieldValue::Text(t) => json!(t),
        FieldValue::Markdown(md) => rich_text(flavor, md),
        FieldValue::Option(o) => json!({ "value": o }),
        FieldValue::Number(n) => json!(n),
        FieldValue::Clear => Value::Null,
    }
}

/// The `fields` object of a create or edit.
pub fn issue_fields(flavor: Flavor, map: &FieldMap, input: &IssueInput) -> Result<Map<String, Value>, Error> {
    let mut f = Map::new();
    if let Some(p) = &input.project_key {
        f.insert("project".into(), json!({ "key": p }));
    }
    if let Some(t) = &input.issue_type {
        f.insert("issuetype".into(), json!({ "name": t }));
    }
    if let Some(s) = &input.summary {
        f.insert("summary".into(), json!(s));
    }
    if let Some(d) = &input.description {
        f.insert("description".into(), rich_text(flavor, d));
    }
    if let Some(l) = &input.labels {
        f.insert("labels".into(), json!(l));
    }
    if let Some(p) = &input.priority {
        f.insert("priority".into(), json!({ "name": p }));
    }
    if let Some(epic) = &input.epic_key {
        match flavor {
            Flavor::Cloud => f.insert("parent".into(), json!({ "key": epic })),
            Flavor::Datacenter => f.insert(map.id(names::EPIC_LINK)?.to_string(), json!(epic)),
        };
    }
    let assignee = match &input.assignee {
        Some(Assignee::Unassigned) => Some(Value::Null),
        Some(Assignee::User(id)) => Some(user_ref(flavor, id)),
        Some(Assignee::Email(_)) | None => None,
    };
    if let Some(a) = assignee {
        f.insert("assignee".into(), a);
    }
    for (name, value) in &input.custom {
        let id = match map.id(name) {
            Ok(id) => id,
            Err(_) if names::OPTIONAL.iter().any(|o| o.eq_ignore_ascii_case(name)) => {
                fields::warn_missing_once(name);
                continue;
            }
            Err(e) => return Err(e),
        };
        f.insert(id.to_string(), field_value(flavor, value));
    }
    Ok(f)
}

/// A user in a request: Cloud knows people only by `accountId`, Data
/// Center by user `name`.
pub fn user_ref(flavor: Flavor, id: &str) -> Value {
    match flavor {
        Flavor::Cloud => json!({ "accountId": id }),
        Flavor::Datacenter => json!({ "name": id }),
    }
}

/// `POST /issue` and `PUT /issue/{key}`: `{"fields": {…}}`.
pub fn issue_body(flavor: Flavor, map: &FieldMap, input: &IssueInput) -> Result<Value, Error> {
    Ok(json!({ "fields": issue_fields(flavor, map, input)? }))
}

/// `POST /issue/bulk`: `{"issueUpdates": [...]}`, each element a body
/// [`issue_body`] built, unchanged.
pub fn bulk_create_body(issue_bodies: &[&Value]) -> Value {
    json!({ "issueUpdates": issue_bodies })
}

/// `POST /issue/{key}/transitions`.
pub fn transition_body(transition_id: &str) -> Value {
    json!({ "transition": { "id": transition_id } })
}

/// `POST /search/jql` (Cloud): the page after `next_page_token`.
pub fn search_jql_body(jql: &str, fields: &[&str], max_results: u32, next_page_token: Option<&str>) -> Value {
    let mut body = json!({ "jql": jql, "fields": fields, "maxResults": max_results });
    if let Some(t) = next_page_token {
        body["nextPageToken"] = json!(t);
    }
    body
}

/// `POST /rest/api/2/search` (Data Center): the page at `start_at`.
pub fn search_v2_body(jql: &str, fields: &[&str], max_results: u32, start_at: u64) -> Value {
    json!({ "jql": jql, "fields": fields, "maxResults": max_results, "startAt": start_at })
}

/// `POST /issueLink`: `outward` <link type's outward verb> `inward`.
pub fn issue_link_body(link_type: &str, inward_key: &str, outward_key: &str) -> Value {
    json!({ "type": { "name": link_type }, "inwardIssue": { "key": inward_key }, "outwardIssue": { "key": outward_key } })
}

/// `POST /webhook`: one registration for `events` on issues matching `jql`.
pub fn register_webhooks_body(url: &str, events: &[&str], jql: &str, field_ids: &[&str]) -> Value {
    let mut hook = json!({ "events": events, "jqlFilter": jql });
    if !field_ids.is_empty() {
        hook["fieldIdsFilter"] = json!(field_ids);
    }
    json!({ "url": url, "webhooks": [hook] })
}

/// `PUT /webhook/refresh` and `DELETE /webhook`.
pub fn webhook_ids_body(ids: &[i64]) -> Value {
    json!({ "webhookIds": ids })
}

/// JQL string literal: quotes and backslashes escaped.
pub fn jql_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
