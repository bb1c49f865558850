//! Field mapping (spec "Field Mapping Rules"): a work item as Jira issue
//! fields, and Jira issue fields as a patch of a work item.
//!
//! Work items are handled in the API's JSON form (camelCase), so an inbound
//! patch goes through the same validation as a client's PATCH. Rich text is
//! compared in canonical form (Markdown that has been through Jira's format
//! and back), so an echo that changes nothing is seen as nothing.

use serde_json::{Map, Value, json};

use super::maps::ProjectMaps;
use crate::domain::EntityKind;
use crate::jira::connection::Flavor;
use crate::jira::fields::{FieldMap, names};
use crate::jira::requests::{Assignee, FieldValue, IssueInput, markdown_of, markdown_of_keeping};
use crate::jira::{adf, wiki};

/// The value written to the Sync Source field on every push.
pub const SYNC_SOURCE_VALUE: &str = "arkhitekton";
/// Jira's field name of the due date (epics' target date).
const DUE_DATE: &str = "Due date";

/// The fields the sync keeps equal on both sides, by API JSON name.
pub fn synced_fields(kind: EntityKind) -> &'static [&'static str] {
    match kind {
        EntityKind::UserStory => &[
            "title",
            "description",
            "labels",
            "status",
            "priority",
            "acceptanceCriteria",
            "storyPoints",
            "relatedFiles",
            "epicId",
            "assignee",
        ],
        EntityKind::Defect => &[
            "title",
            "description",
            "labels",
            "status",
            "severity",
            "defectType",
            "rootCause",
            "resolutionNotes",
            "assignee",
        ],
        EntityKind::Epic => &[
            "title",
            "description",
            "labels",
            "status",
            "priority",
            "valueStream",
            "businessValue",
            "targetDate",
            "owner",
        ],
    }
}

/// The item's synced fields and their values.
pub fn synced_values(kind: EntityKind, item: &Value) -> Map<String, Value> {
    synced_fields(kind).iter().map(|&f| (f.to_owned(), item[f].clone())).collect()
}

/// The synced fields whose value differs from what both sides last agreed
/// on (`agreed`); a field never agreed on counts as changed.
pub fn unsynced(kind: EntityKind, item: &Value, agreed: &Map<String, Value>, flavor: Flavor) -> Vec<String> {
    synced_fields(kind)
        .iter()
        .filter(|&&f| agreed.get(f).is_none_or(|old| !same(f, old, &item[f], flavor)))
        .map(|&f| f.to_owned())
        .collect()
}

/// A kind's select-list fields: API name, and the Jira field's name.
pub fn select_fields(kind: EntityKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        EntityKind::Defect => &[("defectType", names::DEFECT_TYPE)],
        EntityKind::Epic => &[("valueStream", names::VALUE_STREAM)],
        EntityKind::UserStory => &[],
    }
}

/// Fields pushed for an item: those `send` names (all synced fields on
/// creation), plus the ARKHITEKTON ID and the Sync Source marker, which
/// every push carries. `create_in` is the project on creation.
pub fn issue_input(
    kind: EntityKind,
    item: &Value,
    maps: &ProjectMaps,
    epic_key: Option<String>,
    create_in: Option<&str>,
    send: &dyn Fn(&str) -> bool,
) -> IssueInput {
    let text = |k: &str| item[k].as_str().map(str::to_owned);
    let markdown = |k: &str| text(k).map_or(FieldValue::Clear, FieldValue::Markdown);
    let mut input = IssueInput {
        project_key: create_in.map(str::to_owned),
        issue_type: create_in.map(|_| maps.issue_type(kind).to_owned()),
        summary: text("title").filter(|_| send("title")),
        description: send("description").then(|| text("description").unwrap_or_default()),
        labels: send("labels").then(|| labels(item).iter().map(|l| jira_label(l)).collect()),
        priority: text(priority_field(kind))
            .filter(|_| send(priority_field(kind)))
            .and_then(|p| maps.jira_priority(&p).map(str::to_owned)),
        epic_key: epic_key.filter(|_| send("epicId")),
        assignee: send(person_field(kind))
            .then(|| text(person_field(kind)).map_or(Assignee::Unassigned, Assignee::Email)),
        custom: Vec::new(),
    };
    let id = item["id"].as_str().unwrap_or_default();
    input = input.with_arkhitekton_id(id);
    input.custom.push((names::SYNC_SOURCE.into(), FieldValue::Option(SYNC_SOURCE_VALUE.into())));
    let mut custom: Vec<(&str, &str, FieldValue)> = select_fields(kind)
        .iter()
        .map(|&(api, jira_name)| (api, jira_name, text(api).map_or(FieldValue::Clear, FieldValue::Option)))
        .collect();
    match kind {
        EntityKind::UserStory => {
            custom.push(("acceptanceCriteria", names::ACCEPTANCE_CRITERIA, markdown("acceptanceCriteria")));
            let points = item["storyPoints"].as_f64().map_or(FieldValue::Clear, FieldValue::Number);
            custom.push(("storyPoints", names::STORY_POINTS, points));
            let files: Vec<String> = string_list(&item["relatedFiles"]);
            let files = if files.is_empty() {
                FieldValue::Clear
            } else {
                FieldValue::Markdown(serde_json::to_string(&files).expect("strings serialise"))
            };
            custom.push(("relatedFiles", names::RELATED_FILES, files));
        }
        EntityKind::Defect => {
            custom.push(("rootCause", names::ROOT_CAUSE, markdown("rootCause")));
            custom.push(("resolutionNotes", names::RESOLUTION_NOTES, markdown("resolutionNotes")));
        }
        EntityKind::Epic => {
            custom.push(("businessValue", names::BUSINESS_VALUE, markdown("businessValue")));
            custom.push(("targetDate", DUE_DATE, text("targetDate").map_or(FieldValue::Clear, FieldValue::Text)));
        }
    }
    input.custom.extend(custom.into_iter().filter(|(ours, _, _)| send(ours)).map(|(_, theirs, v)| (theirs.into(), v)));
    input
}

/// The item's person, Jira's assignee: epics have an owner instead.
pub fn person_field(kind: EntityKind) -> &'static str {
    if kind == EntityKind::Epic { "owner" } else { "assignee" }
}

/// The item's priority field: defects carry a severity instead.
fn priority_field(kind: EntityKind) -> &'static str {
    if kind == EntityKind::Defect { "severity" } else { "priority" }
}

fn labels(item: &Value) -> Vec<String> {
    string_list(&item["labels"])
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// Jira labels cannot hold spaces.
pub fn jira_label(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join("-")
}

/// What the issue's `fields` say about the item, in API JSON; only fields
/// present in `fields` appear (a webhook may carry a subset). Rich text
/// keeps the spelling of the blocks of `before` (the item as it is, or null
/// for a new one) that Jira still holds unchanged.
pub fn item_patch(
    kind: EntityKind,
    fields: &Map<String, Value>,
    field_map: &FieldMap,
    maps: &ProjectMaps,
    before: &Value,
) -> Map<String, Value> {
    let mut patch = Map::new();
    let markdown = |json_name: &str, v: &Value| markdown_of_keeping(v, before[json_name].as_str().unwrap_or(""));
    let custom = |name: &str| field_map.get(name).and_then(|f| fields.get(&f.id));
    if let Some(summary) = fields.get("summary").and_then(Value::as_str) {
        patch.insert("title".into(), json!(summary));
    }
    if let Some(d) = fields.get("description") {
        patch.insert("description".into(), json!(markdown("description", d).unwrap_or_default()));
    }
    if let Some(l) = fields.get("labels") {
        patch.insert("labels".into(), json!(string_list(l)));
    }
    if let Some(status) = fields.get("status").filter(|s| s.is_object()) {
        let name = status["name"].as_str().unwrap_or_default();
        if let Some(s) = maps.ark_status(name, status["statusCategory"]["key"].as_str()) {
            patch.insert("status".into(), json!(s));
        }
    }
    if let Some(p) = fields.get("priority").and_then(|p| p["name"].as_str()).and_then(|n| maps.ark_priority(n)) {
        patch.insert(priority_field(kind).into(), json!(p));
    }
    if let Some(email) = assignee_email(fields.get("assignee")) {
        patch.insert(person_field(kind).into(), email);
    }
    let mut rich = |json_name: &str, field: &str| {
        if let Some(v) = custom(field) {
            let md = markdown(json_name, v).filter(|m| !m.trim().is_empty());
            patch.insert(json_name.into(), md.map_or(Value::Null, Value::String));
        }
    };
    match kind {
        EntityKind::UserStory => {
            rich("acceptanceCriteria", names::ACCEPTANCE_CRITERIA);
            if let Some(v) = custom(names::STORY_POINTS) {
                patch.insert("storyPoints".into(), v.as_f64().map_or(Value::Null, |n| json!(n.round() as i64)));
            }
            if let Some(v) = custom(names::RELATED_FILES) {
                patch.insert("relatedFiles".into(), json!(related_files(v)));
            }
        }
        EntityKind::Defect => {
            rich("rootCause", names::ROOT_CAUSE);
            rich("resolutionNotes", names::RESOLUTION_NOTES);
            if let Some(v) = custom(names::DEFECT_TYPE) {
                patch.insert("defectType".into(), v["value"].as_str().map_or(Value::Null, |s| json!(s)));
            }
        }
        EntityKind::Epic => {
            rich("businessValue", names::BUSINESS_VALUE);
            if let Some(v) = custom(names::VALUE_STREAM) {
                patch.insert("valueStream".into(), v["value"].as_str().map_or(Value::Null, |s| json!(s)));
            }
            if let Some(v) = fields.get("duedate") {
                patch.insert("targetDate".into(), v.as_str().map_or(Value::Null, |s| json!(&s[..s.len().min(10)])));
            }
        }
    }
    normalise_non_nullable(kind, &mut patch);
    patch
}

/// The assignee as ARKHITEKTON holds it: the e-mail, or null when nobody.
/// None (leave the item's field alone) when Jira hid the e-mail (Cloud
/// privacy) and nobody filled it in from what we know (see `people`).
fn assignee_email(assignee: Option<&Value>) -> Option<Value> {
    match assignee? {
        Value::Null => Some(Value::Null),
        a => a["emailAddress"].as_str().filter(|e| !e.trim().is_empty()).map(|e| json!(e.trim())),
    }
}

/// `acceptanceCriteria` and `description` are never null in ARKHITEKTON:
/// an empty Jira field is an empty text.
fn normalise_non_nullable(kind: EntityKind, patch: &mut Map<String, Value>) {
    for (name, value) in patch.iter_mut() {
        if value.is_null() && kind.field(name).is_some_and(|f| !f.nullable) {
            *value = json!("");
        }
    }
}

/// Related Files travel as a JSON array in a text field; a hand-edited one
/// may be a list of lines instead.
fn related_files(v: &Value) -> Vec<String> {
    let text = markdown_of(v).unwrap_or_default();
    let trimmed = text.trim().trim_matches('`').trim();
    serde_json::from_str::<Vec<String>>(trimmed).unwrap_or_else(|_| {
        trimmed.lines().map(|l| l.trim().trim_start_matches("- ").trim().to_owned()).filter(|l| !l.is_empty()).collect()
    })
}

/// The entries of `patch` whose value differs from `item`'s, compared in
/// the form Jira can hold (canonical rich text, Jira labels).
pub fn differences(item: &Value, patch: &Map<String, Value>, flavor: Flavor) -> Map<String, Value> {
    patch
        .iter()
        .filter(|(name, incoming)| !same(name, &item[name.as_str()], incoming, flavor))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn same(name: &str, current: &Value, incoming: &Value, flavor: Flavor) -> bool {
    if super::agreed::is_rich(name) {
        let canon = |v: &Value| canonical(flavor, v.as_str().unwrap_or_default());
        return canon(current) == canon(incoming);
    }
    if name == "labels" {
        // Jira keeps labels sorted; order carries no meaning.
        let norm = |v: &Value| string_list(v).iter().map(|l| jira_label(l)).collect::<std::collections::BTreeSet<_>>();
        return norm(current) == norm(incoming);
    }
    if name == "assignee" || name == "owner" {
        // E-mail addresses are compared without regard to case.
        let lower = |v: &Value| v.as_str().map(str::to_lowercase);
        return lower(current) == lower(incoming);
    }
    current == incoming
}

/// Markdown as it comes back after a trip through Jira's rich-text format.
pub fn canonical(flavor: Flavor, markdown: &str) -> String {
    let back = match flavor {
        Flavor::Cloud => adf::adf_to_markdown(&adf::markdown_to_adf(markdown)),
        Flavor::Datacenter => wiki::wiki_to_markdown(&wiki::markdown_to_wiki(markdown)),
    };
    back.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: EntityKind) -> Value {
        json!({"id": "US-0000001", "title": "t", "description": "d", "labels": ["l"], "status": "done",
               "priority": "high", "severity": "high", "acceptanceCriteria": "a", "storyPoints": 3,
               "relatedFiles": ["f"], "epicId": "EPIC-0000001", "defectType": "bug", "rootCause": "r",
               "valueStream": "v", "businessValue": "b", "targetDate": "2026-12-01", "resolutionNotes": "n",
               "assignee": "a@example.com", "owner": "o@example.com", "kind": kind.type_name()})
    }

    /// Every synced field is sent when (and only when) it is asked for,
    /// besides the two fields every push carries.
    #[test]
    fn each_synced_field_is_sent_on_its_own() {
        let maps = ProjectMaps::default();
        for kind in EntityKind::ALL {
            let item = item(kind);
            let base = issue_input(kind, &item, &maps, Some("EP-1".into()), None, &|_| false);
            assert_eq!(base.custom.len(), 2, "{kind:?}: only the ARKHITEKTON ID and Sync Source");
            assert!(base.summary.is_none() && base.description.is_none() && base.labels.is_none());
            assert!(base.assignee.is_none());
            for &field in synced_fields(kind).iter().filter(|&&f| f != "status") {
                let one = issue_input(kind, &item, &maps, Some("EP-1".into()), None, &|f| f == field);
                let sent = one.summary.is_some() as usize
                    + one.description.is_some() as usize
                    + one.labels.is_some() as usize
                    + one.priority.is_some() as usize
                    + one.epic_key.is_some() as usize
                    + one.assignee.is_some() as usize
                    + one.custom.len()
                    - 2;
                assert_eq!(sent, 1, "{kind:?} {field}");
            }
        }
    }

    #[test]
    fn unsynced_fields_are_those_differing_from_the_agreed_values() {
        let kind = EntityKind::UserStory;
        let item = item(kind);
        let mut agreed = synced_values(kind, &item);
        assert!(unsynced(kind, &item, &agreed, Flavor::Cloud).is_empty());
        agreed.insert("labels".into(), json!(["other"]));
        agreed.insert("description".into(), json!("d\n")); // the same text after a trip through Jira
        agreed.remove("title"); // never agreed on
        assert_eq!(unsynced(kind, &item, &agreed, Flavor::Cloud), ["title", "labels"]);
    }
}
