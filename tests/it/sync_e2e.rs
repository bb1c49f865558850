//! The sync end to end: arksync (HTTP API, outbox, worker) against the Jira
//! simulator, whose admin webhook calls arksync back. Edits on either side
//! reach the other once, and nothing echoes.

use std::time::Duration;

use arksync::jira_sim::{AdminWebhook, SimConfig, SimServer};
use arksync::queue::{Registry, Worker, WorkerConfig};
use arksync::sync::Engine;
use base64::Engine as _;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::harness::{TestApp, WEBHOOK_SECRET};
use crate::jira_support::{admin_get, requests, site_connection, store};

/// arksync, the simulator wired to it, and a worker running every job.
pub struct Synced {
    pub app: TestApp,
    pub sim: SimServer,
    pub engine: Engine,
    stop: CancellationToken,
    worker: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Synced {
    pub async fn start(tweak: impl FnOnce(&mut SimConfig)) -> Self {
        // One engine for the API and the worker, as `arksync serve` runs them.
        let mut shared = None;
        let app = TestApp::spawn_with(|state| shared = Some(state.sync.clone())).await;
        let mut config = SimConfig::default();
        config
            .admin_webhooks
            .push(AdminWebhook { url: app.url("/api/jira/webhooks"), secret: Some(WEBHOOK_SECRET.to_owned()) });
        tweak(&mut config);
        let sim = crate::jira_support::sim(config).await;
        site_connection(&store(&app.db), &sim, "default").await;
        let engine = shared.expect("the app's engine");
        let worker_engine = engine.clone();
        let registry = arksync::webhooks::process::register(Registry::new(), Some(worker_engine.clone()));
        let registry = arksync::sync::outbound::register(registry, worker_engine.clone());
        let registry = arksync::sync::import::register(registry, worker_engine.clone());
        let registry = arksync::sync::bulk::register(registry, worker_engine.clone());
        let registry = arksync::sync::reconcile::register(registry, worker_engine);
        let config = WorkerConfig {
            poll_interval: Duration::from_millis(100),
            retry_base: Duration::from_millis(50),
            rescue_interval: Duration::from_millis(500),
            ..WorkerConfig::default()
        };
        let stop = CancellationToken::new();
        let worker = Worker::new(app.db.pool.clone(), app.db.pg_config(), registry, config).run(stop.clone());
        Self { app, sim, engine, stop, worker: Some(tokio::spawn(worker)) }
    }

    /// Waits until nothing moves: no job waiting or running, and no new
    /// delivery attempt or stored event for half a second.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let client = self.app.db.connect().await;
        let (mut quiet, mut last) = (0, (-1i64, -1i64, 0usize));
        while quiet < 5 {
            let row = client
                .query_one(
                    "SELECT (SELECT count(*) FROM jobs WHERE state IN ('available', 'running')), \
                            (SELECT count(*) FROM jira_webhook_events)",
                    &[],
                )
                .await
                .unwrap();
            let deliveries = admin_get(&self.sim, "deliveries").await.as_array().map_or(0, Vec::len);
            let now = (row.get::<_, i64>(0), row.get::<_, i64>(1), deliveries);
            quiet = if now.0 == 0 && now == last { quiet + 1 } else { 0 };
            last = now;
            assert!(tokio::time::Instant::now() < deadline, "the sync did not settle");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Creates a story that syncs, waits until it is synced, and returns
    /// its id and its issue's key.
    pub async fn synced_story(&self, body: Value) -> (String, String) {
        let (status, story) = self.app.post("/api/user-stories", body).await;
        assert_eq!(status, 201, "{story}");
        let id = story["id"].as_str().unwrap().to_owned();
        self.settle().await;
        let (_, got) = self.app.get(&format!("/api/user-stories/{id}")).await;
        assert_eq!(got["syncStatus"], "synced", "{got}");
        (id, got["jiraIssueKey"].as_str().unwrap().to_owned())
    }

    /// The simulator's view of one issue.
    pub async fn issue(&self, key: &str) -> Value {
        let issues = admin_get(&self.sim, "issues").await;
        issues.as_array().unwrap().iter().find(|i| i["key"] == key).cloned().unwrap_or(Value::Null)
    }

    /// Acts as a person working in Jira (the simulator's second account).
    pub async fn as_person(&self, method: reqwest::Method, path: &str, body: Value) -> u16 {
        let user = &self.sim.credentials()[1];
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", user.email, user.token));
        let res = reqwest::Client::new()
            .request(method, format!("{}{path}", self.sim.base_url()))
            .header("authorization", format!("Basic {auth}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        res.status().as_u16()
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(w) = self.worker.take() {
            w.await.unwrap().unwrap();
        }
    }
}

/// Writes to Jira's issue endpoints in the simulator's request log.
async fn jira_writes(sim: &SimServer) -> Vec<Value> {
    requests(sim)
        .await
        .into_iter()
        .filter(|r| r["method"] != "GET" && r["path"].as_str().is_some_and(|p| p.contains("/issue")))
        .collect()
}

async fn sync_logs(app: &TestApp, direction: &str) -> i64 {
    let c = app.db.connect().await;
    c.query_one("SELECT count(*) FROM jira_sync_logs WHERE sync_direction = $1 AND status = 'success'", &[&direction])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_story_created_and_edited_here_reaches_jira_once_and_does_not_echo() {
    let s = Synced::start(|_| {}).await;
    let (_, story) = s
        .app
        .post(
            "/api/user-stories",
            json!({"title": "Pay with a saved card", "description": "Users **reuse** a card.",
                   "storyPoints": 5, "labels": ["payments", "needs review"], "syncToJira": true, "jiraProjectKey": "PROJ"}),
        )
        .await;
    let id = story["id"].as_str().unwrap().to_owned();
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(got["syncStatus"], "synced", "{got}");
    let key = got["jiraIssueKey"].as_str().unwrap().to_owned();
    let issue = s.issue(&key).await;
    assert_eq!(issue["fields"]["summary"], "Pay with a saved card");
    assert_eq!(issue["fields"]["customfield_10001"], id.as_str(), "the ARKHITEKTON ID is written");
    assert_eq!(issue["fields"]["customfield_10016"], json!(5.0));
    assert_eq!(issue["fields"]["labels"], json!(["needs-review", "payments"]), "Jira's form: no spaces, sorted");
    assert_eq!(got["jiraMapping"]["issueKey"], key.as_str());

    // An edit and a status change here: one edit and one transition there.
    let before = jira_writes(&s.sim).await.len();
    s.app
        .patch(&format!("/api/user-stories/{id}"), json!({"title": "Pay with saved cards", "status": "in-progress"}))
        .await;
    s.settle().await;
    let issue = s.issue(&key).await;
    assert_eq!(issue["fields"]["summary"], "Pay with saved cards");
    assert_eq!(issue["fields"]["status"]["name"], "In Progress");
    let writes = jira_writes(&s.sim).await;
    assert_eq!(writes.len() - before, 2, "one PUT and one transition: {:?}", &writes[before..]);
    // Our own changes came back as webhooks and were recognised as echoes.
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(
        (got["title"].as_str(), got["syncSource"].as_str()),
        (Some("Pay with saved cards"), Some("arkhitekton"))
    );
    assert_eq!(sync_logs(&s.app, "from_jira").await, 0, "nothing came back from our own writes");
    s.stop().await;
}

#[tokio::test]
async fn an_edit_by_a_person_in_jira_reaches_arkhitekton_once_and_is_not_pushed_back() {
    let s = Synced::start(|_| {}).await;
    let (_, story) = s
        .app
        .post("/api/user-stories", json!({"title": "Checkout", "syncToJira": true, "jiraProjectKey": "PROJ"}))
        .await;
    let id = story["id"].as_str().unwrap().to_owned();
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    let key = got["jiraIssueKey"].as_str().unwrap().to_owned();
    let writes_before = jira_writes(&s.sim).await.len();

    let status = s
        .as_person(
            reqwest::Method::PUT,
            &format!("/rest/api/3/issue/{key}"),
            json!({"fields": {"summary": "Checkout, renamed in Jira", "labels": ["from-jira"],
                              "priority": {"name": "High"}}}),
        )
        .await;
    assert_eq!(status, 204);
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(got["title"], "Checkout, renamed in Jira");
    assert_eq!(got["labels"], json!(["from-jira"]));
    assert_eq!(got["priority"], "high");
    assert_eq!(got["syncSource"], "jira");
    assert_eq!(got["syncStatus"], "synced");
    assert_eq!(sync_logs(&s.app, "from_jira").await, 1, "exactly one write here");
    assert_eq!(jira_writes(&s.sim).await.len(), writes_before + 1, "only the person's edit: nothing pushed back");
    s.stop().await;
}

#[tokio::test]
async fn a_transition_in_jira_moves_the_item_and_a_deleted_issue_disables_it() {
    let s = Synced::start(|_| {}).await;
    let (_, defect) = s
        .app
        .post(
            "/api/defects",
            json!({"title": "Crash", "severity": "critical", "syncToJira": true, "jiraProjectKey": "PROJ"}),
        )
        .await;
    let id = defect["id"].as_str().unwrap().to_owned();
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/defects/{id}")).await;
    let key = got["jiraIssueKey"].as_str().unwrap().to_owned();
    assert_eq!(s.issue(&key).await["fields"]["priority"]["name"], "Highest");
    assert_eq!(s.issue(&key).await["fields"]["issuetype"]["name"], "Bug");

    let path = format!("/rest/api/3/issue/{key}/transitions");
    let user = &s.sim.credentials()[1];
    let listed: Value = reqwest::Client::new()
        .get(format!("{}{path}", s.sim.base_url()))
        .basic_auth(&user.email, Some(&user.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to_progress =
        listed["transitions"].as_array().unwrap().iter().find(|t| t["to"]["name"] == "In Progress").unwrap();
    assert_eq!(s.as_person(reqwest::Method::POST, &path, json!({"transition": {"id": to_progress["id"]}})).await, 204);
    s.settle().await;
    assert_eq!(s.app.get(&format!("/api/defects/{id}")).await.1["status"], "in-progress");

    assert_eq!(s.as_person(reqwest::Method::DELETE, &format!("/rest/api/3/issue/{key}"), json!({})).await, 204);
    s.settle().await;
    let (status, got) = s.app.get(&format!("/api/defects/{id}")).await;
    assert_eq!(status, 200, "the item is kept");
    assert_eq!(got["syncStatus"], "disabled");
    assert_eq!(got["jiraMapping"], Value::Null, "the link is gone");
    let c = s.app.db.connect().await;
    let deletes: i64 = c
        .query_one("SELECT count(*) FROM jira_sync_logs WHERE sync_type = 'delete' AND arkhitekton_id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(deletes, 1);
    s.stop().await;
}

#[tokio::test]
async fn a_worker_killed_between_jiras_201_and_our_commit_never_creates_a_second_issue() {
    let app = TestApp::spawn().await;
    let sim = crate::jira_support::sim(SimConfig::default()).await;
    let store = store(&app.db);
    site_connection(&store, &sim, "default").await;
    let (_, story) = app
        .post("/api/user-stories", json!({"title": "Exactly once", "syncToJira": true, "jiraProjectKey": "PROJ"}))
        .await;
    let id = story["id"].as_str().unwrap().to_owned();
    // Hold the mapping table: worker A's create reaches Jira, then its
    // write of the link blocks.
    let mut blocker = app.db.connect().await;
    let lock = blocker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE jira_integration_mappings IN EXCLUSIVE MODE").await.unwrap();

    let (pool, pg_config, engine) =
        (app.db.pool.clone(), app.db.pg_config(), Engine::new(app.db.pool.clone(), store.clone()));
    let sim_url = sim.base_url();
    let killed = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let registry = arksync::sync::outbound::register(Registry::new(), engine);
            let config = WorkerConfig { lease: Duration::from_secs(1), ..WorkerConfig::default() };
            tokio::spawn(Worker::new(pool, pg_config, registry, config).run(CancellationToken::new()));
            // Until Jira has answered 201 to the create.
            loop {
                let log: Value = reqwest::get(format!("{sim_url}/_sim/requests")).await.unwrap().json().await.unwrap();
                let created = log
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["method"] == "POST" && r["path"] == "/rest/api/3/issue" && r["status"] == 201);
                if created {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        drop(rt); // the process dies here: nothing more of worker A runs
    });
    // The simulator runs on this test's runtime: wait without blocking it.
    tokio::task::spawn_blocking(move || killed.join().unwrap()).await.unwrap();
    lock.rollback().await.unwrap();

    // Worker B rescues the job once A's lease expires and runs it again.
    let engine = Engine::new(app.db.pool.clone(), store);
    let registry = arksync::sync::outbound::register(Registry::new(), engine);
    let config = WorkerConfig { rescue_interval: Duration::from_millis(200), ..WorkerConfig::default() };
    let stop = CancellationToken::new();
    let worker = tokio::spawn(Worker::new(app.db.pool.clone(), app.db.pg_config(), registry, config).run(stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let key = loop {
        let (_, got) = app.get(&format!("/api/user-stories/{id}")).await;
        if got["syncStatus"] == "synced" {
            break got["jiraIssueKey"].as_str().unwrap().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "the push never completed: {got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop.cancel();
    worker.await.unwrap().unwrap();
    let issues = admin_get(&sim, "issues").await;
    let ours: Vec<&Value> =
        issues.as_array().unwrap().iter().filter(|i| i["fields"]["customfield_10001"] == id.as_str()).collect();
    assert_eq!(ours.len(), 1, "one issue, not two");
    assert_eq!(ours[0]["key"], key.as_str());
    let creates =
        requests(&sim).await.iter().filter(|r| r["method"] == "POST" && r["path"] == "/rest/api/3/issue").count();
    assert_eq!(creates, 1, "the retry found the issue instead of creating another");
}

#[tokio::test]
async fn one_reconciliation_pass_runs_at_a_time() {
    let s = Synced::start(|_| {}).await;
    let (_, story) = s
        .app
        .post("/api/user-stories", json!({"title": "Reconciled", "syncToJira": true, "jiraProjectKey": "PROJ"}))
        .await;
    s.settle().await;
    assert!(story["id"].is_string());
    // Another pass (a slow one, or a replica's) holds the lock.
    let other = s.app.db.connect().await;
    other.execute("SELECT pg_advisory_lock($1)", &[&0x61726b_7265636f_i64]).await.unwrap();
    let report = arksync::sync::reconcile::reconcile(&s.engine).await.unwrap();
    assert_eq!(report, arksync::sync::reconcile::Report { skipped: true, ..Default::default() });
    other.execute("SELECT pg_advisory_unlock($1)", &[&0x61726b_7265636f_i64]).await.unwrap();
    let report = arksync::sync::reconcile::reconcile(&s.engine).await.unwrap();
    assert!(!report.skipped && report.issues_seen == 1, "{report:?}");
    // The pass let go of its lock.
    let free: bool =
        other.query_one("SELECT pg_try_advisory_lock($1)", &[&0x61726b_7265636f_i64]).await.unwrap().get(0);
    assert!(free);
    s.stop().await;
}

#[tokio::test]
async fn the_echo_of_our_own_change_is_settled_at_the_door_and_never_becomes_a_job() {
    let s = Synced::start(|_| {}).await;
    let body = json!({"title": "Echo", "syncToJira": true, "jiraProjectKey": "PROJ"});
    let (_, story) = s.app.post("/api/user-stories", body).await;
    let id = story["id"].as_str().unwrap().to_owned();
    s.settle().await;
    let key = s.app.get(&format!("/api/user-stories/{id}")).await.1["jiraIssueKey"].as_str().unwrap().to_owned();
    let c = s.app.db.connect().await;
    let events = "SELECT e.processing_status, e.processing_error, e.processed_at IS NOT NULL, \
                         (SELECT count(*) FROM jobs j WHERE j.payload->>'eventId' = e.id::text) \
                  FROM jira_webhook_events e WHERE e.jira_issue_key = $1 AND e.event_type = $2";
    let row = c.query_one(events, &[&key, &"jira:issue_created"]).await.unwrap();
    let got: (String, Option<String>, bool, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(got, ("ignored".into(), Some(arksync::sync::inbound::OWN_ACCOUNT.into()), true, 0));

    // A person's change is still processed, by a job.
    assert_eq!(
        s.as_person(
            reqwest::Method::PUT,
            &format!("/rest/api/3/issue/{key}"),
            json!({"fields": {"summary": "Renamed"}})
        )
        .await,
        204
    );
    s.settle().await;
    assert_eq!(s.app.get(&format!("/api/user-stories/{id}")).await.1["title"], "Renamed");
    let row = c.query_one(events, &[&key, &"jira:issue_updated"]).await.unwrap();
    let got: (String, Option<String>, bool, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(got, ("processed".into(), None, true, 1));
    s.stop().await;
}

#[tokio::test]
async fn a_reconciliation_pass_enqueues_the_push_of_an_item_whose_job_was_lost() {
    let s = Synced::start(|_| {}).await;
    // A new syncing item whose push job is lost (as in a crash before it
    // ran): no issue exists, so only the pass's outbound half can see it.
    let mut c = s.app.db.connect().await;
    let tx = c.transaction().await.unwrap();
    let id: String = tx
        .query_one(
            "INSERT INTO user_stories (title, sync_to_jira, jira_project_key) VALUES ('Lost push', true, 'PROJ') \
             RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    tx.execute("DELETE FROM jobs WHERE unique_key = $1", &[&format!("push:{id}")]).await.unwrap();
    tx.commit().await.unwrap();
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert!(got["jiraIssueKey"].is_null(), "nothing pushed it: {got}");
    let report = arksync::sync::reconcile::reconcile(&s.engine).await.unwrap();
    assert_eq!(report.pushes_enqueued, 1, "{report:?}");
    s.settle().await;
    let (_, got) = s.app.get(&format!("/api/user-stories/{id}")).await;
    assert_eq!(got["syncStatus"], "synced", "{got}");
    let key = got["jiraIssueKey"].as_str().unwrap();
    assert_eq!(s.issue(key).await["fields"]["summary"], "Lost push");
    let again = arksync::sync::reconcile::reconcile(&s.engine).await.unwrap();
    assert_eq!(again.pushes_enqueued, 0, "nothing stale is left: {again:?}");
    s.stop().await;
}
