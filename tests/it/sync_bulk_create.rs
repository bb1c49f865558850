//! Creates that arrive together share `POST /issue/bulk` calls.

use serde_json::{Value, json};

use crate::jira_support::{admin_get, admin_post, requests};
use crate::sync_e2e::Synced;

const ITEMS: i32 = 30;

/// Inserts `ITEMS` syncing stories in one statement (a burst, as an import
/// or a bulk sync makes); story `bad` goes to a project Jira lacks.
async fn burst(s: &Synced, bad: Option<i32>) {
    let c = s.app.db.connect().await;
    c.execute(
        "INSERT INTO user_stories (title, sync_to_jira, jira_project_key) \
         SELECT 'burst ' || g, true, CASE WHEN g = $2 THEN 'NOPE' ELSE 'PROJ' END FROM generate_series(1, $1) g",
        &[&ITEMS, &bad.unwrap_or(0)],
    )
    .await
    .unwrap();
    c.execute("NOTIFY arksync_jobs", &[]).await.unwrap();
    s.settle().await;
}

/// Create calls in the simulator's log: (single creates, bulk creates).
async fn create_calls(s: &Synced) -> (usize, usize) {
    let calls = requests(&s.sim).await;
    let count = |path: &str| calls.iter().filter(|r| r["method"] == "POST" && r["path"] == path).count();
    (count("/rest/api/3/issue"), count("/rest/api/3/issue/bulk"))
}

/// Each story's (title, sync status, issue key, error).
async fn stories(s: &Synced) -> Vec<(String, String, Option<String>, Option<String>)> {
    let c = s.app.db.connect().await;
    let rows = c
        .query(
            "SELECT title, sync_status, jira_issue_key, sync_error FROM user_stories WHERE title LIKE 'burst %'",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
}

/// Every issue of the burst in the simulator, with its ARKHITEKTON ID.
async fn burst_issues(s: &Synced) -> Vec<Value> {
    let issues = admin_get(&s.sim, "issues").await;
    issues
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["fields"]["summary"].as_str().is_some_and(|t| t.starts_with("burst ")))
        .cloned()
        .collect()
}

/// Every issue carries its own item's id, and no item has two issues.
async fn assert_one_issue_per_synced_item(s: &Synced, expected: usize) {
    let c = s.app.db.connect().await;
    let rows = c
        .query("SELECT id, jira_issue_key FROM user_stories WHERE sync_status = 'synced' AND title LIKE 'burst %'", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), expected);
    let issues = burst_issues(s).await;
    assert_eq!(issues.len(), expected, "one issue per item, none twice");
    for r in rows {
        let (id, key): (String, String) = (r.get(0), r.get(1));
        let issue = issues.iter().find(|i| i["key"] == key.as_str()).expect("the linked issue exists");
        assert_eq!(issue["fields"]["customfield_10001"], id.as_str(), "{key} is {id}'s issue");
    }
}

#[tokio::test]
async fn a_burst_of_creates_shares_bulk_calls_and_a_refused_element_fails_only_its_item() {
    let s = Synced::start(|_| {}).await;
    // Slow answers keep calls in flight, so the creates behind them gather.
    admin_post(&s.sim, "faults", json!({"latencyMs": 100})).await;
    burst(&s, Some(7)).await;

    let (single, bulk) = create_calls(&s).await;
    assert!(bulk >= 1, "some creates went out together: {single} single, {bulk} bulk calls");
    assert!(single + bulk < ITEMS as usize, "fewer calls than items: {single} single, {bulk} bulk");
    assert_one_issue_per_synced_item(&s, ITEMS as usize - 1).await;
    let refused: Vec<_> = stories(&s).await.into_iter().filter(|(_, status, ..)| status != "synced").collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let (title, status, key, error) = &refused[0];
    assert_eq!((title.as_str(), status.as_str(), key), ("burst 7", "error", &None));
    assert!(error.as_deref().is_some_and(|e| e.contains("project")), "Jira's own complaint: {error:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_bulk_call_that_fails_whole_is_looked_up_before_anything_is_created_again() {
    let s = Synced::start(|_| {}).await;
    admin_post(
        &s.sim,
        "faults",
        json!({"latencyMs": 100, "failNext": {"status": 500, "count": 1, "pathContains": "/issue/bulk"}}),
    )
    .await;
    burst(&s, None).await;

    assert_one_issue_per_synced_item(&s, ITEMS as usize).await;
    let (_, bulk) = create_calls(&s).await;
    assert!(bulk >= 2, "the failed bulk call and at least one more: {bulk}");
    // The failed call's items were in doubt: each retry searched for its
    // issue by ARKHITEKTON ID before creating it.
    let searches =
        requests(&s.sim).await.iter().filter(|r| r["path"].as_str().is_some_and(|p| p.contains("/search"))).count();
    assert!(searches >= 2, "in-doubt creates are looked up first: {searches} searches");
    s.stop().await;
}

#[tokio::test]
async fn pushes_whose_bookkeeping_is_committed_together_do_not_fail_with_a_neighbour() {
    let s = Synced::start(|_| {}).await;
    admin_post(&s.sim, "faults", json!({"latencyMs": 100})).await;
    // The database refuses to link story 7 (as it might refuse any one
    // record): its bookkeeping fails every time, after Jira made its issue.
    let c = s.app.db.connect().await;
    c.batch_execute(
        "CREATE FUNCTION refuse_story_7() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.title = 'burst 7' AND NEW.jira_issue_key IS NOT NULL THEN RAISE EXCEPTION 'refused'; END IF; \
             RETURN NEW; END $$; \
         CREATE TRIGGER zz_refuse_story_7 BEFORE UPDATE ON user_stories \
             FOR EACH ROW EXECUTE FUNCTION refuse_story_7();",
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO user_stories (title, sync_to_jira, jira_project_key) \
         SELECT 'burst ' || g, true, 'PROJ' FROM generate_series(1, $1) g",
        &[&ITEMS],
    )
    .await
    .unwrap();
    c.execute("NOTIFY arksync_jobs", &[]).await.unwrap();
    let synced_first_time = "SELECT count(*) FROM jira_sync_logs WHERE sync_direction = 'to_jira' \
                             AND status = 'success' AND retry_count = 0";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while c.query_one(synced_first_time, &[]).await.unwrap().get::<_, i64>(0) < ITEMS as i64 - 1 {
        assert!(tokio::time::Instant::now() < deadline, "every other story syncs on its first attempt");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let seven = "SELECT sync_status FROM user_stories WHERE title = 'burst 7'";
    assert_eq!(c.query_one(seven, &[]).await.unwrap().get::<_, String>(0), "pending");

    // Once the database accepts it, story 7's retry finds the issue its
    // first attempt made, and links that one: no second issue.
    c.batch_execute("DROP TRIGGER zz_refuse_story_7 ON user_stories").await.unwrap();
    c.execute("UPDATE jobs SET run_at = now() WHERE state = 'available'", &[]).await.unwrap();
    c.execute("NOTIFY arksync_jobs", &[]).await.unwrap();
    s.settle().await;
    assert_one_issue_per_synced_item(&s, ITEMS as usize).await;
    s.stop().await;
}
