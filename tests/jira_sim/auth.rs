use reqwest::Method;
use serde_json::{Value, json};

use super::support::Sim;
use arksync::jira_sim::{Flavor, SimConfig};

#[tokio::test]
async fn basic_auth_identifies_the_caller_and_wrong_or_missing_credentials_get_401() {
    let sim = Sim::cloud().await;
    let (status, me) = sim.json(sim.as_user(1, Method::GET, "/rest/api/3/myself")).await;
    assert_eq!(status, 200);
    assert_eq!(me["emailAddress"], "jane.doe@example.com");
    let wrong = sim
        .http
        .get(sim.url("/rest/api/3/myself"))
        .basic_auth("jane.doe@example.com", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let missing = sim.http.get(sim.url("/rest/api/3/myself")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let bearer_on_site =
        sim.http.get(sim.url("/rest/api/3/myself")).bearer_auth("integration-token").send().await.unwrap();
    assert_eq!(bearer_on_site.status(), 401, "Cloud site URLs do not take bearer tokens");
}

#[tokio::test]
async fn data_center_accepts_a_personal_access_token_as_bearer() {
    let sim = Sim::start(SimConfig { flavor: Flavor::Datacenter, ..Default::default() }).await;
    let ok = sim.http.get(sim.url("/rest/api/2/myself")).bearer_auth("jane-token").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let me: Value = ok.json().await.unwrap();
    assert_eq!(me["name"], "jane.doe");
    let bad = sim.http.get(sim.url("/rest/api/2/myself")).bearer_auth("stolen").send().await.unwrap();
    assert_eq!(bad.status(), 401);
}

struct OAuth<'a> {
    sim: &'a Sim,
    http: reqwest::Client,
}

impl OAuth<'_> {
    async fn code(&self) -> String {
        let url = self.sim.url("/authorize?audience=api.atlassian.com&client_id=arksync-client&scope=read%3Ajira-work%20read%3Ajira-user%20offline_access&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=xyz%2F1&response_type=code&prompt=consent");
        let resp = self.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), 302);
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with("http://127.0.0.1:9/cb?code="), "{location}");
        assert!(location.ends_with("&state=xyz%2F1"), "{location}");
        location.split("code=").nth(1).unwrap().split('&').next().unwrap().to_string()
    }

    async fn token(&self, body: Value) -> (u16, Value) {
        self.sim.json(self.http.post(self.sim.url("/oauth/token")).json(&body)).await
    }

    async fn refresh(&self, refresh_token: &Value) -> (u16, Value) {
        self.token(json!({ "grant_type": "refresh_token", "client_id": "arksync-client", "client_secret": "arksync-secret", "refresh_token": refresh_token })).await
    }

    async fn login(&self) -> Value {
        let code = self.code().await;
        let (status, tokens) = self.token(json!({ "grant_type": "authorization_code", "client_id": "arksync-client", "client_secret": "arksync-secret", "code": code, "redirect_uri": "http://127.0.0.1:9/cb" })).await;
        assert_eq!(status, 200, "{tokens}");
        tokens
    }
}

fn no_redirect() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn oauth_code_flow_gives_tokens_that_work_under_ex_jira_cloud_id() {
    let sim = Sim::cloud().await;
    let oauth = OAuth { sim: &sim, http: no_redirect() };
    let tokens = oauth.login().await;
    assert!(tokens["refresh_token"].is_string());
    let at = tokens["access_token"].as_str().unwrap();
    let (status, sites) = sim.json(sim.http.get(sim.url("/oauth/token/accessible-resources")).bearer_auth(at)).await;
    assert_eq!(status, 200);
    assert_eq!(sites[0]["scopes"], json!(["read:jira-work", "read:jira-user"]), "the granted scopes");
    let cloud_id = sites[0]["id"].as_str().unwrap();
    let (status, me) =
        sim.json(sim.http.get(sim.url(&format!("/ex/jira/{cloud_id}/rest/api/3/myself"))).bearer_auth(at)).await;
    assert_eq!(status, 200);
    assert_eq!(me["emailAddress"], "arksync@example.com");
    let create = json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Task" }, "summary": "x" } });
    let url = sim.url(&format!("/ex/jira/{cloud_id}/rest/api/3/issue"));
    let (status, body) = sim.json(sim.http.post(url).bearer_auth(at).json(&create)).await;
    assert_eq!(
        (status, body["message"].clone()),
        (401, json!("Unauthorized; scope does not match")),
        "a write needs write:jira-work, which this grant lacks"
    );
    let reused = oauth.token(json!({ "grant_type": "authorization_code", "client_id": "arksync-client", "client_secret": "arksync-secret", "code": "used-or-bogus" })).await;
    assert_eq!((reused.0, reused.1["error"].clone()), (403, json!("invalid_grant")));
    let code = oauth.code().await;
    let elsewhere = json!({ "grant_type": "authorization_code", "client_id": "arksync-client", "client_secret": "arksync-secret", "code": code, "redirect_uri": "http://127.0.0.1:9/other" });
    assert_eq!(oauth.token(elsewhere).await.0, 403, "the code is bound to its redirect_uri");
    let no_audience = sim.url("/authorize?client_id=arksync-client&scope=read%3Ajira-work&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code");
    let (status, err) = sim.json(oauth.http.get(no_audience)).await;
    assert_eq!(
        (status, err["error"].clone()),
        (400, json!("invalid_request")),
        "audience=api.atlassian.com is required"
    );
    let wrong_secret = oauth.token(json!({ "grant_type": "refresh_token", "client_id": "arksync-client", "client_secret": "x", "refresh_token": tokens["refresh_token"] })).await;
    assert_eq!(wrong_secret.0, 401);
}

#[tokio::test]
async fn each_refresh_rotates_the_refresh_token_and_replay_within_grace_gets_the_same_successor() {
    let sim = Sim::cloud().await;
    let oauth = OAuth { sim: &sim, http: no_redirect() };
    let first = oauth.login().await;
    let (status, second) = oauth.refresh(&first["refresh_token"]).await;
    assert_eq!(status, 200);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let (status, replay) = oauth.refresh(&first["refresh_token"]).await;
    assert_eq!(status, 200, "a concurrent refresh inside the grace window succeeds");
    assert_eq!(replay["refresh_token"], second["refresh_token"]);
}

#[tokio::test]
async fn replaying_a_rotated_refresh_token_after_the_grace_window_revokes_the_family() {
    let sim = Sim::cloud().await;
    let oauth = OAuth { sim: &sim, http: no_redirect() };
    let first = oauth.login().await;
    let (_, second) = oauth.refresh(&first["refresh_token"]).await;
    sim.admin(Method::POST, "clock/advance", Some(json!({ "seconds": 60 }))).await;
    let (status, err) = oauth.refresh(&first["refresh_token"]).await;
    assert_eq!((status, err["error"].clone()), (403, json!("invalid_grant")));
    let (status, err) = oauth.refresh(&second["refresh_token"]).await;
    assert_eq!((status, err["error"].clone()), (403, json!("invalid_grant")), "the whole family is revoked");
    let cloud_id = &sim.server.config().cloud_id;
    let at = second["access_token"].as_str().unwrap();
    let resp =
        sim.http.get(sim.url(&format!("/ex/jira/{cloud_id}/rest/api/3/myself"))).bearer_auth(at).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn access_tokens_expire_with_the_clock() {
    let sim = Sim::cloud().await;
    let oauth = OAuth { sim: &sim, http: no_redirect() };
    let tokens = oauth.login().await;
    let cloud_id = sim.server.config().cloud_id.clone();
    let call = || {
        sim.http
            .get(sim.url(&format!("/ex/jira/{cloud_id}/rest/api/3/myself")))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
    };
    assert_eq!(call().await.unwrap().status(), 200);
    sim.admin(Method::POST, "clock/advance", Some(json!({ "hours": 2 }))).await;
    assert_eq!(call().await.unwrap().status(), 401);
}
