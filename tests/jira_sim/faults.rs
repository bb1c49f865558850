use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{Receiver, Sim};
use arksync::jira_sim::{AdminWebhook, SimConfig};

async fn set_faults(sim: &Sim, faults: Value) {
    sim.admin(Method::POST, "faults", Some(faults)).await;
}

async fn status_of(sim: &Sim, path: &str) -> u16 {
    sim.req(Method::GET, path).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn fail_next_answers_the_next_requests_with_the_chosen_status_then_recovers() {
    let sim = Sim::cloud().await;
    set_faults(&sim, json!({ "failNext": { "status": 503, "count": 2 } })).await;
    let (status, body) = sim.json(sim.req(Method::GET, "/rest/api/3/myself")).await;
    assert_eq!(status, 503);
    assert!(body["errorMessages"].is_array());
    assert_eq!(status_of(&sim, "/rest/api/3/myself").await, 503);
    assert_eq!(status_of(&sim, "/rest/api/3/myself").await, 200);
}

#[tokio::test]
async fn an_error_rate_limited_to_a_path_only_affects_that_path() {
    let sim = Sim::cloud().await;
    set_faults(&sim, json!({ "errorRates": [{ "status": 500, "rate": 1.0, "pathContains": "/field" }] })).await;
    assert_eq!(status_of(&sim, "/rest/api/3/field").await, 500);
    assert_eq!(status_of(&sim, "/rest/api/3/myself").await, 200);
    sim.admin(Method::DELETE, "faults", None).await;
    assert_eq!(status_of(&sim, "/rest/api/3/field").await, 200);
}

#[tokio::test]
async fn added_latency_delays_every_api_response() {
    let sim = Sim::cloud().await;
    set_faults(&sim, json!({ "latencyMs": 250 })).await;
    let started = Instant::now();
    assert_eq!(status_of(&sim, "/rest/api/3/myself").await, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
}

fn assert_rate_limit_headers(resp: &reqwest::Response, retry_after: Option<&str>) {
    let h = resp.headers();
    assert_eq!(resp.status(), 429);
    if let Some(r) = retry_after {
        assert_eq!(h["retry-after"], r);
    }
    assert!(h.contains_key("x-ratelimit-limit"));
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let reset = h["x-ratelimit-reset"].to_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(reset).is_ok(), "ISO-8601 reset, got {reset}");
    assert!(h.contains_key("ratelimit-reason"));
}

#[tokio::test]
async fn a_forced_429_burst_carries_jiras_rate_limit_headers() {
    let sim = Sim::cloud().await;
    set_faults(&sim, json!({ "burst429": { "count": 1, "retryAfterSecs": 3 } })).await;
    let resp = sim.req(Method::GET, "/rest/api/3/myself").send().await.unwrap();
    assert_rate_limit_headers(&resp, Some("3"));
    assert_eq!(resp.headers()["ratelimit-reason"], "jira-burst-based");
    assert_eq!(status_of(&sim, "/rest/api/3/myself").await, 200);
}

#[tokio::test]
async fn requests_over_the_configured_budget_get_429_and_the_log_records_retry_after() {
    let sim = Sim::start(SimConfig { rate_limit: Some(5), ..Default::default() }).await;
    let mut limited = None;
    for _ in 0..20 {
        let resp = sim.req(Method::GET, "/rest/api/3/myself").send().await.unwrap();
        if resp.status() == 429 {
            limited = Some(resp);
            break;
        }
        assert_eq!(resp.headers()["x-ratelimit-limit"], "5");
    }
    let resp = limited.expect("the budget of 5/s runs out");
    assert_rate_limit_headers(&resp, None);
    let log = sim.admin(Method::GET, "requests", None).await;
    let entry = log.as_array().unwrap().iter().find(|e| e["status"] == 429).unwrap();
    assert!(entry["retryAfter"].as_u64().unwrap() >= 1);
    assert_eq!(entry["user"], "arksync@example.com");
    assert_eq!(entry["path"], "/rest/api/3/myself");
    assert!(entry["receivedMs"].as_i64().is_some());
}

#[tokio::test]
async fn reset_empties_the_site_and_the_issue_dump_shows_everything() {
    let sim = Sim::cloud().await;
    sim.create_story("before reset").await;
    let dump = sim.admin(Method::GET, "issues", None).await;
    assert_eq!(dump[0]["fields"]["summary"], "before reset");
    sim.admin(Method::POST, "reset", None).await;
    assert_eq!(sim.admin(Method::GET, "issues", None).await, json!([]));
    assert_eq!(sim.admin(Method::GET, "requests", None).await, json!([]));
    assert_eq!(sim.create_story("after").await, "PROJ-1");
}

#[tokio::test]
async fn advancing_the_clock_moves_jira_time_forward() {
    let sim = Sim::cloud().await;
    let before = sim.create_story("t").await;
    sim.admin(Method::POST, "clock/advance", Some(json!({ "days": 3 }))).await;
    let after = sim.create_story("t2").await;
    let created = async |k: String| {
        sim.json(sim.req(Method::GET, &format!("/rest/api/3/issue/{k}"))).await.1["fields"]["created"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b) = (created(before).await, created(after).await);
    let parse = |s: &str| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z").unwrap();
    assert!(parse(&b) - parse(&a) >= chrono::Duration::days(3));
}

async fn hooked(receiver: &Receiver) -> Sim {
    let mut config = SimConfig::default();
    config.admin_webhooks.push(AdminWebhook { url: receiver.url.clone(), secret: None });
    Sim::start(config).await
}

#[tokio::test]
async fn a_dropped_delivery_never_arrives_and_is_reported_as_dropped() {
    let receiver = Receiver::start(&[]).await;
    let sim = hooked(&receiver).await;
    set_faults(&sim, json!({ "webhooks": { "dropNext": 1 } })).await;
    sim.create_story("lost").await;
    sim.create_story("kept").await;
    let got = receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.count(), 1);
    assert_eq!(got[0].json()["issue"]["key"], "PROJ-2");
    let deliveries = sim.admin(Method::GET, "deliveries", None).await;
    assert!(deliveries.as_array().unwrap().iter().any(|d| d["outcome"] == "dropped"));
}

#[tokio::test]
async fn a_duplicated_delivery_arrives_twice_with_the_same_identifier() {
    let receiver = Receiver::start(&[]).await;
    let sim = hooked(&receiver).await;
    set_faults(&sim, json!({ "webhooks": { "duplicateNext": 1 } })).await;
    sim.create_story("twice").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].header("x-atlassian-webhook-identifier"), got[1].header("x-atlassian-webhook-identifier"));
    assert_eq!(got[0].body, got[1].body);
}

#[tokio::test]
async fn reordered_deliveries_arrive_newest_first() {
    let receiver = Receiver::start(&[]).await;
    let sim = hooked(&receiver).await;
    set_faults(&sim, json!({ "webhooks": { "reorder": true } })).await;
    sim.create_story("first").await;
    sim.create_story("second").await;
    let got = receiver.wait_for(2).await;
    let keys: Vec<Value> = got.iter().map(|r| r.json()["issue"]["key"].clone()).collect();
    assert_eq!(keys, [json!("PROJ-2"), json!("PROJ-1")]);
}

#[tokio::test]
async fn delayed_deliveries_arrive_only_after_the_delay() {
    let receiver = Receiver::start(&[]).await;
    let sim = hooked(&receiver).await;
    set_faults(&sim, json!({ "webhooks": { "delayMs": 400 } })).await;
    sim.create_story("late").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.count(), 0);
    receiver.wait_for(1).await;
}
