//! The outbox triggers, driven with plain SQL through psql: edits of syncing
//! items get exactly one waiting push job; changes applied from Jira, and
//! the sync's own bookkeeping, never do.

use std::time::Duration;

use futures_util::StreamExt;

use crate::harness::TestDb;

fn push_jobs(db: &TestDb) -> String {
    db.psql("SELECT coalesce(string_agg(payload->>'id' || ':' || state, ',' ORDER BY id), '') FROM jobs WHERE kind = 'push_to_jira'")
}

#[tokio::test]
async fn edits_of_a_syncing_item_coalesce_into_one_waiting_push() {
    let db = TestDb::new().await;
    let id = db.psql(
        "INSERT INTO user_stories (title, sync_to_jira, jira_project_key) VALUES ('a', true, 'PROJ') RETURNING id",
    );
    assert_eq!(push_jobs(&db), format!("{id}:available"));
    for title in ["b", "c", "d"] {
        db.psql(&format!("UPDATE user_stories SET title = '{title}' WHERE id = '{id}'"));
    }
    assert_eq!(push_jobs(&db), format!("{id}:available"), "one waiting push, not four");
    assert_eq!(
        db.psql(&format!("SELECT sync_status || ',' || sync_source FROM user_stories WHERE id = '{id}'")),
        "pending,arkhitekton"
    );
    // Once that push is running, a new edit needs a push of its own.
    db.psql("UPDATE jobs SET state = 'running', lease_expires_at = now() + interval '1 minute'");
    db.psql(&format!("UPDATE user_stories SET title = 'e' WHERE id = '{id}'"));
    assert_eq!(push_jobs(&db), format!("{id}:running,{id}:available"));
}

#[tokio::test]
async fn a_change_applied_from_jira_can_never_enqueue_a_push() {
    let db = TestDb::new().await;
    let id =
        db.psql("INSERT INTO defects (title, sync_to_jira, jira_project_key) VALUES ('a', true, 'PROJ') RETURNING id");
    db.psql(&format!(
        "UPDATE defects SET sync_status = 'synced', jira_issue_key = 'PROJ-1', jira_issue_id = '10000' WHERE id = '{id}'; \
         DELETE FROM jobs"
    ));
    db.psql(&format!(
        "BEGIN; SET LOCAL arksync.sync_source = 'jira'; \
         UPDATE defects SET title = 'renamed in Jira', severity = 'high' WHERE id = '{id}'; COMMIT"
    ));
    assert_eq!(push_jobs(&db), "", "no echo back to Jira");
    assert_eq!(
        db.psql(&format!("SELECT title || ',' || sync_source || ',' || sync_status FROM defects WHERE id = '{id}'")),
        "renamed in Jira,jira,synced"
    );
    // The setting is transaction-local: the next plain edit is ARKHITEKTON's.
    db.psql(&format!("UPDATE defects SET title = 'renamed here' WHERE id = '{id}'"));
    assert_eq!(push_jobs(&db), format!("{id}:available"));
    assert_eq!(db.psql(&format!("SELECT sync_source FROM defects WHERE id = '{id}'")), "arkhitekton");
}

#[tokio::test]
async fn bookkeeping_items_not_syncing_and_disabled_items_get_no_push() {
    let db = TestDb::new().await;
    let syncing =
        db.psql("INSERT INTO epics (title, sync_to_jira, jira_project_key) VALUES ('a', true, 'PROJ') RETURNING id");
    db.psql("DELETE FROM jobs");
    db.psql(&format!(
        "UPDATE epics SET sync_status = 'synced', last_synced_at = now(), sync_error = NULL WHERE id = '{syncing}'"
    ));
    let local = db.psql("INSERT INTO epics (title) VALUES ('b') RETURNING id");
    db.psql(&format!("UPDATE epics SET title = 'c' WHERE id = '{local}'"));
    db.psql(&format!("UPDATE epics SET sync_status = 'disabled' WHERE id = '{syncing}'"));
    db.psql(&format!("UPDATE epics SET title = 'd' WHERE id = '{syncing}'"));
    assert_eq!(push_jobs(&db), "");
    assert_eq!(db.psql(&format!("SELECT sync_status FROM epics WHERE id = '{syncing}'")), "disabled");
}

#[tokio::test]
async fn an_enqueued_push_wakes_listening_workers() {
    let db = TestDb::new().await;
    let (client, mut conn) = db.pg_config().connect(tokio_postgres::NoTls).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = m {
                tx.send(n.channel().to_owned()).ok();
            }
        }
    });
    client.batch_execute("LISTEN arksync_jobs").await.unwrap();
    db.psql("INSERT INTO user_stories (title, sync_to_jira, jira_project_key) VALUES ('a', true, 'PROJ')");
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap();
    assert_eq!(got.as_deref(), Some("arksync_jobs"));
}

#[tokio::test]
async fn the_api_marks_a_syncing_story_pending_and_enqueues_its_push() {
    let app = crate::harness::TestApp::spawn().await;
    let (_, s) = app
        .post("/api/user-stories", serde_json::json!({"title": "t", "syncToJira": true, "jiraProjectKey": "PROJ"}))
        .await;
    let id = s["id"].as_str().unwrap();
    assert_eq!(s["syncStatus"], "pending");
    assert_eq!(push_jobs(&app.db), format!("{id}:available"));
}

#[tokio::test]
async fn the_live_links_view_has_every_column_of_the_mapping_table() {
    // `live_mappings` froze the table's columns when it was made: a
    // migration that adds one must make the view again.
    let db = TestDb::new().await;
    let columns = |relation: &str| {
        format!(
            "SELECT string_agg(column_name::text, ',' ORDER BY ordinal_position) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{relation}'"
        )
    };
    let c = db.connect().await;
    let table: String = c.query_one(&columns("jira_integration_mappings"), &[]).await.unwrap().get(0);
    let view: String = c.query_one(&columns("live_mappings"), &[]).await.unwrap().get(0);
    assert_eq!(view, table);
}
