//! Log context: every line a job writes carries `job.id`, `job.kind` and,
//! once known, `arkhitekton.id` and `jira.key`; never a credential.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::sync_e2e::Synced;

/// Collects what the JSON formatter writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the JSON log (the layout of LOG_FORMAT=json) of this test's
/// thread only, which the test runtime runs the server and worker on, until
/// the guard is dropped.
fn capture_json_logs() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .finish();
    (capture, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn json_logs_of_a_push_job_carry_the_job_item_and_issue_key() {
    let (capture, _guard) = capture_json_logs();

    let s = Synced::start(|_| {}).await;
    let (_, story) =
        s.app.post("/api/user-stories", json!({"title": "Logged", "syncToJira": true, "jiraProjectKey": "PROJ"})).await;
    let id = story["id"].as_str().unwrap().to_owned();
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    let key = got["jiraIssueKey"].as_str().unwrap().to_owned();
    let token = s.sim.integration_user().token.clone();
    s.stop().await;

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let finished = lines
        .iter()
        .find(|l| l["message"] == "job finished" && l["span"]["job.kind"] == "push_to_jira")
        .unwrap_or_else(|| panic!("no finished push job in the log:\n{text}"));
    let span = &finished["span"];
    assert_eq!(span["arkhitekton.id"], id.as_str(), "{finished}");
    assert_eq!(span["jira.key"], key.as_str(), "{finished}");
    assert!(span["job.id"].is_i64() || span["job.id"].is_u64(), "{finished}");
    assert!(!text.contains(&token), "a credential reached the log");
}

#[tokio::test]
async fn a_request_about_an_item_logs_its_id() {
    let (capture, _guard) = capture_json_logs();

    let app = crate::harness::TestApp::spawn().await;
    let (_, story) = app.post("/api/user-stories", json!({"title": "Traced"})).await;
    let id = story["id"].as_str().unwrap().to_owned();
    let (status, _) = app.patch(&format!("/api/user-stories/{id}"), json!({"title": "Traced again"})).await;
    assert_eq!(status, 200);

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let served = |method: &str, route: &str| {
        lines
            .iter()
            .find(|l| l["message"] == "served" && l["span"]["method"] == method && l["span"]["route"] == route)
            .unwrap_or_else(|| panic!("no served {method} {route} in the log:\n{text}"))
            .clone()
    };
    let patch = served("PATCH", "/api/user-stories/:id");
    assert_eq!(patch["span"]["arkhitekton.id"], id.as_str(), "{patch}");
    let create = served("POST", "/api/user-stories");
    assert!(create["span"].get("arkhitekton.id").is_none(), "no item named yet: {create}");
}
