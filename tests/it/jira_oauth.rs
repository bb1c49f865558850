//! OAuth 2.0 (3LO) end to end against the simulator: consent with a
//! session-bound single-use state, one refresh however many workers race,
//! the rotated refresh token persisted, and a revoked grant surfacing as
//! "needs re-consent" in the API and metrics instead of endless retries.

use arksync::jira::Error;
use arksync::jira::connection::Credentials;
use arksync::jira_sim::SimConfig;
use serde_json::json;

use crate::harness::TestApp;
use crate::jira_support::*;

fn refresh_calls(log: &[serde_json::Value]) -> usize {
    log.iter().filter(|r| r["method"] == "POST" && r["path"] == "/oauth/token").count()
}

#[tokio::test]
async fn consent_stores_sealed_tokens_and_discovers_the_cloud_id() {
    let (app, sim) = (TestApp::spawn().await, sim(SimConfig::default()).await);
    let id = consented_oauth_connection(&app, &sim).await;
    let (status, shown) = app.get(&format!("/api/jira/connections/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["cloudId"], sim.config().cloud_id);
    assert_eq!(shown["accountId"], sim.integration_user().account_id);
    let conn = store(&app.db).load(id).await.unwrap().unwrap();
    let Credentials::Oauth { access_token: Some(at), refresh_token: Some(rt), .. } = &conn.credentials else {
        panic!("tokens were not stored");
    };
    let raw: Vec<u8> =
        app.db.connect().await.query_one("SELECT credentials FROM jira_connections", &[]).await.unwrap().get(0);
    for token in [at, rt] {
        assert!(!raw.windows(token.len()).any(|w| w == token.as_bytes()), "a token is stored in plaintext");
        assert!(!shown.to_string().contains(token.as_str()), "the API shows a token");
    }
}

#[tokio::test]
async fn a_callback_from_another_session_or_a_replayed_state_is_refused() {
    let (app, sim) = (TestApp::spawn().await, sim(SimConfig::default()).await);
    let id = consented_oauth_connection(&app, &sim).await;
    let http = no_redirects();
    let start = http.get(app.url(&format!("/api/jira/oauth/authorize?connection={id}"))).send().await.unwrap();
    let location = header(&start, "location");
    assert!(location.contains("offline_access") && location.contains("manage%3Ajira-webhook"), "{location}");
    let cookie = header(&start, "set-cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let back = header(&http.get(location).send().await.unwrap(), "location");

    let stranger = http.get(&back).header("cookie", "arksync_oauth_session=someone-else").send().await.unwrap();
    let (status, body) = crate::harness::status_and_json(stranger).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_state")));
    let replay = http.get(&back).header("cookie", cookie.split(';').next().unwrap()).send().await.unwrap();
    assert_eq!(replay.status().as_u16(), 400, "the state was consumed by the first (refused) use");
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_it_is_used() {
    // Tokens live 50 s here, less than the one-minute margin: the client
    // refreshes before sending instead of waiting for a 401.
    let config = SimConfig { access_token_ttl: std::time::Duration::from_secs(50), ..SimConfig::default() };
    let (app, sim) = (TestApp::spawn().await, sim(config).await);
    let id = consented_oauth_connection(&app, &sim).await;
    let store = store(&app.db);
    let before = refresh_calls(&requests(&sim).await);
    client(&store.load(id).await.unwrap().unwrap(), &store).myself().await.unwrap();
    let log = requests(&sim).await;
    assert_eq!(refresh_calls(&log) - before, 1);
    assert!(log.iter().all(|r| r["status"] != 401), "no request was sent with the old token");
}

#[tokio::test]
async fn eight_workers_hitting_an_expired_token_cause_exactly_one_refresh() {
    let (app, sim) = (TestApp::spawn().await, sim(SimConfig::default()).await);
    let id = consented_oauth_connection(&app, &sim).await;
    let store = store(&app.db);
    let conn = store.load(id).await.unwrap().unwrap();
    let Credentials::Oauth { refresh_token: Some(first_refresh), .. } = conn.credentials.clone() else { panic!() };
    // Eight workers as eight processes would be: a client (and token cache) each.
    let workers: Vec<_> = (0..8).map(|_| client(&conn, &store)).collect();
    admin_post(&sim, "clock/advance", json!({ "hours": 2 })).await;
    let before = refresh_calls(&requests(&sim).await);

    let results = futures_util::future::join_all(workers.iter().map(|w| w.myself())).await;
    for r in &results {
        assert_eq!(r.as_deref().ok(), Some(sim.integration_user().account_id.as_str()), "{r:?}");
    }
    assert_eq!(refresh_calls(&requests(&sim).await) - before, 1, "one refresh for eight workers");
    let after = store.load(id).await.unwrap().unwrap();
    assert_eq!(after.refresh_count, 1);
    let Credentials::Oauth { refresh_token: Some(rotated), .. } = after.credentials else { panic!() };
    assert_ne!(rotated, first_refresh, "the rotated refresh token was persisted");
}

#[tokio::test]
async fn a_revoked_token_family_marks_the_connection_as_needing_consent() {
    let (app, sim) = (TestApp::spawn().await, sim(SimConfig::default()).await);
    let id = consented_oauth_connection(&app, &sim).await;
    let store = store(&app.db);
    let conn = store.load(id).await.unwrap().unwrap();
    let Credentials::Oauth { refresh_token: Some(old), client_id, client_secret, .. } = conn.credentials.clone() else {
        panic!()
    };
    let jira = client(&conn, &store);
    admin_post(&sim, "clock/advance", json!({ "hours": 2 })).await;
    jira.myself().await.expect("refreshes and rotates");
    // Someone replays the retired refresh token after the grace window:
    // Atlassian revokes the whole family, our current token included.
    admin_post(&sim, "clock/advance", json!({ "minutes": 5 })).await;
    let replay = reqwest::Client::new()
        .post(format!("{}/oauth/token", sim.base_url()))
        .json(&json!({ "grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
                       "refresh_token": old }))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 403);

    let err = jira.myself().await.unwrap_err();
    assert!(matches!(err, Error::NeedsReconsent(_)), "{err:?}");
    assert!(matches!(err.to_job_error(), arksync::queue::JobError::Discard(_)));
    let before = refresh_calls(&requests(&sim).await);
    assert!(matches!(jira.myself().await, Err(Error::NeedsReconsent(_))));
    assert_eq!(refresh_calls(&requests(&sim).await), before, "no further refresh attempts once consent is needed");

    let (_, shown) = app.get(&format!("/api/jira/connections/{id}")).await;
    assert_eq!(shown["status"], "needs_consent");
    assert_eq!(shown["needsConsent"], true);
    assert!(shown["statusReason"].as_str().unwrap().contains("invalid_grant"), "{shown}");
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("jira_connections_needing_consent 1"), "{metrics}");

    let (status, _) = consent(&app, id).await;
    assert_eq!(status, 200, "consenting again restores the connection");
    assert!(client(&store.load(id).await.unwrap().unwrap(), &store).myself().await.is_ok());
}
