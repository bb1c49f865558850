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
