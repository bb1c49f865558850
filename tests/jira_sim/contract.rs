//! Contract tests: every response the simulator gives is checked against
//! Atlassian's OpenAPI document (status documented for the operation, body
//! valid against the operation's response schema), every ADF document it
//! emits against the official ADF schema, and our own ADF validator is
//! checked to agree with the official schema on good and bad documents.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{Sim, adf_text, read_json};
use arksync::jira_sim::{Flavor, SimConfig, adf};

pub(super) fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| read_json("jira-cloud-platform.swagger-v3.v3.json"))
}

fn adf_schema() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema = read_json("adf-schema-full.v57.7.22.json");
        jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(&schema).expect("ADF schema compiles")
    })
}

type Key = (String, String, u16);

/// Validators per (template, method, status), compiled on first use.
fn validators() -> &'static Mutex<HashMap<Key, Option<jsonschema::Validator>>> {
    static V: OnceLock<Mutex<HashMap<Key, Option<jsonschema::Validator>>>> = OnceLock::new();
    V.get_or_init(Mutex::default)
}

/// The documented response for `status`, or a failure naming the gap.
fn response_schema(template: &str, method: &str, status: u16) -> Option<Value> {
    let op = &openapi()["paths"][template][method];
    assert!(op.is_object(), "{method} {template} is not in the OpenAPI document");
    let resp = &op["responses"][status.to_string()];
    assert!(resp.is_object(), "{method} {template}: status {status} is not documented");
    resp.pointer("/content/application~1json/schema").cloned()
}

pub(super) fn check_body(template: &str, method: &str, status: u16, body: &Value) {
    if crate::reference::missing() {
        return;
    }
    let key = (template.to_string(), method.to_string(), status);
    let mut cache = validators().lock().unwrap_or_else(|e| e.into_inner());
    let validator = cache.entry(key).or_insert_with(|| {
        let schema = response_schema(template, method, status)?;
        let root = json!({ "allOf": [schema], "components": openapi()["components"] });
        // Formats stay annotations: Jira's own timestamps (`…+0000`) are not
        // RFC 3339 `date-time`, so real Jira would fail a format check too.
        let options = jsonschema::options().with_draft(jsonschema::Draft::Draft4).should_validate_formats(false);
        Some(options.build(&root).expect("response schema compiles"))
    });
    if let (Some(v), false) = (validator, body.is_null()) {
        let errors: Vec<String> =
            v.iter_errors(body).take(5).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{method} {template} {status}: {errors:#?}\nbody: {body}");
    }
}

/// Sends, then checks status and body against `template` (the OpenAPI
/// path) and every ADF document inside the body against the ADF schema.
pub(super) async fn call(sim: &Sim, rb: reqwest::RequestBuilder, method: &str, template: &str) -> (u16, Value) {
    let (status, body) = sim.json(rb).await;
    if !crate::reference::missing() {
        response_schema(template, method, status);
        check_body(template, method, status, &body);
        check_all_adf(&body);
    }
    (status, body)
}

/// Finds every `{"type":"doc", …}` inside `v` and validates it.
fn check_all_adf(v: &Value) {
    match v {
        Value::Object(o) if o.get("type") == Some(&json!("doc")) => {
            let errors: Vec<String> = adf_schema().iter_errors(v).take(3).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "emitted ADF is invalid: {errors:?}\n{v}");
        }
        Value::Object(o) => o.values().for_each(check_all_adf),
        Value::Array(a) => a.iter().for_each(check_all_adf),
        _ => {}
    }
}

const ISSUE: &str = "/rest/api/3/issue/{issueIdOrKey}";
const TRANSITIONS: &str = "/rest/api/3/issue/{issueIdOrKey}/transitions";

fn rich_doc() -> Value {
    json!({ "type": "doc", "version": 1, "content": [
        { "type": "heading", "attrs": { "level": 2 }, "content": [{ "type": "text", "text": "Title" }] },
        { "type": "paragraph", "content": [
            { "type": "text", "text": "bold", "marks": [{ "type": "strong" }] },
            { "type": "text", "text": " link", "marks": [{ "type": "link", "attrs": { "href": "https://example.com" } }] },
            { "type": "hardBreak" },
            { "type": "mention", "attrs": { "id": "712020:x", "text": "@Jane" } } ] },
        { "type": "bulletList", "content": [{ "type": "listItem", "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": "item" }] }] }] },
        { "type": "codeBlock", "attrs": { "language": "rust" }, "content": [{ "type": "text", "text": "fn main() {}" }] },
        { "type": "rule" }
    ]})
}

#[tokio::test]
async fn every_cloud_issue_endpoint_answers_as_the_openapi_document_says() {
    if crate::reference::missing() {
        return;
    }
    let sim = Sim::cloud().await;
    let create = json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Story" }, "summary": "contract",
        "description": rich_doc(), "customfield_10003": adf_text("Given/When/Then"), "customfield_10002": { "value": "arkhitekton" },
        "customfield_10016": 3, "labels": ["a", "b"] } });
    let (status, created) =
        call(&sim, sim.req(Method::POST, "/rest/api/3/issue").json(&create), "post", "/rest/api/3/issue").await;
    assert_eq!(status, 201);
    let key = created["key"].as_str().unwrap().to_string();
    let (status, _) = call(
        &sim,
        sim.req(Method::POST, "/rest/api/3/issue").json(&json!({ "fields": { "summary": "x" } })),
        "post",
        "/rest/api/3/issue",
    )
    .await;
    assert_eq!(status, 400);
    let path = format!("/rest/api/3/issue/{key}");
    assert_eq!(call(&sim, sim.req(Method::GET, &path), "get", ISSUE).await.0, 200);
    assert_eq!(
        call(&sim, sim.req(Method::GET, &format!("{path}?expand=changelog,names&fields=*all")), "get", ISSUE).await.0,
        200
    );
    assert_eq!(call(&sim, sim.req(Method::GET, "/rest/api/3/issue/PROJ-999"), "get", ISSUE).await.0, 404);
    assert_eq!(call(&sim, sim.http.get(sim.url(&path)), "get", ISSUE).await.0, 401);
    let edit = json!({ "fields": { "summary": "edited", "customfield_10006": rich_doc() } });
    assert_eq!(call(&sim, sim.req(Method::PUT, &path).json(&edit), "put", ISSUE).await.0, 204);
    assert_eq!(
        call(&sim, sim.req(Method::PUT, &path).json(&json!({ "fields": { "description": "text" } })), "put", ISSUE)
            .await
            .0,
        400
    );
    assert_eq!(
        call(&sim, sim.req(Method::GET, &format!("{path}/transitions?expand=transitions.fields")), "get", TRANSITIONS)
            .await
            .0,
        200
    );
    let go = json!({ "transition": { "id": "21" } });
    assert_eq!(
        call(&sim, sim.req(Method::POST, &format!("{path}/transitions")).json(&go), "post", TRANSITIONS).await.0,
        204
    );
    assert_eq!(
        call(
            &sim,
            sim.req(Method::POST, &format!("{path}/transitions")).json(&json!({ "transition": { "id": "61" } })),
            "post",
            TRANSITIONS
        )
        .await
        .0,
        400
    );
    let other = sim.create_story("other").await;
    let link =
        json!({ "type": { "name": "Relates" }, "inwardIssue": { "key": key }, "outwardIssue": { "key": other } });
    assert_eq!(
        call(&sim, sim.req(Method::POST, "/rest/api/3/issueLink").json(&link), "post", "/rest/api/3/issueLink").await.0,
        201
    );
    assert_eq!(call(&sim, sim.req(Method::GET, &path), "get", ISSUE).await.0, 200);
    assert_eq!(
        call(&sim, sim.req(Method::DELETE, &format!("/rest/api/3/issue/{other}")), "delete", ISSUE).await.0,
        204
    );
}

#[tokio::test]
async fn cloud_search_field_myself_and_project_answer_as_documented() {
    if crate::reference::missing() {
        return;
    }
    let sim = Sim::cloud().await;
    sim.create_story("one").await;
    sim.create_story("two").await;
    let search = "/rest/api/3/search/jql";
    let body = json!({ "jql": "project = PROJ ORDER BY updated DESC", "maxResults": 1 });
    let (status, page) = call(&sim, sim.req(Method::POST, search).json(&body), "post", search).await;
    assert_eq!(status, 200);
    assert!(page["nextPageToken"].is_string());
    let full = json!({ "jql": "project = PROJ", "fields": ["*all"], "expand": "changelog" });
    assert_eq!(call(&sim, sim.req(Method::POST, search).json(&full), "post", search).await.0, 200);
    assert_eq!(
        call(&sim, sim.req(Method::GET, &format!("{search}?jql=project%3DPROJ&fields=summary")), "get", search).await.0,
        200
    );
    assert_eq!(call(&sim, sim.req(Method::POST, search).json(&json!({ "jql": "" })), "post", search).await.0, 400);
    assert_eq!(call(&sim, sim.req(Method::GET, "/rest/api/3/field"), "get", "/rest/api/3/field").await.0, 200);
    assert_eq!(call(&sim, sim.req(Method::GET, "/rest/api/3/myself"), "get", "/rest/api/3/myself").await.0, 200);
    assert_eq!(call(&sim, sim.http.get(sim.url("/rest/api/3/myself")), "get", "/rest/api/3/myself").await.0, 401);
    let users = "/rest/api/3/user/search";
    let (status, found) =
        call(&sim, sim.req(Method::GET, &format!("{users}?query=jane.doe%40example.com")), "get", users).await;
    assert_eq!((status, found[0]["emailAddress"].as_str()), (200, Some("jane.doe@example.com")));
    assert_eq!(call(&sim, sim.req(Method::GET, users), "get", users).await.0, 400);
    let key = sim.create_story("assigned").await;
    let jane = json!({ "fields": { "assignee": { "accountId": sim.server.credentials()[1].account_id } } });
    assert_eq!(
        call(&sim, sim.req(Method::PUT, &format!("/rest/api/3/issue/{key}")).json(&jane), "put", ISSUE).await.0,
        204
    );
    let (_, issue) = call(&sim, sim.req(Method::GET, &format!("/rest/api/3/issue/{key}")), "get", ISSUE).await;
    assert_eq!(issue["fields"]["assignee"]["emailAddress"], "jane.doe@example.com", "validated as a User");
    let project = "/rest/api/3/project/{projectIdOrKey}";
    assert_eq!(call(&sim, sim.req(Method::GET, "/rest/api/3/project/PROJ"), "get", project).await.0, 200);
    assert_eq!(call(&sim, sim.req(Method::GET, "/rest/api/3/project/NOPE"), "get", project).await.0, 404);
}

#[tokio::test]
async fn dynamic_webhook_endpoints_answer_as_documented() {
    if crate::reference::missing() {
        return;
    }
    let sim = Sim::cloud().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = http.get(sim.url("/authorize?audience=api.atlassian.com&response_type=code&client_id=arksync-client&scope=manage%3Ajira-webhook&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=s")).send().await.unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let code = location.split("code=").nth(1).unwrap().split('&').next().unwrap();
    let tokens: Value = http.post(sim.url("/oauth/token")).json(&json!({ "grant_type": "authorization_code", "client_id": "arksync-client", "client_secret": "arksync-secret", "code": code, "redirect_uri": "http://127.0.0.1:9/cb" })).send().await.unwrap().json().await.unwrap();
    let at = tokens["access_token"].as_str().unwrap();
    let base = format!("/ex/jira/{}/rest/api/3/webhook", sim.server.config().cloud_id);
    let hook = "/rest/api/3/webhook";
    let reg = json!({ "url": "http://127.0.0.1:9/h", "webhooks": [
        { "events": ["jira:issue_created", "jira:issue_updated"], "jqlFilter": "project = PROJ", "fieldIdsFilter": ["summary"] },
        { "events": ["not:an_event"], "jqlFilter": "project = PROJ" } ] });
    let (status, created) = call(&sim, sim.http.post(sim.url(&base)).bearer_auth(at).json(&reg), "post", hook).await;
    assert_eq!(status, 200);
    assert!(created["webhookRegistrationResult"][1]["errors"].is_array());
    let id = created["webhookRegistrationResult"][0]["createdWebhookId"].clone();
    let (status, list) = call(&sim, sim.http.get(sim.url(&base)).bearer_auth(at), "get", hook).await;
    assert_eq!((status, list["total"].clone()), (200, json!(1)));
    let ids = json!({ "webhookIds": [id] });
    assert_eq!(
        call(
            &sim,
            sim.http.put(sim.url(&format!("{base}/refresh"))).bearer_auth(at).json(&ids),
            "put",
            "/rest/api/3/webhook/refresh"
        )
        .await
        .0,
        200
    );
    assert_eq!(call(&sim, sim.http.delete(sim.url(&base)).bearer_auth(at).json(&ids), "delete", hook).await.0, 202);
    assert_eq!(call(&sim, sim.req(Method::POST, hook).json(&reg), "post", hook).await.0, 403);
}

#[tokio::test]
async fn data_center_responses_match_the_same_schemas() {
    if crate::reference::missing() {
        return;
    }
    let sim = Sim::start(SimConfig { flavor: Flavor::Datacenter, ..Default::default() }).await;
    let t = "integration-token";
    let create = json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Bug" }, "summary": "dc", "description": "h2. wiki", "customfield_10005": { "value": "UI" } } });
    let (status, created) = call(
        &sim,
        sim.http.post(sim.url("/rest/api/2/issue")).bearer_auth(t).json(&create),
        "post",
        "/rest/api/3/issue",
    )
    .await;
    assert_eq!(status, 201);
    let path = format!("/rest/api/2/issue/{}", created["key"].as_str().unwrap());
    assert_eq!(call(&sim, sim.http.get(sim.url(&path)).bearer_auth(t), "get", ISSUE).await.0, 200);
    assert_eq!(
        call(&sim, sim.http.get(sim.url(&format!("{path}/transitions"))).bearer_auth(t), "get", TRANSITIONS).await.0,
        200
    );
    let users = sim.http.get(sim.url("/rest/api/2/user/search?username=jane")).bearer_auth(t);
    let (status, found) = call(&sim, users, "get", "/rest/api/3/user/search").await;
    assert_eq!((status, found[0]["name"].as_str()), (200, Some("jane.doe")));
    let search = sim.http.get(sim.url("/rest/api/2/search?jql=project%3DPROJ")).bearer_auth(t);
    assert_eq!(call(&sim, search, "get", "/rest/api/3/search").await.0, 200);
    assert_eq!(
        call(&sim, sim.http.get(sim.url("/rest/api/2/field")).bearer_auth(t), "get", "/rest/api/3/field").await.0,
        200
    );
}

#[tokio::test]
async fn our_adf_validator_agrees_with_the_official_schema() {
    if crate::reference::missing() {
        return;
    }
    for (doc, expected) in super::adf_corpus::adf_corpus(rich_doc()) {
        let official = adf_schema().is_valid(&doc);
        let ours = adf::validate(&doc);
        assert_eq!(official, expected, "corpus label is wrong for {doc}");
        assert_eq!(ours.is_ok(), official, "ours {ours:?} vs official {official} on {doc}");
    }
}
