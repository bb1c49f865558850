//! `GET /metrics` after real work shows the metrics that work touched,
//! labelled by route template (never by id).

use std::time::Duration;

use arksync::queue::{Registry, Worker, WorkerConfig};
use arksync::webhooks::signature::sign_hmac;
use tokio_util::sync::CancellationToken;

use crate::harness::{TestApp, WEBHOOK_SECRET};

/// The value of the first sample of `name` whose labels contain all of
/// `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .find(|l| labels.iter().all(|lab| l.contains(lab)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_show_http_webhook_and_queue_work() {
    let app = TestApp::spawn().await;
    let (_, story) = app.post("/api/user-stories", serde_json::json!({"title": "t"})).await;
    app.get(&format!("/api/user-stories/{}", story["id"].as_str().unwrap())).await;
    let body = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/webhooks/issue_updated_status.json"))
        .unwrap();
    let res = app
        .http
        .post(app.url("/api/jira/webhooks"))
        .header("x-hub-signature", sign_hmac(WEBHOOK_SECRET.as_bytes(), &body))
        .header("x-atlassian-webhook-identifier", "metrics-1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let before = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(sample(&before, "jira_queue_size", &["state=\"available\"", "kind=\"process_webhook\""]).unwrap() >= 1.0);

    let token = CancellationToken::new();
    let registry = arksync::webhooks::process::register(Registry::new(), None);
    let config = WorkerConfig { poll_interval: Duration::from_millis(50), ..WorkerConfig::default() };
    let worker =
        tokio::spawn(Worker::new(app.db.pool.clone(), app.db.pg_config(), registry, config).run(token.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        if sample(&text, "jira_queue_size", &["state=\"available\"", "kind=\"process_webhook\""]) == Some(0.0)
            && sample(&text, "jira_queue_completed_total", &["kind=\"process_webhook\""]).is_some()
        {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "the queue never drained:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    token.cancel();
    worker.await.unwrap().unwrap();

    let positive = |name: &str, labels: &[&str]| {
        let v = sample(&text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{text}"));
        assert!(v > 0.0, "{name} {labels:?} = {v}");
    };
    positive("http_requests_total", &["route=\"/api/user-stories\"", "method=\"POST\"", "status=\"201\""]);
    positive("http_requests_total", &["route=\"/api/user-stories/:id\"", "status=\"200\""]);
    positive("http_request_duration_seconds_count", &["route=\"/api/jira/webhooks\""]);
    positive("jira_webhooks_received_total", &["event=\"jira:issue_updated\""]);
    positive("jira_webhooks_processed_total", &["event=\"jira:issue_updated\"", "result=\"processed\""]);
    positive("jira_webhook_processing_time_seconds_count", &[]);
    positive("jira_queue_completed_total", &["kind=\"process_webhook\""]);
    positive("jira_webhook_last_received_timestamp_seconds", &[]);
    assert!(!text.contains("US-"), "no work-item id may become a label");
}

#[tokio::test]
async fn the_metrics_listener_serves_metrics_on_its_own_address_and_nothing_else() {
    let db = crate::harness::TestDb::new().await;
    let shutdown = CancellationToken::new();
    let any_port = Some("127.0.0.1:0".parse().unwrap());
    let address =
        arksync::metrics::listener::spawn(any_port, db.pool.clone(), shutdown.clone()).await.unwrap().unwrap();
    arksync::metrics::job_finished("metrics_listener_test", "completed", Duration::from_millis(3));
    let res = reqwest::get(format!("http://{address}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert_eq!(sample(&text, "jira_queue_completed_total", &["kind=\"metrics_listener_test\""]), Some(1.0), "{text}");
    assert!(text.contains("jira_queue_oldest_runnable_age_seconds"), "gauges are read from PostgreSQL: {text}");
    assert_eq!(reqwest::get(format!("http://{address}/api/epics")).await.unwrap().status(), 404);
    shutdown.cancel();
    assert_eq!(arksync::metrics::listener::spawn(None, db.pool.clone(), shutdown).await.unwrap(), None);
}

/// Moves `db`'s connection ids far from every other test's (the recorder
/// is shared by the whole test process), so that exact counts hold.
fn unique_connection_ids(db: &crate::harness::TestDb) {
    let start = 1_000_000 + (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as i64;
    db.psql(&format!("ALTER TABLE jira_connections ALTER COLUMN id RESTART WITH {start}"));
}

#[tokio::test]
async fn metrics_show_jira_requests_errors_rate_limits_and_oauth_refreshes() {
    use crate::jira_support::{admin_post, client, consented_oauth_connection, sim, site_connection, store};
    let app = TestApp::spawn().await;
    unique_connection_ids(&app.db);
    let sim = sim(arksync::jira_sim::SimConfig::default()).await;
    let store = store(&app.db);
    let basic = site_connection(&store, &sim, "cloud").await;
    let jira = client(&basic, &store);
    jira.myself().await.unwrap();
    admin_post(&sim, "faults", serde_json::json!({ "burst429": { "count": 1, "retryAfterSecs": 1 } })).await;
    jira.myself().await.unwrap();
    let oauth = consented_oauth_connection(&app, &sim).await;
    admin_post(&sim, "clock/advance", serde_json::json!({ "hours": 2 })).await;
    let oauth_jira = client(&store.load(oauth).await.unwrap().unwrap(), &store);
    oauth_jira.myself().await.unwrap();

    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let conn = format!("connection=\"{}\"", basic.id);
    let get = |class: &str| {
        sample(&text, "jira_api_requests_total", &[&conn, "method=\"GET\"", &format!("status_class=\"{class}\"")])
    };
    assert_eq!(get("2xx"), Some(2.0), "{text}");
    assert_eq!(get("4xx"), Some(1.0), "the 429");
    assert_eq!(sample(&text, "jira_api_errors_total", &[&conn, "error_class=\"rate_limited\""]), Some(1.0));
    assert_eq!(sample(&text, "jira_api_rate_limit_hits_total", &[&conn]), Some(1.0));
    assert_eq!(sample(&text, "jira_api_retry_after_seconds_total", &[&conn]), Some(1.0));
    assert_eq!(sample(&text, "jira_api_request_duration_seconds_count", &[&conn, "method=\"GET\""]), Some(3.0));
    let oauth_conn = format!("connection=\"{oauth}\"");
    assert!(sample(&text, "jira_api_requests_total", &[&oauth_conn, "status_class=\"2xx\""]).is_some(), "{text}");
    assert!(sample(&text, "jira_oauth_refreshes_total", &["result=\"ok\""]).unwrap() >= 1.0, "{text}");
}
