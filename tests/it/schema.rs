//! What the database itself enforces, seen from plain SQL (as psql would).

use crate::harness::TestDb;

#[tokio::test]
async fn the_database_refuses_values_outside_their_sets() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    let bad = [
        "INSERT INTO user_stories (title, status) VALUES ('t', 'doing')",
        "INSERT INTO user_stories (title, priority) VALUES ('t', 'P1')",
        "INSERT INTO defects (title, severity) VALUES ('t', 'blocker')",
        "INSERT INTO epics (title, sync_status) VALUES ('t', 'fine')",
        "INSERT INTO user_stories (title) VALUES ('   ')",
        "INSERT INTO user_stories (id, title) VALUES ('US-123', 't')",
        "INSERT INTO jira_integration_mappings (arkhitekton_id, arkhitekton_type, jira_issue_key, jira_issue_id, \
         jira_issue_type, jira_project_key) VALUES ('US-0000000', 'story', 'P-1', '1', 'Story', 'P')",
        "INSERT INTO jira_webhook_events (event_type, raw_payload, idempotency_key, processing_status) \
         VALUES ('jira:issue_updated', '{}', 'k', 'done')",
    ];
    for sql in bad {
        let err = c.execute(sql, &[]).await.expect_err(sql);
        assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION), "{sql}: {err}");
    }
    // sync_source is stamped from the transaction's setting, and checked.
    let err = c
        .batch_execute("BEGIN; SET LOCAL arksync.sync_source = 'someone'; INSERT INTO epics (title) VALUES ('t')")
        .await
        .expect_err("an unknown source");
    assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION), "{err}");
}

#[tokio::test]
async fn ids_are_generated_in_arkhitekton_format_for_psql_inserts_too() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    for (table, prefix) in [("user_stories", "US-"), ("defects", "DEF-"), ("epics", "EPIC-")] {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let row =
                c.query_one(&format!("INSERT INTO {table} (title) VALUES ('t') RETURNING id"), &[]).await.unwrap();
            let id: String = row.get(0);
            let body = id.strip_prefix(prefix).unwrap();
            assert_eq!(body.len(), 7, "{id}");
            assert!(body.chars().all(|ch| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(ch)), "{id}");
            seen.insert(id);
        }
        assert_eq!(seen.len(), 50);
    }
}

#[tokio::test]
async fn sync_bookkeeping_does_not_count_as_an_edit() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    let id: String =
        c.query_one("INSERT INTO user_stories (title) VALUES ('t') RETURNING id", &[]).await.unwrap().get(0);
    let before = updated_at(&c, &id).await;
    c.execute(
        "UPDATE user_stories SET sync_status = 'synced', last_synced_at = now(), jira_issue_key = 'P-1' WHERE id = $1",
        &[&id],
    )
    .await
    .unwrap();
    assert_eq!(updated_at(&c, &id).await, before, "bookkeeping is not an edit");
    c.execute("UPDATE user_stories SET title = 'u' WHERE id = $1", &[&id]).await.unwrap();
    assert!(updated_at(&c, &id).await > before, "a title change is an edit");
}

async fn updated_at(c: &tokio_postgres::Client, id: &str) -> chrono::DateTime<chrono::Utc> {
    c.query_one("SELECT updated_at FROM user_stories WHERE id = $1", &[&id]).await.unwrap().get(0)
}
