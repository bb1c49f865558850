//! Jira connections: every SQL statement against real PostgreSQL, the
//! bootstrap from the environment, and the API that manages them.

use arksync::config::Config;
use arksync::db::connections as sql;
use arksync::jira::Error;
use arksync::jira::connection::Credentials;
use arksync::jira::store::ConnectionStore;
use serde_json::json;

use crate::harness::{TestApp, TestDb};
use crate::jira_support::store;

fn new_row<'a>(name: &'a str, settings: &'a serde_json::Value) -> sql::NewConnection<'a> {
    sql::NewConnection {
        name,
        flavor: "cloud",
        base_url: Some("https://acme.atlassian.net"),
        auth_kind: "basic",
        sealed_credentials: b"sealed-bytes-not-a-real-blob",
        settings,
        status: "active",
    }
}

#[tokio::test]
async fn connection_statements_round_trip_and_names_are_unique() {
    let db = TestDb::new().await;
    let c = db.pool.get().await.unwrap();
    let settings = json!({ "ratePerSec": 5.0 });
    let id = sql::insert(&c, &new_row("acme", &settings)).await.unwrap().unwrap();
    assert_eq!(sql::insert(&c, &new_row("acme", &settings)).await.unwrap(), None, "names are unique");
    let row = sql::get(&c, id).await.unwrap().unwrap();
    assert_eq!((row.name.as_str(), row.status.as_str(), row.refresh_count), ("acme", "active", 0));
    assert_eq!(sql::get_by_name(&c, "acme").await.unwrap().unwrap().id, id);
    assert_eq!(sql::list(&c).await.unwrap().len(), 1);

    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(sql::record_refresh(&c, id, b"rotated", at).await.unwrap(), 1);
    let row = sql::get_for_update(&c, id).await.unwrap().unwrap();
    assert_eq!((row.refresh_count, row.sealed_credentials.as_slice()), (1, &b"rotated"[..]));
    assert_eq!(sql::set_account_id(&c, id, "712020:abc").await.unwrap(), 1);
    assert_eq!(
        sql::record_consent(&c, id, b"consented", at, "cloud-1", "https://acme.atlassian.net").await.unwrap(),
        1
    );
    assert_eq!(sql::mark_needs_consent(&c, id, "invalid_grant").await.unwrap(), 1);
    assert_eq!(sql::count_needing_consent(&c).await.unwrap(), 1);
    let row = sql::get(&c, id).await.unwrap().unwrap();
    assert_eq!((row.cloud_id.as_deref(), row.account_id.as_deref()), (Some("cloud-1"), Some("712020:abc")));
    let slower = json!({ "ratePerSec": 1.0 });
    let change =
        sql::ConnectionChange { settings: Some(&slower), sealed_credentials: Some(b"new"), ..Default::default() };
    assert!(sql::update(&c, id, &change).await.unwrap());
    let row = sql::get(&c, id).await.unwrap().unwrap();
    assert_eq!((row.settings, row.access_expires_at, row.status.as_str()), (slower.clone(), None, "needs_consent"));
    assert!(!sql::update(&c, id + 1, &change).await.unwrap());
    assert!(sql::delete(&c, id).await.unwrap());
    assert!(!sql::delete(&c, id).await.unwrap());
}

#[tokio::test]
async fn oauth_states_are_single_use_and_expire() {
    let db = TestDb::new().await;
    let c = db.pool.get().await.unwrap();
    let settings = json!({});
    let id = sql::insert(&c, &new_row("acme", &settings)).await.unwrap().unwrap();
    let later = chrono::Utc::now() + chrono::Duration::minutes(10);
    sql::insert_oauth_state(&c, "s1", id, "hash", later).await.unwrap();
    assert_eq!(sql::take_oauth_state(&c, "s1").await.unwrap(), Some((id, "hash".to_string())));
    assert_eq!(sql::take_oauth_state(&c, "s1").await.unwrap(), None, "single use");
    sql::insert_oauth_state(&c, "s2", id, "hash", chrono::Utc::now() - chrono::Duration::seconds(1)).await.unwrap();
    assert_eq!(sql::take_oauth_state(&c, "s2").await.unwrap(), None, "expired");
    sql::insert_oauth_state(&c, "s3", id, "hash", chrono::Utc::now() - chrono::Duration::seconds(1)).await.unwrap();
    sql::insert_oauth_state(&c, "s4", id, "hash", later).await.unwrap();
    assert_eq!(sql::prune_oauth_states(&c).await.unwrap(), 1, "abandoned states are pruned, live ones kept");
}

fn env(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())).unwrap()
}

#[tokio::test]
async fn the_environment_bootstraps_a_default_connection_once_and_only_with_a_key() {
    let db = TestDb::new().await;
    let config = env(&[("JIRA_FLAVOR", "datacenter"), ("JIRA_PAT", "pat-secret-1")]);
    let no_key = ConnectionStore::new(db.pool.clone(), None);
    let refused = no_key.bootstrap(&config.jira, Some("https://jira.example.com")).await.unwrap_err();
    assert!(matches!(&refused, Error::Config(m) if m.contains("ARKSYNC_SECRET_KEY")), "{refused:?}");
    assert!(no_key.list().await.unwrap().is_empty(), "nothing stored without a key");

    let store = store(&db);
    let id = store.bootstrap(&config.jira, Some("https://jira.example.com")).await.unwrap().unwrap();
    assert_eq!(store.bootstrap(&config.jira, Some("https://jira.example.com")).await.unwrap(), None);
    let conn = store.load(id).await.unwrap().unwrap();
    assert_eq!((conn.name.as_str(), conn.flavor.as_str()), ("default", "datacenter"));
    assert_eq!(store.bootstrap(&env(&[]).jira, None).await.unwrap(), None, "no JIRA_* credentials, no connection");
}

#[tokio::test]
async fn connections_are_managed_through_the_api_without_ever_showing_credentials() {
    let app = TestApp::spawn().await;
    let body = json!({ "name": "acme", "flavor": "cloud", "baseUrl": "https://acme.atlassian.net/",
                       "auth": { "kind": "basic", "email": "bot@acme.com", "apiToken": "tok-very-secret" } });
    let (status, created) = app.post("/api/jira/connections", body.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["baseUrl"].as_str(), created["status"].as_str()),
        (Some("https://acme.atlassian.net"), Some("active"))
    );
    let id = created["id"].as_i64().unwrap();
    let (_, listed) = app.get("/api/jira/connections").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("tok-very-secret") && !created.to_string().contains("tok-very-secret"));

    let (status, dup) = app.post("/api/jira/connections", body).await;
    assert_eq!((status, dup["error"]["field"].as_str()), (400, Some("name")));
    let bad = json!({ "name": "x", "flavor": "moon", "auth": { "kind": "pat", "token": "t" } });
    assert_eq!(app.post("/api/jira/connections", bad).await.0, 400);
    let oauth_dc = json!({ "name": "y", "flavor": "datacenter", "auth": { "kind": "oauth", "clientId": "c", "clientSecret": "s" } });
    assert_eq!(app.post("/api/jira/connections", oauth_dc).await.0, 409);

    let rotate = json!({ "auth": { "kind": "basic", "email": "bot@acme.com", "apiToken": "tok-rotated" },
                         "settings": { "ratePerSec": 2.5, "burst": 5 } });
    let (status, patched) = app.patch(&format!("/api/jira/connections/{id}"), rotate).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["settings"]["ratePerSec"], 2.5);
    assert!(!patched.to_string().contains("tok-rotated"));
    let conn = store(&app.db).load(id).await.unwrap().unwrap();
    assert!(matches!(conn.credentials, Credentials::Basic { ref api_token, .. } if api_token == "tok-rotated"));
    assert_eq!(app.patch("/api/jira/connections/999999", json!({})).await.0, 404);
    assert_eq!(app.patch(&format!("/api/jira/connections/{id}"), json!({ "flavor": "datacenter" })).await.0, 400);

    assert_eq!(app.delete(&format!("/api/jira/connections/{id}")).await, 204);
    assert_eq!(app.get(&format!("/api/jira/connections/{id}")).await.0, 404);
}

#[tokio::test]
async fn without_a_secret_key_the_api_refuses_to_store_credentials() {
    let app = TestApp::spawn_with(|s| s.connections = ConnectionStore::new(s.pool.clone(), None)).await;
    let body = json!({ "name": "acme", "flavor": "datacenter", "baseUrl": "https://jira.acme.com",
                       "auth": { "kind": "pat", "token": "pat-secret" } });
    let (status, answer) = app.post("/api/jira/connections", body).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("not_configured")), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("ARKSYNC_SECRET_KEY"));
    assert_eq!(app.get("/api/jira/connections").await.1["data"], json!([]));
}

#[tokio::test]
async fn the_registry_shares_one_client_per_connection_and_refuses_one_needing_consent() {
    let db = TestDb::new().await;
    let sim = crate::jira_support::sim(arksync::jira_sim::SimConfig::default()).await;
    let store = store(&db);
    let conn = crate::jira_support::site_connection(&store, &sim, "cloud").await;
    let clients = arksync::jira::registry::Clients::new(store.clone());
    let (a, b) = (clients.get(conn.id).await.unwrap(), clients.get(conn.id).await.unwrap());
    assert!(std::sync::Arc::ptr_eq(&a, &b), "one client, one limiter");
    sql::mark_needs_consent(&db.pool.get().await.unwrap(), conn.id, "invalid_grant: revoked").await.unwrap();
    assert!(matches!(clients.get(conn.id).await, Err(Error::NeedsReconsent(_))), "read each time");
    assert!(matches!(clients.get(9999).await, Err(Error::Config(_))));
}

#[tokio::test]
async fn a_connection_changed_through_the_api_reaches_the_running_engine() {
    let app = TestApp::spawn().await;
    let (old, new) = (
        crate::jira_support::sim(arksync::jira_sim::SimConfig::default()).await,
        crate::jira_support::sim(arksync::jira_sim::SimConfig::default()).await,
    );
    let store = store(&app.db);
    let conn = crate::jira_support::site_connection(&store, &old, "default").await;
    let engine = arksync::sync::Engine::new(app.db.pool.clone(), store);
    let before = engine.side().await.unwrap().client;
    assert!(format!("{before:?}").contains(&old.base_url()), "{before:?}");
    assert!(std::sync::Arc::ptr_eq(&before, &engine.side().await.unwrap().client), "kept while unchanged");

    let (status, body) =
        app.patch(&format!("/api/jira/connections/{}", conn.id), json!({ "baseUrl": new.base_url() })).await;
    assert_eq!(status, 200, "{body}");
    // README's promise: a changed connection takes effect within 2 s.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let after = engine.side().await.unwrap().client;
    assert!(format!("{after:?}").contains(&new.base_url()), "the new site is used: {after:?}");
    assert_eq!(after.myself().await.unwrap(), new.integration_user().account_id);
}
