//! Typed webhook deliveries, in the form Jira sends them: REST v2 fields
//! (description is wiki markup), `changelog.id` a string, items keyed by
//! `fieldId`. Only what the sync reads is typed; `fields` stays a map so
//! custom fields can be looked up by their `customfield_NNNNN` id.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One webhook delivery.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    /// Milliseconds since the epoch, when Jira made the event.
    pub timestamp: Option<i64>,
    pub webhook_event: String,
    #[serde(rename = "issue_event_type_name")]
    pub issue_event_type_name: Option<String>,
    pub user: Option<JiraUser>,
    pub issue: Option<WebhookIssue>,
    pub changelog: Option<Changelog>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraUser {
    /// Cloud's id of a person.
    pub account_id: Option<String>,
    /// Data Center's user name and key.
    pub name: Option<String>,
    pub key: Option<String>,
    pub display_name: Option<String>,
    pub email_address: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookIssue {
    pub id: String,
    pub key: String,
    #[serde(rename = "self")]
    pub self_url: Option<String>,
    #[serde(default)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Changelog {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub items: Vec<ChangeItem>,
}

/// One changed field. Logic keys on `field_id`; `field` is a display name.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeItem {
    pub field: String,
    pub fieldtype: Option<String>,
    pub field_id: Option<String>,
    pub from: Option<String>,
    pub from_string: Option<String>,
    pub to: Option<String>,
    pub to_string: Option<String>,
}

/// What a delivery is about, from `webhookEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    IssueCreated,
    IssueUpdated,
    IssueDeleted,
    /// Comments, links, worklogs, projects…: stored, not synced.
    Other(String),
}

impl EventKind {
    pub fn parse(webhook_event: &str) -> Self {
        match webhook_event {
            "jira:issue_created" => Self::IssueCreated,
            "jira:issue_updated" => Self::IssueUpdated,
            "jira:issue_deleted" => Self::IssueDeleted,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl JiraUser {
    /// The id that `/myself` reports for the same account: Cloud's
    /// accountId, Data Center's key (or name).
    pub fn id(&self) -> Option<&str> {
        self.account_id.as_deref().or(self.key.as_deref()).or(self.name.as_deref())
    }
}

impl WebhookPayload {
    pub fn kind(&self) -> EventKind {
        EventKind::parse(&self.webhook_event)
    }

    /// The issue's `fields.updated`, parsed.
    pub fn issue_updated(&self) -> Option<DateTime<FixedOffset>> {
        let updated = self.issue.as_ref()?.fields.get("updated")?.as_str()?;
        parse_jira_time(updated)
    }
}

/// Jira's timestamps: `2024-10-08T16:38:03.790+0800` (offset without a
/// colon), also accepting RFC 3339.
pub fn parse_jira_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z").ok().or_else(|| DateTime::parse_from_rfc3339(s).ok())
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("expected a string or number, got {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_timestamps_with_and_without_colons_parse() {
        let t = parse_jira_time("2024-10-08T16:38:03.790+0800").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-10-08T16:38:03.790+08:00");
        assert!(parse_jira_time("2024-10-08T16:38:03.790+08:00").is_some());
        assert!(parse_jira_time("yesterday").is_none());
    }

    #[test]
    fn event_names_are_jiras_real_ones() {
        assert_eq!(EventKind::parse("jira:issue_updated"), EventKind::IssueUpdated);
        assert_eq!(EventKind::parse("issue:updated"), EventKind::Other("issue:updated".into()));
    }
}
