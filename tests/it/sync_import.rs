//! Importing issues made in Jira (`import_unmapped`), end to end against
//! the Jira simulator: by webhook, by reconciliation, under racing
//! deliveries, and the round trips after.

use arksync::jira::webhook::EventKind;
use arksync::sync::inbound::{self, Applied, Incoming};
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::jira_support::{admin_get, admin_post, requests};
use crate::sync_e2e::Synced;

const STORY_POINTS: &str = "customfield_10016";
const ARKHITEKTON_ID: &str = "customfield_10001";

pub async fn put(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    crate::harness::status_and_json(reqwest::Client::new().put(app.url(path)).json(&body).send().await.unwrap()).await
}

async fn import_on(s: &Synced) {
    let (status, body) = put(&s.app, "/api/jira/projects/PROJ/settings", json!({"importUnmapped": true})).await;
    assert_eq!((status, &body["importUnmapped"]), (200, &json!(true)), "{body}");
}

/// A person creates an issue in PROJ; returns its key.
async fn person_creates(s: &Synced, issue_type: &str, summary: &str, extra: Value) -> String {
    let mut fields = json!({"project": {"key": "PROJ"}, "issuetype": {"name": issue_type}, "summary": summary});
    for (k, v) in extra.as_object().unwrap() {
        fields[k] = v.clone();
    }
    let status = s.as_person(reqwest::Method::POST, "/rest/api/3/issue", json!({"fields": fields})).await;
    assert_eq!(status, 201, "the person's create");
    let issues = admin_get(&s.sim, "issues").await;
    let issue = issues.as_array().unwrap().iter().find(|i| i["fields"]["summary"] == summary).cloned().unwrap();
    issue["key"].as_str().unwrap().to_owned()
}

async fn items_titled(app: &TestApp, collection: &str, title: &str) -> Vec<Value> {
    let (_, list) = app.get(&format!("/api/{collection}?limit=200")).await;
    list["data"].as_array().unwrap().iter().filter(|i| i["title"] == title).cloned().collect()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db.connect().await.query_one(sql, &[]).await.unwrap().get(0)
}

/// Requests after `from` (a request-log length) that change something in Jira.
async fn writes_since(s: &Synced, from: usize) -> Vec<Value> {
    let log = requests(&s.sim).await;
    log[from..]
        .iter()
        .filter(|r| r["method"] != "GET" && !r["path"].as_str().unwrap().contains("/search"))
        .cloned()
        .collect()
}

async fn event_note(app: &TestApp, key: &str) -> (String, String) {
    let row = app
        .db
        .connect()
        .await
        .query_one(
            "SELECT processing_status, coalesce(processing_error, '') FROM jira_webhook_events \
             WHERE jira_issue_key = $1 ORDER BY received_at LIMIT 1",
            &[&key],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn an_issue_made_in_jira_becomes_a_linked_item_and_only_its_new_id_is_written_back() {
    let s = Synced::start(|_| {}).await;
    import_on(&s).await;
    let before = requests(&s.sim).await.len();
    let description = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Raised by support"}]}]});
    let key = person_creates(
        &s,
        "Story",
        "Export invoices as CSV",
        json!({"labels": ["billing"], "priority": {"name": "High"}, STORY_POINTS: 3, "description": description}),
    )
    .await;
    s.settle().await;

    let found = items_titled(&s.app, "user-stories", "Export invoices as CSV").await;
    assert_eq!(found.len(), 1, "{found:?}");
    let item = &found[0];
    let id = item["id"].as_str().unwrap();
    assert_eq!(item["description"].as_str().map(str::trim), Some("Raised by support"));
    assert_eq!((item["priority"].as_str(), item["storyPoints"].as_i64()), (Some("high"), Some(3)));
    assert_eq!((item["labels"].clone(), item["status"].as_str()), (json!(["billing"]), Some("backlog")));
    assert_eq!((item["syncSource"].as_str(), item["syncStatus"].as_str()), (Some("jira"), Some("synced")));
    assert_eq!((item["syncToJira"].as_bool(), item["jiraProjectKey"].as_str()), (Some(true), Some("PROJ")));
    assert_eq!(item["jiraIssueKey"], key.as_str());
    assert_eq!(item["jiraMapping"]["issueKey"], key.as_str());
    assert_eq!(
        count(
            &s.app,
            "SELECT count(*) FROM jira_sync_logs WHERE sync_direction = 'from_jira' AND sync_type = 'create'"
        )
        .await,
        1
    );
    let pushes = format!("SELECT count(*) FROM jobs WHERE kind = 'push_to_jira' AND payload ->> 'id' = '{id}'");
    assert_eq!(count(&s.app, &pushes).await, 0, "an import is never pushed back");
    // Jira saw the person's create and one write of ours: the new id.
    let writes = writes_since(&s, before).await;
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!((writes[0]["method"].as_str(), writes[0]["status"].as_u64()), (Some("POST"), Some(201)));
    assert_eq!(writes[1]["method"], "PUT", "{writes:?}");
    assert_eq!(s.issue(&key).await["fields"][ARKHITEKTON_ID], id, "the ARKHITEKTON ID was written back");
    assert_eq!(s.issue(&key).await["fields"]["summary"], "Export invoices as CSV");
    // The stamp's webhook is our own echo.
    let echoes = count(&s.app, "SELECT count(*) FROM jira_webhook_events WHERE processing_status = 'ignored'").await;
    assert!(echoes >= 1);
    assert_eq!(
        count(&s.app, "SELECT count(*) FROM jira_sync_logs WHERE sync_direction = 'from_jira'").await,
        1,
        "nothing else came in"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_imported_item_then_syncs_both_ways() {
    let s = Synced::start(|_| {}).await;
    import_on(&s).await;
    let key = person_creates(&s, "Bug", "Totals are off by one", json!({"priority": {"name": "Highest"}})).await;
    s.settle().await;
    let found = items_titled(&s.app, "defects", "Totals are off by one").await;
    assert_eq!(found.len(), 1);
    let id = found[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(found[0]["severity"], "critical");

    let edit = json!({"fields": {"summary": "Totals are off by one cent"}});
    assert_eq!(s.as_person(reqwest::Method::PUT, &format!("/rest/api/3/issue/{key}"), edit).await, 204);
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/defects/{id}")).await;
    assert_eq!(got["title"], "Totals are off by one cent", "a Jira edit updates the imported item");
    assert_eq!(items_titled(&s.app, "defects", "Totals are off by one cent").await.len(), 1, "no second item");

    let (status, _) = s.app.patch(&format!("/api/defects/{id}"), json!({"rootCause": "Rounding"})).await;
    assert_eq!(status, 200);
    s.settle().await;
    let issue = s.issue(&key).await;
    assert_eq!(issue["fields"]["summary"], "Totals are off by one cent");
    let root_cause = issue["fields"]["customfield_10006"].to_string();
    assert!(root_cause.contains("Rounding"), "an ARKHITEKTON edit reaches the issue: {}", issue["fields"]);
    assert_eq!(s.app.get(&format!("/api/defects/{id}")).await.1["syncStatus"], "synced");
    s.stop().await;
}

#[tokio::test]
async fn an_imported_story_under_a_linked_epic_gets_that_epic_and_its_push_sends_only_the_edit() {
    let s = Synced::start(|_| {}).await;
    import_on(&s).await;
    let (_, epic) =
        s.app.post("/api/epics", json!({"title": "Checkout", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    s.settle().await;
    let epic = epic["id"].as_str().unwrap().to_owned();
    let epic_key = s.app.get(&format!("/api/epics/{epic}")).await.1["jiraIssueKey"].as_str().unwrap().to_owned();
    let key = person_creates(&s, "Story", "Pay by link", json!({"parent": {"key": epic_key}})).await;
    s.settle().await;
    let found = items_titled(&s.app, "user-stories", "Pay by link").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["epicId"], epic.as_str(), "{}", found[0]);
    // The link starts with Jira's values as agreed: an edit here sends itself.
    let id = found[0]["id"].as_str().unwrap().to_owned();
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"storyPoints": 3})).await;
    s.settle().await;
    assert_eq!(s.issue(&key).await["fields"]["customfield_10016"], json!(3.0));
    let c = s.app.db.connect().await;
    let sent: Value = c
        .query_one(
            "SELECT request_payload FROM jira_sync_logs WHERE arkhitekton_id = $1 AND sync_direction = 'to_jira' \
             ORDER BY created_at DESC LIMIT 1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(sent.get("summary").is_none() && sent.get("parent").is_none(), "only the edit: {sent}");
    s.stop().await;
}

#[tokio::test]
async fn without_import_or_with_an_unmapped_type_or_a_bad_value_nothing_is_imported() {
    let s = Synced::start(|_| {}).await;
    let off = person_creates(&s, "Story", "Import is off", json!({})).await;
    s.settle().await;
    assert!(items_titled(&s.app, "user-stories", "Import is off").await.is_empty());
    let (status, note) = event_note(&s.app, &off).await;
    assert_eq!(status, "ignored");
    assert!(note.contains("does not import"), "{note}");

    import_on(&s).await;
    let sub = person_creates(&s, "Sub-task", "A sub-task", json!({})).await;
    // Story points beyond ARKHITEKTON's 0–1000: the item would be invalid.
    let big = person_creates(&s, "Story", "Huge story", json!({STORY_POINTS: 5000})).await;
    s.settle().await;
    let (status, note) = event_note(&s.app, &sub).await;
    assert_eq!(status, "ignored");
    assert!(note.contains("maps to no ARKHITEKTON kind"), "{note}");
    let (status, note) = event_note(&s.app, &big).await;
    assert_eq!(status, "ignored");
    assert!(note.contains("storyPoints"), "{note}");
    for table in ["user_stories", "defects", "epics", "jira_integration_mappings", "jira_sync_logs"] {
        assert_eq!(count(&s.app, &format!("SELECT count(*) FROM {table}")).await, 0, "{table}: nothing written");
    }
    s.stop().await;
}

#[tokio::test]
async fn racing_deliveries_of_one_new_issue_make_exactly_one_item() {
    let s = Synced::start(|_| {}).await;
    import_on(&s).await;
    // The webhooks are lost: the issue reaches us only through the racers.
    admin_post(&s.sim, "faults", json!({"webhooks": {"dropRate": 1.0}})).await;
    let key = person_creates(&s, "Story", "Raced", json!({})).await;
    let first = s.issue(&key).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let edit = json!({"fields": {"summary": "Raced, edited"}});
    assert_eq!(s.as_person(reqwest::Method::PUT, &format!("/rest/api/3/issue/{key}"), edit).await, 204);
    let second = s.issue(&key).await;
    s.settle().await;

    // Created and updated, each delivered by webhook and by reconciliation.
    let racers = (0..8).map(|i| {
        let (event, issue) =
            if i % 2 == 0 { (EventKind::IssueCreated, &first) } else { (EventKind::IssueUpdated, &second) };
        let engine = &s.engine;
        async move {
            let source = if i < 4 { "webhook" } else { "scheduled" };
            let incoming = Incoming { event, issue, actor_account_id: None, changelog: None, source, read_at: None };
            inbound::apply(engine, &incoming).await
        }
    });
    let outcomes = futures_util::future::join_all(racers).await;
    let changed = outcomes.iter().filter(|o| matches!(o, Ok(Applied::Changed(_)))).count();
    assert!(outcomes.iter().all(Result::is_ok), "every racer finished cleanly: {outcomes:?}");
    assert!(changed >= 1, "the import happened: {outcomes:?}");
    assert_eq!(count(&s.app, "SELECT count(*) FROM user_stories").await, 1, "exactly one item");
    assert_eq!(count(&s.app, "SELECT count(*) FROM jira_integration_mappings").await, 1);
    assert_eq!(count(&s.app, "SELECT count(*) FROM jira_sync_logs WHERE sync_type = 'create'").await, 1);
    assert_eq!(items_titled(&s.app, "user-stories", "Raced, edited").await.len(), 1, "the newer version won");
    s.stop().await;
}

#[tokio::test]
async fn reconciliation_imports_an_issue_whose_webhook_was_dropped() {
    let s = Synced::start(|_| {}).await;
    import_on(&s).await;
    admin_post(&s.sim, "faults", json!({"webhooks": {"dropRate": 1.0}})).await;
    let key = person_creates(&s, "Epic", "Self-service onboarding", json!({})).await;
    s.settle().await;
    assert!(items_titled(&s.app, "epics", "Self-service onboarding").await.is_empty(), "no webhook, no item yet");
    reqwest::Client::new().delete(format!("{}/_sim/faults", s.sim.base_url())).send().await.unwrap();

    // No item is linked to PROJ yet: the pass searches it because it imports.
    let report = arksync::sync::reconcile::reconcile(&s.engine).await.unwrap();
    assert_eq!(report.items_changed, 1, "{report:?}");
    s.settle().await;
    let found = items_titled(&s.app, "epics", "Self-service onboarding").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["jiraIssueKey"], key.as_str());
    let source = "SELECT count(*) FROM jira_sync_logs WHERE sync_type = 'create' AND sync_source = 'scheduled'";
    assert_eq!(count(&s.app, source).await, 1);
    let again = arksync::sync::reconcile::reconcile(&s.engine).await.unwrap();
    assert_eq!(again.items_changed, 0, "a second pass changes nothing: {again:?}");
    assert_eq!(count(&s.app, "SELECT count(*) FROM epics").await, 1);
    s.stop().await;
}

#[tokio::test]
async fn project_settings_are_read_and_set_with_validation() {
    let app = TestApp::spawn().await;
    let (status, got) = app.get("/api/jira/projects/OPS/settings").await;
    assert_eq!(status, 200);
    assert_eq!(got, json!({"projectKey": "OPS", "importUnmapped": false, "maps": {}, "updatedAt": null}));
    let maps = json!({"statusFromJira": {"Triage": "backlog"}, "issueTypes": {"defect": "Incident"}});
    let (status, got) = put(&app, "/api/jira/projects/OPS/settings", json!({"maps": maps})).await;
    assert_eq!((status, &got["maps"], &got["importUnmapped"]), (200, &maps, &json!(false)), "{got}");
    let (status, got) = put(&app, "/api/jira/projects/OPS/settings", json!({"importUnmapped": true})).await;
    assert_eq!((status, &got["maps"], &got["importUnmapped"]), (200, &maps, &json!(true)), "maps kept: {got}");
    let bad = [
        (json!({}), "importUnmapped"),
        (json!({"importUnmapped": "yes"}), "importUnmapped"),
        (json!({"maps": {"statusMap": {}}}), "maps"),
        (json!({"maps": {"statusFromJira": {"Triage": "later"}}}), "maps.statusFromJira"),
        (json!({"maps": {"issueTypes": {"story": "Story"}}}), "maps.issueTypes"),
        (json!({"maps": []}), "maps"),
        (json!({"importUnmapped": true, "extra": 1}), "extra"),
    ];
    for (body, field) in bad {
        let (status, got) = put(&app, "/api/jira/projects/OPS/settings", body.clone()).await;
        assert_eq!((status, got["error"]["field"].as_str()), (400, Some(field)), "{body}: {got}");
    }
    assert_eq!(app.get("/api/jira/projects/OPS/settings").await.1["maps"], maps, "refused input wrote nothing");
    assert_eq!(app.get("/api/jira/projects/lower/settings").await.0, 404);
    assert_eq!(app.delete("/api/jira/projects/OPS/settings").await, 405);
}
