//! Validation of the `fields` / `update` of create, edit and transition
//! requests, applied onto a copy of the issue. Errors are collected per
//! field, as Jira reports them all at once in `errors`.

use serde_json::{Map, Value};

use super::adf;
use super::catalog::{self, Kind};
use super::config::Flavor;
use super::http::ApiError;
use super::state::Sim;
use super::store::{Issue, Store};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Edit,
    Transition,
}

pub struct Input<'a> {
    pub sim: &'a Sim,
    pub store: &'a Store,
    pub mode: Mode,
}

fn cannot_set(id: &str) -> String {
    format!("Field '{id}' cannot be set. It is not on the appropriate screen, or unknown.")
}

impl Input<'_> {
    /// Applies `fields` then `update` to `issue`, or returns every error.
    pub fn apply(&self, issue: &mut Issue, body: &Value) -> Result<(), ApiError> {
        let mut errors = Map::new();
        let empty = Map::new();
        let fields = body.get("fields").and_then(Value::as_object).unwrap_or(&empty);
        for (id, value) in fields {
            if let Err(e) = self.set(issue, id, value) {
                errors.insert(id.clone(), Value::String(e));
            }
        }
        let update = body.get("update").and_then(Value::as_object).unwrap_or(&empty);
        for (id, ops) in update {
            if let Err(e) = self.update(issue, id, ops) {
                errors.insert(id.clone(), Value::String(e));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(ApiError::BadRequest { messages: Vec::new(), errors }) }
    }

    /// `update: {labels: [{add: "x"}, {remove: "y"}], summary: [{set: "…"}]}`.
    fn update(&self, issue: &mut Issue, id: &str, ops: &Value) -> Result<(), String> {
        let ops = ops.as_array().ok_or("Operation value must be an array of operations")?;
        for op in ops {
            let (verb, value) = op.as_object().and_then(|o| o.iter().next()).ok_or("Invalid operation")?;
            match (verb.as_str(), id) {
                ("set", _) => self.set(issue, id, value)?,
                ("add" | "remove", "labels") => edit_labels(issue, verb == "add", value)?,
                (verb, _) => return Err(format!("Field does not support update '{verb}'")),
            }
        }
        Ok(())
    }

    fn set(&self, issue: &mut Issue, id: &str, value: &Value) -> Result<(), String> {
        let kind = catalog::system_kind(id).or_else(|| catalog::custom_field(id).map(|f| f.kind));
        let kind = match kind {
            Some(k) => k,
            None if id == catalog::EPIC_LINK && self.sim.config.flavor == Flavor::Datacenter => {
                return self.set_epic_link(issue, value);
            }
            None => return Err(cannot_set(id)),
        };
        match kind {
            Kind::Text => set_text(issue, id, value),
            Kind::RichText => self.set_rich(issue, id, value),
            Kind::Select(options) => set_select(issue, id, options, value),
            Kind::Number => set_number(issue, id, value),
            Kind::Labels => set_labels(issue, value),
            Kind::System => self.set_system(issue, id, value),
        }
    }

    fn set_system(&self, issue: &mut Issue, id: &str, value: &Value) -> Result<(), String> {
        match id {
            // Status is not on any screen: Jira refuses it (400, the whole
            // request fails) on create, edit and transition alike; status
            // changes only through a transition.
            "status" => Err(cannot_set(id)),
            // The project is chosen on create; an edit cannot move an issue.
            "project" => Ok(()),
            "issuetype" => {
                let t = named(value).and_then(catalog::issue_type).ok_or("Specify a valid issue type")?;
                issue.issuetype = t.id.to_string();
                Ok(())
            }
            "priority" => {
                let p = named(value).ok_or("Specify the Priority (id or name) in the string format")?;
                let (pid, _) = catalog::priority(p).ok_or_else(|| format!("Priority name '{p}' is not valid"))?;
                issue.priority = pid.to_string();
                Ok(())
            }
            "assignee" => self.user_ref(value).map(|u| issue.assignee = u),
            "reporter" => self.user_ref(value).map(|u| issue.reporter = u),
            "parent" => self.set_parent(issue, value),
            "duedate" => set_date(issue, value),
            "resolution" if self.mode == Mode::Transition => set_resolution(issue, value),
            _ => Err(cannot_set(id)),
        }
    }

    /// v3 rich text is ADF (validated); v2 rich text is a wiki string.
    fn set_rich(&self, issue: &mut Issue, id: &str, value: &Value) -> Result<(), String> {
        match (self.sim.api_version(), value) {
            (_, Value::Null) => {}
            (3, Value::Object(_)) => adf::validate(value).map_err(|e| format!("Invalid Atlassian Document: {e}"))?,
            (3, _) => {
                return Err("Operation value must be an Atlassian Document (see the Atlassian Document Format)".into());
            }
            (_, Value::String(_)) => {}
            _ => return Err("Operation value must be a string".into()),
        }
        issue.fields.insert(id.to_string(), value.clone());
        Ok(())
    }

    /// A person as the flavour names them: Cloud only by `accountId` (user
    /// names and emails were retired for privacy), Data Center by `name`
    /// (or `key`), which has no account ids. Returns the account id.
    fn user_ref(&self, value: &Value) -> Result<Option<String>, String> {
        if value.is_null() {
            return Ok(None);
        }
        let users = &self.sim.config.users;
        let found = if self.sim.config.flavor == Flavor::Cloud {
            let wanted = value.get("accountId").and_then(Value::as_str).ok_or("Specify a user by accountId")?;
            users.iter().find(|u| u.account_id == wanted).ok_or_else(|| format!("User '{wanted}' does not exist."))
        } else {
            let wanted = ["name", "key"]
                .iter()
                .find_map(|k| value.get(*k).and_then(Value::as_str))
                .ok_or("Specify a user by name")?;
            users
                .iter()
                .find(|u| super::render::dc_user_name(u) == wanted)
                .ok_or_else(|| format!("User '{wanted}' does not exist."))
        };
        found.map(|u| Some(u.account_id.clone()))
    }

    /// Cloud links a story to its epic (and a subtask to its parent) with
    /// `parent`; the levels must be adjacent in the hierarchy. Data Center
    /// uses `parent` for subtasks only.
    fn set_parent(&self, issue: &mut Issue, value: &Value) -> Result<(), String> {
        if value.is_null() {
            issue.fields.remove("parent");
            return Ok(());
        }
        let wanted = value
            .get("key")
            .or_else(|| value.get("id"))
            .and_then(Value::as_str)
            .ok_or("Specify a parent by key or id")?;
        let parent = self.store.find(wanted).ok_or_else(|| format!("Parent issue '{wanted}' does not exist."))?;
        let level = |t: &str| catalog::issue_type(t).map_or(0, |t| t.hierarchy);
        let child = level(&issue.issuetype);
        let dc_epic = self.sim.config.flavor == Flavor::Datacenter && child >= 0;
        if level(&parent.issuetype) != child + 1 || dc_epic || parent.id == issue.id {
            return Err("Given parent work item does not belong to appropriate hierarchy.".into());
        }
        issue.fields.insert("parent".into(), Value::String(parent.key.clone()));
        Ok(())
    }

    /// Data Center's Epic Link: the key of an Epic, as a plain string.
    fn set_epic_link(&self, issue: &mut Issue, value: &Value) -> Result<(), String> {
        let Some(key) = value.as_str() else {
            issue.fields.remove(catalog::EPIC_LINK);
            return if value.is_null() { Ok(()) } else { Err("Epic Link must be an issue key".into()) };
        };
        let epic = self.store.find(key).ok_or_else(|| format!("Issue '{key}' does not exist."))?;
        if catalog::issue_type(&epic.issuetype).is_none_or(|t| t.name != "Epic") {
            return Err(format!("Issue '{key}' is not an Epic."));
        }
        issue.fields.insert(catalog::EPIC_LINK.into(), Value::String(epic.key.clone()));
        Ok(())
    }
}

/// `{"name": …}` or `{"id": …}` → the string; a bare string is accepted too.
fn named(value: &Value) -> Option<&str> {
    value.as_str().or_else(|| value.get("name").or_else(|| value.get("id")).and_then(Value::as_str))
}

fn set_text(issue: &mut Issue, id: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::String(s) if id == "summary" && s.trim().is_empty() => {
            Err("You must specify a summary of the issue.".into())
        }
        Value::String(s) if s.chars().count() > 255 => {
            Err(format!("{} must be less than 255 characters.", catalog::field_display_name(id)))
        }
        Value::String(_) => put_ok(issue, id, value.clone()),
        Value::Null if id != "summary" => put_ok(issue, id, Value::Null),
        _ if id == "summary" => Err("You must specify a summary of the issue.".into()),
        _ => Err("Operation value must be a string".into()),
    }
}

fn put_ok(issue: &mut Issue, id: &str, value: Value) -> Result<(), String> {
    put(issue, id, value);
    Ok(())
}

/// Stores a value; null clears the field, as Jira treats it.
fn put(issue: &mut Issue, id: &str, value: Value) {
    if value.is_null() {
        issue.fields.remove(id);
    } else {
        issue.fields.insert(id.to_string(), value);
    }
}

fn set_select(issue: &mut Issue, id: &str, options: &[&str], value: &Value) -> Result<(), String> {
    if value.is_null() {
        issue.fields.remove(id);
        return Ok(());
    }
    let chosen = if let Some(v) = value.get("value").and_then(Value::as_str) {
        options.iter().find(|o| **o == v).ok_or_else(|| format!("Option value '{v}' is not valid"))?
    } else if let Some(oid) = value.get("id").and_then(Value::as_str) {
        options
            .iter()
            .find(|o| super::render::option_id(id, options, o) == oid)
            .ok_or_else(|| format!("Option id '{oid}' is not valid"))?
    } else {
        return Err("Specify a valid 'id' or 'name' for the option".into());
    };
    issue.fields.insert(id.to_string(), Value::String(chosen.to_string()));
    Ok(())
}

fn set_number(issue: &mut Issue, id: &str, value: &Value) -> Result<(), String> {
    if !(value.is_number() || value.is_null()) {
        return Err("Operation value must be a number".into());
    }
    put(issue, id, value.clone());
    Ok(())
}

fn check_label(label: &Value) -> Result<String, String> {
    let s = label.as_str().ok_or("Labels must be strings")?;
    if s.contains(char::is_whitespace) {
        return Err(format!("The label '{s}' contains spaces which is invalid."));
    }
    Ok(s.to_string())
}

fn set_labels(issue: &mut Issue, value: &Value) -> Result<(), String> {
    let list = value.as_array().ok_or("Operation value must be an array")?;
    let labels = list.iter().map(check_label).collect::<Result<Vec<_>, _>>()?;
    put_labels(issue, labels);
    Ok(())
}

fn edit_labels(issue: &mut Issue, add: bool, value: &Value) -> Result<(), String> {
    let label = check_label(value)?;
    let mut labels: Vec<String> = issue
        .field("labels")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    labels.retain(|l| *l != label);
    if add {
        labels.push(label);
    }
    put_labels(issue, labels);
    Ok(())
}

/// Jira keeps labels de-duplicated and sorted.
fn put_labels(issue: &mut Issue, mut labels: Vec<String>) {
    labels.sort();
    labels.dedup();
    issue.fields.insert("labels".into(), Value::from(labels));
}

fn set_date(issue: &mut Issue, value: &Value) -> Result<(), String> {
    match value {
        Value::Null => put_ok(issue, "duedate", Value::Null),
        Value::String(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => {
            put_ok(issue, "duedate", value.clone())
        }
        other => Err(format!("Error parsing date string: {}", other.as_str().unwrap_or("?"))),
    }
}

const RESOLUTIONS: &[&str] = &["Done", "Won't Do", "Duplicate", "Cannot Reproduce"];

fn set_resolution(issue: &mut Issue, value: &Value) -> Result<(), String> {
    let name = named(value).ok_or("Specify a resolution by name or id")?;
    let name = if name == "10000" {
        "Done"
    } else if name == "10001" {
        "Won't Do"
    } else {
        name
    };
    let found = RESOLUTIONS.iter().find(|r| r.eq_ignore_ascii_case(name));
    let r = found.ok_or_else(|| format!("Resolution '{name}' is not valid"))?;
    issue.resolution = Some(r.to_string());
    Ok(())
}
