//! The fixed parts of the simulated Jira site: statuses, issue types,
//! priorities, the workflow and the field catalogue (system + the custom
//! fields of the integration spec, Appendix A).
//!
//! Ids follow a freshly created Jira Cloud site so that a client keyed on
//! ids in a real site's shape behaves the same here.

use serde_json::{Value, json};

use super::config::Flavor;

pub struct Status {
    pub id: &'static str,
    pub name: &'static str,
    /// 2 = new (To Do), 4 = indeterminate (In Progress), 3 = done.
    pub category: u8,
}

pub const STATUSES: &[Status] = &[
    Status { id: "10000", name: "To Do", category: 2 },
    Status { id: "3", name: "In Progress", category: 4 },
    Status { id: "10001", name: "In Review", category: 4 },
    Status { id: "10002", name: "Done", category: 3 },
    Status { id: "10003", name: "Won't Do", category: 3 },
];

pub fn status(id: &str) -> &'static Status {
    STATUSES.iter().find(|s| s.id == id).unwrap_or(&STATUSES[0])
}

/// A workflow transition: `from` empty means "from any status" (global).
pub struct Transition {
    pub id: &'static str,
    pub name: &'static str,
    pub from: &'static [&'static str],
    pub to: &'static str,
}

/// To Do → In Progress → In Review → Done, with Won't Do from any open
/// status and Reopen from the closed ones. `Done` is only reachable from
/// In Review, so "To Do → Done" is an unavailable transition as in a real
/// review workflow.
pub const TRANSITIONS: &[Transition] = &[
    Transition { id: "11", name: "Back to To Do", from: &["3", "10001"], to: "10000" },
    Transition { id: "21", name: "Start Progress", from: &["10000", "10001"], to: "3" },
    Transition { id: "31", name: "Submit for Review", from: &["3"], to: "10001" },
    Transition { id: "41", name: "Done", from: &["10001"], to: "10002" },
    Transition { id: "51", name: "Won't Do", from: &["10000", "3", "10001"], to: "10003" },
    Transition { id: "61", name: "Reopen", from: &["10002", "10003"], to: "10000" },
];

pub struct IssueType {
    pub id: &'static str,
    pub name: &'static str,
    pub hierarchy: i32,
    pub description: &'static str,
}

pub const ISSUE_TYPES: &[IssueType] = &[
    IssueType { id: "10000", name: "Epic", hierarchy: 1, description: "A big user story." },
    IssueType { id: "10001", name: "Story", hierarchy: 0, description: "A user story." },
    IssueType { id: "10002", name: "Task", hierarchy: 0, description: "A small piece of work." },
    IssueType { id: "10003", name: "Sub-task", hierarchy: -1, description: "Part of a task." },
    IssueType { id: "10004", name: "Bug", hierarchy: 0, description: "A problem." },
];

pub fn issue_type(id_or_name: &str) -> Option<&'static IssueType> {
    ISSUE_TYPES.iter().find(|t| t.id == id_or_name || t.name.eq_ignore_ascii_case(id_or_name))
}

pub const PRIORITIES: &[(&str, &str)] =
    &[("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")];

pub fn priority(id_or_name: &str) -> Option<(&'static str, &'static str)> {
    PRIORITIES.iter().copied().find(|(id, name)| *id == id_or_name || name.eq_ignore_ascii_case(id_or_name))
}

/// How the simulator stores, validates and renders a field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Single-line text.
    Text,
    /// Multi-line text: ADF in v3, wiki markup in v2.
    RichText,
    /// Select list: `{ "value": … }` with a fixed option list.
    Select(&'static [&'static str]),
    Number,
    Labels,
    /// Read-only or specially handled system fields.
    System,
}

pub struct CustomField {
    pub id: &'static str,
    pub name: &'static str,
    pub kind: Kind,
    /// The type name used in JQL clause names, e.g. `ARKHITEKTON ID[Short text]`.
    pub jql_type: &'static str,
    pub custom_type: &'static str,
}

pub const SYNC_SOURCES: &[&str] = &["arkhitekton", "jira", "manual"];
pub const DEFECT_TYPES: &[&str] = &["UI", "Logic", "Performance", "Security", "Data", "Integration", "Other"];
pub const VALUE_STREAMS: &[&str] =
    &["Strategy to Portfolio", "Requirement to Deploy", "Request to Fulfill", "Detect to Correct"];

const CF: &str = "com.atlassian.jira.plugin.system.customfieldtypes:";

/// Appendix A of the integration spec, at the ids its field-mapping tables use.
pub const CUSTOM_FIELDS: &[CustomField] = &[
    CustomField {
        id: "customfield_10001",
        name: "ARKHITEKTON ID",
        kind: Kind::Text,
        jql_type: "Short text",
        custom_type: "textfield",
    },
    CustomField {
        id: "customfield_10002",
        name: "Sync Source",
        kind: Kind::Select(SYNC_SOURCES),
        jql_type: "Dropdown",
        custom_type: "select",
    },
    CustomField {
        id: "customfield_10003",
        name: "Acceptance Criteria",
        kind: Kind::RichText,
        jql_type: "Paragraph",
        custom_type: "textarea",
    },
    CustomField {
        id: "customfield_10004",
        name: "Related Files",
        kind: Kind::RichText,
        jql_type: "Paragraph",
        custom_type: "textarea",
    },
    CustomField {
        id: "customfield_10005",
        name: "Defect Type",
        kind: Kind::Select(DEFECT_TYPES),
        jql_type: "Dropdown",
        custom_type: "select",
    },
    CustomField {
        id: "customfield_10006",
        name: "Root Cause",
        kind: Kind::RichText,
        jql_type: "Paragraph",
        custom_type: "textarea",
    },
    CustomField {
        id: "customfield_10007",
        name: "Value Stream",
        kind: Kind::Select(VALUE_STREAMS),
        jql_type: "Dropdown",
        custom_type: "select",
    },
    CustomField {
        id: "customfield_10008",
        name: "Business Value",
        kind: Kind::RichText,
        jql_type: "Paragraph",
        custom_type: "textarea",
    },
    CustomField {
        id: "customfield_10016",
        name: "Story Points",
        kind: Kind::Number,
        jql_type: "Number",
        custom_type: "float",
    },
    // Not in Appendix A: defects' resolution notes (Jira's `resolution`
    // holds only the resolution type's shared description).
    CustomField {
        id: "customfield_10009",
        name: "Resolution Notes",
        kind: Kind::RichText,
        jql_type: "Paragraph",
        custom_type: "textarea",
    },
];

/// Data Center's Epic Link (Cloud uses `parent`).
pub const EPIC_LINK: &str = "customfield_10014";

pub fn custom_field(id: &str) -> Option<&'static CustomField> {
    CUSTOM_FIELDS.iter().find(|f| f.id == id)
}

/// System fields a client may set, with their kind.
pub fn system_kind(id: &str) -> Option<Kind> {
    let kind = match id {
        "summary" => Kind::Text,
        "description" | "environment" => Kind::RichText,
        "labels" => Kind::Labels,
        "project" | "issuetype" | "priority" | "assignee" | "reporter" | "parent" | "duedate" | "status"
        | "resolution" => Kind::System,
        _ => return None,
    };
    Some(kind)
}

/// `GET /field`: system fields first, then custom fields, in Jira's shape.
pub fn fields_json(flavor: Flavor) -> Vec<Value> {
    let mut out: Vec<Value> = SYSTEM_FIELDS
        .iter()
        .filter(|(id, ..)| !(flavor == Flavor::Datacenter && *id == "parent"))
        .map(|(id, name, ty, items)| system_field_json(id, name, ty, *items))
        .collect();
    out.extend(CUSTOM_FIELDS.iter().map(custom_field_json));
    if flavor == Flavor::Datacenter {
        out.push(epic_link_json());
    }
    out
}

const SYSTEM_FIELDS: &[(&str, &str, &str, Option<&str>)] = &[
    ("summary", "Summary", "string", None),
    ("description", "Description", "string", None),
    ("issuetype", "Issue Type", "issuetype", None),
    ("project", "Project", "project", None),
    ("status", "Status", "status", None),
    ("priority", "Priority", "priority", None),
    ("assignee", "Assignee", "user", None),
    ("reporter", "Reporter", "user", None),
    ("creator", "Creator", "user", None),
    ("labels", "Labels", "array", Some("string")),
    ("created", "Created", "datetime", None),
    ("updated", "Updated", "datetime", None),
    ("duedate", "Due date", "date", None),
    ("resolution", "Resolution", "resolution", None),
    ("resolutiondate", "Resolved", "datetime", None),
    ("parent", "Parent", "issuelink", None),
    ("issuelinks", "Linked Issues", "array", Some("issuelinks")),
    ("environment", "Environment", "string", None),
];

fn system_field_json(id: &str, name: &str, ty: &str, items: Option<&str>) -> Value {
    let mut schema = json!({ "type": ty, "system": id });
    if let Some(items) = items {
        schema["items"] = json!(items);
    }
    json!({
        "id": id, "key": id, "name": name, "custom": false,
        "orderable": true, "navigable": true, "searchable": true,
        "clauseNames": [id], "schema": schema,
    })
}

fn custom_field_json(f: &CustomField) -> Value {
    let num: i64 = f.id.trim_start_matches("customfield_").parse().unwrap_or(0);
    let ty = if f.kind == Kind::Number {
        "number"
    } else if matches!(f.kind, Kind::Select(_)) {
        "option"
    } else {
        "string"
    };
    json!({
        "id": f.id, "key": f.id, "name": f.name, "custom": true,
        "orderable": true, "navigable": true, "searchable": true,
        "clauseNames": [format!("cf[{num}]"), f.name, format!("{}[{}]", f.name, f.jql_type)],
        "schema": { "type": ty, "custom": format!("{CF}{}", f.custom_type), "customId": num },
    })
}

fn epic_link_json() -> Value {
    json!({
        "id": EPIC_LINK, "key": EPIC_LINK, "name": "Epic Link", "custom": true,
        "orderable": true, "navigable": true, "searchable": true,
        "clauseNames": ["cf[10014]", "Epic Link"],
        "schema": { "type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link", "customId": 10014 },
    })
}

/// The display name Jira puts in `changelog.items[].field`.
pub fn field_display_name(id: &str) -> String {
    if let Some(f) = custom_field(id) {
        return f.name.to_string();
    }
    if id == EPIC_LINK {
        return "Epic Link".to_string();
    }
    match id {
        "status" => "status".to_string(),
        "parent" => "IssueParentAssociation".to_string(),
        other => other.to_string(),
    }
}
