//! The inbound sync rule as a pure decision: from the item, what both
//! sides last agreed on, and Jira's version of the issue (all values), what
//! to write here, what both sides now agree on, and whether a push must
//! follow. [`super::inbound`] loads the values, calls [`plan`], and applies
//! the plan in one transaction.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::agreed;
use super::conflicts::{self, Resolution};
use super::mapping::{differences, same};
use crate::jira::connection::Flavor;

/// What is known when a version of an issue arrives.
pub struct Facts<'a> {
    /// The item, in API JSON.
    pub item: &'a Value,
    /// What both sides last agreed on (values, and Jira-side fingerprints).
    pub agreed: &'a Map<String, Value>,
    /// Jira's values, as item fields (only those the issue carries).
    pub theirs: Map<String, Value>,
    /// Jira-side fingerprints of the rich-text and people fields.
    pub in_jira: &'a Map<String, Value>,
    /// The item has an edit of its own waiting to be pushed.
    pub pending_here: bool,
    pub item_updated: DateTime<Utc>,
    pub jira_updated: Option<DateTime<Utc>>,
    pub flavor: Flavor,
}

/// What to do about it.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Jira's values that differ from the item's.
    pub changes: Map<String, Value>,
    /// The fields to write to the item, with their values.
    pub writes: Map<String, Value>,
    /// Fields where the item keeps its own (newer) value, for a push.
    pub kept_ours: Vec<String>,
    /// A conflict, when both sides changed a field: how it was settled.
    pub conflict: Option<(Resolution, Map<String, Value>)>,
    /// What both sides agree on afterwards, to record.
    pub agreed: Map<String, Value>,
    /// The item holds values Jira lacks: a push must follow.
    pub push: bool,
}

/// Decides what a version of an issue does to its item.
///
/// A field Jira still holds exactly as both sides agreed on it (by its
/// Jira-side fingerprint) was not changed there, whatever its Markdown
/// reading says: it is never written. Of the others, a field changed only
/// in Jira is taken; one changed only here is kept (for the push); one
/// changed on both sides is settled by [`conflicts::resolve`].
pub fn plan(f: Facts<'_>) -> Plan {
    let mut theirs = f.theirs;
    theirs.retain(|field, _| agreed::unchanged_in_jira(field, f.agreed, f.in_jira) != Some(true));
    let changes = differences(f.item, &theirs, f.flavor);
    if changes.is_empty() {
        return Plan { agreed: agreed::with_fingerprints(&theirs, f.in_jira), ..Plan::default() };
    }
    let split = split(f.item, &changes, f.agreed, f.pending_here, f.flavor);
    let (conflict, mut writes) = match (split.contested.is_empty(), f.jira_updated) {
        (false, Some(jira_updated)) => {
            let (r, applied) = conflicts::resolve(f.item, &split.contested, f.item_updated, jira_updated);
            (Some((r, split.contested.clone())), applied)
        }
        _ => (None, split.contested.clone()),
    };
    writes.extend(split.theirs);
    // Both sides now hold Jira's value wherever the item took it (or had it
    // already); a field where ours was kept stays unsynced for the push.
    let now_agreed: Map<String, Value> = theirs
        .iter()
        .filter(|(field, value)| match (changes.contains_key(*field), writes.get(*field)) {
            (false, _) => true,
            (true, Some(written)) => written == *value,
            (true, None) => false,
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let push = changes.keys().any(|f| !now_agreed.contains_key(f));
    Plan {
        kept_ours: split.ours.keys().cloned().collect(),
        agreed: agreed::with_fingerprints(&now_agreed, f.in_jira),
        changes,
        writes,
        conflict,
        push,
    }
}

/// Jira's differing values, by who changed the field since both sides last
/// agreed on it.
#[derive(Debug, Default, PartialEq)]
struct Split {
    /// Changed in Jira only: taken.
    theirs: Map<String, Value>,
    /// Changed here only (Jira still holds the agreed value): kept, for
    /// the push to send.
    ours: Map<String, Value>,
    /// Changed on both sides, or not known to have been agreed while the
    /// item has an edit of its own waiting: settled by [`conflicts`].
    contested: Map<String, Value>,
}

fn split(
    item: &Value,
    changes: &Map<String, Value>,
    agreed: &Map<String, Value>,
    pending: bool,
    flavor: Flavor,
) -> Split {
    let mut out = Split::default();
    for (field, theirs) in changes {
        let side = match agreed.get(field) {
            Some(base) if same(field, base, theirs, flavor) => &mut out.ours,
            Some(base) if same(field, base, &item[field.as_str()], flavor) => &mut out.theirs,
            Some(_) => &mut out.contested,
            None if pending => &mut out.contested,
            None => &mut out.theirs,
        };
        side.insert(field.clone(), theirs.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn facts<'a>(
        item: &'a Value,
        agreed: &'a Map<String, Value>,
        theirs: Map<String, Value>,
        in_jira: &'a Map<String, Value>,
        pending_here: bool,
    ) -> Facts<'a> {
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        Facts {
            item,
            agreed,
            theirs,
            in_jira,
            pending_here,
            item_updated: t,
            jira_updated: Some(t + chrono::Duration::minutes(1)),
            flavor: Flavor::Cloud,
        }
    }

    #[test]
    fn a_field_is_judged_by_who_changed_it_since_the_last_agreement() {
        let agreed = map(json!({"title": "base", "priority": "low", "status": "backlog", "labels": ["a"]}));
        let item = json!({"title": "base", "priority": "high", "status": "done", "labels": ["b"]});
        // Jira changed the title; still has the agreed priority; changed the
        // status we changed too; and holds labels we never agreed on.
        let jira = map(json!({"title": "theirs", "priority": "low", "status": "in-review", "labels": ["a", "c"]}));
        let changes = differences(&item, &jira, Flavor::Cloud);
        let out = split(&item, &changes, &agreed, true, Flavor::Cloud);
        assert_eq!(out.theirs, map(json!({"title": "theirs"})));
        assert_eq!(out.ours, map(json!({"priority": "low"})));
        assert_eq!(out.contested, map(json!({"status": "in-review", "labels": ["a", "c"]})));
    }

    #[test]
    fn a_field_never_agreed_on_follows_the_old_rules() {
        let item = json!({"title": "ours"});
        let changes = map(json!({"title": "theirs"}));
        let none = Map::new();
        assert_eq!(split(&item, &changes, &none, false, Flavor::Cloud).theirs, changes, "no edit here: Jira's");
        assert_eq!(split(&item, &changes, &none, true, Flavor::Cloud).contested, changes, "an edit waits: a conflict");
    }

    #[test]
    fn a_description_jira_still_holds_as_agreed_is_never_written_however_it_reads() {
        let md = "1. one\n2. two\n   - nested\n";
        let item = json!({"title": "t", "description": md});
        let fp = json!("fingerprint-of-the-adf-we-pushed");
        let agreed = map(json!({"title": "t", "description": md, "description@jira": fp}));
        let in_jira = map(json!({"description@jira": fp}));
        // Jira's ADF read back as Markdown differently (a lossy reading).
        let theirs = map(json!({"title": "renamed", "description": "1. one\n2. two\n\n-\n  - nested\n"}));
        let p = plan(facts(&item, &agreed, theirs, &in_jira, false));
        assert_eq!(p.writes, map(json!({"title": "renamed"})));
        assert!(!p.push);
    }

    const FIELDS: &[&str] = &["title", "description", "labels", "priority", "storyPoints"];

    fn value_of(field: &str, n: u8) -> Value {
        match field {
            "labels" => json!([format!("l{n}")]),
            "storyPoints" => json!(n),
            "description" => json!(format!("**text** {n}\n")),
            _ => json!(format!("{field} {n}")),
        }
    }

    proptest! {
        /// Both sides agreed on every field; Jira changes field `a` only:
        /// the plan writes `a` and nothing else, whatever the values.
        #[test]
        fn a_remote_change_to_one_field_never_writes_another(
            values in proptest::collection::vec(0u8..4, FIELDS.len()),
            a in 0..FIELDS.len(),
            new in 4u8..8,
            pending in any::<bool>(),
        ) {
            let item: Map<String, Value> =
                FIELDS.iter().zip(&values).map(|(f, v)| (f.to_string(), value_of(f, *v))).collect();
            let item = Value::Object(item.clone());
            let agreed = item.as_object().unwrap().clone();
            let mut theirs = agreed.clone();
            theirs.insert(FIELDS[a].to_owned(), value_of(FIELDS[a], new));
            let p = plan(facts(&item, &agreed, theirs, &Map::new(), pending));
            let written: Vec<&String> = p.writes.keys().collect();
            prop_assert_eq!(written, vec![FIELDS[a]]);
        }

        /// Applying a plan and planning again with the same version of the
        /// issue yields nothing to write and no push.
        #[test]
        fn planning_again_after_applying_a_plan_yields_nothing(
            ours in proptest::collection::vec(0u8..4, FIELDS.len()),
            base in proptest::collection::vec(0u8..4, FIELDS.len()),
            jira in proptest::collection::vec(0u8..4, FIELDS.len()),
        ) {
            let build = |vals: &[u8]| -> Map<String, Value> {
                FIELDS.iter().zip(vals).map(|(f, v)| (f.to_string(), value_of(f, *v))).collect()
            };
            let mut item = Value::Object(build(&ours));
            let mut agreed = build(&base);
            let theirs = build(&jira);
            let first = plan(facts(&item, &agreed, theirs.clone(), &Map::new(), false));
            for (k, v) in &first.writes {
                item[k.as_str()] = v.clone();
            }
            agreed.extend(first.agreed.clone());
            let again = plan(facts(&item, &agreed, theirs, &Map::new(), false));
            prop_assert!(again.writes.is_empty(), "{:?}", again.writes);
            prop_assert_eq!(again.push, first.push && !first.kept_ours.is_empty());
        }
    }
}
