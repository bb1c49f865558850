//! The people fields (story and defect `assignee`, epic `owner`, all
//! e-mail addresses) against Jira's assignee.
//!
//! Outbound, the e-mail is looked up ([`JiraClient::user_by_email`],
//! cached per connection). An e-mail no Jira user has does not fail the
//! push: the other fields still go, Jira's assignee is left as it is, and
//! the problem is reported as the item's sync error. Inbound, Jira Cloud
//! may hide the assignee's e-mail: it is filled in from the users this
//! process has looked up (by `accountId`); otherwise the item's field is
//! left alone, never cleared because Jira would not say.

use serde_json::{Map, Value, json};

use crate::jira::requests::{Assignee, IssueInput};
use crate::jira::{Error as JiraError, JiraClient};

/// The error code of a person Jira does not know, in the sync log.
pub const UNKNOWN_PERSON: &str = "assignee_unknown";

/// Turns the e-mail in `input.assignee` into the Jira user. Returns the
/// problem to report when Jira has nobody with that e-mail (or will not
/// say), in which case the assignee is left out of the push. Transient
/// failures (rate limit, 5xx, network) fail the push, to be retried.
pub async fn resolve(client: &JiraClient, input: &mut IssueInput) -> Result<Option<String>, JiraError> {
    let Some(Assignee::Email(email)) = &input.assignee else { return Ok(None) };
    let email = email.clone();
    let problem = match client.user_by_email(&email).await {
        Ok(Some(user)) => {
            input.assignee = Some(Assignee::User(user));
            return Ok(None);
        }
        Ok(None) => format!("no Jira user has the e-mail address {email}; the Jira assignee was left unchanged"),
        Err(e) if e.is_retryable() => return Err(e),
        Err(e) => format!(
            "could not look up the Jira user with the e-mail address {email} ({}); the Jira assignee was left unchanged",
            e.class()
        ),
    };
    input.assignee = None;
    Ok(Some(problem))
}

/// `fields` with the assignee's e-mail filled in when Jira hid it and this
/// process knows the user; what Jira shows is learnt for later.
pub fn with_known_emails(client: &JiraClient, fields: &Map<String, Value>) -> Map<String, Value> {
    let mut fields = fields.clone();
    let Some(assignee) = fields.get_mut("assignee").and_then(Value::as_object_mut) else { return fields };
    let id = ["accountId", "name"].iter().find_map(|k| assignee.get(*k).and_then(Value::as_str)).map(str::to_owned);
    let shown = assignee.get("emailAddress").and_then(Value::as_str).filter(|e| !e.is_empty()).map(str::to_owned);
    match (id, shown) {
        (Some(id), Some(email)) => client.learn_user(&id, &email),
        (Some(id), None) => {
            if let Some(email) = client.known_email(&id) {
                assignee.insert("emailAddress".into(), json!(email));
            }
        }
        _ => {}
    }
    fields
}

#[cfg(test)]
mod tests {
    //! The people and resolution-notes rows of the field map (kept here,
    //! beside the lookup, rather than in `mapping`).
    use serde_json::{Value, json};

    use crate::domain::EntityKind;
    use crate::jira::connection::Flavor;
    use crate::jira::fields::{FieldMap, names};
    use crate::jira::requests::{Assignee, FieldValue, issue_fields};
    use crate::sync::mapping::{differences, issue_input, item_patch};
    use crate::sync::maps::ProjectMaps;

    fn field_map(with_notes: bool) -> FieldMap {
        let mut fields = vec![
            json!({"id": "customfield_10001", "name": names::ARKHITEKTON_ID, "custom": true}),
            json!({"id": "customfield_10002", "name": names::SYNC_SOURCE, "custom": true}),
            json!({"id": "customfield_10005", "name": names::DEFECT_TYPE, "custom": true}),
            json!({"id": "customfield_10006", "name": names::ROOT_CAUSE, "custom": true}),
        ];
        if with_notes {
            fields.push(json!({"id": "customfield_10009", "name": names::RESOLUTION_NOTES, "custom": true}));
        }
        FieldMap::from_response(&json!(fields)).unwrap()
    }

    #[test]
    fn the_assignee_or_owner_is_pushed_as_an_email_to_look_up_and_null_unassigns() {
        let maps = ProjectMaps::default();
        let story = json!({"id": "US-1", "title": "t", "assignee": "jane@example.com"});
        let input = issue_input(EntityKind::UserStory, &story, &maps, None, None, &|_| true);
        assert_eq!(input.assignee, Some(Assignee::Email("jane@example.com".into())));
        let epic = json!({"id": "EPIC-1", "title": "t", "owner": "pm@example.com", "assignee": "x@example.com"});
        let input = issue_input(EntityKind::Epic, &epic, &maps, None, None, &|_| true);
        assert_eq!(input.assignee, Some(Assignee::Email("pm@example.com".into())), "an epic's person is its owner");
        let defect = json!({"id": "DEF-1", "title": "t", "assignee": null});
        let input = issue_input(EntityKind::Defect, &defect, &maps, None, None, &|_| true);
        assert_eq!(input.assignee, Some(Assignee::Unassigned));
    }

    #[test]
    fn jiras_assignee_comes_back_as_the_email_and_a_hidden_email_changes_nothing() {
        let (map, maps) = (field_map(true), ProjectMaps::default());
        let shown = json!({"assignee": {"accountId": "a-1", "emailAddress": "Jane@Example.com"}});
        let patch = item_patch(EntityKind::UserStory, shown.as_object().unwrap(), &map, &maps, &Value::Null);
        assert_eq!(patch["assignee"], "Jane@Example.com");
        let patch = item_patch(EntityKind::Epic, shown.as_object().unwrap(), &map, &maps, &Value::Null);
        assert_eq!(patch["owner"], "Jane@Example.com");
        assert!(patch.get("assignee").is_none());
        let hidden = json!({"assignee": {"accountId": "a-1"}});
        let patch = item_patch(EntityKind::Defect, hidden.as_object().unwrap(), &map, &maps, &Value::Null);
        assert!(patch.get("assignee").is_none(), "never cleared because Jira would not say: {patch:?}");
        let nobody = json!({"assignee": null});
        let patch = item_patch(EntityKind::Defect, nobody.as_object().unwrap(), &map, &maps, &Value::Null);
        assert_eq!(patch["assignee"], json!(null));

        let item = json!({"assignee": "jane@example.com"});
        let same = item_patch(EntityKind::UserStory, shown.as_object().unwrap(), &map, &maps, &Value::Null);
        assert!(differences(&item, &same, Flavor::Cloud).is_empty(), "e-mails compare without case");
    }

    #[test]
    fn resolution_notes_travel_in_their_own_text_field_both_ways() {
        let (map, maps) = (field_map(true), ProjectMaps::default());
        let defect = json!({"id": "DEF-1", "title": "t", "resolutionNotes": "Fixed the **cache**."});
        let input = issue_input(EntityKind::Defect, &defect, &maps, None, None, &|_| true);
        assert!(
            input
                .custom
                .contains(&(names::RESOLUTION_NOTES.into(), FieldValue::Markdown("Fixed the **cache**.".into())))
        );
        let body = issue_fields(Flavor::Datacenter, &map, &input).unwrap();
        assert_eq!(body["customfield_10009"].as_str().map(str::trim), Some("Fixed the *cache*."));
        assert!(body.get("resolution").is_none(), "Jira's resolution is not per-issue text");

        let fields = json!({"customfield_10009": "Fixed the *cache*."});
        let patch = item_patch(EntityKind::Defect, fields.as_object().unwrap(), &map, &maps, &Value::Null);
        assert_eq!(patch["resolutionNotes"].as_str().map(str::trim), Some("Fixed the **cache**."));
        let cleared = json!({"customfield_10009": null});
        let patch = item_patch(EntityKind::Defect, cleared.as_object().unwrap(), &map, &maps, &Value::Null);
        assert_eq!(patch["resolutionNotes"], json!(null));
    }

    #[test]
    fn a_site_without_the_resolution_notes_field_still_takes_the_push_but_not_without_required_ones() {
        let maps = ProjectMaps::default();
        let defect = json!({"id": "DEF-1", "title": "t", "resolutionNotes": "n"});
        let input = issue_input(EntityKind::Defect, &defect, &maps, None, None, &|_| true);
        let body = issue_fields(Flavor::Cloud, &field_map(false), &input).unwrap();
        assert_eq!(body["customfield_10001"], "DEF-1", "the rest is sent");
        assert!(!body.contains_key("customfield_10009"));
        let no_id = FieldMap::from_response(&json!([
            {"id": "customfield_10002", "name": names::SYNC_SOURCE, "custom": true},
            {"id": "customfield_10009", "name": names::RESOLUTION_NOTES, "custom": true},
        ]))
        .unwrap();
        let err = issue_fields(Flavor::Cloud, &no_id, &input).unwrap_err();
        assert!(err.to_string().contains("ARKHITEKTON ID"), "{err}");
    }
}
