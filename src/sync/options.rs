//! Select-list values Jira can take: each select-list field we sync
//! (a defect's `defectType`, an epic's `valueStream`) is checked against
//! the Jira field's allowed options, read from the project's create
//! metadata once per connection, project and kind and kept for an hour
//! (forgotten sooner when Jira refuses a push with a 400).
//!
//! A push leaves out a value Jira does not offer and reports it (the other
//! fields still go); the API refuses such a value up front, naming the
//! allowed ones, whenever a push has already learnt them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Side;
use super::mapping::select_fields;
use crate::domain::EntityKind;
use crate::domain::input::InputError;
use crate::jira::fields::FieldMap;
use crate::jira::requests::{FieldValue, IssueInput};

/// How long learnt options are trusted.
pub const OPTIONS_TTL: Duration = Duration::from_secs(3600);

/// The allowed values of a kind's select-list fields in one project, by
/// API field name (a field Jira lists no options for is absent).
pub type Allowed = HashMap<&'static str, Vec<String>>;

/// Options learnt, with when.
type Learnt = (Instant, Arc<Allowed>);

/// Connection, project and kind.
type Key = (i64, String, EntityKind);

/// What pushes learnt, by connection, project and kind.
#[derive(Default)]
pub struct OptionCache {
    entries: Mutex<HashMap<Key, Learnt>>,
}

impl OptionCache {
    /// The options known for `project` and `kind` on `connection`, without
    /// asking Jira.
    pub fn known(&self, connection: i64, project: &str, kind: EntityKind) -> Option<Arc<Allowed>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (at, allowed) = entries.get(&(connection, project.to_owned(), kind))?;
        (at.elapsed() < OPTIONS_TTL).then(|| allowed.clone())
    }

    /// The options for `project` and `kind`, read from Jira's create
    /// metadata for `issue_type` when not known. `None` when Jira would not
    /// say (the push then sends the values and Jira judges them).
    pub async fn allowed(
        &self,
        side: &Side,
        field_map: &FieldMap,
        project: &str,
        kind: EntityKind,
        issue_type: &str,
    ) -> Option<Arc<Allowed>> {
        if select_fields(kind).is_empty() {
            return None;
        }
        let connection = side.client.connection_id;
        if let Some(known) = self.known(connection, project, kind) {
            return Some(known);
        }
        let meta = match side.client.create_meta(project, issue_type).await {
            Ok(meta) => meta,
            Err(e) => {
                tracing::warn!(project, issue_type, error = %e, "could not read Jira's create metadata");
                return None;
            }
        };
        let allowed: Allowed = select_fields(kind)
            .iter()
            .filter_map(|(api, jira_name)| {
                let id = field_map.id(jira_name).ok()?;
                let field = meta.iter().find(|f| f.id == id)?;
                Some((*api, field.allowed.clone()?))
            })
            .collect();
        let allowed = Arc::new(allowed);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert((connection, project.to_owned(), kind), (Instant::now(), allowed.clone()));
        Some(allowed)
    }

    /// Forgets what is known of `project` (Jira refused a push: its options
    /// may have changed).
    pub fn forget(&self, project: &str) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).retain(|(_, p, _), _| p != project);
    }
}

/// Why `value` cannot go to `field` in `project`, naming what can.
pub fn refusal(field: &str, value: &str, project: &str, allowed: &[String]) -> String {
    let listed = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
    format!("`{field}` {value:?} is not one of the options Jira offers in {project}: {listed}")
}

/// The first select-list value in `body` (API JSON) that `allowed` does
/// not hold, as a 400 naming the allowed values.
pub fn check(kind: EntityKind, body: &Value, project: &str, allowed: &Allowed) -> Result<(), InputError> {
    for (api, _) in select_fields(kind) {
        let (Some(value), Some(options)) = (body[*api].as_str(), allowed.get(api)) else { continue };
        if !options.iter().any(|o| o == value) {
            return Err(InputError::new("invalid_option", (*api).to_owned(), refusal(api, value, project, options)));
        }
    }
    Ok(())
}

/// Takes out of `input` every select-list value `allowed` does not hold:
/// the fields left out (API names), each with its refusal.
pub fn leave_out_unknown(
    kind: EntityKind,
    input: &mut IssueInput,
    project: &str,
    allowed: &Allowed,
) -> Vec<(&'static str, String)> {
    let mut refused = Vec::new();
    for (api, jira_name) in select_fields(kind) {
        let Some(options) = allowed.get(api) else { continue };
        let position = input.custom.iter().position(|(name, value)| {
            name == jira_name && matches!(value, FieldValue::Option(v) if !options.iter().any(|o| o == v))
        });
        if let Some(i) = position
            && let (_, FieldValue::Option(value)) = input.custom.remove(i)
        {
            refused.push((*api, refusal(api, &value, project, options)));
        }
    }
    refused
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jira::fields::names;

    fn allowed() -> Allowed {
        [("defectType", vec!["UI".to_owned(), "Logic".to_owned()])].into_iter().collect()
    }

    #[test]
    fn the_api_refuses_a_value_jira_does_not_offer_naming_the_ones_it_does() {
        let a = allowed();
        assert!(check(EntityKind::Defect, &json!({"defectType": "UI"}), "PROJ", &a).is_ok());
        assert!(check(EntityKind::Defect, &json!({"title": "no select here"}), "PROJ", &a).is_ok());
        let e = check(EntityKind::Defect, &json!({"defectType": "Bug"}), "PROJ", &a).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("invalid_option", Some("defectType")));
        assert!(e.message.contains("\"Bug\"") && e.message.contains("UI, Logic") && e.message.contains("PROJ"));
        // Options of a field Jira listed none for are not checked.
        assert!(check(EntityKind::Epic, &json!({"valueStream": "Anything"}), "PROJ", &a).is_ok());
    }

    #[test]
    fn a_push_leaves_out_only_the_value_jira_does_not_offer() {
        let mut input = IssueInput::default();
        input.custom.push((names::DEFECT_TYPE.into(), FieldValue::Option("Bug".into())));
        input.custom.push((names::ROOT_CAUSE.into(), FieldValue::Markdown("why".into())));
        let refused = leave_out_unknown(EntityKind::Defect, &mut input, "PROJ", &allowed());
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, "defectType");
        assert_eq!(input.custom.len(), 1, "the root cause still goes");
        let mut fine = IssueInput::default();
        fine.custom.push((names::DEFECT_TYPE.into(), FieldValue::Option("Logic".into())));
        fine.custom.push((names::DEFECT_TYPE.into(), FieldValue::Clear));
        assert!(leave_out_unknown(EntityKind::Defect, &mut fine, "PROJ", &allowed()).is_empty());
        assert_eq!(fine.custom.len(), 2);
    }
}
