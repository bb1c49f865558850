//! The spec's error table, request by request in the simulator's log:
//! timeouts get 3 tries, 5xx 5, 401 one OAuth refresh, 400/404 none.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arksync::jira::Error;
use arksync::jira_sim::SimConfig;
use serde_json::json;

use crate::harness::{TestApp, TestDb};
use crate::jira_support::*;

async fn tries_of(sim: &arksync::jira_sim::SimServer, path: &str) -> usize {
    requests(sim).await.iter().filter(|r| r["path"] == path).count()
}

#[tokio::test]
async fn server_errors_get_five_tries_then_a_retryable_error() {
    let (db, sim) = (TestDb::new().await, sim(SimConfig::default()).await);
    let store = store(&db);
    let jira = client(&site_connection(&store, &sim, "cloud").await, &store);
    admin_post(&sim, "faults", json!({ "failNext": { "status": 500, "count": 10, "pathContains": "/myself" } })).await;
    let err = jira.myself().await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 500, .. }), "{err:?}");
    assert!(matches!(err.to_job_error(), arksync::queue::JobError::Retry(_)));
    assert_eq!(tries_of(&sim, "/rest/api/3/myself").await, 5);
}

/// A "Jira" that accepts connections and never answers: each try is one
/// connection, counted exactly (a timed-out request leaves no trace in the
/// simulator's log, which records requests when they finish).
#[tokio::test]
async fn timeouts_get_three_tries() {
    let (db, sim) = (TestDb::new().await, sim(SimConfig::default()).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let store = store(&db);
    let mut conn = site_connection(&store, &sim, "cloud").await;
    conn.base_url = Some(silent);
    conn.settings.timeout_secs = 1;
    let err = client(&conn, &store).myself().await.unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(matches!(err.to_job_error(), arksync::queue::JobError::Retry(_)));
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let (db, sim) = (TestDb::new().await, sim(SimConfig::default()).await);
    let store = store(&db);
    let jira = client(&site_connection(&store, &sim, "cloud").await, &store);
    assert!(matches!(jira.get_issue("PROJ-999", &[]).await, Err(Error::NotFound(_))));
    assert_eq!(tries_of(&sim, "/rest/api/3/issue/PROJ-999").await, 1);
}

#[tokio::test]
async fn a_401_over_oauth_refreshes_once_then_fails() {
    let (app, sim) = (TestApp::spawn().await, sim(SimConfig::default()).await);
    let id = consented_oauth_connection(&app, &sim).await;
    let store = store(&app.db);
    let jira = client(&store.load(id).await.unwrap().unwrap(), &store);
    admin_post(&sim, "faults", json!({ "failNext": { "status": 401, "count": 5, "pathContains": "/myself" } })).await;
    let before = requests(&sim).await.iter().filter(|r| r["path"] == "/oauth/token").count();
    assert!(matches!(jira.myself().await, Err(Error::Unauthorized)));
    let log = requests(&sim).await;
    assert_eq!(log.iter().filter(|r| r["path"] == "/oauth/token").count() - before, 1, "one refresh");
    let myself = format!("/ex/jira/{}/rest/api/3/myself", sim.config().cloud_id);
    assert_eq!(log.iter().filter(|r| r["path"] == myself.as_str()).count(), 2 + 1, "consent's call, then two tries");
}
