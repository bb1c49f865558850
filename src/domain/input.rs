//! Parsing a work item from API input, against its kind's field table.
//!
//! Input is checked whole before anything is written: the first problem
//! found becomes an [`InputError`] naming the field, and nothing reaches the
//! database. Keys are checked in a fixed order (read-only and unknown keys
//! first, then each field), so the same bad input always gives the same
//! answer.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::{EntityKind, FieldSpec, FieldType, READ_ONLY_FIELDS, ids};

/// Most labels or related files one item may carry.
const MAX_LIST_ITEMS: usize = 100;
/// Longest single label or file path.
const MAX_LIST_ITEM_CHARS: usize = 255;

/// What is wrong with some input, in terms a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    /// Stable machine-readable code, e.g. `invalid_value`.
    pub code: &'static str,
    pub message: String,
    /// The offending field's JSON name, when there is one.
    pub field: Option<String>,
}

impl InputError {
    pub fn new(code: &'static str, field: impl Into<Option<String>>, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: field.into() }
    }

    fn invalid_type(spec: &FieldSpec, expected: &str) -> Self {
        Self::new("invalid_type", spec.json.to_owned(), format!("`{}` must be {expected}", spec.json))
    }

    fn invalid_value(spec: &FieldSpec, why: impl std::fmt::Display) -> Self {
        Self::new("invalid_value", spec.json.to_owned(), format!("`{}` {why}", spec.json))
    }
}

/// A field's new value, typed for the database.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Null,
    Text(String),
    Int(i32),
    Date(NaiveDate),
    List(Vec<String>),
}

/// One field to write.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub field: &'static FieldSpec,
    pub value: FieldValue,
}

/// Whether the client asked to sync the item to Jira, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncIntent {
    pub sync_to_jira: Option<bool>,
    /// `Some(None)` clears the project.
    pub jira_project_key: Option<Option<String>>,
}

/// Parsed input of a create or a patch.
#[derive(Debug, Clone)]
pub struct WorkItemInput {
    pub assignments: Vec<Assignment>,
    pub sync: SyncIntent,
}

/// Create requires the required fields; patch takes any subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Patch,
}

const SYNC_TO_JIRA: &str = "syncToJira";
const JIRA_PROJECT_KEY: &str = "jiraProjectKey";

/// Parses a request body for `kind`.
pub fn parse(kind: EntityKind, body: &Value, mode: Mode) -> Result<WorkItemInput, InputError> {
    let Value::Object(map) = body else {
        return Err(InputError::new("invalid_type", None, "the request body must be a JSON object"));
    };
    check_keys(kind, map)?;
    let mut assignments = Vec::new();
    for spec in kind.fields() {
        match map.get(spec.json) {
            Some(value) => assignments.push(Assignment { field: spec, value: parse_field(spec, value)? }),
            None if mode == Mode::Create && spec.required => {
                return Err(InputError::new(
                    "missing_field",
                    spec.json.to_owned(),
                    format!("`{}` is required", spec.json),
                ));
            }
            None => {}
        }
    }
    let sync = parse_sync_intent(map)?;
    if mode == Mode::Create && sync.sync_to_jira == Some(true) && !matches!(sync.jira_project_key, Some(Some(_))) {
        return Err(InputError::new(
            "missing_field",
            JIRA_PROJECT_KEY.to_owned(),
            "`jiraProjectKey` is required when `syncToJira` is true",
        ));
    }
    Ok(WorkItemInput { assignments, sync })
}

/// Refuses keys the server owns and keys the kind does not have.
fn check_keys(kind: EntityKind, map: &Map<String, Value>) -> Result<(), InputError> {
    for key in map.keys() {
        if READ_ONLY_FIELDS.contains(&key.as_str()) {
            return Err(InputError::new(
                "read_only_field",
                key.clone(),
                format!("`{key}` is set by the server and cannot be written"),
            ));
        }
        let known = kind.field(key).is_some() || key == SYNC_TO_JIRA || key == JIRA_PROJECT_KEY;
        if !known {
            let names: Vec<&str> = kind.fields().iter().map(|f| f.json).collect();
            return Err(InputError::new(
                "unknown_field",
                key.clone(),
                format!(
                    "`{key}` is not a field of a {}; fields are: {}, syncToJira, jiraProjectKey",
                    kind.noun(),
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn parse_sync_intent(map: &Map<String, Value>) -> Result<SyncIntent, InputError> {
    let sync_to_jira = match map.get(SYNC_TO_JIRA) {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(InputError::new("invalid_type", SYNC_TO_JIRA.to_owned(), "`syncToJira` must be true or false"));
        }
    };
    let jira_project_key = match map.get(JIRA_PROJECT_KEY) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(key)) if is_project_key(key) => Some(Some(key.clone())),
        Some(Value::String(_)) => {
            return Err(InputError::new(
                "invalid_value",
                JIRA_PROJECT_KEY.to_owned(),
                "`jiraProjectKey` must be a Jira project key: an uppercase letter, then 1 to 9 uppercase letters, digits or _ (e.g. PROJ)",
            ));
        }
        Some(_) => {
            return Err(InputError::new(
                "invalid_type",
                JIRA_PROJECT_KEY.to_owned(),
                "`jiraProjectKey` must be a string or null",
            ));
        }
    };
    Ok(SyncIntent { sync_to_jira, jira_project_key })
}

/// Jira's default project key rule.
pub fn is_project_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some('A'..='Z'))
        && (2..=10).contains(&key.len())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn parse_field(spec: &FieldSpec, value: &Value) -> Result<FieldValue, InputError> {
    if value.is_null() {
        return if spec.nullable {
            Ok(FieldValue::Null)
        } else {
            Err(InputError::invalid_value(spec, "cannot be null"))
        };
    }
    match spec.ty {
        FieldType::Text { max, blank_ok } => parse_text(spec, value, max, blank_ok),
        FieldType::Enum(allowed) => {
            let s = as_str(spec, value)?;
            if allowed.contains(&s) {
                Ok(FieldValue::Text(s.to_owned()))
            } else {
                Err(InputError::invalid_value(spec, format!("must be one of: {}", allowed.join(", "))))
            }
        }
        FieldType::Int { min, max } => parse_int(spec, value, min, max),
        FieldType::Email => {
            let s = as_str(spec, value)?.trim();
            if is_email(s) {
                Ok(FieldValue::Text(s.to_owned()))
            } else {
                Err(InputError::invalid_value(spec, "must be an e-mail address like jane@example.com"))
            }
        }
        FieldType::Date => {
            let s = as_str(spec, value)?;
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(FieldValue::Date)
                .map_err(|_| InputError::invalid_value(spec, "must be a date like 2025-10-12"))
        }
        FieldType::StringList => parse_list(spec, value),
        FieldType::Ref(kind) => {
            let s = as_str(spec, value)?;
            if ids::is_valid(kind, s) {
                Ok(FieldValue::Text(s.to_owned()))
            } else {
                Err(InputError::invalid_value(
                    spec,
                    format!("must be the id of a {}, like {}-K7V595F", kind.noun(), kind.id_prefix()),
                ))
            }
        }
    }
}

fn as_str<'v>(spec: &FieldSpec, value: &'v Value) -> Result<&'v str, InputError> {
    value.as_str().ok_or_else(|| InputError::invalid_type(spec, "a string"))
}

fn parse_text(spec: &FieldSpec, value: &Value, max: usize, blank_ok: bool) -> Result<FieldValue, InputError> {
    let s = as_str(spec, value)?;
    let s = if blank_ok { s } else { s.trim() };
    if !blank_ok && s.is_empty() {
        return Err(InputError::invalid_value(spec, "must not be blank"));
    }
    if s.chars().count() > max {
        return Err(InputError::invalid_value(spec, format!("must be at most {max} characters")));
    }
    if s.contains('\0') {
        return Err(InputError::invalid_value(spec, "must not contain NUL characters"));
    }
    Ok(FieldValue::Text(s.to_owned()))
}

fn parse_int(spec: &FieldSpec, value: &Value, min: i32, max: i32) -> Result<FieldValue, InputError> {
    let n = value.as_i64().ok_or_else(|| InputError::invalid_type(spec, "a whole number"))?;
    if n < i64::from(min) || n > i64::from(max) {
        return Err(InputError::invalid_value(spec, format!("must be between {min} and {max}")));
    }
    Ok(FieldValue::Int(n as i32))
}

fn parse_list(spec: &FieldSpec, value: &Value) -> Result<FieldValue, InputError> {
    let items = value.as_array().ok_or_else(|| InputError::invalid_type(spec, "an array of strings"))?;
    if items.len() > MAX_LIST_ITEMS {
        return Err(InputError::invalid_value(spec, format!("must have at most {MAX_LIST_ITEMS} items")));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let s = item.as_str().ok_or_else(|| InputError::invalid_type(spec, "an array of strings"))?.trim();
        if s.is_empty() || s.chars().count() > MAX_LIST_ITEM_CHARS || s.contains('\0') {
            return Err(InputError::invalid_value(
                spec,
                format!("items must be non-empty strings of at most {MAX_LIST_ITEM_CHARS} characters"),
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(FieldValue::List(out))
}

/// A deliberately plain check: one `@`, something on each side, a dot in
/// the domain, no spaces. Jira is the judge of whether the person exists.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && s.len() <= 254
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn story(body: Value) -> Result<WorkItemInput, InputError> {
        parse(EntityKind::UserStory, &body, Mode::Create)
    }

    #[test]
    fn a_minimal_story_needs_only_a_title() {
        let input = story(json!({"title": "  Log in  "})).unwrap();
        assert_eq!(input.assignments.len(), 1);
        assert_eq!(input.assignments[0].value, FieldValue::Text("Log in".into()));
    }

    #[test]
    fn labels_are_trimmed_and_deduplicated_in_order() {
        let input = story(json!({"title": "t", "labels": ["b", " a ", "b"]})).unwrap();
        let labels = &input.assignments.iter().find(|a| a.field.json == "labels").unwrap().value;
        assert_eq!(labels, &FieldValue::List(vec!["b".into(), "a".into()]));
    }

    #[test]
    fn an_out_of_set_status_names_the_allowed_values() {
        let err = story(json!({"title": "t", "status": "doing"})).unwrap_err();
        assert_eq!(err.code, "invalid_value");
        assert_eq!(err.field.as_deref(), Some("status"));
        assert!(err.message.contains("backlog, in-progress, in-review, done, cancelled"), "{}", err.message);
    }

    #[test]
    fn read_only_and_unknown_fields_are_refused() {
        assert_eq!(story(json!({"title": "t", "id": "US-K7V595F"})).unwrap_err().code, "read_only_field");
        let err = story(json!({"title": "t", "severity": "high"})).unwrap_err();
        assert_eq!((err.code, err.field.as_deref()), ("unknown_field", Some("severity")));
    }

    #[test]
    fn sync_to_jira_on_create_requires_a_project_key() {
        let err = story(json!({"title": "t", "syncToJira": true})).unwrap_err();
        assert_eq!((err.code, err.field.as_deref()), ("missing_field", Some("jiraProjectKey")));
        assert!(story(json!({"title": "t", "syncToJira": true, "jiraProjectKey": "PROJ"})).is_ok());
        assert_eq!(story(json!({"title": "t", "jiraProjectKey": "proj"})).unwrap_err().code, "invalid_value");
    }

    #[test]
    fn patch_may_clear_nullable_fields_but_not_required_ones() {
        let ok = parse(EntityKind::UserStory, &json!({"assignee": null}), Mode::Patch).unwrap();
        assert_eq!(ok.assignments[0].value, FieldValue::Null);
        let err = parse(EntityKind::UserStory, &json!({"title": null}), Mode::Patch).unwrap_err();
        assert_eq!((err.code, err.field.as_deref()), ("invalid_value", Some("title")));
    }

    #[test]
    fn numbers_dates_emails_and_refs_are_checked() {
        let cases = [
            (json!({"title": "t", "storyPoints": 2.5}), "invalid_type", "storyPoints"),
            (json!({"title": "t", "storyPoints": -1}), "invalid_value", "storyPoints"),
            (json!({"title": "t", "assignee": "not-an-email"}), "invalid_value", "assignee"),
            (json!({"title": "t", "epicId": "US-K7V595F"}), "invalid_value", "epicId"),
            (json!({"title": 5}), "invalid_type", "title"),
        ];
        for (body, code, field) in cases {
            let err = story(body.clone()).unwrap_err();
            assert_eq!((err.code, err.field.as_deref()), (code, Some(field)), "{body}");
        }
        let err =
            parse(EntityKind::Epic, &json!({"title": "t", "targetDate": "12/10/2025"}), Mode::Create).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("targetDate"));
    }
}
