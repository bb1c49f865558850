//! Concurrent edits (spec "Conflict Resolution"): last write wins by
//! timestamp; within 10 seconds of each other, a field-level merge — text
//! from Jira, workflow fields from ARKHITEKTON, labels unioned.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

/// Edits further apart than this have a clear winner.
pub const MERGE_WINDOW: Duration = Duration::seconds(10);

/// How a conflict was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    JiraWon,
    ArkhitektonWon,
    Merged,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JiraWon => "jira_won",
            Self::ArkhitektonWon => "arkhitekton_won",
            Self::Merged => "merged",
        }
    }
}

/// Which side a field takes in a merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefer {
    Jira,
    Arkhitekton,
    Union,
}

/// The merge policy per field (the spec's `mergeFields`): workflow fields
/// follow ARKHITEKTON, labels are unioned, everything else follows Jira.
fn policy(field: &str) -> Prefer {
    match field {
        "status" | "storyPoints" => Prefer::Arkhitekton,
        "labels" | "relatedFiles" => Prefer::Union,
        _ => Prefer::Jira,
    }
}

/// Settles Jira's `incoming` changes against an item with unsynced local
/// edits: returns the resolution and the subset of fields to write.
pub fn resolve(
    item: &Value,
    incoming: &Map<String, Value>,
    item_updated: DateTime<Utc>,
    jira_updated: DateTime<Utc>,
) -> (Resolution, Map<String, Value>) {
    let apart = jira_updated - item_updated;
    if apart > MERGE_WINDOW {
        return (Resolution::JiraWon, incoming.clone());
    }
    if -apart > MERGE_WINDOW {
        return (Resolution::ArkhitektonWon, Map::new());
    }
    let mut applied = Map::new();
    for (field, theirs) in incoming {
        match policy(field) {
            Prefer::Jira => {
                applied.insert(field.clone(), theirs.clone());
            }
            Prefer::Arkhitekton => {}
            Prefer::Union => {
                applied.insert(field.clone(), union(&item[field.as_str()], theirs));
            }
        }
    }
    (Resolution::Merged, applied)
}

/// Ours then theirs, without repeats.
fn union(ours: &Value, theirs: &Value) -> Value {
    let mut out: Vec<Value> = ours.as_array().cloned().unwrap_or_default();
    for v in theirs.as_array().into_iter().flatten() {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_760_263_200 + s, 0).unwrap()
    }

    fn incoming() -> Map<String, Value> {
        json!({"title": "Jira title", "status": "done", "labels": ["b", "c"], "priority": "high"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn a_clearly_newer_side_wins_whole() {
        let item = json!({"title": "ours", "status": "in-progress", "labels": ["a"]});
        let (r, applied) = resolve(&item, &incoming(), at(0), at(11));
        assert_eq!((r, applied), (Resolution::JiraWon, incoming()));
        let (r, applied) = resolve(&item, &incoming(), at(11), at(0));
        assert_eq!((r, applied.len()), (Resolution::ArkhitektonWon, 0));
    }

    #[test]
    fn edits_within_ten_seconds_merge_field_by_field() {
        let item = json!({"title": "ours", "status": "in-progress", "labels": ["a", "b"]});
        let (r, applied) = resolve(&item, &incoming(), at(0), at(9));
        assert_eq!(r, Resolution::Merged);
        assert_eq!(applied["title"], "Jira title", "text from Jira");
        assert_eq!(applied["priority"], "high", "priority from Jira, as the spec's merge says");
        assert!(!applied.contains_key("status"), "workflow from ARKHITEKTON");
        assert_eq!(applied["labels"], json!(["a", "b", "c"]), "labels unioned");
    }
}
