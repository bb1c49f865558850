//! Helpers for the Jira client tests: a simulator, connections stored in
//! the test's database, and the simulator's admin API.

use arksync::jira::connection::{Connection, Credentials, Flavor, Settings};
use arksync::jira::store::{ConnectionStore, NewConnectionInput};
use arksync::jira::{JiraClient, backoff::RetryPolicy};
use arksync::jira_sim::{self, SimConfig, SimServer};
use serde_json::Value;

use crate::harness::{TestApp, TestDb, test_secret_key};

pub async fn sim(config: SimConfig) -> SimServer {
    jira_sim::start(config).await.expect("simulator starts")
}

pub fn store(db: &TestDb) -> ConnectionStore {
    ConnectionStore::new(db.pool.clone(), Some(test_secret_key()))
}

/// Settings pointing OAuth at the simulator, fast enough for tests.
pub fn sim_settings(sim: &SimServer) -> Settings {
    Settings {
        oauth_auth_url: sim.base_url(),
        oauth_api_url: sim.base_url(),
        rate_per_sec: 1000.0,
        burst: 100,
        ..Settings::default()
    }
}

/// A stored connection for the simulator's integration account: Basic on
/// Cloud, PAT on Data Center.
pub async fn site_connection(store: &ConnectionStore, sim: &SimServer, name: &str) -> Connection {
    let user = sim.integration_user();
    let (flavor, credentials) = match sim.config().flavor {
        jira_sim::Flavor::Cloud => {
            (Flavor::Cloud, Credentials::Basic { email: user.email.clone(), api_token: user.token.clone() })
        }
        jira_sim::Flavor::Datacenter => (Flavor::Datacenter, Credentials::Pat { token: user.token.clone() }),
    };
    let input = NewConnectionInput {
        name: name.into(),
        flavor,
        base_url: Some(sim.base_url()),
        credentials,
        settings: sim_settings(sim),
    };
    let id = store.create(&input).await.unwrap().expect("a new name");
    store.load(id).await.unwrap().unwrap()
}

/// A retry policy with short waits, so failure tests stay quick.
pub fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(200),
        ..RetryPolicy::default()
    }
}

pub fn client(conn: &Connection, store: &ConnectionStore) -> JiraClient {
    JiraClient::new(conn, store).unwrap().with_policy(quick_policy())
}

/// An OAuth connection on `app`'s database whose consent was completed
/// through the real endpoints (authorize → simulator → callback).
pub async fn consented_oauth_connection(app: &TestApp, sim: &SimServer) -> i64 {
    let oc = &sim.config().oauth_clients[0];
    let settings = Settings { oauth_redirect_url: Some(app.url("/api/jira/oauth/callback")), ..sim_settings(sim) };
    let input = NewConnectionInput {
        name: "oauth".into(),
        flavor: Flavor::Cloud,
        base_url: None,
        credentials: Credentials::Oauth {
            client_id: oc.client_id.clone(),
            client_secret: oc.client_secret.clone(),
            access_token: None,
            refresh_token: None,
        },
        settings,
    };
    let id = store(&app.db).create(&input).await.unwrap().unwrap();
    let (status, body) = consent(app, id).await;
    assert_eq!(status, 200, "{body}");
    id
}

/// Runs the browser's part of the consent; returns the callback's answer.
pub async fn consent(app: &TestApp, connection: i64) -> (u16, Value) {
    let http = no_redirects();
    let start = http.get(app.url(&format!("/api/jira/oauth/authorize?connection={connection}"))).send().await.unwrap();
    assert_eq!(start.status().as_u16(), 302);
    let cookie = header(&start, "set-cookie").split(';').next().unwrap().to_string();
    let at_atlassian = http.get(header(&start, "location")).send().await.unwrap();
    assert_eq!(at_atlassian.status().as_u16(), 302);
    let back = header(&at_atlassian, "location");
    crate::harness::status_and_json(http.get(back).header("cookie", cookie).send().await.unwrap()).await
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers().get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap().to_string()
}

/// `GET /_sim/<path>`.
pub async fn admin_get(sim: &SimServer, path: &str) -> Value {
    reqwest::get(format!("{}/_sim/{path}", sim.base_url())).await.unwrap().json().await.unwrap()
}

/// `POST /_sim/<path>` with a JSON body.
pub async fn admin_post(sim: &SimServer, path: &str, body: Value) {
    let resp = reqwest::Client::new().post(format!("{}/_sim/{path}", sim.base_url())).json(&body).send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
}

/// The simulator's request log.
pub async fn requests(sim: &SimServer) -> Vec<Value> {
    admin_get(sim, "requests").await.as_array().cloned().unwrap_or_default()
}
