//! What a push sends and what an incoming Jira version may change, judged
//! against what both sides last agreed on: concurrent edits of different
//! fields on the two sides both survive, and a push costs only the Jira
//! calls its change needs.

use reqwest::Method;
use serde_json::{Value, json};

use crate::jira_support::{admin_post, requests};
use crate::sync_e2e::Synced;

/// The simulator's requests from the `seq`th on, as `METHOD path`.
async fn calls_since(s: &Synced, seq: usize) -> Vec<String> {
    requests(&s.sim)
        .await
        .iter()
        .skip(seq)
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/rest/")))
        .map(|r| format!("{} {}", r["method"].as_str().unwrap(), r["path"].as_str().unwrap()))
        .collect()
}

/// Runs an edit and takes its push away before anyone can run it.
async fn edit_without_push(c: &mut tokio_postgres::Client, edit: &str) {
    let tx = c.transaction().await.unwrap();
    tx.batch_execute(edit).await.unwrap();
    let removed =
        tx.execute("DELETE FROM jobs WHERE kind = 'push_to_jira' AND state = 'available'", &[]).await.unwrap();
    assert_eq!(removed, 1, "the edit enqueued its push");
    tx.commit().await.unwrap();
}

async fn conflicts(s: &Synced) -> i64 {
    let c = s.app.db.connect().await;
    c.query_one("SELECT count(*) FROM sync_conflicts", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_push_does_not_overwrite_a_field_a_person_changed_in_jira_meanwhile() {
    let s = Synced::start(|_| {}).await;
    let (id, key) = s
        .synced_story(
            json!({"title": "Refunds", "description": "Old text.", "syncToJira": true, "jiraProjectKey": "PROJ"}),
        )
        .await;
    // A person rewrites the description in Jira; its webhook is lost.
    admin_post(&s.sim, "faults", json!({"webhooks": {"dropRate": 1.0}})).await;
    let status = s
        .as_person(
            Method::PUT,
            &format!("/rest/api/3/issue/{key}"),
            json!({"fields": {"description": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "Written in Jira."}]}]}}}),
        )
        .await;
    assert_eq!(status, 204);
    // Meanwhile the title is edited here and pushed.
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"title": "Refunds to cards"})).await;
    s.settle().await;
    reqwest::Client::new().delete(format!("{}/_sim/faults", s.sim.base_url())).send().await.unwrap();
    let issue = s.issue(&key).await;
    assert_eq!(issue["fields"]["summary"], "Refunds to cards", "our edit reached Jira");
    let description = arksync::jira::requests::markdown_of(&issue["fields"]["description"]).unwrap();
    assert_eq!(description.trim(), "Written in Jira.", "the person's edit survived our push");

    // Reconciliation brings the person's edit here; nothing conflicts.
    arksync::sync::reconcile::reconcile(&s.engine).await.unwrap();
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(
        (got["title"].as_str(), got["description"].as_str()),
        (Some("Refunds to cards"), Some("Written in Jira.\n"))
    );
    assert_eq!(got["syncStatus"], "synced", "{got}");
    assert_eq!(conflicts(&s).await, 0, "different fields: no conflict");
    s.stop().await;
}

#[tokio::test]
async fn jiras_edit_of_one_field_does_not_undo_an_unpushed_edit_of_another() {
    let s = Synced::start(|_| {}).await;
    let (id, key) = s
        .synced_story(json!({"title": "Invoices", "priority": "low", "syncToJira": true, "jiraProjectKey": "PROJ"}))
        .await;
    // An edit here whose push has not run yet (its job is taken away in
    // the edit's own transaction).
    let mut c = s.app.db.connect().await;
    edit_without_push(&mut c, &format!("UPDATE user_stories SET title = 'Invoices as PDF' WHERE id = '{id}'")).await;
    // A person raises the priority in Jira: the webhook arrives while our
    // edit waits. Jira still has the title both sides agreed on, so it is
    // our newer title that stays, and Jira's priority that is taken; the
    // item still differs from Jira, so a push is enqueued, and it sends
    // the title alone.
    let status = s
        .as_person(Method::PUT, &format!("/rest/api/3/issue/{key}"), json!({"fields": {"priority": {"name": "High"}}}))
        .await;
    assert_eq!(status, 204);
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!((got["title"].as_str(), got["priority"].as_str()), (Some("Invoices as PDF"), Some("high")));
    assert_eq!(got["syncStatus"], "synced", "{got}");
    assert_eq!(conflicts(&s).await, 0, "different fields: no conflict");
    let issue = s.issue(&key).await;
    assert_eq!(
        (issue["fields"]["summary"].as_str(), issue["fields"]["priority"]["name"].as_str()),
        (Some("Invoices as PDF"), Some("High"))
    );
    let sent: Value = c
        .query_one(
            "SELECT request_payload FROM jira_sync_logs WHERE sync_direction = 'to_jira' ORDER BY created_at DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sent["summary"], "Invoices as PDF", "{sent}");
    assert!(sent.get("priority").is_none() && sent.get("description").is_none(), "only the title: {sent}");
    s.stop().await;
}

#[tokio::test]
async fn the_same_field_changed_on_both_sides_is_still_a_recorded_conflict() {
    let s = Synced::start(|_| {}).await;
    let (id, key) = s.synced_story(json!({"title": "Exports", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    let mut c = s.app.db.connect().await;
    edit_without_push(&mut c, &format!("UPDATE user_stories SET title = 'Exports (ours)' WHERE id = '{id}'")).await;
    s.as_person(Method::PUT, &format!("/rest/api/3/issue/{key}"), json!({"fields": {"summary": "Exports (theirs)"}}))
        .await;
    s.settle().await;
    assert_eq!(conflicts(&s).await, 1);
    let row =
        c.query_one("SELECT arkhitekton_version, jira_version, resolution FROM sync_conflicts", &[]).await.unwrap();
    assert_eq!(row.get::<_, Value>(0), json!({"title": "Exports (ours)"}));
    assert_eq!(row.get::<_, Value>(1), json!({"title": "Exports (theirs)"}));
    assert_eq!(row.get::<_, String>(2), "merged", "within 10 s: text from Jira");
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(got["title"], "Exports (theirs)");
    s.stop().await;
}

#[tokio::test]
async fn a_create_costs_one_call_and_a_status_change_only_its_transition() {
    let s = Synced::start(|_| {}).await;
    // The first create of a story in PROJ learns the status new stories
    // start in; the next needs nothing but its POST.
    let (_, _) = s.synced_story(json!({"title": "First", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    let seq = requests(&s.sim).await.len();
    let (id, key) = s.synced_story(json!({"title": "Second", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    assert_eq!(calls_since(&s, seq).await, ["POST /rest/api/3/issue"], "no search, no status calls");

    let seq = requests(&s.sim).await.len();
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"status": "in-progress"})).await;
    s.settle().await;
    assert_eq!(
        calls_since(&s, seq).await,
        [format!("GET /rest/api/3/issue/{key}/transitions"), format!("POST /rest/api/3/issue/{key}/transitions")],
        "no PUT: only the status changed"
    );
    assert_eq!(s.issue(&key).await["fields"]["status"]["name"], "In Progress");

    // A story created in a non-initial status is moved there after its POST.
    let seq = requests(&s.sim).await.len();
    let (_, key) = s
        .synced_story(
            json!({"title": "Started", "status": "in-progress", "syncToJira": true, "jiraProjectKey": "PROJ"}),
        )
        .await;
    assert_eq!(calls_since(&s, seq).await.len(), 3, "POST, then the transition's GET and POST");
    assert_eq!(s.issue(&key).await["fields"]["status"]["name"], "In Progress");

    // An edit Jira cannot tell apart (a label's space is a dash there)
    // writes nothing there, and is logged as skipped.
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"labels": ["needs review"]})).await;
    s.settle().await;
    let seq = requests(&s.sim).await.len();
    let (status, _) = s.app.patch(&format!("/api/user-stories/{id}"), json!({"labels": ["needs-review"]})).await;
    assert_eq!(status, 200);
    s.settle().await;
    let writes: Vec<String> = calls_since(&s, seq).await.into_iter().filter(|c| !c.starts_with("GET")).collect();
    assert!(writes.is_empty(), "{writes:?}");
    let c = s.app.db.connect().await;
    let last: String = c
        .query_one(
            "SELECT status FROM jira_sync_logs WHERE sync_direction = 'to_jira' ORDER BY created_at DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(last, "skipped");
    s.stop().await;
}

#[tokio::test]
async fn a_create_left_in_doubt_looks_for_its_issue_before_creating() {
    let s = Synced::start(|_| {}).await;
    let c = s.app.db.connect().await;
    // An earlier attempt was sent and never recorded: the issue exists.
    let id: String =
        c.query_one("INSERT INTO user_stories (title) VALUES ('In doubt') RETURNING id", &[]).await.unwrap().get(0);
    // Its webhook is lost too (else the delivery would link the issue).
    admin_post(&s.sim, "faults", json!({"webhooks": {"dropRate": 1.0}})).await;
    let status = s
        .as_person(
            Method::POST,
            "/rest/api/3/issue",
            json!({"fields": {"project": {"key": "PROJ"}, "issuetype": {"name": "Story"}, "summary": "In doubt",
                              "customfield_10001": id}}),
        )
        .await;
    assert_eq!(status, 201);
    reqwest::Client::new().delete(format!("{}/_sim/faults", s.sim.base_url())).send().await.unwrap();
    c.execute("INSERT INTO jira_pending_creates (arkhitekton_id) VALUES ($1)", &[&id]).await.unwrap();
    let seq = requests(&s.sim).await.len();
    let (status, body) =
        s.app.post(&format!("/api/user-stories/{id}/sync-to-jira"), json!({"jiraProjectKey": "PROJ"})).await;
    assert_eq!(status, 202, "{body}");
    s.settle().await;
    let calls = calls_since(&s, seq).await;
    assert!(calls.contains(&"POST /rest/api/3/search/jql".to_owned()), "{calls:?}");
    assert!(!calls.contains(&"POST /rest/api/3/issue".to_owned()), "found, not created again: {calls:?}");
    let pending: i64 = c.query_one("SELECT count(*) FROM jira_pending_creates", &[]).await.unwrap().get(0);
    assert_eq!(pending, 0, "the link is stored: no longer in doubt");
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(got["syncStatus"], "synced", "{got}");
    s.stop().await;
}

#[tokio::test]
async fn two_versions_of_an_issue_applied_at_once_leave_the_newer() {
    use arksync::jira::webhook::EventKind;
    use arksync::sync::inbound::{Incoming, apply};

    let s = Synced::start(|_| {}).await;
    let (id, key) = s.synced_story(json!({"title": "Race", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    let c = s.app.db.connect().await;
    let issue_id: String =
        c.query_one("SELECT jira_issue_id FROM user_stories WHERE id = $1", &[&id]).await.unwrap().get(0);
    // Versions read by a search (as reconciliation reads them), so each is
    // applied as it is, not read again from Jira.
    let base = chrono::Utc::now() - chrono::Duration::hours(1);
    let version = |n: u32, title: &str| {
        let updated = base + chrono::Duration::seconds(i64::from(n));
        json!({"id": issue_id, "key": key,
               "fields": {"summary": title, "updated": updated.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()}})
    };
    for round in 0..5 {
        let (older, newer) = (version(2 * round, "older"), version(2 * round + 1, "newer"));
        // Both deliveries arrive while the link is busy, then race.
        let mut blocker = s.app.db.connect().await;
        let lock = blocker.transaction().await.unwrap();
        lock.execute("SELECT 1 FROM jira_integration_mappings WHERE jira_issue_id = $1 FOR UPDATE", &[&issue_id])
            .await
            .unwrap();
        let run = |issue: Value| {
            let engine = s.engine.clone();
            tokio::spawn(async move {
                let incoming = Incoming {
                    event: EventKind::IssueUpdated,
                    issue: &issue,
                    actor_account_id: None,
                    changelog: None,
                    source: "scheduled",
                    read_at: None,
                };
                apply(&engine, &incoming).await.unwrap()
            })
        };
        let (a, b) = if round % 2 == 0 { (run(older), run(newer)) } else { (run(newer), run(older)) };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        lock.commit().await.unwrap();
        a.await.unwrap();
        b.await.unwrap();
        let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
        assert_eq!(got["title"], "newer", "round {round}: {got}");
        c.batch_execute(&format!("UPDATE user_stories SET title = 'Race' WHERE id = '{id}'")).await.unwrap();
        s.settle().await;
    }
    s.stop().await;
}

/// `POST …/transitions` calls since the `seq`th request.
async fn transitions_posted(s: &Synced, seq: usize) -> usize {
    calls_since(s, seq).await.iter().filter(|c| c.starts_with("POST") && c.ends_with("/transitions")).count()
}

#[tokio::test]
async fn a_status_no_single_transition_reaches_is_walked_to_never_through_wont_do() {
    let s = Synced::start(|_| {}).await;
    let (id, key) = s.synced_story(json!({"title": "Walk", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    // To Do → Done has no transition of its own in the simulator's
    // workflow: To Do → In Progress → In Review → Done.
    let seq = requests(&s.sim).await.len();
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"status": "done"})).await;
    s.settle().await;
    assert_eq!(s.issue(&key).await["fields"]["status"]["name"], "Done");
    assert_eq!(transitions_posted(&s, seq).await, 3, "three steps, not through Won't Do and Reopen");
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!((got["status"].as_str(), got["syncStatus"].as_str()), (Some("done"), Some("synced")), "{got}");

    // Done → In Progress: reopened first.
    let seq = requests(&s.sim).await.len();
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"status": "in-progress"})).await;
    s.settle().await;
    assert_eq!(s.issue(&key).await["fields"]["status"]["name"], "In Progress");
    assert_eq!(transitions_posted(&s, seq).await, 2);
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!((got["status"].as_str(), got["syncStatus"].as_str()), (Some("in-progress"), Some("synced")));
    s.stop().await;
}

#[tokio::test]
async fn a_walk_stopped_by_the_workflow_is_an_error_and_keeps_the_items_status() {
    let s = Synced::start(|config| {
        config.screen_requirements = vec![arksync::jira_sim::ScreenRequirement {
            transition_name: "Done".into(),
            field_id: "resolution".into(),
        }];
    })
    .await;
    let (id, key) = s.synced_story(json!({"title": "Stuck", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"status": "done"})).await;
    s.settle().await;
    assert_eq!(s.issue(&key).await["fields"]["status"]["name"], "In Review", "as far as the workflow lets us");
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!((got["status"].as_str(), got["syncStatus"].as_str()), (Some("done"), Some("error")), "{got}");
    assert!(got["syncError"].as_str().unwrap().contains("Done"), "{got}");
    // Reconciliation reads In Review as where our walk stopped, not as a
    // person's change: the item keeps its status, and nothing conflicts.
    arksync::sync::reconcile::reconcile(&s.engine).await.unwrap();
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(got["status"], "done", "{got}");
    assert_eq!(conflicts(&s).await, 0);
    s.stop().await;
}

#[tokio::test]
async fn an_issue_unlinked_by_hand_is_not_linked_again_by_its_next_edit() {
    let s = Synced::start(|_| {}).await;
    let (id, key) = s.synced_story(json!({"title": "Apart", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    let (_, mapping) = s.app.get(&format!("/api/jira/mappings/{id}")).await;
    let mapping_id = mapping["id"].as_str().unwrap();
    assert_eq!(s.app.delete(&format!("/api/jira/mappings/{mapping_id}")).await, 204);
    // The issue still carries the item's ARKHITEKTON ID; a person edits it.
    let status = s
        .as_person(Method::PUT, &format!("/rest/api/3/issue/{key}"), json!({"fields": {"summary": "Edited in Jira"}}))
        .await;
    assert_eq!(status, 204);
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!((got["title"].as_str(), got["syncToJira"].as_bool()), (Some("Apart"), Some(false)), "{got}");
    assert_eq!(s.app.get(&format!("/api/jira/mappings/{id}")).await.0, 404, "still unlinked");
    let c = s.app.db.connect().await;
    let row = c
        .query_one(
            "SELECT (SELECT count(*) FROM jobs WHERE attempt > 1 OR state = 'discarded'), \
                    (SELECT count(*) FROM jira_webhook_events WHERE processing_status = 'failed')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (0, 0), "declined once, not retried");
    s.stop().await;
}

#[tokio::test]
async fn a_storys_epic_set_in_jira_reaches_arkhitekton() {
    epic_set_in_jira(arksync::jira_sim::Flavor::Cloud).await;
}

#[tokio::test]
async fn a_storys_epic_link_set_in_data_center_reaches_arkhitekton() {
    epic_set_in_jira(arksync::jira_sim::Flavor::Datacenter).await;
}

/// `parent` on Cloud, the Epic Link field on Data Center.
async fn epic_set_in_jira(flavor: arksync::jira_sim::Flavor) {
    let s = Synced::start(|c| c.flavor = flavor).await;
    let epic = |title: &str| json!({"title": title, "syncToJira": true, "jiraProjectKey": "PROJ"});
    let (_, first) = s.app.post("/api/epics", epic("Payments")).await;
    let (_, second) = s.app.post("/api/epics", epic("Refunds")).await;
    s.settle().await;
    let (first, second) = (first["id"].as_str().unwrap().to_owned(), second["id"].as_str().unwrap().to_owned());
    let second_key = s.app.get(&format!("/api/epics/{second}")).await.1["jiraIssueKey"].as_str().unwrap().to_owned();
    let (id, key) = s
        .synced_story(json!({"title": "Card refunds", "epicId": first, "syncToJira": true, "jiraProjectKey": "PROJ"}))
        .await;
    // A person moves the story to the other epic in Jira.
    let (path, fields) = match flavor {
        arksync::jira_sim::Flavor::Cloud => {
            (format!("/rest/api/3/issue/{key}"), json!({"parent": {"key": second_key}}))
        }
        arksync::jira_sim::Flavor::Datacenter => {
            (format!("/rest/api/2/issue/{key}"), json!({"customfield_10014": second_key}))
        }
    };
    assert_eq!(s.as_person(Method::PUT, &path, json!({ "fields": fields })).await, 204);
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!((got["epicId"].as_str(), got["syncStatus"].as_str()), (Some(second.as_str()), Some("synced")), "{got}");
    let c = s.app.db.connect().await;
    let pushes: i64 = c
        .query_one(
            "SELECT count(*) FROM jira_sync_logs WHERE arkhitekton_id = $1 AND sync_direction = 'to_jira'",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pushes, 1, "only the create: nothing pushed back");
    s.stop().await;
}

#[tokio::test]
async fn an_epic_jira_does_not_know_is_kept_when_the_story_changes_there() {
    let s = Synced::start(|c| c.flavor = arksync::jira_sim::Flavor::Datacenter).await;
    // The epic does not sync, so the issue's Epic Link stays empty.
    let (_, epic) = s.app.post("/api/epics", json!({"title": "Local only"})).await;
    let epic = epic["id"].as_str().unwrap().to_owned();
    let (id, key) =
        s.synced_story(json!({"title": "Story", "epicId": epic, "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    let edit = json!({"fields": {"summary": "Story, renamed"}});
    assert_eq!(s.as_person(Method::PUT, &format!("/rest/api/2/issue/{key}"), edit).await, 204);
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!((got["title"].as_str(), got["epicId"].as_str()), (Some("Story, renamed"), Some(epic.as_str())), "{got}");
    s.stop().await;
}

#[tokio::test]
async fn a_create_about_to_begin_for_an_item_linked_meanwhile_does_not_begin() {
    use arksync::db::sync::{CreateStart, begin_create};
    let app = crate::harness::TestApp::spawn().await;
    let c = app.db.pool.get().await.unwrap();
    let fresh: String =
        c.query_one("INSERT INTO user_stories (title) VALUES ('a') RETURNING id", &[]).await.unwrap().get(0);
    assert_eq!(begin_create(&c, &fresh).await.unwrap(), CreateStart::Fresh);
    assert_eq!(begin_create(&c, &fresh).await.unwrap(), CreateStart::InDoubt, "begun and never recorded");
    // Linked by hand while its push was on the way to creating the issue.
    let linked: String =
        c.query_one("INSERT INTO user_stories (title) VALUES ('b') RETURNING id", &[]).await.unwrap().get(0);
    c.execute(
        "INSERT INTO jira_integration_mappings (arkhitekton_id, arkhitekton_type, jira_issue_key, jira_issue_id, \
             jira_issue_type, jira_project_key, sync_direction) \
         VALUES ($1, 'user_story', 'PROJ-1', '10001', 'Story', 'PROJ', 'bi_directional')",
        &[&linked],
    )
    .await
    .unwrap();
    assert_eq!(begin_create(&c, &linked).await.unwrap(), CreateStart::Linked);
    let pending: i64 = c
        .query_one("SELECT count(*) FROM jira_pending_creates WHERE arkhitekton_id = $1", &[&linked])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, 0, "nothing left in doubt");
}
