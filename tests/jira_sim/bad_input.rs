//! Bad input never breaks the simulator: malformed bodies, paths, JQL,
//! tokens and numbers get a 4xx in Jira's error shape, never a 500 or a
//! dropped connection (a panicking handler drops the connection, which a
//! client would take for a network fault and retry).

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use super::support::Sim;
use super::webhooks::oauth_token;

/// Sends the request and returns the status; a dropped connection fails
/// the test naming the request, and a 4xx must say why in Jira's shape.
async fn status(rb: reqwest::RequestBuilder, what: &str) -> u16 {
    let resp = rb.send().await.unwrap_or_else(|e| panic!("{what}: no answer ({e})"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    if (400..500).contains(&status) {
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: body is not JSON: {text}"));
        assert!(v["errorMessages"].is_array(), "{what}: {v}");
    }
    status
}

fn deep_adf(depth: usize) -> Value {
    let mut node = json!({ "type": "text", "text": "x" });
    for _ in 0..depth {
        node = json!({ "type": "blockquote", "content": [node] });
    }
    json!({ "type": "doc", "version": 1, "content": [node] })
}

#[tokio::test]
async fn malformed_bodies_paths_and_jql_get_a_4xx_never_a_500_or_a_dropped_connection() {
    let sim = Sim::cloud().await;
    let key = sim.create_story("target").await;
    let issue = format!("/rest/api/3/issue/{key}");
    let huge_token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{}", usize::MAX));
    let bodies: Vec<(Method, String, Vec<u8>)> = vec![
        (Method::POST, "/rest/api/3/issue".into(), b"{not json".to_vec()),
        (Method::POST, "/rest/api/3/issue".into(), b"[1,2,3]".to_vec()),
        (Method::POST, "/rest/api/3/issue".into(), vec![0xff, 0xfe, 0x00]),
        (Method::POST, "/rest/api/3/issue".into(), br#"{"fields":[]}"#.to_vec()),
        (Method::POST, "/rest/api/3/issue".into(), br#"{"fields":{"project":{"key":5},"summary":5}}"#.to_vec()),
        (Method::PUT, issue.clone(), br#"{"update":{"labels":"x","summary":[{"frob":1}],"x":[7]}}"#.to_vec()),
        (Method::PUT, issue.clone(), br#"{"fields":{"description":{"type":"doc"}}}"#.to_vec()),
        (Method::PUT, issue.clone(), json!({ "fields": { "description": deep_adf(300) } }).to_string().into_bytes()),
        (Method::PUT, issue.clone(), br#"{"fields":{"customfield_10016":"many","duedate":"tomorrow"}}"#.to_vec()),
        (Method::POST, format!("{issue}/transitions"), br#"{"transition":"21"}"#.to_vec()),
        (Method::POST, format!("{issue}/transitions"), br#"{"transition":{"id":99}}"#.to_vec()),
        (Method::POST, "/rest/api/3/issueLink".into(), b"{}".to_vec()),
        (Method::POST, "/rest/api/3/search/jql".into(), br#"{"jql":"key in (","maxResults":-1}"#.to_vec()),
        (Method::POST, "/rest/api/3/search/jql".into(), br#"{"jql":"order","fields":7}"#.to_vec()),
        (Method::POST, "/rest/api/3/search/jql".into(), br#"{"jql":"project = PROJ","nextPageToken":"!!"}"#.to_vec()),
        (Method::GET, "/rest/api/3/issue/%FF%FE".into(), Vec::new()),
        (Method::GET, format!("/rest/api/3/issue/{}", "9".repeat(40)), Vec::new()),
        (Method::GET, "/rest/api/3/project/99999999999999999999".into(), Vec::new()),
        (Method::GET, "/rest/api/3/project/18446744073709551615".into(), Vec::new()),
        (Method::PATCH, issue.clone(), Vec::new()),
        (Method::GET, "/rest/api/99/issue/X-1".into(), Vec::new()),
    ];
    let jqls = [
        "project = PROJ AND updated >= \"\u{e9}\"",
        "project = PROJ AND updated >= \"-5\u{e9}\"",
        "project = PROJ AND updated >= -99999999999999999w",
        "project = PROJ AND updated >= -9223372036854775807m",
        "project = PROJ AND created > \"99999-01-01\"",
        "\"ARKHITEKTON ID[Short text]\" ~ 'x",
    ];
    let searches = jqls
        .map(|q| (Method::POST, "/rest/api/3/search/jql".to_string(), json!({ "jql": q }).to_string().into_bytes()));
    for (method, path, body) in bodies.into_iter().chain(searches) {
        let what = format!("{method} {path} {}", String::from_utf8_lossy(&body));
        let s = status(sim.req(method, &path).body(body), &what).await;
        assert!((400..500).contains(&s), "{what}: {s}");
    }
    let paged = json!({ "jql": "project = PROJ", "nextPageToken": huge_token });
    let s = status(sim.req(Method::POST, "/rest/api/3/search/jql").json(&paged), "a token past the end").await;
    assert!(s == 200 || s == 400, "a token past the end: {s}");

    let s = status(sim.http.get(sim.url("/rest/api/3/myself")).header("Authorization", "Basic"), "bare Basic").await;
    assert_eq!(s, 401);
    let s =
        status(sim.http.get(sim.url("/rest/api/3/myself")).header("Authorization", "Basic !!!"), "bad base64").await;
    assert_eq!(s, 401);
    let burst = json!({ "burst429": { "count": 1, "retryAfterSecs": u64::MAX } });
    assert_eq!(status(sim.http.post(sim.url("/_sim/faults")).json(&burst), "admin faults").await, 200);
    assert_eq!(status(sim.req(Method::GET, "/rest/api/3/myself"), "an absurd Retry-After").await, 429);
    for days in [i64::MAX, i64::MIN, -1] {
        let rb = sim.http.post(sim.url("/_sim/clock/advance")).json(&json!({ "days": days }));
        let s = status(rb, "admin clock").await;
        assert_eq!(s, 400, "advancing by {days} days");
    }
}

#[tokio::test]
async fn out_of_range_paging_of_dynamic_webhooks_is_an_empty_page() {
    let sim = Sim::cloud().await;
    let at = oauth_token(&sim).await;
    let base = format!("/ex/jira/{}/rest/api/3/webhook", sim.server.config().cloud_id);
    let url = sim.url(&format!("{base}?startAt={}&maxResults=100", usize::MAX));
    let (s, page) = sim.json(sim.http.get(url).bearer_auth(&at)).await;
    assert_eq!((s, page["values"].clone(), page["isLast"].clone()), (200, json!([]), json!(true)));
}

#[tokio::test]
async fn an_oversized_body_is_413_without_being_buffered_whole() {
    let sim = Sim::cloud().await;
    let body = vec![b' '; 11 << 20];
    let s = status(sim.req(Method::POST, "/rest/api/3/issue").body(body), "11 MiB body").await;
    assert_eq!(s, 413);
}
