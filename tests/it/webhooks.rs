//! Webhook ingestion: verification over raw bytes, durable storage before
//! the answer, idempotency, processing on the queue, and the real Jira
//! deliveries in `../shared/reference/` parsed in place.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arksync::jira::webhook::{EventKind, WebhookPayload};
use arksync::queue::{Registry, Worker, WorkerConfig};
use arksync::webhooks::signature::sign_hmac;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::harness::{OAUTH_SECRET, TestApp, WEBHOOK_SECRET, status_and_json};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhooks").join(name)).unwrap()
}

async fn deliver(app: &TestApp, body: &[u8], delivery_id: Option<&str>) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url("/api/jira/webhooks"))
        .header("content-type", "application/json; charset=UTF-8")
        .header("x-hub-signature", sign_hmac(WEBHOOK_SECRET.as_bytes(), body))
        .body(body.to_vec());
    if let Some(id) = delivery_id {
        req = req.header("x-atlassian-webhook-identifier", id);
    }
    status_and_json(req.send().await.unwrap()).await
}

async fn stored(app: &TestApp) -> (i64, i64) {
    let c = app.db.connect().await;
    let events: i64 = c.query_one("SELECT count(*) FROM jira_webhook_events", &[]).await.unwrap().get(0);
    let jobs: i64 = c.query_one("SELECT count(*) FROM jobs", &[]).await.unwrap().get(0);
    (events, jobs)
}

#[tokio::test]
async fn a_signed_delivery_is_stored_with_its_job_before_the_answer() {
    let app = TestApp::spawn().await;
    let (status, body) = deliver(&app, &fixture("issue_updated_status.json"), Some("d-1")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "accepted");
    assert_eq!(stored(&app).await, (1, 1));
    let c = app.db.connect().await;
    let row = c
        .query_one("SELECT event_type, jira_issue_key, jira_issue_id, idempotency_key FROM jira_webhook_events", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "jira:issue_updated");
    assert_eq!(row.get::<_, String>(1), "PROJ-42");
    assert_eq!(row.get::<_, String>(2), "10042");
    assert_eq!(row.get::<_, String>(3), "delivery:d-1");
    let job_id: i64 = c.query_one("SELECT id FROM jobs", &[]).await.unwrap().get(0);
    assert_eq!(body["jobId"], job_id.to_string());
    let (status, st) = app.get(&format!("/api/jira/webhooks/{}/status", body["eventId"].as_str().unwrap())).await;
    assert_eq!((status, st), (200, json!({"status": "pending"})));
}

#[tokio::test]
async fn a_redelivery_creates_nothing_new() {
    let app = TestApp::spawn().await;
    let body = fixture("issue_updated_status.json");
    let (first, accepted) = deliver(&app, &body, Some("d-7")).await;
    let (second, dup) = deliver(&app, &body, Some("d-7")).await;
    assert_eq!((first, second), (202, 200));
    assert_eq!(dup["status"], "already_processed");
    assert_eq!(dup["eventId"], accepted["eventId"]);
    // Without the identifier header the key is event + issue id + updated.
    let (third, _) = deliver(&app, &body, None).await;
    let (fourth, _) = deliver(&app, &body, None).await;
    assert_eq!((third, fourth), (202, 200));
    assert_eq!(stored(&app).await, (2, 2));
}

#[tokio::test]
async fn concurrent_deliveries_are_each_stored_once_and_answered_with_their_own_outcome() {
    let app = Arc::new(TestApp::spawn().await);
    let template: Value = serde_json::from_slice(&fixture("issue_updated_status.json")).unwrap();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let app = app.clone();
        let mut payload = template.clone();
        payload["issue"]["id"] = json!(format!("{}", 20_000 + i % 200));
        let body = serde_json::to_vec(&payload).unwrap();
        // Deliveries 200..300 repeat the identifiers of 0..100.
        let id = format!("d-{}", i % 200);
        tasks.push(tokio::spawn(async move { deliver(&app, &body, Some(&id)).await }));
    }
    let mut accepted = std::collections::HashSet::new();
    let mut duplicates = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            202 => assert!(accepted.insert(body["jobId"].as_str().unwrap().to_owned()), "a job id answered twice"),
            200 => duplicates += 1,
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((accepted.len(), duplicates), (200, 100));
    assert_eq!(stored(&app).await, (200, 200));
}

#[tokio::test]
async fn bad_or_missing_signatures_are_401_and_store_nothing() {
    let app = TestApp::spawn().await;
    let body = fixture("issue_updated_status.json");
    let url = app.url("/api/jira/webhooks");
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let cases = [
        app.http.post(&url).body(body.clone()),
        app.http.post(&url).header("x-hub-signature", sign_hmac(b"wrong", &body)).body(body.clone()),
        app.http.post(&url).header("x-hub-signature", sign_hmac(WEBHOOK_SECRET.as_bytes(), &body)).body(tampered),
        app.http.post(&url).header("x-hub-signature", "sha1=abcd").body(body.clone()),
        app.http.post(&url).header("authorization", format!("Bearer {}", jwt(b"not-the-secret"))).body(body.clone()),
    ];
    for req in cases {
        let (status, err) = status_and_json(req.send().await.unwrap()).await;
        assert_eq!(status, 401, "{err}");
        assert_eq!(err["error"]["code"], "unauthorized");
    }
    assert_eq!(stored(&app).await, (0, 0));
}

#[tokio::test]
async fn a_dynamic_webhook_signed_with_a_jwt_is_accepted() {
    let app = TestApp::spawn().await;
    let req = app
        .http
        .post(app.url("/api/jira/webhooks"))
        .header("authorization", format!("Bearer {}", jwt(OAUTH_SECRET.as_bytes())))
        .body(fixture("issue_updated_status.json"));
    assert_eq!(status_and_json(req.send().await.unwrap()).await.0, 202);
}

#[tokio::test]
async fn bodies_that_are_not_deliveries_are_400_and_oversized_ones_413() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4096).await;
    for body in [&b"[1,2]"[..], b"{\"issue\":{}}", b"not json", b"{\"webhookEvent\": 5}"] {
        let (status, err) = deliver(&app, body, None).await;
        assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid_delivery")), "{err}");
    }
    let big = format!("{{\"webhookEvent\":\"jira:issue_updated\",\"pad\":\"{}\"}}", "x".repeat(5000));
    assert_eq!(deliver(&app, big.as_bytes(), None).await.0, 413);
    assert_eq!(stored(&app).await, (0, 0));
}

#[tokio::test]
async fn the_worker_marks_issue_events_processed_and_comments_ignored() {
    let app = TestApp::spawn().await;
    let (_, issue) = deliver(&app, &fixture("issue_updated_status.json"), Some("a")).await;
    let (_, comment) = deliver(&app, &fixture("comment_created.json"), Some("b")).await;
    let (_, broken) = deliver(&app, br#"{"webhookEvent":"jira:issue_updated","issue":{"key":"P-1"}}"#, Some("c")).await;
    let token = CancellationToken::new();
    let registry = arksync::webhooks::process::register(Registry::new(), None);
    let config = WorkerConfig { poll_interval: Duration::from_millis(50), ..WorkerConfig::default() };
    let worker =
        tokio::spawn(Worker::new(app.db.pool.clone(), app.db.pg_config(), registry, config).run(token.clone()));
    let status_of = |v: &Value| format!("/api/jira/webhooks/{}/status", v["eventId"].as_str().unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, s) = app.get(&status_of(&broken)).await;
        if s["status"] != "pending" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the worker did not process the deliveries");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    token.cancel();
    worker.await.unwrap().unwrap();
    let (_, s) = app.get(&status_of(&issue)).await;
    assert_eq!(s["status"], "processed");
    assert!(s["processedAt"].is_string());
    assert_eq!(app.get(&status_of(&comment)).await.1["status"], "ignored");
    let (_, s) = app.get(&status_of(&broken)).await;
    assert_eq!(s["status"], "failed");
    assert!(s["error"].as_str().unwrap().contains("does not parse"), "{s}");
}

#[tokio::test]
async fn deliveries_get_503_when_the_database_is_unreachable() {
    let app = TestApp::spawn().await;
    let admin = app.db.admin().await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {0} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}';",
            app.db.name
        ))
        .await
        .unwrap();
    let (status, body) = deliver(&app, &fixture("issue_updated_status.json"), Some("x")).await;
    assert_eq!(status, 503, "{body}");
}

#[test]
fn the_real_jira_deliveries_parse_into_typed_values() {
    if crate::reference::missing() {
        return;
    }
    let dir = crate::reference::path("jira-webhooks");
    let read = |name: &str| -> WebhookPayload {
        let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name} in {}: {e}", dir.display()));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let created = read("cloud-issue_created.bytebase.json");
    assert_eq!(created.kind(), EventKind::IssueCreated);
    assert_eq!(created.issue.as_ref().unwrap().key, "API-6");
    assert!(created.issue_updated().is_some(), "fields.updated parses");

    let edit = read("cloud-issue_updated-field-edit.bytebase.json");
    assert_eq!(edit.kind(), EventKind::IssueUpdated);
    let item = &edit.changelog.as_ref().unwrap().items[0];
    assert_eq!(item.field_id.as_deref(), Some("customfield_10039"));

    let transition = read("cloud-issue_updated-status-transition.bytebase.json");
    let changelog = transition.changelog.as_ref().unwrap();
    assert_eq!(changelog.id, "10030");
    assert_eq!(changelog.items[0].field_id.as_deref(), Some("status"));
    assert_eq!(changelog.items[0].to_string.as_deref(), Some("In Progress"));
    assert_eq!(transition.issue_event_type_name.as_deref(), Some("issue_generic"));

    let deleted = read("cloud-issue_deleted.osbot-jira.json");
    assert_eq!(deleted.kind(), EventKind::IssueDeleted);
    assert!(deleted.user.as_ref().unwrap().account_id.is_some());
}

#[test]
fn our_fixture_has_the_shape_of_the_real_deliveries() {
    let ours: WebhookPayload = serde_json::from_slice(&fixture("issue_updated_status.json")).unwrap();
    assert_eq!(ours.kind(), EventKind::IssueUpdated);
    assert_eq!(ours.changelog.as_ref().unwrap().items[0].field_id.as_deref(), Some("status"));
    assert_eq!(
        ours.issue_updated().unwrap(),
        arksync::jira::webhook::parse_jira_time("2025-10-12T10:00:00.123+0000").unwrap()
    );
}

fn jwt(secret: &[u8]) -> String {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let exp = chrono::Utc::now().timestamp() + 300;
    encode(&Header::default(), &json!({"iss": "jira", "exp": exp}), &EncodingKey::from_secret(secret)).unwrap()
}
