//! `POST /issue/bulk`: answers as the OpenAPI document's `createIssues`
//! says, creates each element exactly as a single create would, emits one
//! webhook per created issue, and counts as one request for rate limits
//! and faults.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::contract::{call, check_body};
use super::support::{Receiver, Sim, adf_text};
use arksync::jira_sim::{AdminWebhook, Flavor, SimConfig};

const BULK: &str = "/rest/api/3/issue/bulk";

fn story(summary: &str) -> Value {
    json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Story" }, "summary": summary,
        "description": adf_text(summary) } })
}

/// A story without a summary, which Jira refuses.
fn no_summary() -> Value {
    json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Story" } } })
}

async fn bulk(sim: &Sim, updates: Vec<Value>) -> (u16, Value) {
    call(sim, sim.req(Method::POST, BULK).json(&json!({ "issueUpdates": updates })), "post", BULK).await
}

async fn issue_count(sim: &Sim) -> usize {
    sim.admin(Method::GET, "issues", None).await.as_array().unwrap().len()
}

#[tokio::test]
async fn all_created_is_201_with_the_issues_in_request_order() {
    let sim = Sim::cloud().await;
    let (status, body) = bulk(&sim, vec![story("first"), story("second"), story("third")]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["errors"], json!([]));
    let keys: Vec<&str> = body["issues"].as_array().unwrap().iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["PROJ-1", "PROJ-2", "PROJ-3"]);
    for (key, summary) in keys.iter().zip(["first", "second", "third"]) {
        let (_, issue) = sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{key}"))).await;
        assert_eq!(issue["fields"]["summary"], summary);
        assert_eq!(issue["fields"]["description"], adf_text(summary));
    }
    let self_url = body["issues"][0]["self"].as_str().unwrap();
    assert!(self_url.ends_with(&format!("/rest/api/3/issue/{}", body["issues"][0]["id"].as_str().unwrap())));
}

#[tokio::test]
async fn a_partial_failure_is_201_naming_each_refused_element_by_its_index() {
    let sim = Sim::cloud().await;
    let bad_type =
        json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Nope" }, "summary": "x" } });
    let (status, body) = bulk(&sim, vec![story("a"), no_summary(), story("c"), bad_type]).await;
    assert_eq!(status, 201, "{body}");
    let keys: Vec<&str> = body["issues"].as_array().unwrap().iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["PROJ-1", "PROJ-2"], "refused elements take no key");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["failedElementNumber"], 1);
    assert_eq!(errors[0]["status"], 400);
    assert_eq!(errors[0]["elementErrors"]["errors"]["summary"], "You must specify a summary of the issue.");
    assert_eq!(errors[1]["failedElementNumber"], 3);
    assert!(errors[1]["elementErrors"]["errors"]["issuetype"].is_string());
    let (_, second) = sim.json(sim.req(Method::GET, "/rest/api/3/issue/PROJ-2")).await;
    assert_eq!(second["fields"]["summary"], "c");
    assert_eq!(issue_count(&sim).await, 2);
}

#[tokio::test]
async fn all_refused_is_400_and_creates_nothing() {
    let sim = Sim::cloud().await;
    let (status, body) = bulk(&sim, vec![no_summary(), no_summary()]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["issues"], json!([]));
    let numbers: Vec<&Value> = body["errors"].as_array().unwrap().iter().map(|e| &e["failedElementNumber"]).collect();
    assert_eq!(numbers, [&json!(0), &json!(1)]);
    assert_eq!(issue_count(&sim).await, 0);
}

#[tokio::test]
async fn each_element_is_validated_exactly_as_a_single_create() {
    let sim = Sim::cloud().await;
    let invalid = [
        no_summary(),
        json!({ "fields": { "project": { "key": "NOPE" }, "issuetype": { "name": "Story" }, "summary": "x" } }),
        json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Story" }, "summary": "x",
            "description": "not ADF", "customfield_10016": "three", "status": { "name": "Done" } } }),
        json!({ "update": {} }),
    ];
    for element in invalid {
        let (single_status, single) = sim.json(sim.req(Method::POST, "/rest/api/3/issue").json(&element)).await;
        let (status, body) = bulk(&sim, vec![element.clone()]).await;
        assert_eq!((single_status, status), (400, 400), "{element}");
        assert_eq!(body["errors"][0]["elementErrors"], single, "{element}");
    }
    assert_eq!(issue_count(&sim).await, 0);
}

#[tokio::test]
async fn more_than_fifty_elements_are_refused_whole() {
    let sim = Sim::cloud().await;
    let (status, body) = bulk(&sim, (0..51).map(|i| story(&format!("s{i}"))).collect()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["issues"], json!([]));
    let message = body["errors"][0]["elementErrors"]["errorMessages"][0].as_str().unwrap();
    assert!(message.contains("50"), "{message}");
    assert!(body["errors"][0].get("failedElementNumber").is_none(), "no element is to blame");
    assert_eq!(issue_count(&sim).await, 0);
    let (status, body) = bulk(&sim, (0..50).map(|i| story(&format!("s{i}"))).collect()).await;
    assert_eq!((status, body["issues"].as_array().unwrap().len()), (201, 50));
}

#[test]
fn the_bulk_schema_check_has_teeth() {
    if crate::reference::missing() {
        return;
    }
    let wrong = json!({ "issues": [], "errors": [{ "failedElementNumber": "1", "elementErrors": { "errors": [] } }] });
    let refused = std::panic::catch_unwind(|| check_body(BULK, "post", 201, &wrong)).expect_err("the check refuses it");
    let message = refused.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("post /rest/api/3/issue/bulk 201"), "{message}");
}

#[tokio::test]
async fn each_created_issue_emits_one_issue_created_webhook() {
    let receiver = Receiver::start(&[]).await;
    let mut config = SimConfig::default();
    config.admin_webhooks.push(AdminWebhook { url: receiver.url.clone(), secret: None });
    let sim = Sim::start(config).await;
    let (status, _) = bulk(&sim, vec![story("one"), no_summary(), story("two")]).await;
    assert_eq!(status, 201);
    let got = receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 2, "no event for the refused element");
    let mut events: Vec<(String, String)> = got
        .iter()
        .map(|r| r.json())
        .map(|j| (j["webhookEvent"].as_str().unwrap().to_string(), j["issue"]["key"].as_str().unwrap().to_string()))
        .collect();
    events.sort();
    let expected = [("jira:issue_created", "PROJ-1"), ("jira:issue_created", "PROJ-2")];
    assert_eq!(events, expected.map(|(e, k)| (e.to_string(), k.to_string())));
}

#[tokio::test]
async fn a_bulk_request_spends_one_request_of_the_rate_limit() {
    let sim = Sim::start(SimConfig { rate_limit: Some(3), ..Default::default() }).await;
    let resp = sim
        .req(Method::POST, BULK)
        .json(&json!({ "issueUpdates": (0..10).map(|i| story(&format!("s{i}"))).collect::<Vec<_>>() }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "2", "one token of three spent for ten issues");
    assert_eq!(issue_count(&sim).await, 10);
    let log = sim.admin(Method::GET, "requests", None).await;
    let bulk_posts = log.as_array().unwrap().iter().filter(|e| e["path"] == BULK).count();
    assert_eq!(bulk_posts, 1, "one request in the log");
}

#[tokio::test]
async fn an_injected_fault_fails_the_whole_bulk_request_once() {
    let sim = Sim::cloud().await;
    sim.admin(
        Method::POST,
        "faults",
        Some(json!({ "failNext": { "status": 503, "count": 1, "pathContains": "/issue/bulk" } })),
    )
    .await;
    let updates = json!({ "issueUpdates": [story("a"), story("b")] });
    let (status, _) = sim.json(sim.req(Method::POST, BULK).json(&updates)).await;
    assert_eq!(status, 503);
    assert_eq!(issue_count(&sim).await, 0, "a fault is drawn before anything is created");
    let (status, body) = sim.json(sim.req(Method::POST, BULK).json(&updates)).await;
    assert_eq!((status, body["issues"].as_array().unwrap().len()), (201, 2), "one fault for the whole request");
}

#[tokio::test]
async fn data_center_serves_the_bulk_create_on_v2_with_wiki_markup() {
    let sim = Sim::start(SimConfig { flavor: Flavor::Datacenter, ..Default::default() }).await;
    let t = "integration-token";
    let wiki = json!({ "fields": { "project": { "key": "PROJ" }, "issuetype": { "name": "Bug" }, "summary": "dc",
        "description": "h2. wiki" } });
    let updates = json!({ "issueUpdates": [wiki, no_summary()] });
    let rb = sim.http.post(sim.url("/rest/api/2/issue/bulk")).bearer_auth(t).json(&updates);
    let (status, body) = call(&sim, rb, "post", BULK).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["issues"][0]["key"], "PROJ-1");
    assert!(body["issues"][0]["self"].as_str().unwrap().contains("/rest/api/2/issue/"));
    assert_eq!(body["errors"][0]["failedElementNumber"], 1);
    let (_, issue) = sim.json(sim.http.get(sim.url("/rest/api/2/issue/PROJ-1")).bearer_auth(t)).await;
    assert_eq!(issue["fields"]["description"], "h2. wiki");
    let v3 = sim.http.post(sim.url(BULK)).bearer_auth(t).json(&updates).send().await.unwrap();
    assert_eq!(v3.status(), 404, "Data Center has no v3");
}
