//! The work-item API as a client uses it.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::TestApp;

#[tokio::test]
async fn each_kind_can_be_created_read_listed_patched_and_deleted() {
    let app = TestApp::spawn().await;
    let cases = [
        ("user-stories", "US-", json!({"title": "Checkout with saved card", "storyPoints": 5, "labels": ["payments"]})),
        ("defects", "DEF-", json!({"title": "Crash on empty cart", "severity": "critical", "rootCause": "null deref"})),
        ("epics", "EPIC-", json!({"title": "Payments", "targetDate": "2026-03-31", "owner": "pm@example.com"})),
    ];
    for (collection, prefix, body) in cases {
        let (status, created) = app.post(&format!("/api/{collection}"), body.clone()).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with(prefix) && id.len() == prefix.len() + 7, "{id}");
        for (k, v) in body.as_object().unwrap() {
            assert_eq!(&created[k], v, "{collection}.{k}");
        }
        assert_eq!(created["jiraMapping"], Value::Null);
        assert_eq!(created["syncSource"], "arkhitekton");

        let (status, got) = app.get(&format!("/api/{collection}/{id}")).await;
        assert_eq!((status, &got), (200, &created));

        let (status, list) = app.get(&format!("/api/{collection}")).await;
        assert_eq!(status, 200);
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        assert_eq!(list["data"][0]["id"], id.as_str());

        let (status, patched) = app.patch(&format!("/api/{collection}/{id}"), json!({"status": "in-progress"})).await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(patched["status"], "in-progress");
        assert_eq!(patched["title"], created["title"], "a patch leaves other fields alone");

        assert_eq!(app.delete(&format!("/api/{collection}/{id}")).await, 204);
        assert_eq!(app.get(&format!("/api/{collection}/{id}")).await.0, 404);
        assert_eq!(app.delete(&format!("/api/{collection}/{id}")).await, 404);
    }
}

#[tokio::test]
async fn updated_at_moves_on_an_edit_and_not_on_a_no_op() {
    let app = TestApp::spawn().await;
    let (_, story) = app.post("/api/user-stories", json!({"title": "A"})).await;
    let path = format!("/api/user-stories/{}", story["id"].as_str().unwrap());
    let (_, same) = app.patch(&path, json!({"title": "A"})).await;
    assert_eq!(same["updatedAt"], story["updatedAt"], "writing the same value is not an edit");
    let (_, edited) = app.patch(&path, json!({"title": "B"})).await;
    assert!(edited["updatedAt"].as_str().unwrap() > story["updatedAt"].as_str().unwrap());
    assert_eq!(edited["createdAt"], story["createdAt"]);
}

#[tokio::test]
async fn pagination_walks_every_item_once_newest_first() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for i in 0..25 {
        let (_, s) = app.post("/api/defects", json!({"title": format!("bug {i}")})).await;
        created.push(s["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/defects?limit=10&cursor={c}"),
            None => "/api/defects?limit=10".to_owned(),
        };
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["data"].as_array().unwrap().len() <= 10);
        seen.extend(page["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()));
        match page["pagination"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert_eq!(page["pagination"]["hasMore"], false);
                break;
            }
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25, "no item twice");
    created.reverse();
    assert_eq!(seen, created, "newest first");
}

#[tokio::test]
async fn list_filters_and_sync_stats_reflect_the_data() {
    let app = TestApp::spawn().await;
    let (_, epic) = app.post("/api/epics", json!({"title": "E"})).await;
    let epic_id = epic["id"].as_str().unwrap();
    let (_, a) =
        app.post("/api/user-stories", json!({"title": "a", "assignee": "ann@example.com", "epicId": epic_id})).await;
    let (_, b) = app.post("/api/user-stories", json!({"title": "b", "status": "done"})).await;
    let (_, c) =
        app.post("/api/user-stories", json!({"title": "c", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    assert_eq!(c["syncStatus"], "pending");
    assert_eq!(c["jiraProjectKey"], "PROJ");
    let db = app.db.connect().await;
    db.execute(
        "UPDATE user_stories SET sync_status = 'error', sync_error = 'boom' WHERE id = $1",
        &[&b["id"].as_str()],
    )
    .await
    .unwrap();
    db.execute("UPDATE user_stories SET sync_status = 'synced' WHERE id = $1", &[&a["id"].as_str()]).await.unwrap();

    let ids = |v: &Value| -> Vec<String> {
        v["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
    };
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let (_, all) = app.get("/api/user-stories").await;
    assert_eq!(all["syncStats"], json!({"totalSynced": 1, "totalPending": 1, "totalErrors": 1}));
    assert_eq!(ids(&app.get("/api/user-stories?syncStatus=pending").await.1), vec![id(&c)]);
    assert_eq!(ids(&app.get("/api/user-stories?hasSyncError=true").await.1), vec![id(&b)]);
    assert_eq!(ids(&app.get("/api/user-stories?hasSyncError=false").await.1).len(), 2);
    assert_eq!(ids(&app.get("/api/user-stories?status=done").await.1), vec![id(&b)]);
    assert_eq!(ids(&app.get("/api/user-stories?assignee=ann@example.com").await.1), vec![id(&a)]);
    assert_eq!(ids(&app.get(&format!("/api/user-stories?epicId={epic_id}")).await.1), vec![id(&a)]);
}

#[tokio::test]
async fn sync_intent_is_stored_and_can_be_withdrawn() {
    let app = TestApp::spawn().await;
    let (_, s) = app.post("/api/user-stories", json!({"title": "t"})).await;
    let path = format!("/api/user-stories/{}", s["id"].as_str().unwrap());
    assert_eq!(s["syncStatus"], Value::Null);
    let (status, err) = app.patch(&path, json!({"syncToJira": true})).await;
    assert_eq!((status, err["error"]["field"].as_str()), (400, Some("jiraProjectKey")));
    let (_, on) = app.patch(&path, json!({"syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    assert_eq!((on["syncToJira"].as_bool(), on["syncStatus"].as_str()), (Some(true), Some("pending")));
    let (_, off) = app.patch(&path, json!({"syncToJira": false})).await;
    assert_eq!((off["syncToJira"].as_bool(), &off["syncStatus"]), (Some(false), &Value::Null));
}

#[tokio::test]
async fn a_linked_item_shows_its_jira_mapping() {
    let app = TestApp::spawn_with(|s| s.jira_base_url = Some("https://acme.atlassian.net".into())).await;
    let (_, s) = app.post("/api/user-stories", json!({"title": "t"})).await;
    let id = s["id"].as_str().unwrap();
    let db = app.db.connect().await;
    db.execute(
        "INSERT INTO jira_integration_mappings (arkhitekton_id, arkhitekton_type, jira_issue_key, jira_issue_id, \
         jira_issue_type, jira_project_key) VALUES ($1, 'user_story', 'PROJ-7', '10007', 'Story', 'PROJ')",
        &[&id],
    )
    .await
    .unwrap();
    let (_, got) = app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(got["jiraMapping"]["issueKey"], "PROJ-7");
    assert_eq!(got["jiraMapping"]["issueUrl"], "https://acme.atlassian.net/browse/PROJ-7");
    assert_eq!(got["jiraMapping"]["syncStatus"], "active");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await, (200, json!({"status": "ok"})));
    assert_eq!(app.get("/readyz").await, (200, json!({"status": "ready"})));
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    let db = app.db.admin().await;
    // Kill the pool's connections and forbid new ones.
    db.batch_execute(&format!(
        "ALTER DATABASE {0} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}';",
        app.db.name
    ))
    .await
    .unwrap();
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(app.get("/healthz").await.0, 200, "the process itself is still up");
    let (status, body) = app.get("/api/epics").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
}
