//! The sync rules as pure decisions, from values only; the I/O around them
//! is in [`super::inbound`] and [`super::outbound`] (load → plan → apply).
//!
//! - Inbound ([`plan`]): from the item, what both sides last agreed on, and
//!   Jira's version of the issue, what to write here, what both sides now
//!   agree on, and whether a push must follow.
//! - Outbound ([`plan_push`], [`agreed_after_push`]): which fields a push
//!   sends and how (nothing, a transition, an edit, a create), and what
//!   both sides agree on once it is done.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::agreed;
use super::conflicts::{self, Resolution};
use super::mapping::{differences, person_field, same, synced_fields, synced_values, unsynced};
use crate::domain::EntityKind;
use crate::jira::connection::Flavor;
use crate::jira::fields::FieldMap;

/// How a push reaches Jira.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOp {
    /// Nothing differs from the last agreement: Jira is not written.
    Nothing,
    /// Only the status changed: transitions, no edit.
    Transition,
    Edit,
    Create,
}

/// What a push is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushPlan {
    /// The synced fields to send (API names).
    pub send: Vec<String>,
    pub op: PushOp,
}

impl PushPlan {
    pub fn sends(&self, field: &str) -> bool {
        self.send.iter().any(|f| f == field)
    }
}

/// Decides a push: only what changed since both sides last agreed is sent
/// (`agreed`; `None` for an item with no issue yet, which sends every
/// synced field), so a person's concurrent edit of another field in Jira is
/// not overwritten. The epic is sent only once it has an issue to point at
/// (`epic_linked`), and clearing it is not synced.
pub fn plan_push(
    kind: EntityKind,
    item: &Value,
    agreed: Option<&Map<String, Value>>,
    epic_linked: bool,
    flavor: Flavor,
) -> PushPlan {
    let mut send: Vec<String> = match agreed {
        Some(agreed) => unsynced(kind, item, agreed, flavor),
        None => synced_fields(kind).iter().map(|&f| f.to_owned()).collect(),
    };
    if !epic_linked {
        send.retain(|f| f != "epicId");
    }
    let op = match (agreed, send.as_slice()) {
        (None, _) => PushOp::Create,
        (Some(_), []) => PushOp::Nothing,
        (Some(_), fields) if fields.iter().all(|f| f == "status") => PushOp::Transition,
        (Some(_), _) => PushOp::Edit,
    };
    PushPlan { send, op }
}

/// How a push went, for what it leaves agreed.
pub struct PushOutcome<'a> {
    /// The issue's `fields` as sent.
    pub sent: &'a Map<String, Value>,
    /// The status could not follow; where the walk left the issue (as
    /// ARKHITEKTON names that status), if it moved at all.
    pub status_stuck: Option<Option<String>>,
    /// No Jira user has the item's e-mail: Jira's assignee was left as it is.
    pub person_unknown: bool,
    /// Fields left out of what was sent (a select-list value Jira does not
    /// offer): not agreed.
    pub left_out: Vec<&'static str>,
}

/// What both sides agree on after a push: the values sent (where the status
/// stopped, if it did; not the person Jira could not take), with the
/// Jira-side fingerprints of what was sent.
pub fn agreed_after_push(
    kind: EntityKind,
    item: &Value,
    plan: &PushPlan,
    outcome: &PushOutcome<'_>,
    field_map: &FieldMap,
) -> Map<String, Value> {
    let mut values: Map<String, Value> = synced_values(kind, item).into_iter().filter(|(f, _)| plan.sends(f)).collect();
    match &outcome.status_stuck {
        Some(Some(left_at)) => drop(values.insert("status".into(), json!(left_at))),
        Some(None) => drop(values.remove("status")),
        None => {}
    }
    if outcome.person_unknown {
        values.remove(person_field(kind));
    }
    for field in &outcome.left_out {
        values.remove(*field);
    }
    let mut out = agreed::with_fingerprints(&values, &agreed::of_issue(kind, outcome.sent, field_map));
    if outcome.person_unknown && plan.op == PushOp::Create {
        // A new issue has nobody assigned: until the e-mail resolves, that
        // is what Jira holds, and a pull must not take it for a change.
        out.insert(agreed::jira_key(person_field(kind)), json!(agreed::person_fingerprint(None)));
    }
    out
}

/// What is known when a version of an issue arrives.
pub struct Facts<'a> {
    /// The item, in API JSON.
    pub item: &'a Value,
    /// What both sides last agreed on (values, and Jira-side fingerprints).
    pub agreed: &'a Map<String, Value>,
    /// Jira's values, as item fields (only those the issue carries).
    pub theirs: Map<String, Value>,
    /// Jira-side fingerprints of the issue's rich-text and people fields.
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

    fn story(title: &str, status: &str) -> Value {
        json!({"id": "US-0000001", "title": title, "description": "d", "labels": [], "status": status,
               "priority": "medium", "acceptanceCriteria": "", "storyPoints": 3, "relatedFiles": [],
               "epicId": null, "assignee": null})
    }

    #[test]
    fn a_push_sends_what_changed_and_says_how() {
        let kind = EntityKind::UserStory;
        let item = story("t", "backlog");
        let agreed = synced_values(kind, &item);
        let plan =
            |item: &Value, agreed: Option<&Map<String, Value>>| plan_push(kind, item, agreed, true, Flavor::Cloud);
        assert_eq!(plan(&item, Some(&agreed)), PushPlan { send: vec![], op: PushOp::Nothing });
        let moved = story("t", "done");
        assert_eq!(plan(&moved, Some(&agreed)), PushPlan { send: vec!["status".into()], op: PushOp::Transition });
        let both = story("renamed", "done");
        assert_eq!(plan(&both, Some(&agreed)).op, PushOp::Edit);
        assert_eq!(plan(&both, Some(&agreed)).send, ["title", "status"]);
        let new = plan(&item, None);
        assert_eq!(new.op, PushOp::Create);
        assert_eq!(new.send.len(), synced_fields(kind).len());
        assert!(!plan_push(kind, &item, None, false, Flavor::Cloud).sends("epicId"), "no epic issue yet");
    }

    #[test]
    fn a_stuck_walk_and_an_unknown_person_are_not_agreed() {
        let kind = EntityKind::UserStory;
        let mut item = story("t", "done");
        item["assignee"] = json!("nobody@x.test");
        let plan = plan_push(kind, &item, None, true, Flavor::Cloud);
        let sent = Map::new();
        let fm = FieldMap::default();
        let stuck = PushOutcome {
            sent: &sent,
            status_stuck: Some(Some("in-progress".into())),
            person_unknown: true,
            left_out: vec![],
        };
        let agreed = agreed_after_push(kind, &item, &plan, &stuck, &fm);
        assert_eq!(agreed["status"], "in-progress", "where the walk stopped");
        assert!(!agreed.contains_key("assignee"));
        assert_eq!(agreed[&agreed::jira_key("assignee")], json!(agreed::person_fingerprint(None)));
        let unmoved = PushOutcome { sent: &sent, status_stuck: Some(None), person_unknown: false, left_out: vec![] };
        assert!(!agreed_after_push(kind, &item, &plan, &unmoved, &fm).contains_key("status"));
    }

    #[test]
    fn a_select_value_left_out_of_the_push_is_not_agreed() {
        let kind = EntityKind::Defect;
        let mut item = story("t", "backlog");
        item["defectType"] = json!("Bug");
        let plan = plan_push(kind, &item, None, true, Flavor::Cloud);
        let sent = Map::new();
        let outcome =
            PushOutcome { sent: &sent, status_stuck: None, person_unknown: false, left_out: vec!["defectType"] };
        let agreed = agreed_after_push(kind, &item, &plan, &outcome, &FieldMap::default());
        assert!(!agreed.contains_key("defectType"));
        assert_eq!(agreed["title"], "t");
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

        /// A push sends exactly the fields that differ from the agreement,
        /// and once it is done (and agreed), planning again sends nothing.
        #[test]
        fn after_a_push_nothing_is_left_to_send(
            ours in proptest::collection::vec(0u8..4, FIELDS.len()),
            base in proptest::collection::vec(0u8..4, FIELDS.len()),
        ) {
            let kind = EntityKind::UserStory;
            let build = |vals: &[u8]| -> Value {
                let mut item = story("t", "backlog");
                for (f, v) in FIELDS.iter().zip(vals) {
                    item[*f] = value_of(f, *v);
                }
                item
            };
            let item = build(&ours);
            let mut agreed = synced_values(kind, &build(&base));
            let plan = plan_push(kind, &item, Some(&agreed), true, Flavor::Cloud);
            for f in synced_fields(kind) {
                let differs = !same(f, &agreed[*f], &item[*f], Flavor::Cloud);
                prop_assert_eq!(plan.sends(f), differs, "{}", f);
            }
            let sent = Map::new();
            let done = PushOutcome { sent: &sent, status_stuck: None, person_unknown: false, left_out: vec![] };
            agreed.extend(agreed_after_push(kind, &item, &plan, &done, &FieldMap::default()));
            prop_assert_eq!(plan_push(kind, &item, Some(&agreed), true, Flavor::Cloud).op, PushOp::Nothing);
        }
    }
}
