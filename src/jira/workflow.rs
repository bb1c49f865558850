//! Moving an issue to a status no single transition reaches: a walk through
//! the workflow, learnt as it is seen.
//!
//! Jira lists only the transitions available from an issue's current
//! status, so the workflow is learnt edge by edge (per connection, by status
//! name) from every list the walk reads. A step takes the shortest learnt
//! path when there is one, else the available status whose category is
//! nearest the target's. A walk never passes through a `done`-category
//! status other than its target (that would resolve the issue on the way),
//! never visits a status twice, and stops after [`MAX_HOPS`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use super::ops::Transition;

/// Most transitions one status change may take.
pub const MAX_HOPS: usize = 5;

/// The workflow edges seen so far: status name (lower case) → the
/// transitions available from it.
#[derive(Debug, Default)]
pub struct WorkflowCache {
    edges: Mutex<HashMap<String, Vec<Transition>>>,
}

fn rank(category: Option<&str>) -> Option<i32> {
    match category? {
        "new" => Some(0),
        "indeterminate" => Some(1),
        "done" => Some(2),
        _ => None,
    }
}

fn is_done(t: &Transition) -> bool {
    t.to.status_category.as_deref() == Some("done")
}

impl WorkflowCache {
    /// Records what is available from `from`.
    pub fn learn(&self, from: &str, available: &[Transition]) {
        self.edges.lock().unwrap_or_else(|e| e.into_inner()).insert(from.to_lowercase(), available.to_vec());
    }

    /// The transition to take next from `current` towards `target` (its
    /// category, when known, in `target_category`), given what is
    /// `available` and the statuses already `visited`; `None` when no step
    /// may be taken.
    pub fn next_step<'a>(
        &self,
        current: &str,
        available: &'a [Transition],
        target: &str,
        target_category: Option<&str>,
        visited: &HashSet<String>,
    ) -> Option<&'a Transition> {
        let is_target = |t: &Transition| t.to.name.eq_ignore_ascii_case(target);
        if let Some(t) = available.iter().find(|t| is_target(t)) {
            return Some(t);
        }
        // A status we may pass through: new to this walk, and not one that
        // resolves the issue.
        let passable = |t: &Transition| !visited.contains(&t.to.name.to_lowercase()) && !is_done(t);
        if let Some(first) = self.shortest_path_start(current, target, &passable)
            && let Some(t) = available.iter().find(|t| t.to.name.eq_ignore_ascii_case(&first))
        {
            return Some(t);
        }
        let goal = rank(target_category);
        let distance = |t: &Transition| match (rank(t.to.status_category.as_deref()), goal) {
            (Some(r), Some(g)) => (r - g).abs(),
            _ => 3,
        };
        available.iter().filter(|t| passable(t)).min_by_key(|t| distance(t))
    }

    /// The first status on the shortest learnt path from `current` to
    /// `target` through passable statuses.
    fn shortest_path_start(
        &self,
        current: &str,
        target: &str,
        passable: &dyn Fn(&Transition) -> bool,
    ) -> Option<String> {
        let edges = self.edges.lock().unwrap_or_else(|e| e.into_inner());
        let mut first_step: HashMap<String, String> = HashMap::new();
        let mut queue = VecDeque::from([current.to_lowercase()]);
        let mut seen = HashSet::from([current.to_lowercase()]);
        while let Some(at) = queue.pop_front() {
            for t in edges.get(&at).into_iter().flatten() {
                let to = t.to.name.to_lowercase();
                let via = first_step.get(&at).cloned().unwrap_or_else(|| t.to.name.clone());
                if t.to.name.eq_ignore_ascii_case(target) {
                    return Some(via);
                }
                if passable(t) && seen.insert(to.clone()) {
                    first_step.insert(to.clone(), via);
                    queue.push_back(to);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::ops::TransitionTarget;

    fn t(id: &str, to: &str, category: &str) -> Transition {
        Transition {
            id: id.into(),
            name: format!("to {to}"),
            to: TransitionTarget { id: to.into(), name: to.into(), status_category: Some(category.into()) },
        }
    }

    #[test]
    fn a_target_out_of_reach_is_approached_through_the_nearest_category_never_through_done() {
        let cache = WorkflowCache::default();
        let from_todo = [t("21", "In Progress", "indeterminate"), t("51", "Won't Do", "done")];
        let step = cache.next_step("To Do", &from_todo, "Done", Some("done"), &HashSet::new()).unwrap();
        assert_eq!(step.to.name, "In Progress", "Won't Do would resolve the issue on the way");
        let from_done = [t("61", "To Do", "new")];
        let step = cache.next_step("Done", &from_done, "In Progress", Some("indeterminate"), &HashSet::new());
        assert_eq!(step.unwrap().to.name, "To Do", "reopen first");
        let visited = HashSet::from(["to do".to_owned()]);
        assert!(cache.next_step("Done", &from_done, "In Progress", None, &visited).is_none(), "no status twice");
    }

    #[test]
    fn a_learnt_path_is_taken_over_a_guess() {
        let cache = WorkflowCache::default();
        cache.learn("To Do", &[t("21", "Doing", "indeterminate"), t("22", "Triage", "indeterminate")]);
        cache.learn("Triage", &[t("31", "Ready", "indeterminate")]);
        cache.learn("Ready", &[t("41", "Shipped", "done")]);
        cache.learn("Doing", &[t("11", "To Do", "new")]);
        let from_todo = [t("21", "Doing", "indeterminate"), t("22", "Triage", "indeterminate")];
        let step = cache.next_step("To Do", &from_todo, "Shipped", Some("done"), &HashSet::new()).unwrap();
        assert_eq!(step.to.name, "Triage", "Doing leads nowhere near; Triage → Ready → Shipped does");
    }
}
