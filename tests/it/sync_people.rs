//! People and resolution notes end to end: assignees and epic owners are
//! e-mails here and Jira users there (looked up, cached, mapped back even
//! when Jira hides the e-mail), and defects' resolution notes travel in
//! the Resolution Notes field.

use arksync::jira_sim::{Flavor, SimConfig, SimUser};
use reqwest::Method;
use serde_json::{Value, json};

use crate::jira_support::requests;
use crate::sync_e2e::Synced;

/// Sam shows his e-mail; Bob and Carol hide theirs (Cloud privacy).
fn people(config: &mut SimConfig) {
    config.users.push(SimUser::new("sam.visible@example.com", "sam-token", 2));
    for (i, email) in [(3, "bob.private@example.com"), (4, "carol.private@example.com")] {
        let mut u = SimUser::new(email, &format!("token-{i}"), i);
        u.email_hidden = true;
        config.users.push(u);
    }
}

fn account(s: &Synced, email: &str) -> String {
    s.sim.credentials().iter().find(|u| u.email == email).unwrap().account_id.clone()
}

/// Creates a synced item and returns its id and issue key.
async fn synced(s: &Synced, collection: &str, body: Value) -> (String, String) {
    let mut body = body;
    body["syncToJira"] = json!(true);
    body["jiraProjectKey"] = json!("PROJ");
    let (status, item) = s.app.post(&format!("/api/{collection}"), body).await;
    assert_eq!(status, 201, "{item}");
    s.settle().await;
    let id = item["id"].as_str().unwrap().to_owned();
    let (_, got) = s.app.get(&format!("/api/{collection}/{id}")).await;
    let key = got["jiraIssueKey"].as_str().unwrap_or_else(|| panic!("not linked: {got}")).to_owned();
    (id, key)
}

async fn item(s: &Synced, collection: &str, id: &str) -> Value {
    s.app.get(&format!("/api/{collection}/{id}")).await.1
}

/// A person in Jira edits the issue's fields.
async fn jira_edit(s: &Synced, version: u8, key: &str, fields: Value) {
    let status = s.as_person(Method::PUT, &format!("/rest/api/{version}/issue/{key}"), json!({"fields": fields})).await;
    assert_eq!(status, 204);
    s.settle().await;
}

async fn user_searches(s: &Synced) -> usize {
    requests(&s.sim).await.iter().filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/user/search"))).count()
}

#[tokio::test]
async fn a_story_assignee_reaches_jira_as_that_users_account_and_jira_assignments_come_back_as_emails() {
    let s = Synced::start(people).await;
    let (id, key) = synced(&s, "user-stories", json!({"title": "Assign me", "assignee": "Jane.Doe@example.com"})).await;
    assert_eq!(s.issue(&key).await["fields"]["assignee"]["accountId"], account(&s, "jane.doe@example.com"));
    assert_eq!(item(&s, "user-stories", &id).await["syncStatus"], "synced");
    assert_eq!(user_searches(&s).await, 1);

    // Another edit pushes the same assignee without asking Jira again.
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"title": "Assign me, renamed"})).await;
    s.settle().await;
    assert_eq!(s.issue(&key).await["fields"]["summary"], "Assign me, renamed");
    assert_eq!(user_searches(&s).await, 1, "the lookup is cached");

    jira_edit(&s, 3, &key, json!({"assignee": {"accountId": account(&s, "sam.visible@example.com")}})).await;
    let got = item(&s, "user-stories", &id).await;
    assert_eq!((got["assignee"].as_str(), got["syncSource"].as_str()), (Some("sam.visible@example.com"), Some("jira")));

    jira_edit(&s, 3, &key, json!({"assignee": null})).await;
    assert_eq!(item(&s, "user-stories", &id).await["assignee"], Value::Null, "unassigned in Jira");

    s.app.patch(&format!("/api/user-stories/{id}"), json!({"assignee": "jane.doe@example.com"})).await;
    s.settle().await;
    assert_eq!(s.issue(&key).await["fields"]["assignee"]["accountId"], account(&s, "jane.doe@example.com"));
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"assignee": null})).await;
    s.settle().await;
    assert_eq!(s.issue(&key).await["fields"]["assignee"], Value::Null, "null unassigns");
    s.stop().await;
}

#[tokio::test]
async fn a_hidden_email_maps_back_when_the_account_was_looked_up_and_otherwise_changes_nothing() {
    let s = Synced::start(people).await;
    let (id, key) =
        synced(&s, "user-stories", json!({"title": "Private", "assignee": "bob.private@example.com"})).await;
    let bob = account(&s, "bob.private@example.com");
    let issue = s.issue(&key).await;
    assert_eq!(issue["fields"]["assignee"]["accountId"], bob.as_str(), "found by the full address");
    assert!(issue["fields"]["assignee"].get("emailAddress").is_none(), "Jira hides Bob's e-mail");

    jira_edit(&s, 3, &key, json!({"assignee": null})).await;
    assert_eq!(item(&s, "user-stories", &id).await["assignee"], Value::Null);
    jira_edit(&s, 3, &key, json!({"assignee": {"accountId": bob}})).await;
    assert_eq!(
        item(&s, "user-stories", &id).await["assignee"],
        "bob.private@example.com",
        "Bob's accountId was learnt from the lookup"
    );

    // Carol hides her e-mail and was never looked up: nothing to map to.
    jira_edit(&s, 3, &key, json!({"assignee": {"accountId": account(&s, "carol.private@example.com")}})).await;
    let got = item(&s, "user-stories", &id).await;
    assert_eq!(got["assignee"], "bob.private@example.com", "left as it was, never cleared: {got}");
    assert_eq!(got["syncStatus"], "synced");
    s.stop().await;
}

#[tokio::test]
async fn an_email_no_jira_user_has_is_a_warning_on_its_field_while_the_other_fields_sync() {
    let s = Synced::start(people).await;
    let (id, key) =
        synced(&s, "user-stories", json!({"title": "Ghostly", "storyPoints": 3, "assignee": "ghost@example.com"}))
            .await;
    let issue = s.issue(&key).await;
    assert_eq!(
        (issue["fields"]["summary"].as_str(), issue["fields"]["customfield_10016"].as_f64()),
        (Some("Ghostly"), Some(3.0))
    );
    assert_eq!(issue["fields"]["assignee"], Value::Null);
    let got = item(&s, "user-stories", &id).await;
    assert_eq!((got["syncStatus"].as_str(), got["syncError"].as_str()), (Some("synced"), None), "{got}");
    let warnings = got["syncWarnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{got}");
    assert_eq!(
        (warnings[0]["field"].as_str(), warnings[0]["code"].as_str()),
        (Some("assignee"), Some("assignee_unknown"))
    );
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(message.contains("no Jira user has the e-mail address ghost@example.com"), "{message}");
    assert!(!message.contains("token"), "{message}");
    // The sync history shows the push as done, with the warning.
    let (_, history) = s.app.get(&format!("/api/user-stories/{id}/sync-history")).await;
    let push = history["data"].as_array().unwrap().iter().find(|h| h["syncDirection"] == "to_jira").unwrap().clone();
    assert_eq!(push["status"], "success", "{push}");
    assert_eq!(push["warnings"][0]["code"], "assignee_unknown", "{push}");

    // A known person mends it.
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"assignee": "jane.doe@example.com"})).await;
    s.settle().await;
    let got = item(&s, "user-stories", &id).await;
    assert_eq!((got["syncStatus"].as_str(), got["syncWarnings"].clone()), (Some("synced"), json!([])), "{got}");
    assert_eq!(s.issue(&key).await["fields"]["assignee"]["accountId"], account(&s, "jane.doe@example.com"));
    s.stop().await;
}

#[tokio::test]
async fn an_epic_owner_is_the_issues_assignee_both_ways() {
    let s = Synced::start(people).await;
    let (id, key) = synced(&s, "epics", json!({"title": "Payments", "owner": "jane.doe@example.com"})).await;
    assert_eq!(s.issue(&key).await["fields"]["assignee"]["accountId"], account(&s, "jane.doe@example.com"));
    jira_edit(&s, 3, &key, json!({"assignee": {"accountId": account(&s, "sam.visible@example.com")}})).await;
    assert_eq!(item(&s, "epics", &id).await["owner"], "sam.visible@example.com");
    s.stop().await;
}

#[tokio::test]
async fn defect_resolution_notes_and_assignee_travel_both_ways() {
    let s = Synced::start(people).await;
    let (id, key) = synced(
        &s,
        "defects",
        json!({"title": "Card list empty", "severity": "high", "assignee": "sam.visible@example.com",
               "resolutionNotes": "Cleared the **stale** cache."}),
    )
    .await;
    let issue = s.issue(&key).await;
    assert_eq!(issue["fields"]["assignee"]["accountId"], account(&s, "sam.visible@example.com"));
    let notes = &issue["fields"]["customfield_10009"];
    assert_eq!(notes["type"], "doc", "ADF on Cloud: {notes}");
    assert!(notes.to_string().contains("stale"), "{notes}");

    let adf = json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "Rebuilt the index."}]}]});
    jira_edit(&s, 3, &key, json!({"customfield_10009": adf})).await;
    assert_eq!(item(&s, "defects", &id).await["resolutionNotes"].as_str().map(str::trim), Some("Rebuilt the index."));
    jira_edit(&s, 3, &key, json!({"assignee": {"accountId": account(&s, "jane.doe@example.com")}})).await;
    assert_eq!(item(&s, "defects", &id).await["assignee"], "jane.doe@example.com");
    s.stop().await;
}

#[tokio::test]
async fn data_center_assigns_by_user_name_and_maps_back_by_email() {
    let s = Synced::start(|c| {
        c.flavor = Flavor::Datacenter;
        people(c);
    })
    .await;
    let (id, key) = synced(&s, "user-stories", json!({"title": "On prem", "assignee": "jane.doe@example.com"})).await;
    let assignee = &s.issue(&key).await["fields"]["assignee"];
    assert_eq!(assignee["name"], "jane.doe", "{assignee}");
    let searched = requests(&s.sim).await.into_iter().find(|r| r["path"] == "/rest/api/2/user/search").unwrap();
    assert!(searched["query"].as_str().unwrap().contains("username=jane.doe@example.com"), "{searched}");

    jira_edit(&s, 2, &key, json!({"assignee": {"name": "sam.visible"}})).await;
    assert_eq!(item(&s, "user-stories", &id).await["assignee"], "sam.visible@example.com");
    s.stop().await;
}
