//! Bulk syncs that pull from Jira (`from_jira`, and `bi_directional`'s pull
//! before its push), against the Jira simulator: Jira's edits that no
//! webhook brought are applied, page by page, with per-item reasons for
//! what could not be pulled, and a job that died resumes after its last
//! committed page.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::jira_support::{admin_post, requests};
use crate::sync_e2e::Synced;

/// A story synced to PROJ: `(id, issue key)`.
async fn linked_story(s: &Synced, title: &str) -> (String, String) {
    let (status, item) =
        s.app.post("/api/user-stories", json!({"title": title, "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    assert_eq!(status, 201, "{item}");
    let id = item["id"].as_str().unwrap().to_owned();
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    (id, got["jiraIssueKey"].as_str().expect("linked").to_owned())
}

/// Edits the issue's summary as a person while webhooks are lost.
async fn edit_unseen(s: &Synced, key: &str, summary: &str) {
    admin_post(&s.sim, "faults", json!({"webhooks": {"dropRate": 1.0}})).await;
    let edit = json!({"fields": {"summary": summary}});
    assert_eq!(s.as_person(reqwest::Method::PUT, &format!("/rest/api/3/issue/{key}"), edit).await, 204);
    s.settle().await;
    reqwest::Client::new().delete(format!("{}/_sim/faults", s.sim.base_url())).send().await.unwrap();
}

async fn title(app: &TestApp, id: &str) -> String {
    app.get(&format!("/api/user-stories/{id}")).await.1["title"].as_str().unwrap().to_owned()
}

/// Stories linked to issues Jira does not have (deleted there, say).
async fn ghosts(app: &TestApp, n: usize) -> Vec<String> {
    let c = app.db.connect().await;
    let mut ids = Vec::new();
    for i in 0..n {
        let id: String = c
            .query_one("INSERT INTO user_stories (title) VALUES ($1) RETURNING id", &[&format!("Ghost {i}")])
            .await
            .unwrap()
            .get(0);
        c.execute(
            "INSERT INTO jira_integration_mappings (arkhitekton_id, arkhitekton_type, jira_issue_key, jira_issue_id, \
                 jira_issue_type, jira_project_key) VALUES ($1, 'user_story', $2, $3, 'Story', 'PROJ')",
            &[&id, &format!("PROJ-{}", 9000 + i), &format!("{}", 9_000_000 + i)],
        )
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

/// Polls the operation until it is completed; returns the last progress
/// and every `pulled` seen while it was still pulling.
async fn until_completed(app: &TestApp, op: &str) -> (Value, Vec<i64>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut partial = Vec::new();
    loop {
        let (status, p) = app.get(&format!("/api/jira/sync/bulk/{op}")).await;
        assert_eq!(status, 200, "{p}");
        if p["status"] == "completed" {
            return (p, partial);
        }
        if p["status"] == "pulling" {
            partial.push(p["pulled"].as_i64().unwrap());
        }
        assert!(tokio::time::Instant::now() < deadline, "the bulk sync did not finish: {p}");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

fn reasons(progress: &Value) -> Vec<(String, String)> {
    let list = progress["skipped"].as_array().unwrap();
    list.iter().map(|s| (s["id"].as_str().unwrap().to_owned(), s["reason"].as_str().unwrap().to_owned())).collect()
}

#[tokio::test]
async fn a_from_jira_bulk_applies_edits_whose_webhooks_were_dropped_page_by_page() {
    let s = Synced::start(|_| {}).await;
    let mut real = Vec::new();
    for i in 0..3 {
        let (id, key) = linked_story(&s, &format!("Story {i}")).await;
        edit_unseen(&s, &key, &format!("Story {i}, edited in Jira")).await;
        assert_eq!(title(&s.app, &id).await, format!("Story {i}"), "the edit did not arrive");
        real.push(id);
    }
    let (_, unlinked) = s.app.post("/api/user-stories", json!({"title": "Never synced"})).await;
    let unlinked = unlinked["id"].as_str().unwrap().to_owned();
    let ghosts = ghosts(&s.app, 200).await;
    // One real issue per page of 100: [real, 99 ghosts], [ghost, real, 98 ghosts], [ghosts, real].
    let mut asked: Vec<Value> = vec![json!(real[0])];
    asked.extend(ghosts[..100].iter().map(|g| json!(g)));
    asked.push(json!(real[1]));
    asked.extend(ghosts[100..].iter().map(|g| json!(g)));
    asked.extend([json!(real[2]), json!(unlinked), json!("US-0000000"), json!(real[0])]);
    reqwest::Client::new().delete(format!("{}/_sim/requests", s.sim.base_url())).send().await.unwrap();
    admin_post(&s.sim, "faults", json!({"latencyMs": 300})).await;

    let (status, body) =
        s.app.post("/api/jira/sync/bulk", json!({"entityIds": asked, "syncDirection": "from_jira"})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!((body["total"].as_i64(), &body["unknownIds"]), (Some(203), &json!(["US-0000000"])), "{body}");
    assert_eq!(body["notLinkedIds"], json!([unlinked]));
    let (p, partial) = until_completed(&s.app, body["operationId"].as_str().unwrap()).await;
    assert_eq!(
        (p["pulled"].as_i64(), p["synced"].as_i64(), p["failed"].as_i64(), p["pending"].as_i64()),
        (Some(203), Some(3), Some(200), Some(0)),
        "{p}"
    );
    assert!(partial.iter().any(|n| *n == 100 || *n == 200), "progress advanced page by page: {partial:?}");
    let reasons = reasons(&p);
    assert_eq!(reasons.len(), 202, "{p}");
    assert!(reasons.contains(&("US-0000000".into(), "no such item".into())));
    assert!(reasons.contains(&(unlinked.clone(), "not linked to a Jira issue".into())));
    let ghost_reason = &reasons.iter().find(|(id, _)| *id == ghosts[0]).unwrap().1;
    assert!(ghost_reason.contains("PROJ-9000 was not found in Jira"), "{ghost_reason}");

    for (i, id) in real.iter().enumerate() {
        assert_eq!(title(&s.app, id).await, format!("Story {i}, edited in Jira"));
    }
    let log = requests(&s.sim).await;
    let searches = log.iter().filter(|r| r["path"] == "/rest/api/3/search/jql").count();
    let others: Vec<&Value> = log.iter().filter(|r| r["path"] != "/rest/api/3/search/jql").collect();
    assert_eq!(searches, 3, "one search per page");
    assert!(others.is_empty(), "no per-issue reads and no writes: {others:?}");
    let c = s.app.db.connect().await;
    let applied: i64 = c
        .query_one(
            "SELECT count(*) FROM jira_sync_logs WHERE sync_direction = 'from_jira' AND sync_source = 'manual'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied, 3);
    s.stop().await;
}

#[tokio::test]
async fn a_bulk_pull_that_died_resumes_after_its_last_committed_page() {
    let s = Synced::start(|_| {}).await;
    let (first, first_key) = linked_story(&s, "First page").await;
    let (last, last_key) = linked_story(&s, "Second page").await;
    edit_unseen(&s, &first_key, "First page, edited in Jira").await;
    edit_unseen(&s, &last_key, "Second page, edited in Jira").await;
    // As a job that committed its first page of 100 and died leaves it.
    let mut ids = vec![first.clone()];
    ids.extend((1..100).map(|i| format!("US-{i:07}")));
    ids.push(last.clone());
    let c = s.app.db.connect().await;
    let op: uuid::Uuid = c
        .query_one(
            "INSERT INTO bulk_sync_operations (sync_direction, entity_ids, total, pulled, status) \
             VALUES ('from_jira', $1, 101, 100, 'pulling') RETURNING id",
            &[&ids],
        )
        .await
        .unwrap()
        .get(0);
    reqwest::Client::new().delete(format!("{}/_sim/requests", s.sim.base_url())).send().await.unwrap();
    // Real Jira refuses a JQL naming a deleted issue: the page is read issue by issue.
    admin_post(&s.sim, "faults", json!({"failNext": {"status": 400, "count": 1, "pathContains": "/search"}})).await;
    c.execute(
        "INSERT INTO jobs (kind, payload, unique_key) VALUES ('bulk_sync', jsonb_build_object('operationId', $1::text), \
             'bulk:' || $1::text)",
        &[&op.to_string()],
    )
    .await
    .unwrap();

    let (p, _) = until_completed(&s.app, &op.to_string()).await;
    assert_eq!((p["pulled"].as_i64(), p["failed"].as_i64(), p["pending"].as_i64()), (Some(101), Some(0), Some(0)));
    assert_eq!(title(&s.app, &last).await, "Second page, edited in Jira", "the unfinished page was pulled");
    assert_eq!(title(&s.app, &first).await, "First page", "the committed page was not pulled again");
    let log = requests(&s.sim).await;
    let paths: Vec<(&str, &str, u64)> = log
        .iter()
        .map(|r| (r["method"].as_str().unwrap(), r["path"].as_str().unwrap(), r["status"].as_u64().unwrap()))
        .collect();
    let issue_id = s.issue(&last_key).await["id"].as_str().unwrap().to_owned();
    assert_eq!(
        paths,
        vec![("POST", "/rest/api/3/search/jql", 400), ("GET", &*format!("/rest/api/3/issue/{issue_id}"), 200)],
        "one refused search, then one read of the page's only issue"
    );
    s.stop().await;
}

#[tokio::test]
async fn bi_directional_pulls_jiras_missed_edits_before_it_pushes() {
    let s = Synced::start(|_| {}).await;
    let (id, key) = linked_story(&s, "Ours").await;
    edit_unseen(&s, &key, "Renamed in Jira").await;
    let (status, body) =
        s.app.post("/api/jira/sync/bulk", json!({"entityIds": [id], "syncDirection": "bi_directional"})).await;
    assert_eq!((status, body["total"].as_i64()), (202, Some(1)), "{body}");
    let (p, _) = until_completed(&s.app, body["operationId"].as_str().unwrap()).await;
    assert_eq!((p["pulled"].as_i64(), p["enqueued"].as_i64(), p["synced"].as_i64()), (Some(1), Some(1), Some(1)));
    s.settle().await;
    assert_eq!(title(&s.app, &id).await, "Renamed in Jira", "pulled");
    assert_eq!(s.issue(&key).await["fields"]["summary"], "Renamed in Jira", "the push did not undo Jira's edit");
    s.stop().await;
}

#[tokio::test]
async fn a_from_jira_bulk_refuses_bad_input_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let too_many: Vec<String> = (0..10_001).map(|i| format!("US-{i:07}")).collect();
    let cases = [
        (json!({"entityIds": too_many, "syncDirection": "from_jira"}), "entityIds"),
        (json!({"entityIds": ["US-0000000", "nope"], "syncDirection": "from_jira"}), "entityIds[1]"),
        (json!({"entityIds": ["US-0000000"], "syncDirection": "sideways"}), "syncDirection"),
        (json!({"entityIds": ["US-0000000"], "syncDirection": "from_jira", "force": true}), "force"),
    ];
    for (body, field) in cases {
        let (status, got) = app.post("/api/jira/sync/bulk", body).await;
        assert_eq!((status, got["error"]["field"].as_str()), (400, Some(field)), "{got}");
    }
    let c = app.db.connect().await;
    let written: i64 = c
        .query_one("SELECT (SELECT count(*) FROM bulk_sync_operations) + (SELECT count(*) FROM jobs)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(written, 0, "nothing written");
    // Nothing linked: an operation of none, completed by its job.
    let (status, body) =
        app.post("/api/jira/sync/bulk", json!({"entityIds": ["US-0000000"], "syncDirection": "from_jira"})).await;
    assert_eq!((status, body["total"].as_i64()), (202, Some(0)), "{body}");
    let (_, p) = app.get(&format!("/api/jira/sync/bulk/{}", body["operationId"].as_str().unwrap())).await;
    assert_eq!((p["status"].as_str(), p["pending"].as_i64()), (Some("queued"), Some(0)), "{p}");
    assert_eq!(p["skipped"], json!([{"id": "US-0000000", "reason": "no such item"}]));
}
