//! The sync-management API: manual sync triggers, mappings, stats, bulk
//! syncs, retries of failed syncs, an item's sync history and conflicts,
//! end to end against the Jira simulator where Jira is involved.

use std::time::Duration;

use arksync::db::sync::{NewConflict, insert_conflict};
use arksync::domain::EntityKind;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::jira_support::{admin_get, admin_post};
use crate::sync_e2e::Synced;

async fn create(app: &TestApp, collection: &str, body: Value) -> String {
    let (status, item) = app.post(&format!("/api/{collection}"), body).await;
    assert_eq!(status, 201, "{item}");
    item["id"].as_str().unwrap().to_owned()
}

async fn count(app: &TestApp, sql: &str, id: &str) -> i64 {
    app.db.connect().await.query_one(sql, &[&id]).await.unwrap().get(0)
}

async fn waiting_pushes(app: &TestApp, id: &str) -> i64 {
    count(app, "SELECT count(*) FROM jobs WHERE unique_key = 'push:' || $1 AND state = 'available'", id).await
}

/// Issues whose ARKHITEKTON ID field names `id`.
async fn issues_of(s: &Synced, id: &str) -> Vec<Value> {
    let issues = admin_get(&s.sim, "issues").await;
    issues.as_array().unwrap().iter().filter(|i| i["fields"]["customfield_10001"] == id).cloned().collect()
}

#[tokio::test]
async fn sync_to_jira_marks_the_item_and_pushes_it_even_when_nothing_changed() {
    let s = Synced::start(|_| {}).await;
    let id = create(&s.app, "defects", json!({"title": "Card list is empty", "severity": "high"})).await;
    let (status, body) = s.app.post(&format!("/api/defects/{id}/sync-to-jira"), json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("missing_field")), "{body}");
    assert_eq!(body["error"]["field"], "jiraProjectKey");
    let (status, body) =
        s.app.post(&format!("/api/defects/{id}/sync-to-jira"), json!({"jiraProjectKey": "PROJ"})).await;
    assert_eq!(status, 202, "{body}");
    assert!(body["jobId"].as_i64().is_some(), "{body}");
    assert_eq!(body["item"]["syncToJira"], true);
    assert_eq!(body["item"]["jiraProjectKey"], "PROJ");
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/defects/{id}")).await;
    assert_eq!(got["syncStatus"], "synced", "{got}");
    let key = got["jiraIssueKey"].as_str().unwrap().to_owned();
    // Someone edits the issue in Jira and the webhook is lost: the item is
    // unchanged and `synced`, so only a forced push puts its state back.
    admin_post(&s.sim, "faults", json!({"webhooks": {"dropRate": 1.0}})).await;
    s.as_person(reqwest::Method::PUT, &format!("/rest/api/3/issue/{key}"), json!({"fields": {"summary": "Changed"}}))
        .await;
    s.settle().await;
    reqwest::Client::new().delete(format!("{}/_sim/faults", s.sim.base_url())).send().await.unwrap();
    assert_eq!(s.issue(&key).await["fields"]["summary"], "Changed");
    assert_eq!(s.app.get(&format!("/api/defects/{id}")).await.1["title"], "Card list is empty");
    let (status, body) = s.app.post(&format!("/api/defects/{id}/sync-to-jira"), json!({"forceUpdate": true})).await;
    assert_eq!(status, 202, "{body}");
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/defects/{id}")).await;
    assert_eq!(s.issue(&key).await["fields"]["summary"], "Card list is empty", "the push put our title back");
    assert_eq!(got["syncStatus"], "synced");
    assert_eq!(issues_of(&s, &id).await.len(), 1, "no second issue");
    let (status, _) = s.app.post("/api/defects/DEF-0000000/sync-to-jira", json!({"jiraProjectKey": "PROJ"})).await;
    assert_eq!(status, 404);
    let (status, body) = s.app.post(&format!("/api/defects/{id}/sync-to-jira"), json!({"jiraProjectKey": "no"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("jiraProjectKey")));
    let (status, body) = s.app.post(&format!("/api/defects/{id}/sync-to-jira"), json!({"force": true})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("unknown_field")));
    let res = reqwest::Client::new().post(s.app.url(&format!("/api/defects/{id}/sync-to-jira"))).send().await.unwrap();
    assert_eq!(res.status(), 202, "an empty body asks for nothing more");
    assert_eq!(s.app.get(&format!("/api/defects/{id}/sync-to-jira")).await.0, 405);
    s.stop().await;
}

#[tokio::test]
async fn a_manual_mapping_links_an_existing_issue_pushes_to_it_and_unlinks() {
    let s = Synced::start(|_| {}).await;
    let status = s
        .as_person(
            reqwest::Method::POST,
            "/rest/api/3/issue",
            json!({"fields": {"project": {"key": "PROJ"}, "issuetype": {"name": "Story"}, "summary": "Made in Jira"}}),
        )
        .await;
    assert_eq!(status, 201);
    let issues = admin_get(&s.sim, "issues").await;
    let key = issues.as_array().unwrap().iter().find(|i| i["fields"]["summary"] == "Made in Jira").unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = create(&s.app, "user-stories", json!({"title": "Linked by hand", "storyPoints": 3})).await;
    s.settle().await;
    let link = |key: &str| json!({"arkhitektonId": id, "arkhitektonType": "user_story", "jiraIssueKey": key, "jiraProjectKey": "PROJ"});
    let (status, body) = s.app.post("/api/jira/mappings", link("PROJ-999")).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("jiraIssueKey")), "unknown to Jira: {body}");
    let (status, body) = s.app.post("/api/jira/mappings", link("PROJ-01")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_value")), "{body}");
    assert_eq!(s.app.get(&format!("/api/jira/mappings/{id}")).await.0, 404);

    let (status, mapping) = s.app.post("/api/jira/mappings", link(&key)).await;
    assert_eq!(status, 201, "{mapping}");
    assert_eq!(mapping["jiraIssueKey"], key.as_str());
    assert!(mapping["jiraIssueId"].as_str().is_some_and(|i| !i.is_empty()));
    let (status, again) = s.app.post("/api/jira/mappings", link(&key)).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("already_linked")));
    s.settle().await;
    let issue = s.issue(&key).await;
    assert_eq!(issue["fields"]["summary"], "Linked by hand", "the push gave the issue the item's state");
    assert_eq!(issue["fields"]["customfield_10001"], id.as_str());
    assert_eq!(issues_of(&s, &id).await.len(), 1, "linked, not created");
    let (_, got) = s.app.get(&format!("/api/jira/mappings/{id}")).await;
    assert_eq!(got["id"], mapping["id"]);

    let mapping_id = mapping["id"].as_str().unwrap();
    assert_eq!(s.app.delete(&format!("/api/jira/mappings/{mapping_id}")).await, 204);
    assert_eq!(s.app.delete(&format!("/api/jira/mappings/{mapping_id}")).await, 404);
    assert_eq!(s.app.get(&format!("/api/jira/mappings/{id}")).await.0, 404);
    let (_, item) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!((item["syncToJira"].as_bool(), item["syncStatus"].as_str()), (Some(false), None), "{item}");
    assert!(item["jiraIssueKey"].is_null());
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"title": "Edited after unlink"})).await;
    s.settle().await;
    assert_eq!(s.issue(&key).await["fields"]["summary"], "Linked by hand", "an unlinked item is not pushed");
    // The same link again revives the old mapping row and pushes.
    let (status, relinked) = s.app.post("/api/jira/mappings", link(&key)).await;
    assert_eq!((status, &relinked["id"]), (201, &mapping["id"]), "{relinked}");
    s.settle().await;
    assert_eq!(s.issue(&key).await["fields"]["summary"], "Edited after unlink");
    assert_eq!(issues_of(&s, &id).await.len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_bulk_sync_of_300_items_reaches_jira_once_each_and_reports_progress() {
    let s = Synced::start(|_| {}).await;
    // Jira answering in 100 ms keeps the pushes running long enough to be
    // seen half done (creates in bulk are otherwise done within a poll).
    admin_post(&s.sim, "faults", json!({"latencyMs": 100})).await;
    let mut ids = Vec::new();
    {
        // Items that sync but have not been pushed yet: written as the
        // inbound sync writes (the outbox enqueues no push for those, as if
        // their pushes were lost), so only the bulk pushes them. (Deleting
        // their push jobs instead would race workers already running some.)
        let mut client = s.app.db.connect().await;
        let tx = client.transaction().await.unwrap();
        tx.batch_execute("SET LOCAL arksync.sync_source = 'jira'").await.unwrap();
        for i in 0..300 {
            // md5 is hex, all within the ids' Crockford alphabet.
            let row = tx
                .query_one(
                    "INSERT INTO user_stories (id, title, sync_to_jira, jira_project_key) \
                     VALUES ('US-' || upper(substr(md5(random()::text), 1, 7)), $1, true, 'PROJ') RETURNING id",
                    &[&format!("Bulk {i}")],
                )
                .await
                .unwrap();
            ids.push(row.get::<_, String>(0));
        }
        tx.commit().await.unwrap();
        let pushes: i64 = client.query_one("SELECT count(*) FROM jobs", &[]).await.unwrap().get(0);
        assert_eq!(pushes, 0);
    }
    let quiet = create(&s.app, "epics", json!({"title": "Not syncing"})).await;
    let mut asked: Vec<Value> = ids.iter().map(|i| json!(i)).collect();
    asked.push(json!("US-0000000"));
    asked.push(json!(quiet));
    asked.push(json!(ids[0]));
    let (status, body) =
        s.app.post("/api/jira/sync/bulk", json!({"entityIds": asked, "syncDirection": "to_jira"})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["total"], ids.len());
    assert_eq!(body["unknownIds"], json!(["US-0000000"]));
    assert_eq!(body["notSyncingIds"], json!([quiet]));
    let op = body["operationId"].as_str().unwrap().to_owned();
    let mut seen_partial = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (_, p) = s.app.get(&format!("/api/jira/sync/bulk/{op}")).await;
        let (synced, failed, pending) =
            (p["synced"].as_i64().unwrap(), p["failed"].as_i64().unwrap(), p["pending"].as_i64().unwrap());
        assert_eq!(synced + failed + pending, ids.len() as i64, "{p}");
        if p["status"] == "completed" {
            assert_eq!((synced, failed), (ids.len() as i64, 0), "{p}");
            break;
        }
        seen_partial |= synced > 0 && pending > 0;
        assert!(tokio::time::Instant::now() < deadline, "the bulk sync did not finish: {p}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.settle().await;
    let issues = admin_get(&s.sim, "issues").await;
    let mut arks: Vec<&str> =
        issues.as_array().unwrap().iter().filter_map(|i| i["fields"]["customfield_10001"].as_str()).collect();
    arks.sort_unstable();
    let total = arks.len();
    arks.dedup();
    assert_eq!((total, arks.len()), (ids.len(), ids.len()), "one issue per item, no duplicates");
    assert!(seen_partial || ids.len() < 50, "progress was reported while the pushes ran");
    let (status, body) =
        s.app.post("/api/jira/sync/bulk", json!({"entityIds": ["nope"], "syncDirection": "to_jira"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("entityIds[0]")));
    let (status, body) =
        s.app.post("/api/jira/sync/bulk", json!({"entityIds": [ids[0]], "syncDirection": "to_nowhere"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("syncDirection")));
    s.stop().await;
}

#[tokio::test]
async fn retry_failed_pushes_items_whose_sync_failed_again() {
    let s = Synced::start(|_| {}).await;
    // Jira refuses every write for now: each push is discarded as an error.
    admin_post(&s.sim, "faults", json!({"failNext": {"status": 400, "count": 1000, "pathContains": "/issue"}})).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            create(
                &s.app,
                "epics",
                json!({"title": format!("Epic {i}"), "syncToJira": true, "jiraProjectKey": "PROJ"}),
            )
            .await,
        );
    }
    s.settle().await;
    for id in &ids {
        let (_, got) = s.app.get(&format!("/api/epics/{id}")).await;
        assert_eq!(got["syncStatus"], "error", "{got}");
    }
    let (_, stats) = s.app.get("/api/jira/sync/stats").await;
    assert_eq!(stats["errorSyncs"], 3, "{stats}");
    reqwest::Client::new().delete(format!("{}/_sim/faults", s.sim.base_url())).send().await.unwrap();
    let (status, body) = s.app.post("/api/jira/sync/retry-failed", json!({"limit": 2})).await;
    assert_eq!((status, body["retried"].as_i64()), (200, Some(2)), "{body}");
    assert_eq!(body["ids"], json!([ids[0], ids[1]]), "oldest first");
    s.settle().await;
    let (_, body) = s.app.post("/api/jira/sync/retry-failed", json!({})).await;
    assert_eq!(body["retried"], 1, "{body}");
    s.settle().await;
    for id in &ids {
        let (_, got) = s.app.get(&format!("/api/epics/{id}")).await;
        assert_eq!(got["syncStatus"], "synced", "{got}");
        assert_eq!(issues_of(&s, id).await.len(), 1);
    }
    let (_, stats) = s.app.get("/api/jira/sync/stats").await;
    assert_eq!((stats["errorSyncs"].as_i64(), stats["totalMappings"].as_i64()), (Some(0), Some(3)), "{stats}");
    assert!(stats["syncRate"]["last24h"].as_i64().unwrap() >= 3, "{stats}");
    assert!(stats["lastSyncTime"].is_string());
    let (status, body) = s.app.post("/api/jira/sync/retry-failed", json!({"limit": 0})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("limit")));
    s.stop().await;
}

#[tokio::test]
async fn the_sync_history_lists_an_items_pushes_newest_first_in_pages() {
    let s = Synced::start(|_| {}).await;
    let id =
        create(&s.app, "user-stories", json!({"title": "History", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    s.settle().await;
    s.app.patch(&format!("/api/user-stories/{id}"), json!({"title": "History, edited"})).await;
    s.settle().await;
    let (status, page) = s.app.get(&format!("/api/user-stories/{id}/sync-history?limit=1")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"][0]["syncType"], "update", "newest first: {page}");
    assert_eq!(page["data"][0]["syncDirection"], "to_jira");
    assert_eq!(page["data"][0]["status"], "success");
    assert!(page["data"][0]["requestPayload"].is_object());
    assert_eq!(page["pagination"]["hasMore"], true);
    let cursor = page["pagination"]["nextCursor"].as_str().unwrap();
    let (_, next) = s.app.get(&format!("/api/user-stories/{id}/sync-history?limit=1&cursor={cursor}")).await;
    assert_eq!(next["data"][0]["syncType"], "create", "{next}");
    assert!(next["data"][0]["responsePayload"]["key"].is_string());
    assert_eq!(s.app.get("/api/user-stories/US-0000000/sync-history").await.0, 404);
    assert_eq!(s.app.get(&format!("/api/user-stories/{id}/sync-history?bogus=1")).await.0, 400);
    s.stop().await;
}

/// Records a conflict on `id` as the inbound sync would.
async fn conflict(app: &TestApp, id: &str, ours: Value, theirs: Value) -> String {
    let client = app.db.pool.get().await.unwrap();
    let now = chrono::Utc::now();
    let c = NewConflict {
        kind: EntityKind::UserStory,
        arkhitekton_id: id,
        jira_issue_key: "PROJ-1",
        arkhitekton_version: ours,
        jira_version: theirs.clone(),
        applied: theirs,
        resolution: "jira_won",
        arkhitekton_updated_at: now,
        jira_updated_at: now,
    };
    insert_conflict(&client, &c).await.unwrap().to_string()
}

#[tokio::test]
async fn resolving_a_conflict_for_jira_writes_jiras_version_without_a_push_and_twice_is_409() {
    let app = TestApp::spawn().await;
    let id = create(&app, "user-stories", json!({"title": "Ours", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    app.db.connect().await.execute("DELETE FROM jobs", &[]).await.unwrap();
    let c = conflict(
        &app,
        &id,
        json!({"title": "Ours", "priority": "low"}),
        json!({"title": "Theirs", "priority": "high"}),
    )
    .await;
    let (status, list) = app.get(&format!("/api/jira/conflicts?status=open&arkhitektonId={id}")).await;
    assert_eq!((status, list["data"].as_array().map(Vec::len)), (200, Some(1)), "{list}");
    let (status, body) = app.post(&format!("/api/jira/conflicts/{c}/resolve"), json!({"choose": "mine"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("choose")));
    let (status, body) = app.post(&format!("/api/jira/conflicts/{c}/resolve"), json!({"choose": "jira"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["status"].as_str(), body["resolvedChoice"].as_str()), (Some("resolved"), Some("jira")));
    assert!(body["resolvedAt"].is_string());
    let (_, item) = app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!((item["title"].as_str(), item["priority"].as_str()), (Some("Theirs"), Some("high")));
    assert_eq!(item["syncSource"], "jira");
    assert_eq!(waiting_pushes(&app, &id).await, 0, "Jira's version is not pushed back");
    let (status, body) = app.post(&format!("/api/jira/conflicts/{c}/resolve"), json!({"choose": "applied"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_resolved")));
    let (_, open) = app.get("/api/jira/conflicts?status=open").await;
    assert_eq!(open["data"], json!([]));
    assert_eq!(app.get(&format!("/api/jira/conflicts/{c}")).await.1["resolvedChoice"], "jira");
    assert_eq!(app.get("/api/jira/conflicts/not-a-uuid").await.0, 404);
}

#[tokio::test]
async fn resolving_a_conflict_for_arkhitekton_writes_our_version_and_pushes_it_to_jira() {
    let s = Synced::start(|_| {}).await;
    let id =
        create(&s.app, "user-stories", json!({"title": "Ours", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    s.settle().await;
    let (_, item) = s.app.get(&format!("/api/user-stories/{id}")).await;
    let key = item["jiraIssueKey"].as_str().unwrap().to_owned();
    // Jira won: its title was applied here (as the inbound sync does).
    s.as_person(reqwest::Method::PUT, &format!("/rest/api/3/issue/{key}"), json!({"fields": {"summary": "Theirs"}}))
        .await;
    s.settle().await;
    assert_eq!(s.app.get(&format!("/api/user-stories/{id}")).await.1["title"], "Theirs");
    let c = conflict(&s.app, &id, json!({"title": "Ours"}), json!({"title": "Theirs"})).await;
    let (status, body) =
        s.app.post(&format!("/api/jira/conflicts/{c}/resolve"), json!({"choose": "arkhitekton"})).await;
    assert_eq!(status, 200, "{body}");
    s.settle().await;
    assert_eq!(s.app.get(&format!("/api/user-stories/{id}")).await.1["title"], "Ours");
    assert_eq!(s.issue(&key).await["fields"]["summary"], "Ours", "Jira got ARKHITEKTON's version");
    let (_, stats) = s.app.get("/api/jira/sync/stats").await;
    assert_eq!(stats["conflictsOpen"], 0, "{stats}");
    s.stop().await;
}

#[tokio::test]
async fn bulk_and_stats_refuse_bad_input_and_write_nothing() {
    let app = TestApp::spawn().await;
    let too_many: Vec<String> = (0..10_001).map(|i| format!("US-{i:07}")).collect();
    let (status, body) =
        app.post("/api/jira/sync/bulk", json!({"entityIds": too_many, "syncDirection": "to_jira"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("entityIds")), "{body}");
    let (status, body) = app.post("/api/jira/sync/bulk", json!({"entityIds": [], "syncDirection": "to_jira"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("entityIds")));
    let (status, body) = app.post("/api/jira/sync/bulk", json!({"entityIds": ["US-0000000"]})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("missing_field")));
    let (status, body) = app.post("/api/jira/sync/bulk", json!({"entityIds": [1], "syncDirection": "to_jira"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_type")));
    let ops = count(&app, "SELECT count(*) FROM bulk_sync_operations WHERE $1 <> ''", "x").await;
    let jobs = count(&app, "SELECT count(*) FROM jobs WHERE $1 <> ''", "x").await;
    assert_eq!((ops, jobs), (0, 0), "nothing written");
    let (status, op) =
        app.post("/api/jira/sync/bulk", json!({"entityIds": ["US-0000000"], "syncDirection": "bi_directional"})).await;
    assert_eq!((status, op["total"].as_i64()), (202, Some(0)), "{op}");
    let (_, progress) = app.get(&format!("/api/jira/sync/bulk/{}", op["operationId"].as_str().unwrap())).await;
    assert_eq!((progress["status"].as_str(), progress["pending"].as_i64()), (Some("queued"), Some(0)), "{progress}");
    assert_eq!(app.get("/api/jira/sync/bulk/not-an-id").await.0, 404);
    let (status, stats) = app.get("/api/jira/sync/stats").await;
    assert_eq!(status, 200);
    assert_eq!(
        stats,
        json!({"totalMappings": 0, "activeSyncs": 0, "errorSyncs": 0, "pending": 0, "lastSyncTime": null,
               "syncRate": {"last24h": 0, "last7d": 0}, "conflictsOpen": 0})
    );
    assert_eq!(app.delete("/api/jira/mappings/not-a-uuid").await, 404);
    assert_eq!(app.delete("/api/jira/mappings/00000000-0000-0000-0000-000000000000").await, 404);
}
