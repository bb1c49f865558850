//! In-memory issue store. One `std::sync::Mutex` guards it; handlers hold
//! the lock only for the in-memory read or write (never across an await),
//! which keeps concurrent requests safe and the hot path fast.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One issue, with fields held in the flavour's REST input form (ADF object
/// on Cloud, wiki string on DC; select values as their option string).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Issue {
    pub id: u64,
    pub key: String,
    pub project: String,
    pub issuetype: String,
    pub status: String,
    pub priority: String,
    pub creator: String,
    pub reporter: Option<String>,
    pub assignee: Option<String>,
    pub resolution: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub status_changed: DateTime<Utc>,
    pub resolved: Option<DateTime<Utc>>,
    /// Everything else a client can set: summary, description, labels,
    /// duedate, parent (key), Epic Link (key), custom fields.
    pub fields: BTreeMap<String, Value>,
}

impl Issue {
    pub fn field(&self, id: &str) -> Option<&Value> {
        self.fields.get(id).filter(|v| !v.is_null())
    }

    pub fn summary(&self) -> &str {
        self.field("summary").and_then(Value::as_str).unwrap_or("")
    }
}

/// The parent key of a sub-task (an issue type below the base level).
fn subtask_parent(issue: &Issue) -> Option<&str> {
    let subtask = super::catalog::issue_type(&issue.issuetype).is_some_and(|t| t.hierarchy < 0);
    issue.field("parent").and_then(Value::as_str).filter(|_| subtask)
}

/// One entry of an issue's history (`expand=changelog`, webhook changelog).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct History {
    pub id: u64,
    pub author: String,
    pub created: DateTime<Utc>,
    pub items: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Link {
    pub id: u64,
    pub type_name: String,
    pub inward: u64,
    pub outward: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    pub issues: BTreeMap<u64, Issue>,
    keys: HashMap<String, u64>,
    counters: HashMap<String, u64>,
    pub histories: HashMap<u64, Vec<History>>,
    pub links: Vec<Link>,
    next_id: u64,
    next_history: u64,
    next_link: u64,
    last_write: Option<DateTime<Utc>>,
    /// Parent key → its sub-tasks' ids, so rendering an issue does not scan
    /// every issue for its sub-tasks. Derived: rebuilt on load.
    #[serde(skip)]
    subtasks: HashMap<String, BTreeSet<u64>>,
}

impl Store {
    pub fn new() -> Self {
        Self { next_id: 10000, next_history: 10000, next_link: 10000, ..Self::default() }
    }

    /// Finds an issue by numeric id or key (case-insensitive, as Jira does).
    pub fn find(&self, id_or_key: &str) -> Option<&Issue> {
        let id = match id_or_key.parse::<u64>() {
            Ok(id) => id,
            Err(_) => *self.keys.get(&id_or_key.to_ascii_uppercase())?,
        };
        self.issues.get(&id)
    }

    /// A write timestamp strictly after the previous one at Jira's
    /// millisecond precision, so every write visibly bumps `updated` and
    /// `ORDER BY updated` is total.
    pub fn write_time(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let now = now.trunc_subsecs(3);
        let t = match self.last_write {
            Some(last) if now <= last => last + Duration::milliseconds(1),
            _ => now,
        };
        self.last_write = Some(t);
        t
    }

    /// Allocates the next id and the next key in the project (`PROJ-1`, …).
    pub fn allocate(&mut self, project: &str) -> (u64, String) {
        let id = self.next_id;
        self.next_id += 1;
        let n = self.counters.entry(project.to_string()).or_insert(0);
        *n += 1;
        (id, format!("{project}-{n}"))
    }

    pub fn insert(&mut self, issue: Issue) {
        self.keys.insert(issue.key.clone(), issue.id);
        self.replace(issue);
    }

    pub fn replace(&mut self, issue: Issue) {
        self.unindex(issue.id);
        if let Some(parent) = subtask_parent(&issue) {
            self.subtasks.entry(parent.to_owned()).or_default().insert(issue.id);
        }
        self.issues.insert(issue.id, issue);
    }

    fn unindex(&mut self, id: u64) {
        let Some(parent) = self.issues.get(&id).and_then(subtask_parent) else { return };
        if let Some(ids) = self.subtasks.get_mut(parent) {
            ids.remove(&id);
            if ids.is_empty() {
                self.subtasks.remove(parent);
            }
        }
    }

    /// The sub-tasks of the issue `key`, by id.
    pub fn subtasks_of(&self, key: &str) -> impl Iterator<Item = &Issue> {
        self.subtasks.get(key).into_iter().flatten().filter_map(|id| self.issues.get(id))
    }

    /// Removes an issue with its links and history; subtasks of a deleted
    /// issue are left for the caller to reject (Jira asks for deleteSubtasks).
    pub fn remove(&mut self, id: u64) -> Option<Issue> {
        self.unindex(id);
        let issue = self.issues.remove(&id)?;
        self.keys.remove(&issue.key);
        self.histories.remove(&id);
        self.links.retain(|l| l.inward != id && l.outward != id);
        Some(issue)
    }

    /// Records a changelog entry and returns its id (a string in webhooks).
    pub fn record_history(&mut self, issue: u64, author: &str, at: DateTime<Utc>, items: Vec<Value>) -> u64 {
        let id = self.next_history;
        self.next_history += 1;
        let h = History { id, author: author.to_string(), created: at, items };
        self.histories.entry(issue).or_default().push(h);
        id
    }

    pub fn add_link(&mut self, type_name: &str, inward: u64, outward: u64) -> u64 {
        let id = self.next_link;
        self.next_link += 1;
        self.links.push(Link { id, type_name: type_name.to_string(), inward, outward });
        id
    }

    pub fn links_of(&self, id: u64) -> impl Iterator<Item = &Link> {
        self.links.iter().filter(move |l| l.inward == id || l.outward == id)
    }

    /// Loads a persisted store; a missing file is an empty site.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            return Ok(Self::new());
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut store: Self = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let issues: Vec<Issue> = store.issues.values().cloned().collect();
        issues.into_iter().for_each(|i| store.replace(i));
        Ok(store)
    }

    /// Writes atomically (temp file + rename) so a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self)?).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(store: &mut Store, issuetype: &str, parent: Option<&str>) -> Issue {
        let (id, key) = store.allocate("PROJ");
        let now = Utc::now();
        let mut fields = BTreeMap::new();
        if let Some(p) = parent {
            fields.insert("parent".to_owned(), Value::String(p.to_owned()));
        }
        let issue = Issue {
            id,
            key,
            project: "PROJ".into(),
            issuetype: issuetype.into(),
            status: "To Do".into(),
            priority: "Medium".into(),
            creator: "u".into(),
            reporter: None,
            assignee: None,
            resolution: None,
            created: now,
            updated: now,
            status_changed: now,
            resolved: None,
            fields,
        };
        store.insert(issue.clone());
        issue
    }

    fn subtask_keys(store: &Store, parent: &str) -> Vec<String> {
        store.subtasks_of(parent).map(|i| i.key.clone()).collect()
    }

    #[test]
    fn the_subtask_index_follows_inserts_reparenting_removal_and_reload() {
        let mut store = Store::new();
        let task = issue(&mut store, "Task", None);
        let other = issue(&mut store, "Task", None);
        let mut sub = issue(&mut store, "Sub-task", Some(&task.key));
        // A story under an epic has a parent too, but is no sub-task.
        let epic = issue(&mut store, "Epic", None);
        issue(&mut store, "Story", Some(&epic.key));
        assert_eq!(subtask_keys(&store, &task.key), [sub.key.clone()]);
        assert!(subtask_keys(&store, &epic.key).is_empty());

        sub.fields.insert("parent".into(), Value::String(other.key.clone()));
        store.replace(sub.clone());
        assert!(subtask_keys(&store, &task.key).is_empty());
        assert_eq!(subtask_keys(&store, &other.key), [sub.key.clone()]);

        let path = std::env::temp_dir().join(format!("arksync-store-test-{}.json", std::process::id()));
        store.save(&path).unwrap();
        let loaded = Store::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(subtask_keys(&loaded, &other.key), [sub.key.clone()]);

        store.remove(sub.id);
        assert!(subtask_keys(&store, &other.key).is_empty());
    }
}
