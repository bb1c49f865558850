//! Value maps between ARKHITEKTON and a Jira project: status, priority and
//! issue type. The spec's tables are the defaults, with Jira's default
//! priority scheme (Highest … Lowest; `P0…P3` is only a customised scheme,
//! recognised on the way in). Each Jira project may override any entry
//! (`jira_project_settings.maps`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::EntityKind;

/// The maps of one Jira project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectMaps {
    /// ARKHITEKTON status → Jira status name.
    pub status_to_jira: BTreeMap<String, String>,
    /// Jira status name (lower case) → ARKHITEKTON status.
    pub status_from_jira: BTreeMap<String, String>,
    /// ARKHITEKTON priority or severity → Jira priority name.
    pub priority_to_jira: BTreeMap<String, String>,
    /// Jira priority name (lower case) → ARKHITEKTON priority.
    pub priority_from_jira: BTreeMap<String, String>,
    /// Kind (`user_story`, `defect`, `epic`) → Jira issue type.
    pub issue_types: BTreeMap<String, String>,
    /// Jira issue type (lower case) → kind.
    pub kinds_from_jira: BTreeMap<String, String>,
}

/// Per-project overrides as stored in `jira_project_settings.maps`; every
/// key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MapOverrides {
    #[serde(default)]
    pub status_to_jira: BTreeMap<String, String>,
    #[serde(default)]
    pub status_from_jira: BTreeMap<String, String>,
    #[serde(default)]
    pub priority_to_jira: BTreeMap<String, String>,
    #[serde(default)]
    pub priority_from_jira: BTreeMap<String, String>,
    #[serde(default)]
    pub issue_types: BTreeMap<String, String>,
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

impl Default for ProjectMaps {
    fn default() -> Self {
        Self {
            status_to_jira: map(&[
                ("backlog", "To Do"),
                ("in-progress", "In Progress"),
                ("in-review", "In Review"),
                ("done", "Done"),
                ("cancelled", "Won't Do"),
            ]),
            status_from_jira: map(&[
                ("to do", "backlog"),
                ("open", "backlog"),
                ("backlog", "backlog"),
                ("in progress", "in-progress"),
                ("in review", "in-review"),
                ("code review", "in-review"),
                ("done", "done"),
                ("closed", "done"),
                ("resolved", "done"),
                ("won't do", "cancelled"),
            ]),
            priority_to_jira: map(&[("critical", "Highest"), ("high", "High"), ("medium", "Medium"), ("low", "Low")]),
            priority_from_jira: map(&[
                ("highest", "critical"),
                ("blocker", "critical"),
                ("p0", "critical"),
                ("high", "high"),
                ("p1", "high"),
                ("medium", "medium"),
                ("p2", "medium"),
                ("low", "low"),
                ("lowest", "low"),
                ("p3", "low"),
            ]),
            issue_types: map(&[("user_story", "Story"), ("defect", "Bug"), ("epic", "Epic")]),
            kinds_from_jira: map(&[
                ("story", "user_story"),
                ("task", "user_story"),
                ("bug", "defect"),
                ("epic", "epic"),
            ]),
        }
    }
}

impl ProjectMaps {
    /// The defaults with `overrides` laid over them.
    pub fn with_overrides(overrides: &MapOverrides) -> Self {
        let mut maps = Self::default();
        maps.status_to_jira.extend(overrides.status_to_jira.clone());
        maps.status_from_jira.extend(lower_keys(&overrides.status_from_jira));
        maps.priority_to_jira.extend(overrides.priority_to_jira.clone());
        maps.priority_from_jira.extend(lower_keys(&overrides.priority_from_jira));
        for (kind, issue_type) in &overrides.issue_types {
            maps.issue_types.insert(kind.clone(), issue_type.clone());
            maps.kinds_from_jira.insert(issue_type.to_lowercase(), kind.clone());
        }
        maps
    }

    pub fn jira_status(&self, status: &str) -> Option<&str> {
        self.status_to_jira.get(status).map(String::as_str)
    }

    /// The ARKHITEKTON status of a Jira status; unknown names fall back on
    /// the status category (`new`, `indeterminate`, `done`), which every
    /// Jira workflow status has.
    pub fn ark_status(&self, name: &str, category_key: Option<&str>) -> Option<&str> {
        if let Some(s) = self.status_from_jira.get(&name.to_lowercase()) {
            return Some(s);
        }
        match category_key? {
            "new" => Some("backlog"),
            "indeterminate" => Some("in-progress"),
            "done" => Some("done"),
            _ => None,
        }
    }

    pub fn jira_priority(&self, priority: &str) -> Option<&str> {
        self.priority_to_jira.get(priority).map(String::as_str)
    }

    pub fn ark_priority(&self, name: &str) -> Option<&str> {
        self.priority_from_jira.get(&name.to_lowercase()).map(String::as_str)
    }

    pub fn issue_type(&self, kind: EntityKind) -> &str {
        self.issue_types.get(kind.type_name()).map_or("Task", String::as_str)
    }

    pub fn kind_of(&self, issue_type: &str) -> Option<EntityKind> {
        let name = self.kinds_from_jira.get(&issue_type.to_lowercase())?;
        EntityKind::from_type_name(name)
    }
}

fn lower_keys(m: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.iter().map(|(k, v)| (k.to_lowercase(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_tables_are_the_defaults_both_ways() {
        let m = ProjectMaps::default();
        assert_eq!(m.jira_status("cancelled"), Some("Won't Do"));
        assert_eq!(m.ark_status("Code Review", None), Some("in-review"));
        assert_eq!(m.ark_status("CLOSED", None), Some("done"));
        assert_eq!(m.jira_priority("critical"), Some("Highest"));
        assert_eq!(m.ark_priority("P1"), Some("high"));
        assert_eq!(m.kind_of("Bug"), Some(EntityKind::Defect));
        assert_eq!(m.issue_type(EntityKind::Epic), "Epic");
    }

    #[test]
    fn unknown_statuses_fall_back_on_their_category() {
        let m = ProjectMaps::default();
        assert_eq!(m.ark_status("Waiting for QA", Some("indeterminate")), Some("in-progress"));
        assert_eq!(m.ark_status("Waiting for QA", None), None);
    }

    #[test]
    fn a_project_can_override_any_entry() {
        let overrides: MapOverrides = serde_json::from_value(serde_json::json!({
            "statusToJira": {"in-review": "Code Review"},
            "priorityToJira": {"critical": "P0"},
            "issueTypes": {"user_story": "Task"}
        }))
        .unwrap();
        let m = ProjectMaps::with_overrides(&overrides);
        assert_eq!(m.jira_status("in-review"), Some("Code Review"));
        assert_eq!(m.jira_status("done"), Some("Done"), "the rest stays default");
        assert_eq!(m.jira_priority("critical"), Some("P0"));
        assert_eq!(m.issue_type(EntityKind::UserStory), "Task");
        assert!(serde_json::from_value::<MapOverrides>(serde_json::json!({"statusMap": {}})).is_err());
    }
}
