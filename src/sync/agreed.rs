//! What both sides last agreed on, in Jira's own representation.
//!
//! A mapping's `synced_fields` holds each synced field as both sides last
//! agreed on it, in ARKHITEKTON's form (API JSON, Markdown for rich text).
//! For the fields whose Jira form is not ours, it also holds a fingerprint
//! of the value **as Jira holds it**, under `"<field>@jira"`:
//!
//! - rich text: the ADF document (Cloud) or wiki markup (Data Center) we
//!   last pushed or read;
//! - people: the Jira user (`accountId` on Cloud, user name on Data Center)
//!   or nobody.
//!
//! "Jira changed field F" is then decided by comparing Jira's current value
//! with that fingerprint, never by comparing a lossy conversion of it with
//! our Markdown: a description nobody touched in Jira reads back as
//! unchanged however imperfectly Markdown can spell it, so it is never
//! written here (and a person's summary-only edit leaves it alone).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::mapping::person_field;

use crate::domain::EntityKind;
use crate::jira::adf;
use crate::jira::fields::{FieldMap, names};

/// The key of a field's Jira-side fingerprint in `synced_fields`.
pub fn jira_key(field: &str) -> String {
    format!("{field}@jira")
}

/// The fields (API JSON names) that hold rich text, with the name of the
/// Jira custom field behind each (`None`: Jira's own `description`).
pub fn rich_fields(kind: EntityKind) -> &'static [(&'static str, Option<&'static str>)] {
    match kind {
        EntityKind::UserStory => &[
            ("description", None),
            ("acceptanceCriteria", Some(names::ACCEPTANCE_CRITERIA)),
            ("relatedFiles", Some(names::RELATED_FILES)),
        ],
        EntityKind::Defect => &[
            ("description", None),
            ("rootCause", Some(names::ROOT_CAUSE)),
            ("resolutionNotes", Some(names::RESOLUTION_NOTES)),
        ],
        EntityKind::Epic => &[("description", None), ("businessValue", Some(names::BUSINESS_VALUE))],
    }
}

/// Whether the API field holds rich text (Markdown here, ADF or wiki there).
pub fn is_rich(name: &str) -> bool {
    ["description", "acceptanceCriteria", "rootCause", "resolutionNotes", "businessValue"].contains(&name)
}

/// The Jira-side fingerprints of what an issue's `fields` hold, for the
/// rich-text and people fields present in them, keyed by [`jira_key`].
pub fn of_issue(kind: EntityKind, fields: &Map<String, Value>, field_map: &FieldMap) -> Map<String, Value> {
    let mut out = Map::new();
    for &(ours, custom) in rich_fields(kind) {
        let id = match custom {
            None => Some("description"),
            Some(name) => field_map.get(name).map(|f| f.id.as_str()),
        };
        if let Some(value) = id.and_then(|id| fields.get(id)) {
            out.insert(jira_key(ours), Value::String(fingerprint(value)));
        }
    }
    if let Some(assignee) = fields.get("assignee") {
        out.insert(jira_key(person_field(kind)), Value::String(person_fingerprint(person_id(assignee))));
    }
    out
}

/// Jira's user id in an assignee value, `None` for nobody.
fn person_id(assignee: &Value) -> Option<&str> {
    ["accountId", "name"].iter().find_map(|k| assignee.get(*k).and_then(Value::as_str))
}

/// The fingerprint of a Jira user (by id) or of nobody.
pub fn person_fingerprint(id: Option<&str>) -> String {
    fingerprint(&id.map_or(Value::Null, |id| Value::String(id.to_owned())))
}

/// `values` (agreed fields in API JSON) with the Jira-side fingerprint of
/// each of them that `jira` (from [`of_issue`]) has.
pub fn with_fingerprints(values: &Map<String, Value>, jira: &Map<String, Value>) -> Map<String, Value> {
    let mut out = values.clone();
    for field in values.keys() {
        if let Some(fp) = jira.get(&jira_key(field)) {
            out.insert(jira_key(field), fp.clone());
        }
    }
    out
}

/// Whether Jira still holds, for API field `field`, the value both sides
/// last agreed on: `Some(true)` unchanged, `Some(false)` changed in Jira,
/// `None` not known (no fingerprint agreed yet, or Jira did not say).
pub fn unchanged_in_jira(field: &str, agreed: &Map<String, Value>, current: &Map<String, Value>) -> Option<bool> {
    let key = jira_key(field);
    Some(agreed.get(&key)?.as_str()? == current.get(&key)?.as_str()?)
}

/// A short, stable digest of a Jira value in canonical form: key order,
/// Jira's `localId`s, empty `attrs`/`marks`/`content` and line-ending or
/// trailing-space differences in wiki text do not count, and an empty
/// document, an empty string and null are one value (nothing).
pub fn fingerprint(value: &Value) -> String {
    let digest = Sha256::digest(adf::canonical(value).as_bytes());
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jira::connection::Flavor;
    use crate::jira::requests::rich_text;

    #[test]
    fn key_order_local_ids_and_empty_parts_do_not_count() {
        let a = json!({"type": "doc", "version": 1, "content": [
            {"type": "taskList", "attrs": {"localId": "a1"}, "content": [
                {"type": "taskItem", "attrs": {"localId": "b2", "state": "TODO"}, "content": [{"type": "text", "text": "x"}]}]},
            {"type": "paragraph", "content": [{"text": "y", "type": "text", "marks": []}]}]});
        let b = json!({"version": 1, "type": "doc", "content": [
            {"type": "taskList", "attrs": {"localId": "zz"}, "content": [
                {"type": "taskItem", "attrs": {"state": "TODO", "localId": "q"}, "content": [{"type": "text", "text": "x"}]}]},
            {"content": [{"type": "text", "text": "y"}], "type": "paragraph", "attrs": {}}]});
        assert_eq!(fingerprint(&a), fingerprint(&b));
    }

    #[test]
    fn any_change_of_text_marks_or_attributes_counts() {
        let doc = |text: &str, marks: Value| {
            json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
                {"type": "text", "text": text, "marks": marks}]}]})
        };
        let base = fingerprint(&doc("a b", json!([])));
        assert_ne!(base, fingerprint(&doc("a  b", json!([]))), "text is exact");
        assert_ne!(base, fingerprint(&doc("a b", json!([{"type": "strong"}]))));
        let panel = |kind: &str| {
            json!({"type": "doc", "version": 1, "content": [{"type": "panel",
            "attrs": {"panelType": kind}, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "p"}]}]}]})
        };
        assert_ne!(fingerprint(&panel("info")), fingerprint(&panel("warning")));
    }

    #[test]
    fn nothing_has_one_fingerprint() {
        let empty = fingerprint(&Value::Null);
        assert_eq!(fingerprint(&json!("")), empty);
        assert_eq!(fingerprint(&json!(" \n")), empty);
        assert_eq!(fingerprint(&json!({"type": "doc", "version": 1, "content": []})), empty);
        // An empty description, as it is sent to either flavour.
        assert_eq!(fingerprint(&rich_text(Flavor::Cloud, "")), empty);
        assert_eq!(fingerprint(&rich_text(Flavor::Datacenter, "")), empty);
    }

    #[test]
    fn wiki_text_ignores_line_endings_and_trailing_spaces() {
        assert_eq!(fingerprint(&json!("h1. T\r\n* a  \r\n")), fingerprint(&json!("h1. T\n* a")));
        assert_ne!(fingerprint(&json!("* a")), fingerprint(&json!("* b")));
    }

    #[test]
    fn a_field_is_unchanged_only_when_both_fingerprints_are_known_and_equal() {
        let agreed: Map<String, Value> = [(jira_key("description"), json!("f1"))].into_iter().collect();
        let same: Map<String, Value> = [(jira_key("description"), json!("f1"))].into_iter().collect();
        let other: Map<String, Value> = [(jira_key("description"), json!("f2"))].into_iter().collect();
        assert_eq!(unchanged_in_jira("description", &agreed, &same), Some(true));
        assert_eq!(unchanged_in_jira("description", &agreed, &other), Some(false));
        assert_eq!(unchanged_in_jira("description", &Map::new(), &same), None);
        assert_eq!(unchanged_in_jira("title", &agreed, &same), None);
    }
}
