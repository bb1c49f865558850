//! Secrets never leave: every credential the flows below handle (API
//! token, client secret, access and refresh tokens, the sealing key) is
//! looked for in the captured log (at TRACE, dependencies included), in
//! error messages, in `Debug` output and in API answers.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arksync::jira::Error;
use arksync::jira::connection::Credentials;
use arksync::jira_sim::SimConfig;
use base64::Engine;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

use crate::harness::TestApp;
use crate::jira_support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Single-threaded, so the scoped subscriber sees every task: server,
/// simulator and client alike.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_appears_in_logs_errors_debug_output_or_api_answers() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("trace"))
        .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(move || writer.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    let (app, sim) = (TestApp::spawn().await, sim(SimConfig::default()).await);
    let store = store(&app.db);
    let mut shown = Vec::<String>::new();

    // API token (Basic), including a refused one.
    let mut basic = site_connection(&store, &sim, "basic").await;
    let jira = client(&basic, &store);
    jira.myself().await.unwrap();
    shown.push(format!("{basic:?} {jira:?} {store:?}"));
    basic.credentials = Credentials::Basic { email: "arksync@example.com".into(), api_token: "wrong-token-123".into() };
    let refused = client(&basic, &store).myself().await.unwrap_err();
    shown.push(format!("{refused} {refused:?} {}", refused.to_job_error()));

    // OAuth: consent, refresh, revocation.
    let id = consented_oauth_connection(&app, &sim).await;
    let oauth = client(&store.load(id).await.unwrap().unwrap(), &store);
    admin_post(&sim, "clock/advance", json!({ "hours": 2 })).await;
    oauth.myself().await.unwrap();
    let conn = store.load(id).await.unwrap().unwrap();
    shown.push(format!("{conn:?} {oauth:?}"));
    let Credentials::Oauth { access_token: Some(access), refresh_token: Some(refresh), client_secret, .. } =
        conn.credentials.clone()
    else {
        panic!("no tokens")
    };
    admin_post(&sim, "reset", json!({})).await;
    admin_post(&sim, "clock/advance", json!({ "hours": 2 })).await;
    let revoked = oauth.myself().await.unwrap_err();
    assert!(matches!(revoked, Error::NeedsReconsent(_)), "{revoked:?}");
    shown.push(format!("{revoked} {revoked:?} {}", revoked.to_job_error()));

    // What the API says about connections.
    shown.push(app.get("/api/jira/connections").await.1.to_string());
    shown.push(app.get(&format!("/api/jira/connections/{id}")).await.1.to_string());
    drop(_guard);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("refreshed the Jira OAuth access token"), "the capture works");
    assert!(log.contains("Jira call") && log.contains("hyper"), "debug lines and dependencies are captured");
    let key_b64 = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let secrets = [
        sim.integration_user().token.as_str(),
        "wrong-token-123",
        client_secret.as_str(),
        access.as_str(),
        refresh.as_str(),
        key_b64.as_str(),
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "a secret is in the log: {secret}");
        for text in &shown {
            assert!(!text.contains(secret), "a secret is shown: {secret} in {text}");
        }
    }
}
